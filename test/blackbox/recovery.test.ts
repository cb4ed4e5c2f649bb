// Recovery, black-box: what the runner and the commands do with
//   - a job whose start was never recorded (its runner was killed between starting it and
//     writing state.json): the job's `started` marker (jobs/ID/started, "PID STARTTIME")
//     makes a successor adopt it instead of starting it again, and makes `abort` signal it;
//   - the state lock while a long queue of short jobs drains: other commands still get it
//     (state.lock.want makes the runner leave it free), well within their lock deadline;
//   - many jobs ending in a row: their final records reach jobs/ID/job.json and state.json
//     keeps no finished records once the runner is idle, and never many while it works.
//
// A job's start going unrecorded is simulated the only way a black-box test can: the job is
// started normally, its runner is killed with SIGKILL, and state.json (plain JSON) is edited
// back to what it held before the start was recorded (QUEUED, no pid, no startTime).
//
// Every wait polls a condition with a deadline. Processes are judged from /proc with their
// start time (field 22 of /proc/PID/stat); a zombie counts as gone.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FINAL, ID_RE, Sandbox, release, submitJob, waitFor } from '../helpers.js';
import { type Proc, alive, describeProcs, groupMembers, jobEnvProcs, killQuietly, procStat, readProc } from '../procfs.js';
import {
  jobFileOf, launcherOf, phaseOf, queueEntryFile, ranLines, runnerLog, state, stateOrEmpty, stateText, waitStarted,
} from '../runner-state.js';

const YAML = `
defaults:
  destruction: 0
jobs:
  hello:
    command: [echo, "Hello, {name}!"]
    parameters:
      name: { type: string, default: world }
  gated:
    description: appends its id to a shared file each time it starts, then waits for the test's release file
    command: [sh, -c, 'echo "$UWS_JOB_ID" >> "$HOME/ran"; while [ ! -e "$UWS_JOB_DIR/release" ]; do sleep 0.05; done; echo done; exit "$UWS_PARAM_CODE"']
    parameters:
      code: { type: integer, default: 0 }
`;

const T = { timeout: 120_000 };

/** The recorded runner is alive (pid and start time, not a zombie). */
function runnerAlive(sb: Sandbox): boolean {
  const r = stateOrEmpty(sb).runner;
  return !!r && alive(r.pid, r.startTime);
}

/** `tick` finds a QUEUED job and no live runner: it starts a successor, which adopts the job. */
async function adoptedAfterTick(sb: Sandbox, id: string, pid: number): Promise<void> {
  const t = sb.run(['tick']);
  assert.equal(t.code, 0, t.stderr);
  await waitFor(`job ${id} EXECUTING again`, () => {
    const hot = stateOrEmpty(sb).jobs[id];
    return hot?.phase === 'EXECUTING' && hot.pid === pid;
  }, 20_000);
}

/** The job's `started` marker: "PID STARTTIME" (asserted). */
function startMarker(sb: Sandbox, id: string): { pid: number; pidStart: string } {
  const file = join(sb.recordDir(id), 'started');
  assert.ok(existsSync(file), `job ${id} must have its started marker ${file}`);
  const text = readFileSync(file, 'utf8');
  const m = /^(\d+) (\d+)\s*$/.exec(text);
  assert.ok(m, `the started marker holds "PID STARTTIME": ${JSON.stringify(text)}`);
  return { pid: Number(m[1]), pidStart: m[2]! };
}

/**
 * A gated job started by a runner that is then killed with SIGKILL (its launcher exits by
 * itself), and state.json edited back to the job being QUEUED: as if the runner had died
 * after starting the job but before recording the start. The job's processes live on.
 */
async function startedButUnrecorded(sb: Sandbox, extra: string[] = []): Promise<{ id: string; pid: number; pidStart: string; runnerPid: number }> {
  const id = submitJob(sb, ['gated', '--run', ...extra]);
  const { pid, pidStart } = await waitStarted(sb, id);
  await waitFor(`job ${id}'s command to have started`, () => ranLines(sb).length === 1, 10_000);
  const marker = startMarker(sb, id);
  assert.deepEqual(marker, { pid, pidStart }, 'the marker names the pid and start time recorded for the job');

  const runner = stateOrEmpty(sb).runner;
  assert.ok(runner && alive(runner.pid, runner.startTime), `a live runner must be recorded: ${JSON.stringify(runner)}`);
  const launcher = launcherOf(runner.pid);
  assert.ok(launcher, `runner ${runner.pid} must have a launcher child (uwsrun-launcher)`);
  process.kill(runner.pid, 'SIGKILL');
  await waitFor(`runner ${runner.pid} gone`, () => !alive(runner.pid, runner.startTime), 10_000);
  await waitFor(`launcher ${launcher.pid} to exit after its runner died`, () => !alive(launcher.pid, launcher.start), 10_000);
  assert.ok(alive(pid, pidStart), `job ${id}'s wrapper (pid ${pid}) outlives its runner`);

  // Back to what the files held before the start was recorded: no hot entry in state.json,
  // job.json (untouched by the start) QUEUED, and the job's queue entry.
  const st = state(sb);
  const hot = st.jobs[id];
  assert.equal(hot?.phase, 'EXECUTING', `job ${id}'s hot entry: ${JSON.stringify(hot)}`);
  assert.equal(typeof hot.queuedAt, 'number', 'the hot entry keeps its place in the queue');
  assert.equal(jobFileOf(sb, id)?.phase, 'QUEUED', 'job.json still says QUEUED');
  delete st.jobs[id];
  writeFileSync(queueEntryFile(sb, id), '');
  writeFileSync(join(sb.home, 'state.json'), JSON.stringify(st));
  assert.ok(existsSync(join(sb.recordDir(id), 'started')), 'the started marker is left in place');
  return { id, pid, pidStart, runnerPid: runner.pid };
}

// ---- the start marker: adopt, never start twice -------------------------------------------

test('a job started by a runner that died before recording it is adopted, not started again', T, async () => {
  const sb = new Sandbox(YAML);
  try {
    const { id, pid, pidStart, runnerPid } = await startedButUnrecorded(sb);
    assert.equal(runnerAlive(sb), false, 'no runner is alive after the kill');

    // `wait` finds a QUEUED job and no live runner: it starts a successor.
    const waiting = sb.start(['wait', id, '--timeout', '60']);
    const adopted = await waitFor(`job ${id} EXECUTING again under a successor`, () => {
      const st = stateOrEmpty(sb);
      const hot = st.jobs[id];
      return hot?.phase === 'EXECUTING' && hot.pid && st.runner && st.runner.pid !== runnerPid ? { hot, runner: st.runner } : undefined;
    }, 20_000);
    assert.equal(adopted.hot.pid, pid, 'the successor records the pid from the marker: the same wrapper, not a new one');
    assert.equal(adopted.hot.pidStart, pidStart, 'and its start time');
    assert.ok(alive(pid, pidStart), 'the original wrapper is still running');
    assert.deepEqual(ranLines(sb), [id], 'the command started exactly once');
    const marker = startMarker(sb, id);
    assert.deepEqual(marker, { pid, pidStart }, 'the marker is unchanged');
    await waitFor('runner.log to say the job was adopted', () => runnerLog(sb).split('\n').some((l) => l.includes(id) && /adopted/.test(l)), 10_000);

    release(sb, id);
    const w = await waiting;
    assert.equal(w.code, 0, `wait: the adopted job completes: ${w.stderr}`);
    const job = sb.job(id);
    assert.equal(job.phase, 'COMPLETED', JSON.stringify(job.errorSummary));
    assert.equal(job.exitCode, 0, 'the real exit status, from the exit file');
    assert.equal(job.errorSummary, null);
    assert.equal(job.pid, null);
    assert.equal(readFileSync(join(sb.jobDir(id), 'stdout.log'), 'utf8'), 'done\n', 'one run, one line of output');
    assert.deepEqual(ranLines(sb), [id], 'still started exactly once');
    assert.equal(runnerLog(sb).split('\n').filter((l) => l.includes(id) && /adopted/.test(l)).length, 1, `adopted once:\n${runnerLog(sb)}`);
    await waitFor('no hot entries left', () => Object.keys(state(sb).jobs).length === 0, 10_000);
  } finally {
    sb.cleanup();
  }
});

/**
 * A QUEUED job whose start marker is EMPTY, as a launcher killed between creating the marker
 * and forking leaves it: the job is submitted (PENDING), its marker created empty by hand,
 * then `run` queues it and starts a runner. Returns the marker's mtime (ms).
 */
function queuedWithEmptyMarker(sb: Sandbox, id: string, ageMs: number): number {
  const file = join(sb.recordDir(id), 'started');
  writeFileSync(file, '');
  const mtime = Date.now() - ageMs;
  utimesSync(file, mtime / 1000, mtime / 1000);
  const r = sb.run(['run', id]);
  assert.equal(r.code, 0, r.stderr);
  return statSync(file).mtimeMs;
}

test('an EMPTY start marker with a live process of the job (UWS_JOB_ID in its environ) is kept: the job is never started while it lives, and once it is gone starts once', T, async () => {
  const sb = new Sandbox(YAML);
  let other: Proc | undefined;
  try {
    const id = submitJob(sb, ['gated']);
    // A copy of the job the dead launcher did fork, as far as /proc can tell: not in any
    // tree of this HOME's runner, found only by its UWS_JOB_ID.
    const p = spawn('sleep', ['300'], { env: { PATH: process.env.PATH, UWS_JOB_ID: id }, detached: true, stdio: 'ignore' });
    p.unref();
    other = await waitFor('the other process', () => procStat(p.pid!));
    // Older than the 5 s after which an empty marker may be given up: only the process keeps it.
    queuedWithEmptyMarker(sb, id, 60_000);
    await waitFor('a runner alive', () => runnerAlive(sb), 20_000);
    // Well past the 5 s and many supervision cycles: still not started, the marker kept.
    const until = Date.now() + 8_000;
    while (Date.now() < until) {
      assert.deepEqual(ranLines(sb), [], `never started while a process of it lives:\n${runnerLog(sb)}`);
      assert.ok(existsSync(join(sb.recordDir(id), 'started')), 'the empty marker is kept');
      assert.equal(readFileSync(join(sb.recordDir(id), 'started'), 'utf8'), '', 'and left empty');
      assert.equal(phaseOf(sb, id), 'QUEUED');
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.ok(runnerAlive(sb), 'the runner was there all along');
    assert.doesNotMatch(runnerLog(sb), /started afresh/);
    process.kill(other.pid, 'SIGKILL');
    await waitFor('the other process gone', () => !alive(other!.pid, other!.start), 10_000);
    await waitStarted(sb, id);
    await waitFor('its command to run', () => ranLines(sb).length === 1, 20_000);
    release(sb, id);
    assert.equal(sb.run(['wait', id, '--timeout', '60']).code, 0);
    assert.equal(sb.job(id).phase, 'COMPLETED');
    assert.deepEqual(ranLines(sb), [id], 'started exactly once');
    assert.equal(runnerLog(sb).split('\n').filter((l) => l.includes(id) && /started afresh/.test(l)).length, 1, runnerLog(sb));
  } finally {
    killQuietly(other?.pid);
    sb.cleanup();
  }
});

test('an EMPTY start marker with no process of the job anywhere is given up after 5 s: the job starts exactly once', T, async () => {
  const sb = new Sandbox(YAML);
  try {
    const ids = [submitJob(sb, ['gated']), submitJob(sb, ['gated'])];
    const mtimes = ids.map((id) => queuedWithEmptyMarker(sb, id, 0));
    for (const id of ids) await waitStarted(sb, id, 40_000);
    await waitFor('both commands to run', () => ranLines(sb).length === 2, 20_000);
    for (const [i, id] of ids.entries()) {
      const hot = stateOrEmpty(sb).jobs[id];
      await waitFor(`job ${id}'s startTime`, () => stateOrEmpty(sb).jobs[id]?.startTime, 20_000);
      const startTime = Date.parse(stateOrEmpty(sb).jobs[id].startTime);
      assert.ok(startTime - mtimes[i]! >= 5_000, `job ${id} started ${startTime - mtimes[i]!} ms after its empty marker was made, not before 5 s (${JSON.stringify(hot)})`);
      assert.deepEqual(startMarker(sb, id).pid, hot.pid, 'a new marker names the new wrapper');
    }
    for (const id of ids) release(sb, id);
    assert.equal(sb.run(['wait', ...ids, '--timeout', '60']).code, 0);
    for (const id of ids) assert.equal(sb.job(id).phase, 'COMPLETED');
    assert.deepEqual(ranLines(sb).sort(), [...ids].sort(), 'each started exactly once');
    for (const id of ids) {
      assert.equal(runnerLog(sb).split('\n').filter((l) => l.includes(id) && /started afresh/.test(l)).length, 1, runnerLog(sb));
    }
  } finally {
    sb.cleanup();
  }
});

test('a job whose start went unrecorded and that ended before a successor looked: COMPLETED with a startTime (it ran), not null', T, async () => {
  const sb = new Sandbox(YAML);
  try {
    const { id, pid, pidStart } = await startedButUnrecorded(sb);
    release(sb, id);
    await waitFor(`job ${id}'s wrapper (pid ${pid}) to end`, () => !alive(pid, pidStart), 20_000);
    assert.notEqual(readFileSync(join(sb.recordDir(id), 'exit'), 'utf8').trim(), '', 'its wrapper wrote the exit status');
    const t = sb.run(['tick']);
    assert.equal(t.code, 0, t.stderr);
    const w = sb.run(['wait', id, '--timeout', '60']);
    assert.equal(w.code, 0, w.stderr);
    const job = sb.job(id);
    assert.equal(job.phase, 'COMPLETED', JSON.stringify(job.errorSummary));
    assert.equal(job.exitCode, 0);
    assert.ok(job.startTime, `a job that ran has a startTime: ${JSON.stringify(job)}`);
    assert.ok(Date.parse(job.startTime) <= Date.parse(job.endTime), `startTime ${job.startTime} is not after endTime ${job.endTime}`);
    assert.deepEqual(ranLines(sb), [id], 'started exactly once');
  } finally {
    sb.cleanup();
  }
});

test('a job adopted through its marker can still be aborted: ABORTED, its processes gone, never started again', T, async () => {
  const sb = new Sandbox(YAML);
  try {
    const { id, pid, pidStart } = await startedButUnrecorded(sb);
    await adoptedAfterTick(sb, id, pid);
    const r = sb.run(['abort', id]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(sb.job(id).phase, 'ABORTED');
    assert.equal(alive(pid, pidStart), false, `the wrapper ${pid} is gone when abort returns`);
    assert.deepEqual(describeProcs(jobEnvProcs(id)), '', 'no process of the job is left');
    assert.deepEqual(ranLines(sb), [id], 'the command started exactly once');
  } finally {
    sb.cleanup();
  }
});

test('abort of a QUEUED job whose marker shows it started: SIGTERM to its group, ABORTED, its processes gone', T, async () => {
  const sb = new Sandbox(YAML);
  try {
    const { id, pid, pidStart, runnerPid } = await startedButUnrecorded(sb);
    // Nothing has run since the kill: no runner is alive, and state.json says QUEUED.
    assert.equal(runnerAlive(sb), false, 'no runner is alive');
    assert.equal(phaseOf(sb, id), 'QUEUED');
    const group = groupMembers(pid);
    assert.ok(group.some((p) => p.pid === pid), `the wrapper leads the job's group: ${describeProcs(group)}`);
    const envProcs = jobEnvProcs(id);
    assert.ok(envProcs.length > 0, 'the command (UWS_JOB_ID in its environment) is running');
    const before = [...group, ...envProcs];

    const r = sb.run(['abort', id]);
    assert.equal(r.code, 0, `abort exits 0: ${r.stderr}`);
    // abort returns only when the job's processes are gone.
    assert.equal(alive(pid, pidStart), false, `the wrapper ${pid} (the marker's pid) is gone when abort returns`);
    assert.deepEqual(describeProcs(before.filter((p) => alive(p.pid, p.start))), '', 'every process seen before the abort is gone');
    assert.deepEqual(describeProcs(groupMembers(pid)), '', "the job's group is empty");
    assert.deepEqual(describeProcs(jobEnvProcs(id)), '', 'no process with UWS_JOB_ID of the job is left');

    const st = state(sb);
    assert.equal(st.jobs[id], undefined, 'no hot entry: the job is final');
    // abort starts no runner (SPEC: PENDING/QUEUED -> ABORTED involves no queue manager).
    // The job's wrapper may start one as it ends (its launcher died with the runner:
    // launcher.pl respawnRunner); then runner.log says so, and that runner finds the job
    // ABORTED: nothing starts it again (ranLines below).
    // A runner records itself in the state before its runner.log line is written (the log is
    // flushed a turn later), so the line is waited for, not read once.
    if ((st.runner?.pid ?? runnerPid) !== runnerPid) {
      const started = new RegExp(`runner started \\(by the wrapper of job ${id},`);
      await waitFor("runner.log to say the wrapper started the new runner", () => started.test(runnerLog(sb)), 10_000)
        .catch(() => assert.fail(`a new runner is the wrapper's, never abort's: ${runnerLog(sb)}`));
    }
    // The job is final now: `show` starts no runner either.
    const job = sb.job(id);
    assert.equal(job.phase, 'ABORTED');
    assert.equal(job.pid, null);
    assert.match(job.endTime ?? '', /Z$/);
    assert.deepEqual(ranLines(sb), [id], 'the command started exactly once');
    // The wrapper (which outlives SIGTERM once its command is up) wrote how the command
    // ended: by SIGTERM, the signal of the starting window, not SIGINT, and no SIGKILL was
    // needed (that would have killed the wrapper before it could write).
    const exitFile = join(sb.recordDir(id), 'exit');
    assert.ok(existsSync(exitFile), 'the wrapper wrote how the command ended');
    assert.equal(readFileSync(exitFile, 'utf8').split('\n')[0], 'signal 15', 'the command got SIGTERM (its first line; a second may name what it left)');

    // Housekeeping leaves it ABORTED and starts nothing.
    const t = sb.run(['tick']);
    assert.equal(t.code, 0, t.stderr);
    assert.equal(sb.job(id).phase, 'ABORTED');
    assert.deepEqual(ranLines(sb), [id]);
    assert.deepEqual(describeProcs(jobEnvProcs(id)), '');
  } finally {
    sb.cleanup();
  }
});

test('a job adopted through its marker keeps its executionDuration: ABORTED by the time limit, not left running', T, async () => {
  const sb = new Sandbox(YAML);
  try {
    // The start went unrecorded, so nothing recorded its startTime either; the successor
    // must still hold the job to its limit (SPEC §7), counted from its start or its adoption.
    const { id, pid, pidStart } = await startedButUnrecorded(sb, ['--execution-duration', '2']);
    await adoptedAfterTick(sb, id, pid);
    // Never released: only the time limit can end it.
    const w = sb.run(['wait', id, '--timeout', '20']);
    const job = sb.job(id);
    assert.equal(w.code, 1, `wait: the job must end ABORTED by its 2 s limit within 20 s (exit 1), got ${w.code}; `
      + `the job: phase ${job.phase}, startTime ${job.startTime}, pid ${job.pid}`);
    assert.equal(job.phase, 'ABORTED');
    assert.equal(job.errorSummary?.type, 'transient', JSON.stringify(job.errorSummary));
    assert.match(job.errorSummary.message, /executionDuration/);
    assert.equal(alive(pid, pidStart), false, 'the wrapper is gone');
    assert.deepEqual(describeProcs(jobEnvProcs(id)), '', 'no process of the job is left');
    assert.equal(existsSync(join(sb.jobDir(id), 'release')), false, 'it was never released');
    assert.deepEqual(ranLines(sb), [id], 'the command started exactly once');
  } finally {
    sb.cleanup();
  }
});

// ---- the lock while a queue drains ----------------------------------------------------------

/** Counts the given jobs by phase as the files show them ("gone" = not active). */
function hotPhases(sb: Sandbox, ids: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const id of ids) {
    const ph = phaseOf(sb, id);
    const p = ph === 'EXECUTING' || ph === 'QUEUED' || ph === 'PENDING' ? ph : 'gone';
    out[p] = (out[p] ?? 0) + 1;
  }
  return out;
}

/**
 * What a stuck drain looks like from /proc: the EXECUTING jobs' leaders (alive, zombie or
 * gone, and whose children they are), and the runner.
 */
function drainDiagnostics(sb: Sandbox, ids: string[]): string {
  const st = stateOrEmpty(sb);
  const r = st.runner;
  const lines = [`phases ${JSON.stringify(hotPhases(sb, ids))}`, `finished records ${Object.keys(st.finished ?? {}).length}`,
    `runner ${JSON.stringify(r)} ${r && alive(r.pid, r.startTime) ? 'alive' : 'not alive'}`];
  if (r) {
    const main = procStat(r.pid);
    lines.push(`runner main thread state ${main?.state ?? '?'} wchan ${readProc(r.pid, 'wchan') ?? '?'} `
      + `stack ${(readProc(r.pid, 'stack') ?? '?').split('\n')[0]}`);
    const launcher = launcherOf(r.pid);
    lines.push(`launcher ${launcher ? `${launcher.pid} state ${launcher.state} wchan ${readProc(launcher.pid, 'wchan') ?? '?'}` : 'none'}`);
  }
  for (const [id, hot] of Object.entries<any>(st.jobs)) {
    if (hot.phase !== 'EXECUTING') continue;
    const p = hot.pid ? procStat(hot.pid) : undefined;
    const exitFile = join(sb.recordDir(id), 'exit');
    lines.push(`EXECUTING ${id} pid ${hot.pid} startTime ${hot.startTime}: ${p ? `${p.comm} state ${p.state} ppid ${p.ppid}` : 'gone'}; `
      + `exit file ${existsSync(exitFile) ? JSON.stringify(readFileSync(exitFile, 'utf8').trim()) : 'none'}`);
  }
  return lines.join('\n');
}

/** Waits until none of `ids` is QUEUED or EXECUTING; on a timeout, says what is stuck. */
async function drained(sb: Sandbox, ids: string[], ms: number): Promise<void> {
  try {
    await waitFor('the drain to finish', () => {
      const ph = hotPhases(sb, ids);
      return !ph.QUEUED && !ph.EXECUTING;
    }, ms);
  } catch (err) {
    assert.fail(`${(err as Error).message}\n${drainDiagnostics(sb, ids)}\nrunner.log:\n${runnerLog(sb).slice(-2000)}`);
  }
}

test('a command that needs the lock gets it while a long queue of short jobs drains', { timeout: 240_000 }, async (t) => {
  const sb = new Sandbox(YAML);
  try {
    // N trivial jobs plus 4 that stay PENDING, as targets of `set` and `abort`.
    const N = 2000;
    const s = sb.run(['submit', 'hello', '--params-from', '-'], {}, '{}\n'.repeat(N + 4));
    assert.equal(s.code, 0, s.stderr);
    const all = s.stdout.trim().split('\n');
    assert.equal(all.length, N + 4);
    for (const id of all) assert.match(id, ID_RE);
    const ids = all.slice(0, N);
    const [setTarget, ...abortTargets] = all.slice(N);
    const r = sb.run(['run', ...ids]);
    assert.equal(r.code, 0, r.stderr);

    // The drain is under way: some jobs have left the queue.
    await waitFor('the first jobs to have ended', () => (hotPhases(sb, ids).gone ?? 0) >= 20, 20_000);
    const atStart = hotPhases(sb, ids);
    assert.ok((atStart.QUEUED ?? 0) > 0, `jobs still queued when the commands start: ${JSON.stringify(atStart)}`);

    const env = { UWSRUN_LOCK_TIMEOUT_MS: '3000' };
    const commands: string[][] = [
      ['submit', 'hello'],
      ['set', setTarget!, '--execution-duration', '11'],
      ['abort', abortTargets[0]!],
      ['submit', 'hello'],
      ['set', setTarget!, '--execution-duration', '12'],
      ['abort', abortTargets[1]!],
      ['submit', 'hello'],
      ['set', setTarget!, '--execution-duration', '13'],
      ['abort', abortTargets[2]!],
      ['submit', 'hello'],
    ];
    const submitted: string[] = [];
    const took: number[] = [];
    for (const args of commands) {
      const t0 = Date.now();
      const c = sb.run(args, env);
      took.push(Date.now() - t0);
      assert.equal(c.code, 0, `uwsrun ${args.join(' ')} during the drain exited ${c.code} (5 = no lock within 3 s): ${c.stderr}`);
      if (args[0] === 'submit') submitted.push(c.stdout.trim());
    }
    const atEnd = hotPhases(sb, ids);
    const figures = `${N} jobs; at the first command ${JSON.stringify(atStart)}, after the last ${JSON.stringify(atEnd)}; `
      + `commands took ${took.join(' ')} ms`;
    t.diagnostic(figures);
    console.log(`# lock during drain: ${figures}`);
    // The commands really ran during the drain: jobs were still queued after the last one,
    // and jobs ended while they ran.
    assert.ok((atEnd.QUEUED ?? 0) > 0, `the drain must still be in progress after the commands: ${figures}`);
    assert.ok((atEnd.gone ?? 0) > (atStart.gone ?? 0), `jobs ended while the commands ran: ${figures}`);

    // What they did took effect.
    for (const id of submitted) {
      assert.match(id, ID_RE);
      assert.equal(sb.job(id).phase, 'PENDING');
    }
    assert.equal(sb.job(setTarget!).executionDuration, 13);
    assert.equal(sb.job(setTarget!).phase, 'PENDING');
    for (const id of abortTargets.slice(0, 3)) assert.equal(sb.job(id).phase, 'ABORTED');

    // And the drain finishes: every job completes. (What is under test is the lock, not the
    // drain's speed: on a loaded 2-core machine 2,000 jobs have taken over 30 s, so the
    // deadline is generous.)
    await drained(sb, ids, 150_000);
    const w = sb.run(['wait', ...ids, '--timeout', '30']);
    assert.equal(w.code, 0, `every drained job completes: ${w.stderr}`);
  } finally {
    sb.cleanup();
  }
});

// ---- final records leave state.json -------------------------------------------------------

test('more than 64 jobs ending in a row: every record reaches its job.json and state.json keeps no finished records once the runner is idle', { timeout: 240_000 }, async (t) => {
  const sb = new Sandbox(YAML);
  try {
    const N = 600;
    const BOUND = 300; // above 4 x 64, far below N
    const s = sb.run(['submit', 'hello', '--params-from', '-'], {}, '{}\n'.repeat(N));
    assert.equal(s.code, 0, s.stderr);
    const ids = s.stdout.trim().split('\n');
    assert.equal(ids.length, N);
    assert.equal(new Set(ids).size, N);
    const r = sb.run(['run', ...ids]);
    assert.equal(r.code, 0, r.stderr);

    // A deadline for the drain, not a speed goal: 600 jobs take ~10 s on a quiet machine and
    // several times that on a loaded one (bench/p2-drain.mjs measures the speed).
    const waiting = sb.start(['wait', ...ids, '--timeout', '120']);
    let done = false;
    void waiting.then(() => (done = true));
    let maxFinished = 0;
    let samples = 0;
    let sawFinished = 0;
    let lastText = '';
    while (!done) {
      let text: string;
      try {
        text = stateText(sb);
      } catch {
        text = '';
      }
      if (text && text !== lastText) {
        lastText = text;
        const st = JSON.parse(text);
        const n = Object.keys(st.finished ?? {}).length;
        samples++;
        if (n > 0) sawFinished++;
        maxFinished = Math.max(maxFinished, n);
      }
      await new Promise((res) => setTimeout(res, 5));
    }
    const w = await waiting;
    assert.equal(w.code, 0, `every job completes: ${w.stderr}\n${w.code === 124 ? drainDiagnostics(sb, ids) : ''}`);
    const figures = `${N} jobs: ${samples} versions of state.json sampled, ${sawFinished} with finished records, at most ${maxFinished}`;
    t.diagnostic(figures);
    console.log(`# final records: ${figures}`);
    assert.ok(sawFinished > 0, `the sampling saw final records in state.json at least once: ${figures}`);
    assert.ok(maxFinished <= BOUND, `state.json held ${maxFinished} finished records at once (bound ${BOUND}): ${figures}`);

    // Once idle, the runner leaves and moves every remaining final record out.
    await waitFor('the runner to go idle and leave', () => !runnerAlive(sb), 20_000);
    const st = state(sb);
    assert.ok(st.runner === null || !alive(st.runner.pid, st.runner.startTime), `no live runner: ${JSON.stringify(st.runner)}`);
    assert.deepEqual(Object.keys(st.finished ?? {}), [], 'no finished records left in state.json');
    assert.deepEqual(ids.filter((id) => st.jobs[id] !== undefined), [], 'no hot entries left for the jobs');
    const bad: string[] = [];
    for (const id of ids) {
      const file = join(sb.recordDir(id), 'job.json');
      let rec: any;
      try {
        rec = JSON.parse(readFileSync(file, 'utf8'));
      } catch (err) {
        bad.push(`${id}: ${(err as Error).message}`);
        continue;
      }
      if (rec.jobId !== id || rec.phase !== 'COMPLETED' || rec.exitCode !== 0 || rec.pid !== null) {
        bad.push(`${id}: ${rec.jobId} ${rec.phase} exit ${rec.exitCode} pid ${rec.pid}`);
      }
    }
    assert.deepEqual(bad, [], 'every job.json is a COMPLETED record');

    const listed = sb.json<any[]>(['list']);
    const byId = new Map(listed.map((j) => [j.jobId as string, j]));
    assert.deepEqual(ids.filter((id) => byId.get(id)?.phase !== 'COMPLETED'), [], 'list shows every job COMPLETED');
    assert.equal(listed.length, N);
    assert.ok(listed.every((j) => FINAL.includes(j.phase)));
    for (const id of ids.slice(0, 5)) assert.equal(readFileSync(join(sb.jobDir(id), 'stdout.log'), 'utf8'), 'Hello, world!\n');
  } finally {
    sb.cleanup();
  }
});
