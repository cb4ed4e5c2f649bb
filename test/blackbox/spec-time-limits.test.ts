// Black-box: SPEC §7 (time limits). executionDuration is counted from startTime: neither
// the time a job waits in the queue nor its starting window (EXECUTING, startTime null,
// held there by UWSRUN_TEST_HOLD_START) counts; exceeding it aborts the job as `abort`
// would (ABORTED, transient errorSummary naming the limit, its processes gone), never
// before the limit; 0 is unlimited, also when it overrides a non-zero default.
// --destruction takes an instant (an offset is converted to UTC), a duration counted from
// now, or 0 (never: tick does not destroy it); an instant in the past is refused with exit 2
// by submit and by set, and changes nothing on disk.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Sandbox, release, submitJob, waitFor } from '../helpers.js';
import { homeSnapshot, quietHome } from '../home-snapshot.js';
import { alive, groupMembers, procStat } from '../procfs.js';

const T = { timeout: 120_000 };
const DEADLINE = 30_000;

const JOBS = `
defaults:
  executionDuration: 1
jobs:
  gate:
    description: runs until the test creates $UWS_JOB_DIR/release
    command: [sh, -c, 'while [ ! -e "$UWS_JOB_DIR/release" ]; do sleep 0.05; done']
    executionDuration: 0
    killGrace: 1
  short:
    description: runs 1 s, well within its limit of 5 s
    command: [sleep, '1']
    executionDuration: 5
  forever:
    description: over its limit of 2 s
    command: [sleep, '60']
    executionDuration: 2
    killGrace: 1
  stubborn:
    description: notes SIGINT and goes on; only SIGKILL ends it
    command: [sh, -c, 'trap "echo INT >> \\"$UWS_JOB_DIR/signals\\"" INT; trap "echo TERM >> \\"$UWS_JOB_DIR/signals\\"" TERM; while :; do sleep 0.1; done']
    executionDuration: 1
    killGrace: 2
  unlimited:
    description: executionDuration 0 overrides the default of 1 s
    command: [sleep, '2.5']
    executionDuration: 0
  ok:
    command: [echo, ok]
`;

async function final(sb: Sandbox, id: string): Promise<any> {
  return waitFor(`job ${id} to end`, () => {
    const job = sb.job(id);
    return ['COMPLETED', 'ERROR', 'ABORTED'].includes(job.phase) ? job : undefined;
  }, DEADLINE);
}

test('executionDuration is counted from startTime: time in the queue and in the starting window does not count', T, async () => {
  const sb = new Sandbox(JOBS);
  try {
    assert.equal(sb.ok(['limit', '1']), '1');
    const blocker = submitJob(sb, ['gate', '--run']);
    await waitFor('the blocker to run', () => sb.job(blocker).startTime, DEADLINE);
    const queued = submitJob(sb, ['short', '--run']);
    const queuedAt = Date.now();
    // Queued longer than its limit of 5 s.
    await waitFor('6 s in the queue', () => Date.now() - queuedAt > 6000, 10_000);
    assert.equal(sb.job(queued).phase, 'QUEUED');
    release(sb, blocker);
    const q = await final(sb, queued);
    assert.equal(q.phase, 'COMPLETED', `waiting in the queue did not count: ${JSON.stringify(q.errorSummary)}`);
    assert.ok(Date.parse(q.startTime) - Date.parse(q.creationTime) > 5000, 'it was created more than its limit before it started');

    // Held 6 s in the starting window (EXECUTING, startTime null), then 1 s of command.
    const slow = submitJob(sb, ['short', '--run'], { UWSRUN_TEST_HOLD_START: '6' });
    const starting = await waitFor('the job in its starting window', () => {
      const j = sb.job(slow);
      return j.phase === 'EXECUTING' && j.startTime === null ? j : undefined;
    }, DEADLINE);
    assert.ok(starting.pid > 0);
    const s = await final(sb, slow);
    assert.equal(s.phase, 'COMPLETED', `the starting window did not count: ${JSON.stringify(s.errorSummary)}`);
    assert.equal(s.executionDuration, 5);
    assert.ok(Date.parse(s.startTime) - Date.parse(s.creationTime) > 5000, 'it spent more than its limit starting up');
  } finally {
    sb.cleanup();
  }
});

test('exceeding executionDuration aborts the job, not before the limit: ABORTED, transient errorSummary naming the limit, processes gone', T, async () => {
  const sb = new Sandbox(JOBS);
  try {
    const id = submitJob(sb, ['forever', '--run']);
    const running = await waitFor('the job to be up', () => {
      const j = sb.job(id);
      return j.startTime && j.pid ? j : undefined;
    }, DEADLINE);
    const leader = procStat(running.pid);
    assert.ok(leader, 'its group leader runs');
    const j = await final(sb, id);
    assert.equal(j.phase, 'ABORTED');
    assert.deepEqual(j.errorSummary, { type: 'transient', message: 'executionDuration of 2 s exceeded' });
    assert.ok(j.endTime, 'endTime is set');
    const ran = Date.parse(j.endTime) - Date.parse(j.startTime);
    assert.ok(ran >= 2000, `not aborted before its limit: ran ${ran} ms`);
    assert.ok(ran < 20_000, `aborted soon after its limit: ran ${ran} ms`);
    assert.equal(j.pid, null);
    assert.equal(alive(leader.pid, leader.start), false, 'its process group leader is gone');
    assert.deepEqual(groupMembers(running.pid), [], 'nothing of its process group is left');
    assert.equal(j.exitCode, null);
    assert.deepEqual(j.attempts, []);
  } finally {
    sb.cleanup();
  }
});

test('a time limit aborts exactly like abort: SIGINT first, SIGKILL after killGrace for a job that ignores it', T, async () => {
  const sb = new Sandbox(JOBS);
  try {
    const id = submitJob(sb, ['stubborn', '--run']);
    const running = await waitFor('the job to be up', () => {
      const j = sb.job(id);
      return j.startTime && j.pid ? j : undefined;
    }, DEADLINE);
    const j = await final(sb, id);
    assert.equal(j.phase, 'ABORTED');
    assert.deepEqual(j.errorSummary, { type: 'transient', message: 'executionDuration of 1 s exceeded' });
    assert.equal(readFileSync(join(sb.jobDir(id), 'signals'), 'utf8'), 'INT\n', 'SIGINT, then SIGKILL (no SIGTERM)');
    const ran = Date.parse(j.endTime) - Date.parse(j.startTime);
    assert.ok(ran >= 1000 + 2000, `SIGKILL only after the 2 s killGrace: ran ${ran} ms`);
    assert.deepEqual(groupMembers(running.pid), [], 'nothing of its process group is left');
    assert.match(readFileSync(join(sb.home, 'runner.log'), 'utf8'), new RegExp(`job ${id}: executionDuration of 1 s exceeded: aborting \\(SIGINT\\)`));
  } finally {
    sb.cleanup();
  }
});

test('executionDuration 0 is unlimited, also when it overrides a default; --execution-duration 0 likewise', T, async () => {
  const sb = new Sandbox(JOBS);
  try {
    const own = submitJob(sb, ['unlimited', '--run']);
    const given = submitJob(sb, ['short', '--run', '--execution-duration', '0']);
    for (const id of [own, given]) {
      const j = await final(sb, id);
      assert.equal(j.executionDuration, 0);
      assert.equal(j.phase, 'COMPLETED', `${id}: ${JSON.stringify(j.errorSummary)}`);
      assert.equal(j.errorSummary, null);
    }
    // The default (1 s) applies to a definition without its own value.
    assert.equal(sb.job(submitJob(sb, ['ok'])).executionDuration, 1);
  } finally {
    sb.cleanup();
  }
});

test('--destruction: an instant with an offset is kept in UTC, a duration counts from now, 0 is never; tick leaves a job with none', T, async () => {
  const sb = new Sandbox(JOBS);
  try {
    const offset = submitJob(sb, ['ok', '--destruction', '2031-06-01T02:30:00+02:00']);
    assert.equal(sb.job(offset).destruction, '2031-06-01T00:30:00.000Z');
    const fraction = submitJob(sb, ['ok', '--destruction', '2031-06-01T00:30:00.25Z']);
    assert.equal(sb.job(fraction).destruction, '2031-06-01T00:30:00.250Z');
    const t0 = Date.now();
    const inner = submitJob(sb, ['ok', '--destruction', '90s']);
    const t1 = Date.now();
    const d = Date.parse(sb.job(inner).destruction);
    assert.ok(d >= Math.floor(t0 / 1000) * 1000 + 90_000 && d <= t1 + 90_000, `90s from now: ${sb.job(inner).destruction}`);
    const days = Date.parse(sb.job(submitJob(sb, ['ok', '--destruction', '7d'])).destruction);
    assert.ok(Math.abs(days - (Date.now() + 7 * 86_400_000)) < 60_000, '7d from now');

    const never = submitJob(sb, ['ok', '--destruction', '0', '--run']);
    const soon = submitJob(sb, ['ok', '--destruction', '1s', '--run']);
    assert.equal(sb.job(never).destruction, null);
    assert.match(sb.ok(['show', never]), /^destruction\s+never$/m);
    await waitFor('the 1 s destruction to pass', () => Date.now() > Date.parse(sb.job(soon).destruction) + 50, DEADLINE);
    await waitFor('both jobs to end', () => sb.job(never).phase === 'COMPLETED' && sb.job(soon).phase === 'COMPLETED', DEADLINE);
    assert.equal(sb.run(['tick']).code, 0);
    assert.equal(sb.run(['show', soon]).code, 3, 'the expired job is destroyed');
    assert.equal(existsSync(sb.jobDir(soon)), false);
    assert.equal(sb.job(never).phase, 'COMPLETED', 'destruction 0 is never');

    // `set --destruction 0` makes a job with a destruction time one that is kept forever.
    assert.equal(sb.json(['set', offset, '--destruction', '0'])[0].destruction, null);
  } finally {
    sb.cleanup();
  }
});

test('a --destruction instant in the past is refused (exit 2) by submit and set, never destroys, and changes nothing on disk', T, async () => {
  const sb = new Sandbox(JOBS);
  try {
    const id = submitJob(sb, ['ok', '--destruction', '1h']);
    const was = sb.job(id).destruction;
    const before = await quietHome(sb);
    const past = new Date(Date.now() - 60_000).toISOString();
    for (const args of [['submit', 'ok', '--destruction', past], ['submit', 'ok', '--run', '--destruction', '2001-01-01T00:00:00+01:00'],
      ['set', id, '--destruction', past], ['set', id, '--destruction', '2001-01-01T00:00:00Z']]) {
      const r = sb.run(args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.equal(r.stdout, '');
      const lines = r.stderr.trim().split('\n');
      assert.equal(lines.length, 1, r.stderr);
      assert.match(lines[0]!, /--destruction/);
      assert.match(lines[0]!, /past/);
      assert.deepEqual(homeSnapshot(sb), before, `${args.join(' ')} changed nothing`);
    }
    assert.equal(sb.job(id).destruction, was);
    assert.equal(sb.run(['tick']).code, 0);
    assert.equal(sb.job(id).phase, 'PENDING', 'the job is still there');
  } finally {
    sb.cleanup();
  }
});
