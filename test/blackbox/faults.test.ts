// Fault injection, black-box: what happens to a HOME when uwsrun's own processes are killed
// with SIGKILL at bad moments (the runner, `submit`), when an abort races the start of a job,
// when a recorded pid has been reused, when the lock is stale or held, when the disk is full
// or read-only, and when jobs misbehave (closed stdout, floods, escaped processes, zombies).
// Then housekeeping (`tick`), time limits, `set`, `submit --unique` and `doctor`.
//
// Every wait polls a condition with a deadline. Processes are judged from /proc with their
// start time (field 22 of /proc/PID/stat), so a reused pid never counts as alive, and a
// zombie counts as gone (PID 1 here may never reap orphans). The only deliberate sleeps are
// the random delays before a SIGKILL or an abort: those are the fault being injected.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import {
  existsSync, mkdirSync, readFileSync, readdirSync, statSync, utimesSync, writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { BIN, FINAL, ID_RE, Sandbox, canUnshare, release, submitJob, waitFor } from '../helpers.js';
import {
  type Proc, alive, allProcs, describeProcs, groupMembers, isZombie, jobEnvProcs, killQuietly, procStat, readProc, stillAlive,
} from '../procfs.js';
import { assertLogged, launcherOf, phaseOf, ranLines, runnerLog, state, stateOrEmpty, stateText, waitStarted } from '../runner-state.js';

const YAML = `
defaults:
  destruction: 0
jobs:
  hello:
    command: [echo, "Hello, {name}!"]
    parameters:
      name: { type: string, default: world }
  gatedall:
    description: appends its id to a shared file first (a second run would show), then waits for the test's file go (one for every job)
    command: [sh, -c, 'echo "$UWS_JOB_ID" >> "$HOME/ran"; while [ ! -e "$HOME/go" ]; do sleep 0.05; done; echo done; exit "$UWS_PARAM_CODE"']
    parameters:
      code: { type: integer, default: 0 }
  gated:
    description: appends its id to a shared file, then waits for the test's release file
    command: [sh, -c, 'echo "$UWS_JOB_ID" >> "$HOME/ran"; while [ ! -e "$UWS_JOB_DIR/release" ]; do sleep 0.05; done; echo done; exit "$UWS_PARAM_CODE"']
    parameters:
      code: { type: integer, default: 0 }
  argdump:
    description: writes each argument and each UWS_PARAM_* value to its own file, then waits for release
    command:
      - sh
      - -c
      - >-
        i=0; for a in "$@"; do i=$((i+1)); printf %s "$a" > "$UWS_RESULTS_DIR/arg$i"; done;
        echo "$#" > "$UWS_RESULTS_DIR/argc";
        printf %s "$UWS_PARAM_A" > "$UWS_RESULTS_DIR/env.a"; printf %s "$UWS_PARAM_B" > "$UWS_RESULTS_DIR/env.b";
        printf %s "$UWS_PARAM_C" > "$UWS_RESULTS_DIR/env.c"; printf %s "$UWS_PARAM_NL" > "$UWS_RESULTS_DIR/env.nl";
        while [ ! -e "$UWS_JOB_DIR/release" ]; do sleep 0.05; done
      - sh
      - "{a}"
      - ""
      - "{b}"
      - "{nl}"
      - "{c}"
    parameters:
      a: { type: string, default: "" }
      b: { type: string, default: "" }
      c: { type: string, default: "" }
      nl: { type: string, default: "" }
  long:
    command: [sleep, "30"]
    killGrace: 1
  stubborn:
    command: [sh, -c, 'trap "" INT TERM; echo "$UWS_JOB_ID" >> "$HOME/ran"; while :; do sleep 0.05; done']
    killGrace: 3
  sleep300:
    # Long enough that every abort of the race finds it still running, however long the
    # abort command takes to start on a loaded machine (5 s was not, at load 40-70).
    command: [sh, -c, 'echo "$UWS_JOB_ID" >> "$HOME/started"; exec sleep 300']
    killGrace: 1
  closeout:
    command: [sh, -c, 'exec 1>&-; sleep 0.2; echo still here >&2']
  flood:
    command: [head, -c, "200000000", /dev/zero]
  escape:
    command: [sh, -c, 'setsid sh -c ''sleep 300'' & echo up > "$UWS_RESULTS_DIR/ready"; wait']
    killGrace: 1
  zombie:
    description: its first child is never reaped by the process that replaces the shell
    command: [sh, -c, 'sleep 0.1 & exec sleep 3']
`;

const T = { timeout: 120_000 };

// ---- processes ---------------------------------------------------------------------------

/** A process of the test's own, in its own session and group, unrelated to any job. */
function unrelatedSleeper(): ChildProcess {
  const child = spawn('sleep', ['300'], { detached: true, stdio: 'ignore' });
  child.unref();
  assert.ok(child.pid, 'could not start an unrelated sleep');
  return child;
}

// ---- uwsrun ------------------------------------------------------------------------------

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const jobDirs = (sb: Sandbox): string[] => {
  try {
    // Record directories: a job that never started has no job directory.
    return readdirSync(join(sb.home, 'records')).sort();
  } catch {
    return [];
  }
};

const recordDirs = (sb: Sandbox): string[] => {
  try {
    return readdirSync(join(sb.home, 'records')).sort();
  } catch {
    return [];
  }
};

/** SIGKILLs the recorded runner and waits until it is gone (dead or a zombie). */
async function killRunner(sb: Sandbox): Promise<number> {
  const r = stateOrEmpty(sb).runner;
  assert.ok(r && alive(r.pid, r.startTime), `a live runner must be recorded: ${JSON.stringify(r)}`);
  process.kill(r.pid, 'SIGKILL');
  await waitFor(`runner ${r.pid} gone`, () => !alive(r.pid, r.startTime), 10_000);
  return r.pid as number;
}

// ---- the runner killed -------------------------------------------------------------------

test('kill -9 of the runner with 2 jobs running and 3 queued: jobs keep running, a successor records their real status, queued jobs still run once', T, async () => {
  const sb = new Sandbox(YAML);
  try {
    const ids = [
      // The jobs wait for the test's go: a job of fixed length (it was `sleep 3`) could end
      // before a loaded machine had even run the five submits, and never be seen EXECUTING.
      submitJob(sb, ['gatedall', '--run', '-p', 'code=0']),
      submitJob(sb, ['gatedall', '--run', '-p', 'code=3']),
      submitJob(sb, ['gatedall', '--run']),
      submitJob(sb, ['gatedall', '--run']),
      submitJob(sb, ['gatedall', '--run']),
    ];
    const [a, b] = [await waitStarted(sb, ids[0]!), await waitStarted(sb, ids[1]!)];
    for (const id of ids.slice(2)) assert.equal(phaseOf(sb, id), 'QUEUED', `job ${id} must still be queued (limit 2)`);
    await waitFor('both running jobs to have appended their ids', () => ranLines(sb).length === 2, 10_000);

    await killRunner(sb);
    // The jobs live in their own sessions: the runner's death does not touch them.
    assert.ok(alive(a.pid, a.pidStart), `job ${ids[0]} (pid ${a.pid}) must survive its runner`);
    assert.ok(alive(b.pid, b.pidStart), `job ${ids[1]} (pid ${b.pid}) must survive its runner`);
    for (const id of ids.slice(2)) assert.equal(phaseOf(sb, id), 'QUEUED', `job ${id} is still queued`);
    writeFileSync(join(sb.dir, 'go'), '');

    // `wait` finds no live runner and starts a successor, which adopts the two and runs the rest.
    const w = sb.run(['wait', ...ids, '--timeout', '60']);
    assert.equal(w.code, 1, `wait: one job exits 3, so exit 1: ${w.stderr}`);

    const jobs = ids.map((id) => sb.job(id));
    assert.equal(jobs[0].phase, 'COMPLETED');
    assert.equal(jobs[0].exitCode, 0);
    assert.equal(jobs[1].phase, 'ERROR', 'the adopted job that exited 3 is ERROR from its exit file, not lost');
    assert.equal(jobs[1].exitCode, 3);
    assert.equal(jobs[1].errorSummary?.type, 'fatal', JSON.stringify(jobs[1].errorSummary));
    assert.doesNotMatch(jobs[1].errorSummary.message, /lost/);
    for (const j of jobs.slice(2)) {
      assert.equal(j.phase, 'COMPLETED', `queued job ${j.jobId} ran after the crash`);
      assert.equal(j.exitCode, 0);
    }
    for (const id of ids) assert.equal(readFileSync(join(sb.jobDir(id), 'stdout.log'), 'utf8'), 'done\n');

    // Nothing ran twice, nothing is left EXECUTING.
    const ran = ranLines(sb);
    for (const id of ids) assert.equal(ran.filter((l) => l === id).length, 1, `job ${id} must have run exactly once: ${ran.join(',')}`);
    assert.equal(ran.length, ids.length);
    const list = sb.json<any[]>(['list']);
    assert.deepEqual(list.filter((j) => !FINAL.includes(j.phase)).map((j) => `${j.jobId}:${j.phase}`), []);
    await waitFor('no hot entries left', () => Object.keys(state(sb).jobs).length === 0, 10_000);
  } finally {
    sb.cleanup();
  }
});

test('a job SIGKILLed while its runner is dead (no exit file) ends ERROR "lost" (transient), recorded by `tick` alone', T, async () => {
  const sb = new Sandbox(YAML);
  try {
    const id = submitJob(sb, ['long', '--run']);
    const { pid, pidStart } = await waitStarted(sb, id);
    await killRunner(sb);
    process.kill(-pid, 'SIGKILL'); // the whole group: wrapper and command, so no exit file
    await waitFor(`job ${id}'s processes gone`, () => !alive(pid, pidStart) && allProcs().every((p) => p.pgrp !== pid || isZombie(p)), 10_000);
    assert.equal(readFileSync(join(sb.recordDir(id), 'exit'), 'utf8').trim(), '', 'no exit status was written (the file holds its blanks)');
    assert.equal(state(sb).jobs[id]?.phase, 'EXECUTING', 'nobody has noticed yet');

    const t1 = sb.run(['tick']);
    assert.equal(t1.code, 0, t1.stderr);
    assert.match(t1.stdout, new RegExp(id), 'tick says what it did');
    assert.equal(state(sb).jobs[id], undefined, 'tick recorded the end: no active entry left');
    // The job is final now, so `show` starts no runner: what it shows is what tick recorded.
    const job = sb.job(id);
    assert.equal(job.phase, 'ERROR');
    assert.equal(job.errorSummary?.type, 'transient');
    assert.match(job.errorSummary.message, /lost/);
    assert.equal(job.exitCode, null);
    assert.equal(job.pid, null);
    const t2 = sb.run(['tick']);
    assert.equal(t2.code, 0, t2.stderr);
    assert.equal(t2.stdout, '', 'a second tick has nothing to do');
  } finally {
    sb.cleanup();
  }
});

// ---- the launcher ------------------------------------------------------------------------
// The runner forks no job itself: it starts one long-lived Perl process, the launcher (a
// direct child of the runner, shown by ps as `uwsrun-launcher HOME`),
// which forks each job's wrapper. Found here from /proc alone: ppid and cmdline.

/** Lines of runner.log that say a launcher ended. */
const launcherEndLines = (sb: Sandbox): string[] =>
  runnerLog(sb).split('\n').filter((l) => /launcher/i.test(l) && /\b(ended|died|gone|exited|killed)\b|SIGKILL/i.test(l));

/** The live runner recorded in state.json (asserted). */
function liveRunner(sb: Sandbox): { pid: number; startTime: string } {
  const r = stateOrEmpty(sb).runner;
  assert.ok(r && alive(r.pid, r.startTime), `a live runner must be recorded: ${JSON.stringify(r)}`);
  return r;
}

/** A `gated` job's lasting processes: its wrapper (the group leader) and the `sh` it runs (not the passing `sleep 0.05`s). */
const jobProcs = (leader: number): Proc[] => groupMembers(leader).filter((p) => p.comm !== 'sleep');

test('kill -9 of the launcher with 2 jobs running and 3 queued: the jobs keep running, their real statuses come from the exit files, the queued jobs start under a new launcher, every job runs once', T, async () => {
  const sb = new Sandbox(YAML);
  try {
    const ids = [
      submitJob(sb, ['gated', '--run', '-p', 'code=0']),
      submitJob(sb, ['gated', '--run', '-p', 'code=3']),
      submitJob(sb, ['gated', '--run']),
      submitJob(sb, ['gated', '--run']),
      submitJob(sb, ['gated', '--run']),
    ];
    const started = [await waitStarted(sb, ids[0]!), await waitStarted(sb, ids[1]!)];
    // Both commands are really running (each has appended its id) before anything is killed.
    await waitFor('both running jobs to have appended their ids', () => ranLines(sb).length === 2, 10_000);
    for (const id of ids.slice(2)) assert.equal(phaseOf(sb, id), 'QUEUED', `job ${id} must still be queued (limit 2)`);

    const runner = liveRunner(sb);
    const launcher = launcherOf(runner.pid);
    assert.ok(launcher, `runner ${runner.pid} must have a launcher child (uwsrun-launcher): ${describeProcs(allProcs().filter((p) => p.ppid === runner.pid))}`);
    assert.equal(readProc(launcher.pid, 'cmdline')?.replace(/\0+$/, ''), `uwsrun-launcher ${sb.home}`, 'ps shows the launcher with its HOME');
    for (const [k, s] of started.entries()) {
      assert.equal(procStat(s.pid)?.ppid, launcher.pid, `job ${ids[k]}'s wrapper (pid ${s.pid}) is a child of the launcher ${launcher.pid}`);
      assert.equal(readProc(s.pid, 'cmdline')?.replace(/\0+$/, ''), `uwsrun-wrapper ${ids[k]}`, 'ps shows the wrapper with its job id');
    }
    // The lasting processes of the two jobs (wrapper and command), to check they survive.
    const members = started.map((s) => jobProcs(s.pid));
    for (const [k, m] of members.entries()) assert.equal(m.length, 2, `job ${ids[k]}: wrapper and command: ${describeProcs(m)}`);

    process.kill(launcher.pid, 'SIGKILL');
    await waitFor(`launcher ${launcher.pid} gone`, () => !alive(launcher.pid, launcher.start), 10_000);
    await waitFor('runner.log to mention the launcher ending', () => launcherEndLines(sb).length > 0, 10_000);

    // The runner lives on; the jobs are untouched, still EXECUTING under the same pids.
    assert.ok(alive(runner.pid, runner.startTime), 'the runner must survive its launcher');
    for (const [k, m] of members.entries()) {
      assert.deepEqual(describeProcs(m.filter((p) => !stillAlive(p))), '', `wrapper and command of job ${ids[k]} survive the launcher`);
    }
    const mid = state(sb);
    for (const [k, s] of started.entries()) {
      assert.equal(mid.jobs[ids[k]!]?.phase, 'EXECUTING', `job ${ids[k]} still EXECUTING`);
      assert.equal(mid.jobs[ids[k]!]?.pid, s.pid, `job ${ids[k]} keeps its pid`);
    }
    for (const id of ids.slice(2)) assert.equal(phaseOf(sb, id), 'QUEUED', `job ${id} still queued: no slot is free`);

    // Release the two: their ends are found through /proc and the exit files, and the next
    // two queued jobs start under a new launcher of the same runner.
    release(sb, ids[0]!);
    release(sb, ids[1]!);
    const next = [await waitStarted(sb, ids[2]!), await waitStarted(sb, ids[3]!)];
    assert.equal(phaseOf(sb, ids[4]!), 'QUEUED', 'the fifth job waits for a slot');
    assert.equal(liveRunner(sb).pid, runner.pid, 'the same runner goes on');
    const second = launcherOf(runner.pid);
    assert.ok(second && second.pid !== launcher.pid, `a new launcher is started: ${second?.pid}`);
    for (const [k, s] of next.entries()) {
      assert.equal(procStat(s.pid)?.ppid, second.pid, `job ${ids[k + 2]}'s wrapper is a child of the new launcher`);
    }
    assert.equal(launcherEndLines(sb).length, 1, `the launcher ended once only:\n${runnerLog(sb)}`);

    for (const id of ids.slice(2)) release(sb, id);
    const w = sb.run(['wait', ...ids, '--timeout', '60']);
    assert.equal(w.code, 1, `wait: one job exits 3, so exit 1: ${w.stderr}`);

    const jobs = ids.map((id) => sb.job(id));
    assert.equal(jobs[0].phase, 'COMPLETED');
    assert.equal(jobs[0].exitCode, 0);
    assert.equal(jobs[1].phase, 'ERROR', `the job that exited 3 after its launcher died is ERROR from its exit file: ${JSON.stringify(jobs[1].errorSummary)}`);
    assert.equal(jobs[1].exitCode, 3);
    assert.equal(jobs[1].errorSummary?.type, 'fatal', JSON.stringify(jobs[1].errorSummary));
    assert.doesNotMatch(jobs[1].errorSummary.message, /lost/);
    for (const j of jobs.slice(2)) {
      assert.equal(j.phase, 'COMPLETED', `queued job ${j.jobId} ran after the launcher died`);
      assert.equal(j.exitCode, 0);
    }
    for (const j of jobs) assert.equal(j.pid, null, `job ${j.jobId}: no pid once final`);
    for (const id of ids) assert.equal(readFileSync(join(sb.jobDir(id), 'stdout.log'), 'utf8'), 'done\n', `job ${id}'s output`);

    const ran = ranLines(sb);
    for (const id of ids) assert.equal(ran.filter((l) => l === id).length, 1, `job ${id} must have run exactly once: ${ran.join(',')}`);
    assert.equal(ran.length, ids.length);
    await waitFor('no hot entries left', () => Object.keys(state(sb).jobs).length === 0, 10_000);
  } finally {
    sb.cleanup();
  }
});

test('a stopped (SIGSTOP) launcher is given up after its answer deadline: killed, the running job is still recorded from its exit file, the queued job starts under a new launcher', T, async () => {
  const sb = new Sandbox(YAML);
  let stopped: Proc | undefined;
  try {
    assert.ok(sb.run(['limit', '1']).code === 0);
    const first = submitJob(sb, ['gated', '--run', '-p', 'code=3']);
    const s1 = await waitStarted(sb, first);
    const runner = liveRunner(sb);
    stopped = launcherOf(runner.pid);
    assert.ok(stopped, 'the runner has a launcher');
    process.kill(stopped.pid, 'SIGSTOP');
    await waitFor(`launcher ${stopped.pid} stopped`, () => procStat(stopped!.pid)?.state === 'T', 10_000);

    // The slot frees while the launcher is stopped: the next launch gets no answer.
    const second = submitJob(sb, ['gated', '--run']);
    release(sb, first);
    const s2 = await waitStarted(sb, second, 30_000);
    assert.ok(!alive(stopped.pid, stopped.start), `the stopped launcher ${stopped.pid} was killed`);
    const next = launcherOf(runner.pid);
    assert.ok(next && next.pid !== stopped.pid, 'a new launcher of the same runner');
    assert.equal(procStat(s2.pid)?.ppid, next.pid, 'the queued job was started by the new launcher');
    await assertLogged(sb, /no answer within/, 'runner.log says why the launcher was given up');

    release(sb, second);
    const w = sb.run(['wait', first, second, '--timeout', '60']);
    assert.equal(w.code, 1, `one job exits 3: ${w.stderr}`);
    const j1 = sb.job(first);
    assert.equal(j1.phase, 'ERROR');
    assert.equal(j1.exitCode, 3, 'the real status, from the exit file of the wrapper the stopped launcher forked');
    assert.notEqual(s1.pid, s2.pid);
    assert.equal(sb.job(second).phase, 'COMPLETED');
    const ran = ranLines(sb);
    assert.deepEqual([...ran].sort(), [first, second].sort(), 'each job ran exactly once');
  } finally {
    if (stopped) { try { process.kill(stopped.pid, 'SIGCONT'); } catch { /* gone */ } }
    sb.cleanup();
  }
});

test('kill -9 of the runner: its launcher exits too, the jobs live on, and a successor records how they ended', T, async () => {
  const sb = new Sandbox(YAML);
  try {
    const ids = [submitJob(sb, ['gated', '--run', '-p', 'code=0']), submitJob(sb, ['gated', '--run', '-p', 'code=3'])];
    const started = [await waitStarted(sb, ids[0]!), await waitStarted(sb, ids[1]!)];
    await waitFor('both jobs to have appended their ids', () => ranLines(sb).length === 2, 10_000);
    const runner = liveRunner(sb);
    const launcher = launcherOf(runner.pid);
    assert.ok(launcher, `runner ${runner.pid} must have a launcher child (uwsrun-launcher)`);
    // The wrapper and the job's shell; the shell forks a short `sleep` every 50 ms, so a
    // snapshot is taken again until it catches the two alone.
    const members: ReturnType<typeof jobProcs>[] = [];
    for (const s of started) {
      let m = jobProcs(s.pid);
      await waitFor(`a snapshot of job ${s.pid}'s wrapper and command alone`, () => (m = jobProcs(s.pid)).length === 2, 10_000);
      members.push(m);
    }

    await killRunner(sb);
    // EOF on its request FIFO: the launcher leaves (gone, or a zombie nobody reaps).
    await waitFor(`launcher ${launcher.pid} to exit after its runner died`, () => !alive(launcher.pid, launcher.start), 10_000);
    for (const [k, m] of members.entries()) {
      assert.equal(m.length, 2, `job ${ids[k]}: wrapper and command: ${describeProcs(m)}`);
      assert.deepEqual(describeProcs(m.filter((p) => !stillAlive(p))), '', `wrapper and command of job ${ids[k]} outlive runner and launcher`);
    }
    assert.deepEqual(readdirSync(sb.home).filter((n) => n.startsWith('.launcher.')), [], 'no launcher FIFO is left in HOME');

    for (const id of ids) release(sb, id);
    // `wait` finds no live runner and starts a successor, which adopts both jobs.
    const w = sb.run(['wait', ...ids, '--timeout', '60']);
    assert.equal(w.code, 1, `wait: one job exits 3, so exit 1: ${w.stderr}`);
    const [a, b] = ids.map((id) => sb.job(id));
    assert.equal(a.phase, 'COMPLETED');
    assert.equal(a.exitCode, 0);
    assert.equal(b.phase, 'ERROR', JSON.stringify(b.errorSummary));
    assert.equal(b.exitCode, 3, 'the real status, from the exit file');
    assert.doesNotMatch(b.errorSummary?.message ?? '', /lost/);
    assert.deepEqual(ranLines(sb).sort(), [...ids].sort(), 'each job ran once');
  } finally {
    sb.cleanup();
  }
});

test('a job that ended while no runner lived: its endTime is when it ended (its exit file), not when a successor noticed', T, async () => {
  const sb = new Sandbox(YAML);
  try {
    const id = submitJob(sb, ['gated', '--run', '-p', 'code=0']);
    await waitStarted(sb, id);
    await waitFor('its startTime', () => sb.job(id).startTime !== null, 10_000);
    await killRunner(sb);
    release(sb, id);
    const exitFile = join(sb.home, 'records', id, 'exit');
    const endedAt = await waitFor('the exit status written', () => (existsSync(exitFile) && /^exit 0$/m.test(readFileSync(exitFile, 'utf8')) ? statSync(exitFile).mtimeMs : undefined), 10_000);
    // Nobody looks for 3 s: then a successor (started by `wait`) records the end.
    await waitFor('3 s after the end', () => Date.now() > endedAt + 3000, 10_000);
    const w = sb.run(['wait', id, '--timeout', '60']);
    assert.equal(w.code, 0, w.stderr);
    const job = sb.job(id);
    assert.equal(job.phase, 'COMPLETED');
    const end = Date.parse(job.endTime!);
    assert.ok(Math.abs(end - endedAt) < 50, `endTime ${job.endTime} is the exit file's mtime ${new Date(endedAt).toISOString()}, not the successor's look`);
    assert.ok(end >= Date.parse(job.startTime!), 'and not before its startTime');
  } finally {
    sb.cleanup();
  }
});

test('kill -9 of the runner: when a job ends, its wrapper starts a runner again (no uwsrun command, no tick), which records the end and starts the queued job', T, async () => {
  const sb = new Sandbox(YAML);
  try {
    assert.equal(sb.run(['limit', '1']).code, 0);
    const first = submitJob(sb, ['gated', '--run', '-p', 'code=0']);
    const second = submitJob(sb, ['gated', '--run', '-p', 'code=4']);
    await waitStarted(sb, first);
    const runner = liveRunner(sb);
    const launcher = launcherOf(runner.pid);
    assert.ok(launcher, 'the runner has a launcher');
    await killRunner(sb);
    await waitFor(`launcher ${launcher.pid} to exit after its runner died`, () => !alive(launcher.pid, launcher.start), 10_000);
    // From here on no uwsrun command runs (each would start a runner itself) until the
    // second job has run: only the files are read.
    release(sb, first);
    await waitFor('the second job to run, started by a runner the first job\'s wrapper started', () => ranLines(sb).includes(second), 20_000);
    const successor = stateOrEmpty(sb).runner;
    assert.ok(successor && successor.pid !== runner.pid && alive(successor.pid, successor.startTime), `a new runner: ${JSON.stringify(successor)}`);
    assert.equal(runnerLog(sb).match(/runner started/g)?.length, 2, runnerLog(sb));
    await assertLogged(sb, new RegExp(`runner started \\(by the wrapper of job ${first}, which ended after the runner before had died\\)`));
    await waitFor('the wrapper\'s claim (runner.respawn) removed by the runner it started', () => !existsSync(join(sb.home, 'runner.respawn')), 10_000);
    release(sb, second);
    const w = sb.run(['wait', first, second, '--timeout', '60']);
    assert.equal(w.code, 1, `the second exits 4: ${w.stderr}`);
    assert.equal(sb.job(first).phase, 'COMPLETED');
    assert.equal(sb.job(second).exitCode, 4);
    assert.deepEqual(ranLines(sb), [first, second], 'each ran once, in order');
  } finally {
    sb.cleanup();
  }
});

test('the runner again: a respawned runner makes no HOME that was removed, a runner that loses the race leaves runner.beat naming the winner, and a 70 KB variable of the runner does not stop its launcher', T, async () => {
  const sb = new Sandbox(YAML);
  try {
    // What a wrapper starts (launcher.pl respawnRunner) for a HOME removed meanwhile: it
    // leaves at once and makes nothing.
    const gone = join(sb.dir, 'removed-home');
    const r = spawnSync(process.execPath, [BIN, '__runner', '--home', gone], { env: { ...sb.env, UWSRUN_RESPAWNED_BY: 'AbCdEf123456' }, encoding: 'utf8', timeout: 20_000 });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(existsSync(gone), false, 'no HOME made');

    // A second runner for a HOME whose runner lives: it leaves, and the beat still names the live one.
    const id = submitJob(sb, ['gated', '--run', '-p', 'code=0'], { UWSRUN_BIG: 'x'.repeat(70_000) });
    await waitStarted(sb, id);
    const live = liveRunner(sb);
    const beat = () => readFileSync(join(sb.home, 'runner.beat'), 'utf8').trim();
    assert.equal(beat(), `${live.pid} ${live.startTime}`);
    const second = spawnSync(process.execPath, [BIN, '__runner', '--home', sb.home], { env: sb.env, encoding: 'utf8', timeout: 20_000 });
    assert.equal(second.status, 0, second.stderr);
    assert.equal(beat(), `${live.pid} ${live.startTime}`, 'the beat names the live runner');
    assert.equal(stateOrEmpty(sb).runner?.pid, live.pid);

    // The job started above ran although the runner's environment held a 70 KB variable
    // (passed on to the launcher as it is: one variable of twice that would be E2BIG).
    release(sb, id);
    const w = sb.run(['wait', id, '--timeout', '60']);
    assert.equal(w.code, 0, w.stderr);
    assert.doesNotMatch(runnerLog(sb), /E2BIG/);
  } finally {
    sb.cleanup();
  }
});

test('an abort that ends a job while no runner lives (the runner killed during its grace period) starts a runner for the queued jobs', T, async () => {
  const sb = new Sandbox(YAML);
  try {
    assert.equal(sb.run(['limit', '1']).code, 0);
    const a = submitJob(sb, ['stubborn', '--run']);
    await waitStarted(sb, a);
    await waitFor('the stubborn job to run', () => ranLines(sb).includes(a), 10_000);
    const b = submitJob(sb, ['gated', '--run', '-p', 'code=0']);
    const abort = spawn(BIN, ['abort', a], { env: sb.env, stdio: 'ignore' });
    const done = new Promise<number | null>((resolve) => abort.on('exit', resolve));
    await waitFor('the abort to be recorded', () => stateOrEmpty(sb).jobs[a]?.abortRequested, 10_000);
    await killRunner(sb);
    // The job ignores INT and TERM: the abort itself sends SIGKILL after killGrace, and
    // the wrapper, killed too, starts no runner.
    assert.equal(await done, 0, 'abort exits 0');
    await waitFor('the queued job to run', () => ranLines(sb).includes(b), 20_000);
    release(sb, b);
    const w = sb.run(['wait', b, '--timeout', '60']);
    assert.equal(w.code, 0, w.stderr);
    assert.equal(sb.job(a).phase, 'ABORTED');
  } finally {
    sb.cleanup();
  }
});

/** `bytes` bytes (give or take 3) of varied UTF-8 text: ASCII, multibyte, quotes, spaces, braces, tabs. */
function bigText(seed: number, bytes: number): string {
  const alphabet = ['a', 'Z', '0', ' ', '"', "'", '$', '{', '}', '\\', '\t', '\n', 'é', '€', 'ß', '漢', '𝄞', '-', '=', '*'];
  let x = seed;
  let out = '';
  let size = 0;
  while (size < bytes - 4) {
    x = (x * 1103515245 + 12345) % 2147483648;
    const ch = alphabet[x % alphabet.length]!;
    out += ch;
    size += Buffer.byteLength(ch);
  }
  return out;
}

test('arguments far larger than a pipe buffer (3 x ~100 KB UTF-8), an empty one and one of newlines reach the job byte for byte, as do their UWS_PARAM_*; the launcher stays in step for the next job', T, async () => {
  const sb = new Sandbox(YAML);
  try {
    // Each value must stay under 128 KiB (MAX_ARG_STRLEN) also as UWS_PARAM_X=value.
    const big = { a: bigText(1, 100_000), b: bigText(2, 110_000), c: bigText(3, 120_000), nl: '\nline one\n\nline two\n' };
    for (const v of [big.a, big.b, big.c]) assert.ok(Buffer.byteLength(v) > 99_000 && Buffer.byteLength(v) < 125_000);
    const small = { a: 'x', b: '', c: 'a b', nl: '\n' };
    const args = (v: typeof big): string[] => ['-p', `a=${v.a}`, '-p', `b=${v.b}`, '-p', `c=${v.c}`, '-p', `nl=${v.nl}`];
    const bigId = submitJob(sb, ['argdump', '--run', ...args(big)]);
    const bigStart = await waitStarted(sb, bigId);
    const smallId = submitJob(sb, ['argdump', '--run', ...args(small)]);
    const smallStart = await waitStarted(sb, smallId);
    // Both wrappers came from the same launcher: the big request did not break it.
    const parent = procStat(bigStart.pid)?.ppid;
    assert.ok(parent && procStat(smallStart.pid)?.ppid === parent, `both jobs forked by one launcher: ${parent} / ${procStat(smallStart.pid)?.ppid}`);
    await waitFor('both jobs wrote their arguments', () => [bigId, smallId].every((id) => existsSync(join(sb.jobDir(id), 'results', 'env.nl'))), 20_000);
    for (const id of [bigId, smallId]) release(sb, id);
    const w = sb.run(['wait', bigId, smallId, '--timeout', '60']);
    assert.equal(w.code, 0, `${w.stderr}\n${readFileSync(join(sb.jobDir(bigId), 'stderr.log'), 'utf8').slice(0, 2000)}`);

    for (const [id, v] of [[bigId, big], [smallId, small]] as const) {
      const job = sb.job(id);
      assert.equal(job.phase, 'COMPLETED');
      const expected = [v.a, '', v.b, v.nl, v.c];
      assert.deepEqual(job.command.slice(3), ['sh', ...expected], `job ${id}: the resolved command`);
      const res = join(sb.jobDir(id), 'results');
      assert.equal(readFileSync(join(res, 'argc'), 'utf8'), `${expected.length}\n`, `job ${id}: number of arguments`);
      for (const [k, want] of expected.entries()) {
        const got = readFileSync(join(res, `arg${k + 1}`));
        assert.ok(got.equals(Buffer.from(want, 'utf8')), `job ${id}: argument ${k + 1} must arrive byte for byte (${got.length} bytes, expected ${Buffer.byteLength(want)})`);
      }
      for (const name of ['a', 'b', 'c', 'nl'] as const) {
        const got = readFileSync(join(res, `env.${name}`));
        assert.ok(got.equals(Buffer.from(v[name], 'utf8')), `job ${id}: UWS_PARAM_${name.toUpperCase()} byte for byte (${got.length} bytes, expected ${Buffer.byteLength(v[name])})`);
      }
    }
    assert.deepEqual(launcherEndLines(sb), [], 'no launcher died on the way');
  } finally {
    sb.cleanup();
  }
});

// ---- submit killed -----------------------------------------------------------------------

interface KilledSubmit {
  printed: string[];
  exited: boolean;
}

function submitKilledAfter(sb: Sandbox, delayMs: number): Promise<KilledSubmit> {
  return new Promise((resolve, reject) => {
    const child = spawn(BIN, ['submit', 'hello'], { env: sb.env, stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    let exited = false;
    child.stdout!.on('data', (d) => (out += d));
    child.on('error', reject);
    child.on('exit', (code) => {
      exited = code !== null;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), delayMs);
    child.on('close', () => {
      clearTimeout(timer);
      resolve({ printed: out.split('\n').map((l) => l.trim()).filter((l) => ID_RE.test(l)), exited });
    });
  });
}

test('kill -9 of `submit` at random moments: state.json always parses, no printed id is lost, leftovers are invisible', T, async (t) => {
  const sb = new Sandbox(YAML);
  try {
    // Calibrate: how long a whole submit takes here, so half of the kills land inside it
    // (the other half use the 0-60 ms window, mostly inside Node's start-up).
    const printed = new Set<string>();
    const durations: number[] = [];
    for (let i = 0; i < 3; i++) {
      const t0 = Date.now();
      printed.add(submitJob(sb, ['hello']));
      durations.push(Date.now() - t0);
    }
    const full = durations.sort((x, y) => x - y)[1]!;
    const ITERATIONS = 60;
    let completed = 0;
    for (let i = 0; i < ITERATIONS; i += 2) {
      // Two at a time, so a submit is also killed while the other waits for its lock.
      const delays = [Math.random() * 60, full * (0.3 + Math.random() * 0.9)];
      const outcomes = await Promise.all(delays.map((d) => submitKilledAfter(sb, d)));
      for (const o of outcomes) {
        for (const id of o.printed) printed.add(id);
        if (o.exited) completed++;
      }
      if (existsSync(join(sb.home, 'state.json'))) {
        const text = stateText(sb);
        assert.doesNotThrow(() => JSON.parse(text), `state.json unreadable after iteration ${i}: ${text.slice(0, 200)}`);
      }
    }
    // The HOME is still usable (a lock left by a killed holder is taken over).
    const t0 = Date.now();
    const last = submitJob(sb, ['hello']);
    const lastMs = Date.now() - t0;
    assert.ok(lastMs < 8_000, `a submit after the massacre took ${lastMs} ms`);
    printed.add(last);

    const st = state(sb);
    const listed = new Set(sb.json<any[]>(['list']).map((j) => j.jobId as string));
    const lost = [...printed].filter((id) => !listed.has(id));
    // A submit creates records/ID first, then jobs/ID: one killed in between leaves a record
    // directory alone, which doctor names (a missing job.json) until tick removes it as
    // half-created once it is a minute old; so those count among the leftovers too.
    const dirs = [...new Set([...jobDirs(sb), ...recordDirs(sb)])].sort();
    const orphans = dirs.filter((d) => !listed.has(d));
    const figures = `iterations ${ITERATIONS} (+3 calibration + 1 final), calibrated submit ${full} ms, `
      + `runs that finished before the kill ${completed}, ids printed ${printed.size}, ids listed ${listed.size}, `
      + `lost ${lost.length}, invisible half-created dirs ${orphans.length}`;
    t.diagnostic(figures);
    console.log(`# submit kill -9 loop: ${figures}`);
    assert.deepEqual(lost, [], 'every id printed before the kill is a listed job');

    // Every hot entry belongs to a listed job.
    for (const id of Object.keys(st.jobs)) assert.ok(listed.has(id), `hot entry ${id} without a visible job`);
    // Every directory is a listed job, or a half-created one that no command can see.
    for (const d of orphans) {
      assert.equal(st.jobs[d], undefined, `${d}: hot entry but not listed`);
      assert.equal(st.finished?.[d], undefined, `${d}: final record in state.json but not listed`);
      const file = join(sb.recordDir(d), 'job.json');
      if (existsSync(file)) {
        const rec = JSON.parse(readFileSync(file, 'utf8'));
        assert.ok(!FINAL.includes(rec.phase), `${d}: a final job.json must be listed`);
      }
      assert.equal(sb.run(['show', d]).code, 3, `${d} is invisible to show`);
    }

    // doctor calls young leftovers nothing; once older than 60 s they are "half-created".
    // An artificial leftover (a submit killed right after its mkdir) makes sure there is one.
    const fake = 'halfDone0123456789';
    mkdirSync(join(sb.home, 'jobs', fake), { mode: 0o700 });
    writeFileSync(join(sb.jobDir(fake), 'stdout.log'), '', { mode: 0o600 });
    const leftovers = [...orphans, fake];
    // Made young now: those of the first iterations may be a minute old by here on a slow
    // machine (some 30 iterations, each two killed submits).
    const nowS = Date.now() / 1000;
    for (const d of leftovers) {
      for (const dir of [sb.jobDir(d), sb.recordDir(d)]) if (existsSync(dir)) utimesSync(dir, nowS, nowS);
    }
    const young = sb.run(['doctor']);
    assert.doesNotMatch(young.stdout + young.stderr, /half-created/, `young leftovers are not reported: ${young.stdout}`);
    const old = (Date.now() - 120_000) / 1000;
    for (const d of leftovers) {
      for (const dir of [sb.jobDir(d), sb.recordDir(d)]) if (existsSync(dir)) utimesSync(dir, old, old);
    }
    const aged = sb.run(['doctor']);
    assert.equal(aged.code, 1, `doctor: a problem is left: ${aged.stdout}`);
    assert.match(aged.stdout, /half-created/);
    for (const d of leftovers) assert.match(aged.stdout, new RegExp(d), `doctor names ${d}`);
    const tk = sb.run(['tick']);
    assert.equal(tk.code, 0, tk.stderr);
    for (const d of leftovers) {
      assert.match(tk.stdout, new RegExp(`half-created job directory ${d}`));
      assert.equal(existsSync(sb.jobDir(d)), false, `${d} removed by tick`);
      assert.equal(existsSync(sb.recordDir(d)), false, `${d}'s record directory removed by tick`);
    }
    const after = new Set(sb.json<any[]>(['list']).map((j) => j.jobId as string));
    assert.deepEqual([...after].sort(), [...listed].sort(), 'tick removed no real job');
    const repaired = sb.run(['doctor', '--repair']);
    assert.equal(repaired.code, 0, repaired.stdout + repaired.stderr);
    const clean = sb.run(['doctor']);
    assert.equal(clean.code, 0, clean.stdout);
  } finally {
    sb.cleanup();
  }
});

// ---- abort racing the start --------------------------------------------------------------

/** What Sandbox.start resolves with. */
type Outcome = { code: number; stdout: string; stderr: string };

test('abort racing the start (50 jobs, random 0-200 ms): every job ABORTED, no process left, never EXECUTING', T, async (t) => {
  const sb = new Sandbox(YAML);
  try {
    assert.equal(sb.run(['limit', '10']).code, 0);
    // Three ways of racing, so that aborts land in every phase of a start:
    //   literal: `submit --run`, then `abort` 0-200 ms after the id was printed (the runner
    //            usually has the job up by then: this is the SIGINT path under load);
    //   run:     a PENDING job gets `run` and, 0-200 ms after `run` was spawned, `abort`: the
    //            abort lands before the run, while QUEUED, while starting, or after the start;
    //   hold:    as `run`, with the job held 0.3 s in the starting window
    //            (UWSRUN_TEST_HOLD_START), so the SIGTERM path is raced too.
    const modes = [...Array(20).fill('literal'), ...Array(15).fill('run'), ...Array(15).fill('hold')] as string[];
    const N = modes.length;
    const WORKERS = 5;
    const ids: string[] = [];
    const problems: string[] = [];
    const landed = { beforeRun: 0, startTimeNull: 0, started: 0 };
    let next = 0;
    const one = async (mode: string) => {
      let id: string;
      let runP: Promise<Outcome> | undefined;
      let abortP: Promise<Outcome>;
      if (mode === 'literal') {
        const s = await sb.start(['submit', 'sleep300', '--run']);
        if (s.code !== 0) return void problems.push(`submit exited ${s.code}: ${s.stderr}`);
        id = s.stdout.trim();
        await sleep(Math.random() * 200);
        abortP = sb.start(['abort', id, '--json']);
      } else {
        const env = mode === 'hold' ? { UWSRUN_TEST_HOLD_START: '0.3' } : {};
        const s = await sb.start(['submit', 'sleep300'], env);
        if (s.code !== 0) return void problems.push(`submit exited ${s.code}: ${s.stderr}`);
        id = s.stdout.trim();
        runP = sb.start(['run', id]);
        await sleep(Math.random() * 200);
        abortP = sb.start(['abort', id, '--json']);
      }
      ids.push(id);
      const [a, r] = await Promise.all([abortP, runP]);
      if (a.code !== 0) return void problems.push(`${mode} job ${id}: abort exited ${a.code}: ${a.stderr}`);
      // abort returns only when the job's processes are gone.
      const left = jobEnvProcs(id);
      if (left.length > 0) problems.push(`${mode} job ${id}: processes left after abort returned: ${describeProcs(left)}`);
      const job = (JSON.parse(a.stdout) as any[])[0];
      if (job?.phase !== 'ABORTED') problems.push(`${mode} job ${id}: abort printed phase ${job?.phase}`);
      if (r && r.code !== 0) {
        if (r.code !== 4) problems.push(`${mode} job ${id}: run exited ${r.code}: ${r.stderr}`);
        landed.beforeRun++;
      } else if (job?.startTime) landed.started++;
      else landed.startTimeNull++;
    };
    const worker = async () => {
      while (next < N) await one(modes[next++]!);
    };
    await Promise.all(Array.from({ length: WORKERS }, worker));
    assert.deepEqual(problems, []);
    assert.equal(ids.length, N);

    // Afterwards: nothing restarts, nothing is EXECUTING, no process of any of them lives.
    await waitFor('no active jobs left', () => Object.keys(state(sb).jobs).length === 0, 20_000);
    const byId = new Map(sb.json<any[]>(['list']).map((j) => [j.jobId as string, j]));
    for (const id of ids) {
      const j = byId.get(id);
      assert.equal(j?.phase, 'ABORTED', `job ${id}: ${j?.phase}`);
      assert.equal(j.pid, null);
    }
    assert.deepEqual(describeProcs(ids.flatMap(jobEnvProcs)), '');
    const started = existsSync(join(sb.dir, 'started')) ? readFileSync(join(sb.dir, 'started'), 'utf8').trim().split('\n').filter(Boolean) : [];
    const figures = `${N} jobs: abort before run ${landed.beforeRun}, while QUEUED or starting (startTime null) ${landed.startTimeNull}, `
      + `after the start ${landed.started}; commands that began to run ${started.length}`;
    t.diagnostic(`abort race: ${figures}`);
    console.log(`# abort race: ${figures}`);
  } finally {
    sb.cleanup();
  }
});

// ---- pid reuse ---------------------------------------------------------------------------

test('pid reuse: a recorded pid now held by an unrelated process (wrong start time) is never signalled by abort', T, async () => {
  const sb = new Sandbox(YAML);
  let other: ChildProcess | undefined;
  try {
    const id = submitJob(sb, ['long', '--run']);
    const { pid } = await waitStarted(sb, id);
    await killRunner(sb);
    // The job's processes die unseen (as they would before their pid is reused) ...
    process.kill(-pid, 'SIGKILL');
    await waitFor(`group ${pid} gone`, () => allProcs().every((p) => p.pgrp !== pid || isZombie(p)), 10_000);
    // ... and its pid now belongs to an unrelated process that leads its own group.
    other = unrelatedSleeper();
    const otherPid = other.pid!;
    const otherStart = procStat(otherPid)!.start;
    assert.equal(procStat(otherPid)!.pgrp, otherPid, 'the unrelated process leads its own group');
    const st = state(sb);
    st.jobs[id].pid = otherPid;
    st.jobs[id].pidStart = '1';
    writeFileSync(join(sb.home, 'state.json'), JSON.stringify(st));

    const r = sb.run(['abort', id]);
    assert.ok(alive(otherPid, otherStart), `abort killed unrelated process ${otherPid} (pid reuse): abort exited ${r.code} ${r.stderr}`);
    assert.ok([0, 4].includes(r.code), `abort exit ${r.code}: ${r.stderr}`);
    const job = sb.job(id);
    assert.ok(job.phase === 'ABORTED' || (job.phase === 'ERROR' && /lost/.test(job.errorSummary?.message ?? '')),
      `job must be treated as gone: ${job.phase} ${JSON.stringify(job.errorSummary)}`);
    // Housekeeping does not touch it either.
    assert.equal(sb.run(['tick']).code, 0);
    assert.ok(alive(otherPid, otherStart), 'tick killed the unrelated process');
  } finally {
    killQuietly(other?.pid);
    sb.cleanup();
  }
});

// ---- the lock ----------------------------------------------------------------------------

test('stale lock of a dead process is taken over at once; a live holder makes submit exit 5 naming the lock, creating nothing', T, async () => {
  const sb = new Sandbox(YAML);
  let holder: ChildProcess | undefined;
  try {
    submitJob(sb, ['hello']);
    const lock = join(sb.home, 'state.lock');
    const dead = spawnSync('true');
    assert.ok(dead.pid && !alive(dead.pid));
    writeFileSync(lock, `${dead.pid} 1`);
    let t0 = Date.now();
    const id = submitJob(sb, ['hello']);
    const tookMs = Date.now() - t0;
    // Not the 10 s lock deadline (a holder taken for alive), with room for a loaded machine.
    assert.ok(tookMs < 8_000, `a dead holder's lock must be taken over promptly, took ${tookMs} ms`);
    assert.equal(sb.job(id).phase, 'PENDING');
    assert.equal(existsSync(lock), false, 'lock released');

    holder = unrelatedSleeper();
    const start = procStat(holder.pid!)!.start;
    writeFileSync(lock, `${holder.pid} ${start}`);
    const dirsBefore = jobDirs(sb);
    const stateBefore = stateText(sb);
    t0 = Date.now();
    const r = sb.run(['submit', 'hello'], { UWSRUN_LOCK_TIMEOUT_MS: '1500' });
    const waited = Date.now() - t0;
    assert.equal(r.code, 5, `exit 5 when the lock is held: ${r.stderr}`);
    assert.match(r.stderr, /lock/);
    assert.ok(r.stderr.includes(lock), `the message names the lock file: ${r.stderr}`);
    assert.equal(r.stdout, '', 'no id printed');
    assert.ok(waited >= 1_400 && waited < 8_000, `gave up after ${waited} ms (deadline 1.5 s)`);
    assert.deepEqual(jobDirs(sb), dirsBefore, 'no job directory created');
    assert.equal(stateText(sb), stateBefore, 'state.json untouched');
    assert.equal(readFileSync(lock, 'utf8'), `${holder.pid} ${start}`, "the live holder's lock is left alone");

    // Once the holder dies, its lock is taken over.
    killQuietly(holder.pid);
    await waitFor('holder gone', () => !alive(holder!.pid!, start), 10_000);
    submitJob(sb, ['hello']);
  } finally {
    killQuietly(holder?.pid);
    sb.cleanup();
  }
});

// ---- full and read-only disks ------------------------------------------------------------


/** Runs `script` as root in a private mount namespace with H (HOME), O (outputs), B (uwsrun). */
function inMountNamespace(sb: Sandbox, script: string): { out: string; code: number; stderr: string } {
  const out = join(sb.dir, 'out');
  mkdirSync(out, { recursive: true });
  mkdirSync(sb.home, { recursive: true, mode: 0o700 });
  const r = spawnSync('unshare', ['-m', 'sh', '-c', `set -u\nH="$1" O="$2" B="$3"\n${script}`, 'sh', sb.home, out, BIN], {
    env: sb.env, encoding: 'utf8', timeout: 60_000,
  });
  return { out, code: r.status ?? 128, stderr: r.stderr };
}

const readOut = (dir: string, name: string): string => readFileSync(join(dir, name), 'utf8');

test('disk full: submit exits 5 with a clear message, state.json byte-identical, no new job directory', T, (t) => {
  if (!canUnshare()) {
    t.skip('unshare -m is not available');
    return;
  }
  const sb = new Sandbox(YAML);
  try {
    const r = inMountNamespace(sb, `
      mount -t tmpfs -o size=300k,mode=0700 tmpfs "$H" || exit 99
      "$B" submit hello > "$O/id1" 2> "$O/e1" || exit 98
      "$B" submit hello > "$O/id2" 2> "$O/e2" || exit 97
      dd if=/dev/zero of="$H/fill" bs=4096 2> /dev/null
      dd if=/dev/zero of="$H/fill2" bs=1 2> /dev/null
      cp "$H/state.json" "$O/state.before"
      ls -a "$H/records" > "$O/jobs.before"
      "$B" submit hello > "$O/s3" 2> "$O/e3"; echo $? > "$O/c3"
      "$B" submit hello --run > "$O/s4" 2> "$O/e4"; echo $? > "$O/c4"
      cp "$H/state.json" "$O/state.after"
      ls -a "$H/records" > "$O/jobs.after"
      "$B" list --json > "$O/list" 2> "$O/elist"; echo $? > "$O/clist"
    `);
    assert.equal(r.code, 0, `scenario failed (${r.code}): ${r.stderr}`);
    for (const n of ['3', '4']) {
      assert.equal(readOut(r.out, `c${n}`).trim(), '5', `submit on a full disk exits 5: ${readOut(r.out, `e${n}`)}`);
      assert.equal(readOut(r.out, `s${n}`), '', 'no id printed');
      const msg = readOut(r.out, `e${n}`);
      assert.match(msg, /ENOSPC|no space/i, `the message says the disk is full: ${msg}`);
      assert.ok(msg.includes(sb.home), `the message names the HOME: ${msg}`);
      assert.equal(msg.trim().split('\n').length, 1, `one line: ${msg}`);
    }
    assert.equal(readOut(r.out, 'state.after'), readOut(r.out, 'state.before'), 'state.json byte-identical');
    assert.equal(readOut(r.out, 'jobs.after'), readOut(r.out, 'jobs.before'), 'no new job directory');
    assert.equal(readOut(r.out, 'clist').trim(), '0', readOut(r.out, 'elist'));
    const listed = (JSON.parse(readOut(r.out, 'list')) as any[]).map((j) => j.jobId).sort();
    assert.deepEqual(listed, [readOut(r.out, 'id1').trim(), readOut(r.out, 'id2').trim()].sort());
  } finally {
    sb.cleanup();
  }
});

test('read-only HOME with jobs: submit and abort exit 5, list and show still work', T, (t) => {
  if (!canUnshare()) {
    t.skip('unshare -m is not available');
    return;
  }
  const sb = new Sandbox(YAML);
  try {
    const r = inMountNamespace(sb, `
      mount -t tmpfs -o size=4m,mode=0700 tmpfs "$H" || exit 99
      "$B" submit hello > "$O/id1" 2> "$O/e1" || exit 98
      "$B" submit hello > "$O/id2" 2> "$O/e2" || exit 97
      mount -o remount,ro "$H" || exit 96
      "$B" submit hello > "$O/s3" 2> "$O/e3"; echo $? > "$O/c3"
      "$B" abort "$(cat "$O/id1")" > /dev/null 2> "$O/e4"; echo $? > "$O/c4"
      "$B" list --json > "$O/list" 2> "$O/elist"; echo $? > "$O/clist"
      "$B" show "$(cat "$O/id1")" --json > "$O/show" 2> "$O/eshow"; echo $? > "$O/cshow"
      ls -a "$H/records" > "$O/jobs.after"
    `);
    assert.equal(r.code, 0, `scenario failed (${r.code}): ${r.stderr}`);
    const id1 = readOut(r.out, 'id1').trim();
    const id2 = readOut(r.out, 'id2').trim();
    assert.equal(readOut(r.out, 'c3').trim(), '5', `submit on a read-only HOME: ${readOut(r.out, 'e3')}`);
    assert.match(readOut(r.out, 'e3'), /EROFS|read-only/i);
    assert.equal(readOut(r.out, 's3'), '');
    assert.equal(readOut(r.out, 'c4').trim(), '5', `abort on a read-only HOME: ${readOut(r.out, 'e4')}`);
    assert.equal(readOut(r.out, 'clist').trim(), '0', `list: ${readOut(r.out, 'elist')}`);
    const listed = (JSON.parse(readOut(r.out, 'list')) as any[]);
    assert.deepEqual(listed.map((j) => j.jobId).sort(), [id1, id2].sort());
    assert.ok(listed.every((j) => j.phase === 'PENDING'), 'the refused abort changed nothing');
    assert.equal(readOut(r.out, 'cshow').trim(), '0', readOut(r.out, 'eshow'));
    assert.equal(JSON.parse(readOut(r.out, 'show')).phase, 'PENDING');
    assert.deepEqual(readOut(r.out, 'jobs.after').trim().split('\n').filter((n) => !n.startsWith('.')).sort(), [id1, id2].sort());
  } finally {
    sb.cleanup();
  }
});

// ---- jobs that misbehave -----------------------------------------------------------------

test('a job that closes its stdout early completes', T, () => {
  const sb = new Sandbox(YAML);
  try {
    const id = submitJob(sb, ['closeout', '--run']);
    const w = sb.run(['wait', id, '--timeout', '30']);
    assert.equal(w.code, 0, w.stderr);
    const job = sb.job(id);
    assert.equal(job.phase, 'COMPLETED');
    assert.equal(job.exitCode, 0);
    assert.equal(readFileSync(join(sb.jobDir(id), 'stderr.log'), 'utf8'), 'still here\n');
  } finally {
    sb.cleanup();
  }
});

test('a job that floods 200 MB of output completes with every byte in stdout.log; the runner stays small', T, async () => {
  const sb = new Sandbox(YAML);
  try {
    const id = submitJob(sb, ['flood', '--run']);
    const waiting = sb.start(['wait', id, '--timeout', '90']);
    let maxRssKb = 0;
    let samples = 0;
    let done = false;
    void waiting.then(() => (done = true));
    while (!done) {
      const r = stateOrEmpty(sb).runner;
      if (r) {
        try {
          const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${r.pid}/status`, 'utf8'));
          if (m) {
            maxRssKb = Math.max(maxRssKb, Number(m[1]));
            samples++;
          }
        } catch { /* gone meanwhile */ }
      }
      await sleep(20);
    }
    const w = await waiting;
    assert.equal(w.code, 0, w.stderr);
    assert.equal(sb.job(id).phase, 'COMPLETED');
    assert.equal(statSync(join(sb.jobDir(id), 'stdout.log')).size, 200_000_000);
    assert.ok(samples > 0, 'the runner was sampled at least once');
    assert.ok(maxRssKb < 150 * 1024, `runner RSS peaked at ${maxRssKb} kB`);
  } finally {
    sb.cleanup();
  }
});

test('a process that escaped into a new session (setsid) is killed on abort', T, async () => {
  const sb = new Sandbox(YAML);
  try {
    const id = submitJob(sb, ['escape', '--run']);
    const { pid } = await waitStarted(sb, id);
    await waitFor('escape ready', () => existsSync(join(sb.jobDir(id), 'results', 'ready')));
    const escaped = await waitFor('the escaped sleep', () => {
      const ps = jobEnvProcs(id).filter((p) => p.session !== pid);
      return ps.some((p) => p.comm === 'sleep') ? ps : undefined;
    });
    const r = sb.run(['abort', id]);
    assert.equal(r.code, 0, r.stderr);
    const survivors = escaped.filter((p) => alive(p.pid, p.start));
    assert.deepEqual(describeProcs(survivors), '', 'escaped processes are gone when abort returns');
    assert.deepEqual(describeProcs(jobEnvProcs(id)), '');
    assert.equal(sb.job(id).phase, 'ABORTED');
  } finally {
    sb.cleanup();
  }
});

test('a job that leaves a zombie child completes normally', T, async () => {
  const sb = new Sandbox(YAML);
  try {
    const id = submitJob(sb, ['zombie', '--run']);
    const { pid } = await waitStarted(sb, id);
    // While `sleep 3` runs, its never-reaped child (the `sleep 0.1`) is a zombie in the group.
    const seen = await waitFor('a zombie in the job group, or the job over', () =>
      (allProcs().some((p) => p.pgrp === pid && isZombie(p)) ? 'zombie' : !alive(pid) && 'ended'), 20_000);
    const w = sb.run(['wait', id, '--timeout', '30']);
    assert.equal(w.code, 0, w.stderr);
    const job = sb.job(id);
    assert.equal(job.phase, 'COMPLETED');
    assert.equal(job.exitCode, 0);
    assert.equal(job.errorSummary, null);
    assert.equal(seen, 'zombie', 'the job really had a zombie child while it ran');
  } finally {
    sb.cleanup();
  }
});

// ---- tick and time limits ----------------------------------------------------------------

test('tick prints nothing when there is nothing to do: no HOME, a HOME of finished jobs, and again', T, () => {
  const sb = new Sandbox(YAML);
  try {
    const none = sb.run(['tick']);
    assert.equal(none.code, 0, none.stderr);
    assert.equal(none.stdout, '');
    assert.equal(none.stderr, '');
    assert.equal(existsSync(sb.home), false, 'tick creates no HOME');

    const ids = [submitJob(sb, ['hello', '--run']), submitJob(sb, ['hello', '--run'])];
    assert.equal(sb.run(['wait', ...ids, '--timeout', '30']).code, 0);
    for (let i = 0; i < 2; i++) {
      const r = sb.run(['tick']);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, '', `tick #${i + 1} on finished jobs prints nothing`);
    }
    for (const id of ids) assert.equal(sb.job(id).phase, 'COMPLETED');
  } finally {
    sb.cleanup();
  }
});

test('executionDuration 1 on `sleep 30`: ABORTED within a few seconds, transient errorSummary naming executionDuration', T, () => {
  const sb = new Sandbox(YAML);
  try {
    const t0 = Date.now();
    const id = submitJob(sb, ['long', '--run', '--execution-duration', '1']);
    const w = sb.run(['wait', id, '--timeout', '30']);
    const elapsed = Date.now() - t0;
    assert.equal(w.code, 1, `ABORTED is not COMPLETED: ${w.stderr}`);
    const job = sb.job(id);
    assert.equal(job.phase, 'ABORTED');
    assert.equal(job.executionDuration, 1);
    assert.equal(job.errorSummary?.type, 'transient');
    assert.match(job.errorSummary.message, /executionDuration/);
    assert.ok(Date.parse(job.endTime) - Date.parse(job.startTime) >= 1_000, 'not before the limit');
    // Not the 30 s of its sleep, with room for a loaded machine.
    assert.ok(elapsed < 15_000, `took ${elapsed} ms`);
    assert.deepEqual(describeProcs(jobEnvProcs(id)), '');
  } finally {
    sb.cleanup();
  }
});

test('destruction: a job past its destruction time is deleted by tick; tick again prints nothing; a past instant is refused', T, async () => {
  const sb = new Sandbox(YAML);
  try {
    const past = sb.run(['submit', 'hello', '--destruction', '2000-01-01T00:00:00Z']);
    assert.equal(past.code, 2, past.stderr);
    assert.match(past.stderr, /past/);
    assert.equal(existsSync(sb.home), false, 'nothing written');

    const keep = submitJob(sb, ['hello']);
    // Bounds from around the submit, not from after the show (a loaded machine can spend the
    // 2 s on the two commands).
    const t0 = Date.now();
    const id = submitJob(sb, ['hello', '--destruction', '2s']);
    const t1 = Date.now();
    const when = Date.parse(sb.job(id).destruction);
    assert.ok(when >= Math.floor(t0 / 1000) * 1000 + 2_000 && when <= t1 + 2_000, `2 s from the submit: ${sb.job(id).destruction}`);
    await waitFor('destruction time passed', () => Date.now() > when + 50, 10_000);
    const r = sb.run(['tick']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`${id}.*deleted`));
    assert.equal(sb.run(['show', id]).code, 3);
    assert.equal(existsSync(sb.jobDir(id)), false, 'directory gone');
    assert.equal(sb.job(keep).phase, 'PENDING', 'other jobs untouched');
    const again = sb.run(['tick']);
    assert.equal(again.code, 0);
    assert.equal(again.stdout, '');
  } finally {
    sb.cleanup();
  }
});

test('destruction with archive: true: ARCHIVED, hidden from list, its directory gone and its record kept; set --destruction then refused', T, async () => {
  const sb = new Sandbox(YAML.replace('destruction: 0', 'destruction: 0\n  archive: true'));
  try {
    const id = submitJob(sb, ['hello', '--run', '--destruction', '3s']);
    assert.equal(sb.run(['wait', id, '--timeout', '30']).code, 0);
    const when = Date.parse(sb.job(id).destruction);
    await waitFor('destruction time passed', () => Date.now() > when + 50, 10_000);
    const r = sb.run(['tick']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`${id}.*archived`));
    const job = sb.job(id);
    assert.equal(job.phase, 'ARCHIVED');
    assert.equal(job.exitCode, 0);
    assert.deepEqual(sb.json<any[]>(['list']).map((j) => j.jobId), []);
    assert.deepEqual(sb.json<any[]>(['list', '--phase', 'ARCHIVED']).map((j) => j.jobId), [id]);
    assert.equal(existsSync(sb.jobDir(id)), false, 'the job directory is deleted');
    assert.ok(existsSync(join(sb.recordDir(id), 'job.json')), 'the record is kept');
    const before = sb.job(id);
    const s = sb.run(['set', id, '--destruction', '1h']);
    assert.equal(s.code, 4, s.stderr);
    assert.deepEqual(sb.job(id), before, 'unchanged');
    assert.equal(sb.run(['tick']).stdout, '', 'an ARCHIVED job is left alone');
    assert.equal(sb.job(id).phase, 'ARCHIVED');
  } finally {
    sb.cleanup();
  }
});

// ---- set ---------------------------------------------------------------------------------

test('set: parameters while PENDING; refused (4, unchanged) on COMPLETED and EXECUTING; executionDuration while QUEUED; destruction on COMPLETED', T, async () => {
  const sb = new Sandbox(YAML);
  try {
    const p = submitJob(sb, ['hello']);
    assert.equal(sb.run(['set', p, '-p', 'name=X']).code, 0);
    let job = sb.job(p);
    assert.equal(job.parameters.name, 'X');
    assert.deepEqual(job.command, ['echo', 'Hello, X!']);

    const c = submitJob(sb, ['hello', '--run']);
    assert.equal(sb.run(['wait', c, '--timeout', '30']).code, 0);
    const done = sb.job(c);
    const refused = sb.run(['set', c, '-p', 'name=Y']);
    assert.equal(refused.code, 4, refused.stderr);
    assert.match(refused.stderr, new RegExp(`${c}.*COMPLETED`));
    assert.deepEqual(sb.job(c), done, 'COMPLETED job unchanged');

    assert.equal(sb.run(['limit', '1']).code, 0);
    const blocker = submitJob(sb, ['long', '--run']);
    await waitStarted(sb, blocker);
    const q = submitJob(sb, ['hello', '--run']);
    assert.equal(sb.job(q).phase, 'QUEUED');
    assert.equal(sb.run(['set', q, '--execution-duration', '5']).code, 0);
    assert.equal(sb.job(q).executionDuration, 5);
    assert.equal(sb.job(q).phase, 'QUEUED');
    const ex = sb.run(['set', blocker, '--execution-duration', '5']);
    assert.equal(ex.code, 4, ex.stderr);
    assert.match(ex.stderr, /EXECUTING/);
    job = sb.job(blocker);
    assert.equal(job.executionDuration, 0);
    assert.equal(job.phase, 'EXECUTING');

    const d = sb.run(['set', c, '--destruction', '1h']);
    assert.equal(d.code, 0, d.stderr);
    const dest = Date.parse(sb.job(c).destruction);
    assert.ok(Math.abs(dest - (Date.now() + 3_600_000)) < 60_000, `destruction about an hour from now: ${sb.job(c).destruction}`);
    assert.equal(sb.job(c).phase, 'COMPLETED');
    assert.equal(sb.run(['set', c, '--destruction', '2000-01-01T00:00:00Z']).code, 2);
  } finally {
    sb.cleanup();
  }
});

// ---- submit --unique ---------------------------------------------------------------------

test('submit --run-id X --unique: the same id twice, one job; 10 concurrent --unique submits create exactly one job', T, async () => {
  const sb = new Sandbox(YAML);
  try {
    const a = submitJob(sb, ['hello', '--run-id', 'nightly', '--unique']);
    const b = submitJob(sb, ['hello', '--run-id', 'nightly', '--unique']);
    assert.equal(b, a);
    assert.equal(sb.json<any[]>(['list']).filter((j) => j.runId === 'nightly').length, 1);

    const outcomes = await Promise.all(Array.from({ length: 10 }, () => sb.start(['submit', 'hello', '--run-id', 'burst', '--unique'])));
    for (const o of outcomes) assert.equal(o.code, 0, o.stderr);
    const printed = new Set(outcomes.map((o) => o.stdout.trim()));
    assert.equal(printed.size, 1, `every submit printed the same id: ${[...printed].join(' ')}`);
    const burst = sb.json<any[]>(['list']).filter((j) => j.runId === 'burst');
    assert.equal(burst.length, 1);
    assert.equal(burst[0].jobId, [...printed][0]);
    assert.deepEqual(jobDirs(sb), [a, burst[0].jobId].sort(), 'the losers left no directory');
  } finally {
    sb.cleanup();
  }
});

// ---- doctor ------------------------------------------------------------------------------

test('doctor: healthy HOME exits 0; garbage state.json exits 1 naming it (never overwritten); --repair restores the good copy', T, async () => {
  const sb = new Sandbox(YAML);
  try {
    const id = submitJob(sb, ['hello', '--run']);
    assert.equal(sb.run(['wait', id, '--timeout', '30']).code, 0);
    const ok = sb.run(['doctor']);
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);

    const file = join(sb.home, 'state.json');
    const garbage = '{"version":1,"jobs":{ garbage';
    writeFileSync(file, garbage);
    const bad = sb.run(['doctor']);
    assert.equal(bad.code, 1, bad.stdout);
    assert.ok((bad.stdout + bad.stderr).includes(file), `doctor names ${file}: ${bad.stdout}`);
    const list = sb.run(['list']);
    assert.equal(list.code, 5);
    assert.ok(list.stderr.includes(file), list.stderr);
    assert.equal(sb.run(['submit', 'hello']).code, 5);
    assert.equal(readFileSync(file, 'utf8'), garbage, 'a damaged state file is never overwritten');

    const fix = sb.run(['doctor', '--repair']);
    assert.equal(fix.code, 0, fix.stdout + fix.stderr);
    assert.match(fix.stdout, /restored/);
    assert.doesNotThrow(() => JSON.parse(readFileSync(file, 'utf8')));
    const listed = sb.run(['list', '--json']);
    assert.equal(listed.code, 0, `list works again: ${listed.stderr}`);
    submitJob(sb, ['hello']);
    // The restore must not lose what happened since the copy was taken: the job that
    // COMPLETED stays COMPLETED, and is never run a second time.
    await waitFor('no active jobs', () => Object.keys(state(sb).jobs).length === 0
      || Object.values(state(sb).jobs).every((h: any) => h.phase === 'PENDING'), 20_000);
    const listedPhase = (JSON.parse(listed.stdout) as any[]).find((j) => j.jobId === id)?.phase;
    const runs = readFileSync(join(sb.jobDir(id), 'stdout.log'), 'utf8').split('\n').filter(Boolean).length;
    assert.deepEqual({ listedAfterRepair: listedPhase, timesRun: runs }, { listedAfterRepair: 'COMPLETED', timesRun: 1 },
      'doctor --repair must not bring a COMPLETED job back to life');
    assert.equal(sb.job(id).phase, 'COMPLETED');
  } finally {
    sb.cleanup();
  }
});
