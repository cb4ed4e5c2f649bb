// Black-box: the transitions of SPEC §2 that submit/run/the queue manager/the job's end
// deliver, and the refused `run`s (exit 4, one line naming job, phase and action, the job
// unchanged). Jobs that must stay in a phase wait on a "release" file the test creates.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ISO_MS_Z, Sandbox, release, submitJob, waitFor } from '../helpers.js';

const DEADLINE = 30_000;

const JOBS = `
jobs:
  gate:
    description: runs until the test creates $UWS_JOB_DIR/release
    command: [sh, -c, 'while [ ! -e "$UWS_JOB_DIR/release" ]; do sleep 0.05; done; echo released']
  fail:
    command: [sh, -c, 'echo "going down" >&2; exit 3']
  hello:
    command: [echo, hello]
`;

/** Polls show --json until `check` holds; every record seen is checked for a pid when EXECUTING. */
async function waitJob(sb: Sandbox, id: string, what: string, check: (job: any) => boolean): Promise<any> {
  return waitFor(what, () => {
    const job = sb.job(id);
    assertPidWhenExecuting(job);
    return check(job) ? job : undefined;
  }, DEADLINE);
}

function assertPidWhenExecuting(job: any): void {
  if (job.phase === 'EXECUTING') {
    assert.ok(Number.isInteger(job.pid) && job.pid > 1, `job ${job.jobId} is EXECUTING without a pid: ${JSON.stringify(job)}`);
  }
}

/** `run ID` is refused: exit 4, one line naming the id, the phase and the action; job unchanged. */
function assertRunRefused(sb: Sandbox, id: string, phase: string): void {
  const before = sb.job(id);
  assert.equal(before.phase, phase);
  const r = sb.run(['run', id]);
  assert.equal(r.code, 4, `run of a ${phase} job exits 4 (stderr: ${r.stderr})`);
  assert.equal(r.stdout, '', 'nothing on stdout');
  const lines = r.stderr.split('\n').filter((l) => l !== '');
  assert.equal(lines.length, 1, `one line on stderr: ${JSON.stringify(r.stderr)}`);
  assert.ok(r.stderr.endsWith('\n'));
  assert.ok(lines[0]!.includes(id), `the message names the job: ${lines[0]}`);
  assert.ok(lines[0]!.includes(phase), `the message names the phase: ${lines[0]}`);
  assert.match(lines[0]!, /\brun\b/, `the message names the action: ${lines[0]}`);
  const after = sb.job(id);
  assert.deepEqual(stored(after), stored(before), `the ${phase} job is unchanged by the refused run`);
  // With --json too: still refused, nothing printed as changed.
  const j = sb.run(['run', id, '--json']);
  assert.equal(j.code, 4);
  assert.ok(j.stdout.trim() === '' || JSON.stringify(JSON.parse(j.stdout)) === '[]', `no changed job printed: ${j.stdout}`);
  assert.deepEqual(stored(sb.job(id)), stored(before));
}

/**
 * A job as recorded: without its quote, which is computed when shown (an EXECUTING job past
 * its definition's mean run time is quoted "now", which moves between two looks).
 */
const stored = (job: any): any => ({ ...job, quote: undefined });

test('PENDING -run-> QUEUED -start-> EXECUTING -> COMPLETED, and run refused in QUEUED, EXECUTING, COMPLETED', async () => {
  const sb = new Sandbox(JOBS);
  try {
    assert.equal(sb.ok(['limit', '1']), '1');
    const blocker = submitJob(sb, ['gate', '--run']);
    await waitJob(sb, blocker, 'the blocker to execute', (j) => j.phase === 'EXECUTING' && j.startTime !== null);

    // (new) -submit-> PENDING
    const id = submitJob(sb, ['gate']);
    const pending = sb.job(id);
    assert.equal(pending.phase, 'PENDING');
    assert.equal(sb.ok(['phase', id]), 'PENDING');

    // PENDING -run-> QUEUED: the only slot is taken, so it stays QUEUED.
    const r = sb.run(['run', id]);
    assert.equal(r.code, 0, r.stderr);
    const queued = sb.job(id);
    assert.equal(queued.phase, 'QUEUED');
    assert.equal(queued.pid, null);
    assert.equal(queued.startTime, null);
    assert.equal(queued.endTime, null);
    assert.deepEqual({ ...queued, phase: 'PENDING' }, pending, 'run changed nothing but the phase');
    assertRunRefused(sb, id, 'QUEUED');
    assert.equal(sb.job(blocker).phase, 'EXECUTING');

    // The slot frees: QUEUED -start-> EXECUTING with a pid, startTime set soon after.
    release(sb, blocker);
    const executing = await waitJob(sb, id, 'the queued job to execute', (j) => j.phase !== 'QUEUED');
    assert.equal(executing.phase, 'EXECUTING');
    assert.ok(Number.isInteger(executing.pid));
    const up = await waitJob(sb, id, 'startTime to be set', (j) => j.startTime !== null);
    assert.equal(up.phase, 'EXECUTING');
    assert.equal(up.pid, executing.pid, 'the pid does not change while it runs');
    assert.match(up.startTime, ISO_MS_Z);
    assert.equal(up.endTime, null);
    assert.equal(sb.job(blocker).phase, 'COMPLETED');
    assertRunRefused(sb, id, 'EXECUTING');

    // EXECUTING -exit 0-> COMPLETED
    release(sb, id);
    const done = await waitJob(sb, id, 'the job to complete', (j) => j.phase !== 'EXECUTING');
    assert.equal(done.phase, 'COMPLETED');
    assert.equal(done.exitCode, 0);
    assert.equal(done.pid, null);
    assert.equal(done.startTime, up.startTime);
    assert.match(done.endTime, ISO_MS_Z);
    assertRunRefused(sb, id, 'COMPLETED');
    assert.equal(sb.run(['wait', id, '--timeout', '30']).code, 0);
  } finally {
    sb.cleanup();
  }
});

test('EXECUTING while starting up: pid recorded, startTime still null, then set', async () => {
  const sb = new Sandbox(JOBS);
  // Test-only hold of the wrapper in the starting window (SPEC §2: provide a test-only way).
  sb.env.UWSRUN_TEST_HOLD_START = '2';
  try {
    const id = submitJob(sb, ['hello', '--run']);
    const starting = await waitJob(sb, id, 'the job to leave QUEUED', (j) => j.phase !== 'QUEUED');
    assert.equal(starting.phase, 'EXECUTING');
    assert.ok(Number.isInteger(starting.pid), 'pid recorded at start');
    assert.equal(starting.startTime, null, 'startTime is null while the child is starting');
    const up = await waitJob(sb, id, 'startTime to be set', (j) => j.startTime !== null);
    assert.ok(up.phase === 'EXECUTING' || up.phase === 'COMPLETED');
    assert.ok(Date.parse(up.startTime) >= Date.parse(up.creationTime));
    assert.equal(sb.run(['wait', id, '--timeout', '30']).code, 0);
    assert.equal(sb.job(id).phase, 'COMPLETED');
  } finally {
    sb.cleanup();
  }
});

test('EXECUTING -exit 3-> ERROR; run refused in ERROR and ABORTED', async () => {
  const sb = new Sandbox(JOBS);
  try {
    const id = submitJob(sb, ['fail', '--run']);
    const err = await waitJob(sb, id, 'the job to fail', (j) => j.phase !== 'QUEUED' && j.phase !== 'EXECUTING');
    assert.equal(err.phase, 'ERROR');
    assert.equal(err.exitCode, 3);
    assert.equal(err.errorSummary.type, 'fatal');
    assertRunRefused(sb, id, 'ERROR');

    // PENDING -abort-> ABORTED, then run is refused there too.
    const p = submitJob(sb, ['hello']);
    const a = sb.run(['abort', p]);
    assert.equal(a.code, 0, a.stderr);
    const aborted = sb.job(p);
    assert.equal(aborted.phase, 'ABORTED');
    assert.match(aborted.endTime, ISO_MS_Z);
    assert.equal(aborted.startTime, null);
    assertRunRefused(sb, p, 'ABORTED');
  } finally {
    sb.cleanup();
  }
});

test('run of several ids queues the PENDING ones and refuses the others with exit 4', async () => {
  const sb = new Sandbox(JOBS);
  try {
    const done = submitJob(sb, ['hello', '--run']);
    assert.equal(sb.run(['wait', done, '--timeout', '30']).code, 0);
    const before = sb.job(done);
    const fresh = submitJob(sb, ['hello']);
    const r = sb.run(['run', done, fresh]);
    assert.equal(r.code, 4, r.stderr);
    const refusals = r.stderr.split('\n').filter((l) => l.includes(done));
    assert.equal(refusals.length, 1, `one line about the refused job: ${r.stderr}`);
    assert.ok(refusals[0]!.includes('COMPLETED'), refusals[0]);
    assert.ok(!r.stderr.includes(fresh) || !/not allowed|refused/i.test(r.stderr.split('\n').find((l) => l.includes(fresh)) ?? ''),
      'the PENDING job is not reported as refused');
    assert.deepEqual(sb.job(done), before);
    assert.notEqual(sb.job(fresh).phase, 'PENDING', 'the PENDING one was queued');
    assert.equal(sb.run(['wait', fresh, '--timeout', '30']).code, 0);
  } finally {
    sb.cleanup();
  }
});

test('a job is never EXECUTING without a pid, in show or list, over many jobs', async () => {
  const sb = new Sandbox(JOBS);
  try {
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) ids.push(submitJob(sb, ['hello', '--run']));
    ids.push(submitJob(sb, ['fail', '--run']));
    let samples = 0;
    await waitFor('every job to be final', () => {
      const jobs = sb.json<any[]>(['list']);
      for (const j of jobs) assertPidWhenExecuting(j);
      for (const id of ids) assertPidWhenExecuting(sb.job(id));
      samples++;
      return jobs.length === ids.length && jobs.every((j) => ['COMPLETED', 'ERROR'].includes(j.phase));
    }, DEADLINE);
    assert.ok(samples >= 1);
    for (const j of sb.json<any[]>(['list'])) {
      assert.equal(j.pid, null, 'a final job has no pid');
      if (j.startTime === null) assert.fail(`final job ${j.jobId} that ran has no startTime`);
    }
  } finally {
    sb.cleanup();
  }
});
