// Retries (SPEC §13), black-box: a definition's `retries` and `retryDelay` run a failed
// attempt again. Each test has its own HOME; jobs append a line to $HOME/ran each time an
// attempt starts, so the number of attempts that really ran is counted outside uwsrun.
// Every wait polls a condition with a deadline; the retry delay is checked from the
// recorded times (the next attempt starts no earlier than the delay after the failed end),
// with a generous upper bound only, for a loaded machine.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Sandbox, release, submitJob, waitFor } from '../helpers.js';
import { alive } from '../procfs.js';
import { jobFileOf, ranLines, runnerLog, stateOrEmpty, stateText, waitStarted } from '../runner-state.js';

const YAML = `
defaults:
  destruction: 0
jobs:
  flaky:
    description: fails every time, after printing which attempt it is and leaving a result
    command: [sh, -c, 'echo "$UWS_JOB_ID" >> "$HOME/ran"; n=$(wc -l < "$HOME/ran"); echo "out of attempt $n"; echo "err of attempt $n" >&2; echo "$n" > "$UWS_RESULTS_DIR/r$n.txt"; exit 3']
    retries: 2
    retryDelay: 2
  second-time:
    description: killed by a signal nobody asked for the first time, succeeds the second time
    command: [sh, -c, 'echo "$UWS_JOB_ID" >> "$HOME/ran"; if [ -e "$UWS_JOB_DIR/tried" ]; then echo ok > "$UWS_RESULTS_DIR/good.txt"; exit 0; fi; touch "$UWS_JOB_DIR/tried"; echo partial > "$UWS_RESULTS_DIR/partial.txt"; kill -KILL $$']
    retries: 3
  slow-retry:
    description: fails once, then waits an hour before its retry
    command: [sh, -c, 'echo "$UWS_JOB_ID" >> "$HOME/ran"; exit 1']
    retries: 5
    retryDelay: 1h
  too-long:
    description: over its time limit; retries never apply to that
    command: [sh, -c, 'echo "$UWS_JOB_ID" >> "$HOME/ran"; sleep 30']
    executionDuration: 1
    retries: 3
  gated-fail:
    description: waits for the test's release file, then fails; retried after an hour
    command: [sh, -c, 'echo "$UWS_JOB_ID" >> "$HOME/ran"; while [ ! -e "$UWS_JOB_DIR/release" ]; do sleep 0.05; done; exit 4']
    retries: 1
    retryDelay: 1h
  lost-once:
    description: the first attempt hangs (and is lost with its runner and wrapper), the second succeeds
    command: [sh, -c, 'echo "$UWS_JOB_ID" >> "$HOME/ran"; if [ -e "$UWS_JOB_DIR/tried" ]; then exit 0; fi; touch "$UWS_JOB_DIR/tried"; sleep 60']
    retries: 1
  delayed-once:
    description: fails the first time, succeeds the second, with a delay between
    command: [sh, -c, 'echo "$UWS_JOB_ID" >> "$HOME/ran"; if [ -e "$UWS_JOB_DIR/tried" ]; then exit 0; fi; touch "$UWS_JOB_DIR/tried"; exit 9']
    retries: 1
    retryDelay: 3
`;

const T = { timeout: 120_000 };

const ms = (iso: string): number => Date.parse(iso);

async function finalJob(sb: Sandbox, id: string, within = 60_000): Promise<any> {
  return waitFor(`job ${id} final`, () => {
    const job = sb.job(id);
    return ['COMPLETED', 'ERROR', 'ABORTED'].includes(job.phase) ? job : undefined;
  }, within);
}

test('a job that keeps failing is run 1 + retries times, retryDelay apart; the last attempt decides: ERROR, earlier attempts kept with their logs', T, async () => {
  const sb = new Sandbox(YAML);
  try {
    const id = submitJob(sb, ['flaky', '--run']);
    // Between attempts: QUEUED, attempt counted up, show says why it waits.
    const between = await waitFor(`job ${id} queued again after its first attempt`, () => {
      const job = sb.job(id);
      return job.phase === 'QUEUED' && job.attempt === 2 ? job : undefined;
    }, 30_000);
    assert.equal(between.attempts.length, 1);
    assert.equal(between.startTime, null, 'the new attempt has not started');
    assert.deepEqual(between.results, [], 'the failed attempt\'s results are not the job\'s');
    const shown = sb.run(['show', id]);
    assert.equal(shown.code, 0, shown.stderr);
    assert.match(shown.stdout, /^attempt\s+\d of at most 3$/m);
    assert.match(shown.stdout, /^attempt 1\s+ERROR: exited with status 3: err of attempt 1; ended .*; logs stdout\.1\.log, stderr\.1\.log$/m);

    const job = await finalJob(sb, id);
    assert.equal(job.phase, 'ERROR', 'the final phase is that of the last attempt');
    assert.equal(job.exitCode, 3);
    assert.equal(job.attempt, 3, 'attempt counts 1, 2, 3');
    assert.equal(ranLines(sb).length, 3, 'the command ran exactly three times');
    assert.deepEqual(job.attempts.map((a: any) => a.attempt), [1, 2]);
    for (const a of job.attempts) {
      assert.deepEqual(Object.keys(a).sort(), ['attempt', 'endTime', 'errorSummary', 'exitCode', 'signal', 'startTime']);
      assert.equal(a.exitCode, 3);
      assert.equal(a.signal, null);
      assert.deepEqual(a.errorSummary, { type: 'fatal', message: `exited with status 3: err of attempt ${a.attempt}` });
    }
    // Each next attempt started no earlier than retryDelay (2 s) after the previous one ended.
    const starts = [...job.attempts.map((a: any) => a.startTime), job.startTime].map(ms);
    const ends = job.attempts.map((a: any) => ms(a.endTime));
    for (let i = 0; i < ends.length; i++) {
      const gap = starts[i + 1]! - ends[i]!;
      assert.ok(gap >= 2000, `attempt ${i + 2} started ${gap} ms after attempt ${i + 1} ended: not before the 2 s retryDelay`);
      assert.ok(gap < 20_000, `attempt ${i + 2} started ${gap} ms after attempt ${i + 1} ended: far too late`);
    }
    // Logs: attempt N as stdout.N.log / stderr.N.log; the last attempt's are stdout.log / stderr.log.
    const dir = sb.jobDir(id);
    for (const n of [1, 2]) {
      assert.equal(readFileSync(join(dir, `stdout.${n}.log`), 'utf8'), `out of attempt ${n}\n`);
      assert.equal(readFileSync(join(dir, `stderr.${n}.log`), 'utf8'), `err of attempt ${n}\n`);
    }
    assert.equal(readFileSync(join(dir, 'stdout.log'), 'utf8'), 'out of attempt 3\n', 'the last attempt starts with a fresh stdout.log');
    assert.equal(sb.ok(['logs', id, '--stderr']), 'err of attempt 3');
    // Results: only the last attempt's; the failed attempts' were removed before the next started.
    assert.deepEqual(readdirSync(join(dir, 'results')), ['r3.txt']);
    assert.deepEqual(job.results.map((r: any) => r.id), ['r3.txt']);
    const log = runnerLog(sb);
    assert.match(log, new RegExp(`job ${id}: attempt 1 failed \\(exited with status 3: err of attempt 1\\): queued again for retry 1 of 2 after 2 s`));
    assert.match(log, new RegExp(`job ${id}: ended ERROR \\(exit code 3\\)`));
  } finally {
    sb.cleanup();
  }
});

test('a job killed by a signal nobody asked for is retried, and a success on the 2nd attempt is COMPLETED with one attempt kept', T, async () => {
  const sb = new Sandbox(YAML);
  try {
    const id = submitJob(sb, ['second-time', '--run']);
    const job = await finalJob(sb, id);
    assert.equal(job.phase, 'COMPLETED');
    assert.equal(job.exitCode, 0);
    assert.equal(job.errorSummary, null, 'the failed attempt\'s errorSummary is not the job\'s');
    assert.equal(job.attempt, 2);
    assert.equal(job.attempts.length, 1);
    assert.equal(job.attempts[0].attempt, 1);
    assert.equal(job.attempts[0].signal, 'SIGKILL');
    assert.equal(job.attempts[0].errorSummary.type, 'fatal');
    assert.match(job.attempts[0].errorSummary.message, /signal SIGKILL/);
    assert.equal(ranLines(sb).length, 2, 'two attempts ran, and no third after the success');
    assert.deepEqual(job.results.map((r: any) => r.id), ['good.txt'], 'the killed attempt\'s partial result was removed');
    assert.ok(existsSync(join(sb.jobDir(id), 'stdout.1.log')), 'attempt 1\'s log is kept');
  } finally {
    sb.cleanup();
  }
});

test('abort during a retry delay: ABORTED at once, attempts kept, and no further attempt', T, async () => {
  const sb = new Sandbox(YAML);
  try {
    const id = submitJob(sb, ['slow-retry', '--run']);
    const waiting = await waitFor(`job ${id} in its retry delay`, () => {
      const job = sb.job(id);
      return job.phase === 'QUEUED' && job.attempt === 2 ? job : undefined;
    }, 30_000);
    assert.equal(waiting.attempts.length, 1);
    const shown = sb.ok(['show', id]);
    const until = /why queued\s+retry delay until (\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d) UTC \(in (59m\d\ds|1h00m)\)/.exec(shown);
    assert.ok(until, `show says why it waits:\n${shown}`);
    // Shown to the second: the failed attempt's end + 1 h, truncated.
    const delay = ms(`${until[1]}T${until[2]}Z`) - ms(waiting.attempts[0].endTime);
    assert.ok(delay > 3599_000 && delay <= 3600_000, `the delay runs from the failed attempt's end: ${delay} ms`);
    const r = sb.run(['abort', id]);
    assert.equal(r.code, 0, r.stderr);
    const job = sb.job(id);
    assert.equal(job.phase, 'ABORTED');
    assert.equal(job.attempt, 2);
    assert.equal(job.attempts.length, 1, 'the failed attempt stays on record');
    assert.equal(job.startTime, null, 'attempt 2 never started');
    assert.equal(ranLines(sb).length, 1);
    // The queue is empty: the runner goes idle and exits, nothing is left to start it.
    await waitFor('the runner to exit', () => {
      const r = stateOrEmpty(sb).runner;
      return !r || !alive(r.pid, r.startTime);
    }, 20_000);
    assert.equal(readdirSync(join(sb.home, 'queue')).length, 0, 'no queue entry is left');
    assert.equal(sb.run(['abort', id]).code, 4, 'it is final: a second abort is refused');
  } finally {
    sb.cleanup();
  }
});

test('a time limit is never retried: ABORTED after one attempt, whatever retries says', T, async () => {
  const sb = new Sandbox(YAML);
  try {
    const id = submitJob(sb, ['too-long', '--run']);
    const job = await finalJob(sb, id, 40_000);
    assert.equal(job.phase, 'ABORTED');
    assert.equal(job.errorSummary?.type, 'transient');
    assert.match(job.errorSummary?.message, /executionDuration/);
    assert.equal(job.attempt, 1);
    assert.deepEqual(job.attempts, []);
    assert.equal(ranLines(sb).length, 1);
    assert.ok(!existsSync(join(sb.jobDir(id), 'stdout.1.log')));
  } finally {
    sb.cleanup();
  }
});

test('a runner killed -9 during a retry delay: the retry still happens, once, after the delay (started by tick)', T, async () => {
  const sb = new Sandbox(YAML);
  try {
    const id = submitJob(sb, ['delayed-once', '--run']);
    const waiting = await waitFor(`job ${id} in its retry delay`, () => {
      const job = sb.job(id);
      return job.phase === 'QUEUED' && job.attempt === 2 ? job : undefined;
    }, 30_000);
    const runner = stateOrEmpty(sb).runner;
    assert.ok(runner && alive(runner.pid, runner.startTime), 'a runner waits for the delay');
    process.kill(runner.pid, 'SIGKILL');
    await waitFor(`runner ${runner.pid} gone`, () => !alive(runner.pid, runner.startTime), 10_000);
    assert.equal(sb.job(id).phase, 'QUEUED', 'the retry survives its runner: it is in the record');
    // What cron does every minute: tick finds a queued job without a runner and starts one.
    const t = sb.run(['tick']);
    assert.equal(t.code, 0, t.stderr);
    const job = await finalJob(sb, id, 40_000);
    assert.equal(job.phase, 'COMPLETED');
    assert.equal(job.attempt, 2);
    assert.equal(job.attempts.length, 1);
    assert.equal(job.attempts[0].exitCode, 9);
    assert.equal(ranLines(sb).length, 2, 'exactly one retry ran: none lost, none twice');
    const gap = ms(job.startTime) - ms(waiting.attempts[0].endTime);
    assert.ok(gap >= 3000, `the retry started ${gap} ms after the failure: not before the 3 s retryDelay`);
    // Another tick finds nothing to do.
    assert.equal(sb.ok(['tick']), '');
    assert.equal(ranLines(sb).length, 2);
  } finally {
    sb.cleanup();
  }
});

/**
 * The failed attempt of a gated-fail job is recorded as a retry by a runner that is then
 * killed; the files are put back to what a runner killed inside that transaction would have
 * left: state.json with the job's hot entry (EXECUTING, attempt 1), and, with `oldRecord`,
 * job.json as it was before the transaction too (only its renames of exit and logs done).
 */
async function retryHalfRecorded(sb: Sandbox, oldRecord: boolean): Promise<string> {
  const id = submitJob(sb, ['gated-fail', '--run']);
  await waitStarted(sb, id);
  const executingState = stateText(sb);
  const executingRecord = readFileSync(join(sb.recordDir(id), 'job.json'), 'utf8');
  release(sb, id);
  await waitFor(`job ${id} queued for its retry`, () => jobFileOf(sb, id)?.attempt === 2 && !stateOrEmpty(sb).jobs[id]);
  const runner = stateOrEmpty(sb).runner;
  assert.ok(runner && alive(runner.pid, runner.startTime), `the recorded runner is alive: ${JSON.stringify(runner)}`);
  process.kill(runner.pid, 'SIGKILL');
  await waitFor(`runner ${runner.pid} gone`, () => !alive(runner.pid, runner.startTime), 10_000);
  assert.ok(existsSync(join(sb.recordDir(id), 'exit.1')) && !existsSync(join(sb.recordDir(id), 'exit')), 'attempt 1\'s exit status is kept as exit.1');
  writeFileSync(join(sb.home, 'state.json'), executingState);
  if (oldRecord) writeFileSync(join(sb.recordDir(id), 'job.json'), executingRecord);
  return id;
}

test('a runner killed inside the transaction that records a retry: its successor neither loses the retry nor counts the attempt twice', T, async () => {
  for (const oldRecord of [false, true]) {
    const sb = new Sandbox(YAML);
    try {
      const id = await retryHalfRecorded(sb, oldRecord);
      const t = sb.run(['tick']);
      assert.equal(t.code, 0, t.stderr);
      const job = await waitFor(`job ${id} queued for its retry again (${oldRecord ? 'job.json lost too' : 'state write lost'})`, () => {
        const j = sb.job(id);
        return j.phase === 'QUEUED' ? j : undefined;
      }, 20_000);
      assert.equal(job.attempt, 2, 'the retry is counted once');
      assert.equal(job.attempts.length, 1);
      assert.equal(job.attempts[0].exitCode, 4, 'attempt 1 ended with its own exit status (from exit.1), not as lost');
      assert.equal(stateOrEmpty(sb).jobs[id], undefined, 'no hot entry is left for it');
      assert.equal(ranLines(sb).length, 1, 'nothing ran again: the retry waits its hour');
      assert.ok(existsSync(join(sb.jobDir(id), 'stdout.1.log')));
      assert.equal(sb.run(['abort', id]).code, 0);
      assert.equal(sb.job(id).phase, 'ABORTED');
    } finally {
      sb.cleanup();
    }
  }
});

test('a lost attempt (its runner and its wrapper killed -9: no exit status) is retried: tick records it lost and the retry runs', T, async () => {
  const sb = new Sandbox(YAML);
  try {
    const id = submitJob(sb, ['lost-once', '--run']);
    const { pid } = await waitStarted(sb, id);
    await waitFor('the command to have started', () => ranLines(sb).length === 1);
    const runner = stateOrEmpty(sb).runner;
    assert.ok(runner && alive(runner.pid, runner.startTime), `the recorded runner is alive: ${JSON.stringify(runner)}`);
    process.kill(runner.pid, 'SIGKILL');
    await waitFor(`runner ${runner.pid} gone`, () => !alive(runner.pid, runner.startTime), 10_000);
    process.kill(-pid, 'SIGKILL'); // the wrapper's whole group: nobody writes an exit status
    await waitFor(`job ${id}'s wrapper gone`, () => !alive(pid));
    const t = sb.run(['tick']);
    assert.equal(t.code, 0, t.stderr);
    assert.match(t.stdout, new RegExp(`job ${id}: attempt 1 failed \\(the job was lost`));
    const job = await finalJob(sb, id, 40_000);
    assert.equal(job.phase, 'COMPLETED');
    assert.equal(job.attempt, 2);
    assert.equal(job.attempts[0].errorSummary.type, 'transient');
    assert.match(job.attempts[0].errorSummary.message, /the job was lost/);
    assert.equal(job.attempts[0].exitCode, null);
    assert.equal(ranLines(sb).length, 2);
  } finally {
    sb.cleanup();
  }
});

test('retries and retryDelay out of range are refused (exit 2, naming the path), and submit writes nothing', T, () => {
  const sb = new Sandbox(YAML);
  try {
    const bad = join(sb.dir, 'bad.yaml');
    writeFileSync(bad, 'jobs:\n  a:\n    command: ["true"]\n    retries: 2147483648\n    retryDelay: -5\n');
    const r = sb.run(['validate', bad]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /bad\.yaml:4:14: jobs\.a\.retries: expected a whole number of at most 2147483647, got 2147483648/);
    assert.match(r.stderr, /bad\.yaml:5:17: jobs\.a\.retryDelay: expected a duration/);
    const s = sb.run(['submit', '-f', bad, 'a', '--run']);
    assert.equal(s.code, 2);
    assert.equal(s.stdout, '');
    assert.ok(!existsSync(join(sb.home, 'records')) || readdirSync(join(sb.home, 'records')).length === 0, 'no job was created');
  } finally {
    sb.cleanup();
  }
});
