// Black-box: SPEC §13 (pipelines) where no other suite checks it: every kind of bad input
// (an unknown, malformed or ambiguous --after / --after-any id, a bad --not-before, hold and release in
// the wrong phase or of no job, wrongly typed retries / retryDelay / notify / slurm fields of
// a definition) is one line naming the culprit with the documented exit code, and the HOME
// is byte for byte what it was (homeSnapshot, taken once no runner writes); an abort of a
// running attempt and a failed dependency never retry; a job held during its retry delay
// keeps the delay when released; an ARCHIVED dependency counts as `wait` counts it
// (COMPLETED when its exit code was 0), the README's choice where the SPEC is silent; the
// record's fields of §11 and §13 (after, notBefore, attempt, attempts, executor, slurmJobId).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Run, Sandbox, submitJob, waitFor } from '../helpers.js';
import { homeSnapshot, quietHome } from '../home-snapshot.js';

const T = { timeout: 120_000 };
const DEADLINE = 30_000;

const JOBS = `
jobs:
  ok:
    command: [sh, -c, 'echo ok']
  fail:
    command: [sh, -c, 'echo "disk full" >&2; exit 3']
  gate:
    description: runs until the test creates $UWS_JOB_DIR/release, then fails
    command: [sh, -c, 'echo "$UWS_JOB_ID" >> "$HOME/ran"; while [ ! -e "$UWS_JOB_DIR/release" ]; do sleep 0.05; done; exit 1']
    retries: 2
    killGrace: 1
  dependent:
    command: [sh, -c, 'echo "$UWS_JOB_ID" >> "$HOME/ran"']
    retries: 2
  kept:
    command: [echo, kept]
    archive: true
    destruction: 1s
  kept-failed:
    command: [sh, -c, 'exit 2']
    archive: true
    destruction: 1s
  later:
    description: fails once, then waits an hour for its retry
    command: [sh, -c, 'exit 2']
    retries: 1
    retryDelay: 1h
`;

async function final(sb: Sandbox, id: string): Promise<any> {
  return waitFor(`job ${id} to end`, () => {
    const job = sb.job(id);
    return ['COMPLETED', 'ERROR', 'ABORTED'].includes(job.phase) ? job : undefined;
  }, DEADLINE);
}

/** One line on stderr, nothing on stdout, the exit code given; the line names every needle. */
function refused(r: Run, code: number, what: string, ...needles: string[]): void {
  assert.equal(r.code, code, `${what}: exit ${code} expected, got ${r.code}: ${r.stderr}`);
  assert.equal(r.stdout, '', `${what}: nothing on stdout`);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, `${what}: one line: ${JSON.stringify(r.stderr)}`);
  assert.ok(lines[0]!.startsWith('uwsrun: '), `${what}: ${lines[0]}`);
  for (const n of needles) assert.ok(lines[0]!.includes(n), `${what}: the message names ${n}: ${lines[0]}`);
}

test('bad --after, --after-any, --not-before, hold and release: one line naming the culprit, the documented exit code, nothing changed on disk', T, async () => {
  const sb = new Sandbox(JOBS);
  try {
    const done = submitJob(sb, ['ok', '--wait']);
    const failed = submitJob(sb, ['fail', '--run']);
    assert.equal((await final(sb, failed)).phase, 'ERROR');
    const pending = submitJob(sb, ['ok']);
    const aborted = submitJob(sb, ['ok']);
    sb.ok(['abort', aborted]);
    const twins = [submitJob(sb, ['ok'], { UWSRUN_TEST_ID_PREFIX: 'Tw1n' }), submitJob(sb, ['ok'], { UWSRUN_TEST_ID_PREFIX: 'Tw1n' })];
    const params = join(sb.dir, 'params.jsonl');
    writeFileSync(params, '{}\n{}\n');
    const before = await quietHome(sb);
    const unknown = 'NoSuchJob0123456';
    const cases: [string[], number, string[]][] = [
      [['submit', 'ok', '--after', unknown], 3, [unknown]],
      [['submit', 'ok', '--run', '--after', done, '--after', unknown], 3, [unknown]],
      [['submit', 'ok', '--after-any', unknown], 3, [unknown]],
      [['submit', 'ok', '--params-from', params, '--after', unknown], 3, [unknown]],
      [['submit', 'ok', '--after', 'x/y'], 2, ['"x/y"']],
      [['submit', 'ok', '--after', ''], 2, ['""']],
      [['submit', 'ok', '--after-any', '-abc'], 2, []],
      [['submit', 'ok', '--after', 'ab'], 2, ['"ab"']],
      [['submit', 'ok', '--after', 'Tw1n'], 2, ['Tw1n', ...twins]],
      [['hold', 'Tw1n'], 2, ['Tw1n', ...twins]],
      [['submit', 'ok', '--not-before', 'tomorrow'], 2, ['--not-before', 'tomorrow']],
      [['submit', 'ok', '--not-before', '2026-12-01T00:00:00'], 2, ['--not-before', '2026-12-01T00:00:00']],
      [['submit', 'ok', '--not-before', '-5'], 2, ['--not-before', '-5']],
      [['submit', 'ok', '--not-before', '2147483648'], 2, ['--not-before', '2147483648']],
      [['hold', done], 4, [done, 'COMPLETED', 'hold']],
      [['hold', failed], 4, [failed, 'ERROR', 'hold']],
      [['hold', aborted], 4, [aborted, 'ABORTED', 'hold']],
      [['release', pending], 4, [pending, 'PENDING', 'release']],
      [['release', done], 4, [done, 'COMPLETED', 'release']],
      [['hold', unknown], 3, [unknown]],
      [['release', unknown], 3, [unknown]],
      [['hold', 'x/y'], 2, ['"x/y"']],
      [['hold'], 2, []],
      [['release'], 2, []],
      [['hold', pending, '--bogus'], 2, ['--bogus']],
      [['release', pending, '--xml'], 2, ['--xml']],
    ];
    for (const [args, code, needles] of cases) {
      refused(sb.run(args), code, args.join(' '), ...needles);
      assert.deepEqual(homeSnapshot(sb), before, `${args.join(' ')}: nothing changed on disk`);
    }
    assert.equal(sb.job(pending).phase, 'PENDING');
  } finally {
    sb.cleanup();
  }
});

test('wrongly typed retries, retryDelay, notify and slurm fields: every one named with its path (exit 2); submit refuses the file and writes nothing', T, async () => {
  const sb = new Sandbox(JOBS);
  try {
    const id = submitJob(sb, ['ok']);
    const before = await quietHome(sb);
    const file = join(sb.dir, 'bad.yaml');
    writeFileSync(file, `jobs:
  good:
    command: [echo, good]
  a:
    command: [echo]
    retries: "2"
    retryDelay: 5x
    notify: { command: echo, on: [DONE] }
  b:
    command: [echo]
    executor: slurm
    slurm: { partition: 3, acount: x, options: ["--mem 4G", "-n4", 5] }
  c:
    command: [echo]
    executor: pbs
    retries: -1
    notify: { command: [], on: ERROR }
  d:
    command: [echo]
    retries: 1.5
    retryDelay: true
    notify: { command: [mail], on: [PENDING], cc: x }
  e:
    command: [echo]
    slurm: { options: "--mem=4G", account: [x] }
    notify: [mail]
`);
    const expected: [string, string][] = [
      ['jobs.a.retries', '"2"'], ['jobs.a.retryDelay', '5x'], ['jobs.a.notify.command', 'echo'], ['jobs.a.notify.on[0]', 'DONE'],
      ['jobs.b.slurm.partition', '3'], ['jobs.b.slurm.acount', 'account'], ['jobs.b.slurm.options[0]', '--mem 4G'],
      ['jobs.b.slurm.options[1]', '-n4'], ['jobs.b.slurm.options[2]', '5'],
      ['jobs.c.executor', 'pbs'], ['jobs.c.retries', '-1'], ['jobs.c.notify.command', 'list'], ['jobs.c.notify.on', 'ERROR'],
      ['jobs.d.retries', '1.5'], ['jobs.d.retryDelay', 'true'], ['jobs.d.notify.on[0]', 'PENDING'], ['jobs.d.notify.cc', 'cc'],
      ['jobs.e.slurm.options', '--mem=4G'], ['jobs.e.slurm.account', ''], ['jobs.e.notify', ''],
    ];
    const v = sb.run(['validate', file]);
    assert.equal(v.code, 2, v.stderr);
    assert.equal(v.stdout, '');
    const lines = v.stderr.trim().split('\n');
    for (const [path, culprit] of expected) {
      const line = lines.find((l) => l.includes(`: ${path}: `));
      assert.ok(line, `an error for ${path}:\n${v.stderr}`);
      assert.match(line, /^uwsrun: .*bad\.yaml:\d+:\d+: /, `file:line:column: ${line}`);
      assert.ok(line.includes(culprit), `${path}: the message names ${culprit}: ${line}`);
    }
    assert.equal(lines.length, expected.length, `one line per error, no more:\n${v.stderr}`);
    const s = sb.run(['submit', '-f', file, 'good', '--run']);
    assert.equal(s.code, 2, 'a file with errors is refused even for its good definition');
    assert.equal(s.stdout, '');
    assert.deepEqual(homeSnapshot(sb), before, 'nothing changed on disk');
    assert.equal(sb.job(id).phase, 'PENDING');
  } finally {
    sb.cleanup();
  }
});

test('an abort of a running attempt and a failed dependency never retry: ABORTED with attempt 1 and no attempts kept', T, async () => {
  const sb = new Sandbox(JOBS);
  try {
    const running = submitJob(sb, ['gate', '--run']);
    await waitFor('the job to be up', () => sb.job(running).startTime, DEADLINE);
    const dep = submitJob(sb, ['fail', '--run']);
    const waiting = submitJob(sb, ['dependent', '--run', '--after', dep]);
    const aborted = sb.json(['abort', running]);
    assert.equal(aborted[0].phase, 'ABORTED');
    const w = await final(sb, waiting);
    assert.equal(w.phase, 'ABORTED');
    assert.deepEqual(w.errorSummary, { type: 'transient', message: `dependency ${dep} ended ERROR` });
    await quietHome(sb);
    for (const id of [running, waiting]) {
      const j = sb.job(id);
      assert.equal(j.phase, 'ABORTED', `${id} stays ABORTED`);
      assert.equal(j.attempt, 1, `${id}: no retry`);
      assert.deepEqual(j.attempts, []);
    }
    const ran = readFileSync(join(sb.dir, 'ran'), 'utf8').trim().split('\n');
    assert.deepEqual(ran, [running], 'the aborted job ran once, the dependent never');
  } finally {
    sb.cleanup();
  }
});

test('a job held during its retry delay is HELD; released, it waits for the rest of the delay; abort then ends it', T, async () => {
  const sb = new Sandbox(JOBS);
  try {
    const id = submitJob(sb, ['later', '--run']);
    const waiting = await waitFor('the retry delay', () => {
      const j = sb.job(id);
      return j.phase === 'QUEUED' && j.attempt === 2 ? j : undefined;
    }, DEADLINE);
    assert.equal(waiting.attempts.length, 1);
    assert.equal(sb.json(['hold', id])[0].phase, 'HELD');
    const released = sb.json(['release', id])[0];
    assert.equal(released.phase, 'QUEUED');
    assert.equal(released.attempt, 2, 'the attempt count is kept');
    assert.equal(released.attempts.length, 1);
    // Nothing may happen, so there is nothing to wait for: the runner (which stays alive for
    // a waiting job) gets a few cycles to do the wrong thing.
    await new Promise((r) => setTimeout(r, 2000));
    assert.equal(sb.job(id).phase, 'QUEUED', 'the hour of retryDelay still runs after the release');
    assert.equal(sb.job(id).startTime, null);
    assert.match(sb.ok(['show', id]), /retry delay until .*\(in (59m|1h)/);
    const a = sb.json(['abort', id])[0];
    assert.equal(a.phase, 'ABORTED');
    assert.equal(a.attempts.length, 1);
  } finally {
    sb.cleanup();
  }
});

test('an ARCHIVED dependency counts as COMPLETED when its exit code was 0 (as for wait); one that failed ABORTs an --after dependent, not an --after-any one', T, async () => {
  const sb = new Sandbox(JOBS);
  try {
    const good = submitJob(sb, ['kept', '--wait']);
    const bad = submitJob(sb, ['kept-failed', '--run']);
    assert.equal((await final(sb, bad)).phase, 'ERROR');
    await waitFor('both destruction times to pass', () => [good, bad].every((id) => Date.now() > Date.parse(sb.job(id).destruction) + 50), DEADLINE);
    assert.equal(sb.run(['tick']).code, 0);
    assert.equal(sb.ok(['phase', good]), 'ARCHIVED');
    assert.equal(sb.ok(['phase', bad]), 'ARCHIVED');
    const afterGood = submitJob(sb, ['ok', '--run', '--after', good]);
    const afterBad = submitJob(sb, ['ok', '--run', '--after', bad]);
    const anyBad = submitJob(sb, ['ok', '--run', '--after-any', bad]);
    assert.equal((await final(sb, afterGood)).phase, 'COMPLETED');
    assert.equal((await final(sb, anyBad)).phase, 'COMPLETED');
    const j = await final(sb, afterBad);
    assert.equal(j.phase, 'ABORTED');
    assert.deepEqual(j.errorSummary, { type: 'transient', message: `dependency ${bad} ended ARCHIVED` });
  } finally {
    sb.cleanup();
  }
});

test('the record\'s fields of §11 and §13: a plain job has after [], notBefore null, attempt 1, attempts [], executor local, slurmJobId null; --not-before is kept in UTC', T, async () => {
  const sb = new Sandbox(JOBS);
  try {
    const plain = submitJob(sb, ['ok']);
    const dep = submitJob(sb, ['ok', '--after', plain.slice(0, 5), '--after-any', plain, '--not-before', '2031-01-01T01:00:00+01:00']);
    const inSixHours = Date.now() + 6 * 3600_000;
    const timed = submitJob(sb, ['ok', '--not-before', '6h']);
    const shown = sb.job(plain);
    const listed = sb.json<any[]>(['list']).find((j) => j.jobId === plain);
    for (const j of [shown, listed]) {
      assert.deepEqual([j.after, j.notBefore, j.attempt, j.attempts, j.executor, j.slurmJobId], [[], null, 1, [], 'local', null]);
    }
    const d = sb.job(dep);
    assert.deepEqual(d.after, [{ jobId: plain, any: false }], 'a job listed by both must be COMPLETED: one entry, any false');
    assert.equal(d.notBefore, '2031-01-01T00:00:00.000Z');
    assert.equal(d.phase, 'PENDING', 'without --run a job with dependencies is PENDING like any other');
    assert.ok(Math.abs(Date.parse(sb.job(timed).notBefore) - inSixHours) < 60_000, `6h from now: ${sb.job(timed).notBefore}`);
  } finally {
    sb.cleanup();
  }
});
