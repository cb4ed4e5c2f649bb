// Fault injection for execution (issue 10, SPEC §5 and §8): no job ever starts twice, no
// process is left behind whatever ended the job, a process uwsrun may not signal is
// reported (not an internal error), a job's end is recorded right whatever runs out, and
// nothing a job does in its working directory reaches uwsrun's own files.
//
// Real processes, signals and files only: SIGKILL of the launcher and of `abort`, a setuid
// helper compiled here and run by an unprivileged user, a tmpfs with a handful of inodes
// inside `unshare -m`. Every wait polls a condition with a deadline; processes are judged
// from /proc with their start time, so a reused pid never counts as alive.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BIN, Sandbox, canUnshare, release, submitJob, waitFor } from '../helpers.js';
import { type Proc, alive, describeProcs, groupMembers, jobEnvProcs, killQuietly, procStat, stillAlive } from '../procfs.js';
import { assertLogged, jobFileOf, launcherOf, queueEntryFile, ranLines, runnerLog, state, stateOrEmpty, waitStarted } from '../runner-state.js';

const YAML = `
defaults:
  destruction: 0
jobs:
  hello:
    command: [echo, hello]
  quick:
    description: appends its id to a shared file, so a second start would show
    command: [sh, -c, 'echo "$UWS_JOB_ID" >> "$HOME/ran"']
  gated:
    command: [sh, -c, 'echo "$UWS_JOB_ID" >> "$HOME/ran"; while [ ! -e "$UWS_JOB_DIR/release" ]; do sleep 0.05; done; exit 0']
  gatedout:
    description: waits for a release file outside its own directory (a full file system there)
    command: [sh, -c, 'echo "$UWS_JOB_ID" >> "$HOME/ran"; while [ ! -e "$HOME/release" ]; do sleep 0.05; done; exit 0']
  forger:
    description: writes files named like uwsrun's own into its working directory
    command: [sh, -c, 'echo not json > job.json; echo "exit 9" > exit; echo 1 2 > started; mkdir -p .uwsrun; echo x > .uwsrun/job.json; exit 0']
  wiper:
    description: removes everything in its working directory, dotfiles too
    command: [sh, -c, 'rm -rf ./* ./.[!.]* ; sleep 0.3; exit 0']
  leaver:
    description: ends once released, leaving a background child
    command: [sh, -c, 'sleep 300 & echo $! > "$UWS_RESULTS_DIR/child.tmp"; mv "$UWS_RESULTS_DIR/child.tmp" "$UWS_RESULTS_DIR/child"; while [ ! -e "$UWS_JOB_DIR/release" ]; do sleep 0.05; done; exit 0']
    killGrace: 2
  stubbornleaver:
    description: ends once released, leaving a child that ignores SIGTERM
    command: [sh, -c, 'trap "" TERM; sleep 300 & echo $! > "$UWS_RESULTS_DIR/child.tmp"; mv "$UWS_RESULTS_DIR/child.tmp" "$UWS_RESULTS_DIR/child"; while [ ! -e "$UWS_JOB_DIR/release" ]; do sleep 0.05; done; exit 3']
    killGrace: 1
  escaper:
    description: a setsid escapee, then waits; its time limit is 1 s
    command: [sh, -c, 'setsid sleep 300 & exec sleep 300']
    executionDuration: 1
    killGrace: 1
  stubborn:
    description: ignores SIGINT and SIGTERM (so do its children)
    command: [sh, -c, 'trap "" INT TERM; echo "$UWS_JOB_ID" >> "$HOME/ran"; sleep 300']
    killGrace: 2
`;

const T = { timeout: 180_000 };

/** Live processes of a job (by UWS_JOB_ID), as the tests see them. */
const jobProcs = (id: string): Proc[] => jobEnvProcs(id).filter((p) => p.comm !== 'uwsrun-wrapper');

// ---- uwsrun's own files are out of the job's reach (SPEC §8) ------------------------------

test("a job writing job.json, exit and started into its directory damages nothing of uwsrun's", T, async () => {
  const sb = new Sandbox(YAML);
  try {
    const id = submitJob(sb, ['forger', '--run']);
    assert.equal(sb.run(['wait', id, '--timeout', '60']).code, 0);
    const job = sb.job(id);
    assert.equal(job.phase, 'COMPLETED', JSON.stringify(job.errorSummary));
    assert.equal(job.exitCode, 0, 'its real exit status, not the forged "exit 9"');
    assert.equal(readFileSync(join(sb.jobDir(id), 'job.json'), 'utf8'), 'not json\n', 'the job\'s own file is left as it wrote it');
    const later = [1, 2, 3, 4, 5].map(() => submitJob(sb, ['hello', '--run']));
    const w = sb.run(['wait', ...later, '--timeout', '60']);
    assert.equal(w.code, 0, w.stderr);
    for (const l of later) assert.equal(sb.job(l).phase, 'COMPLETED');
    for (const args of [['list'], ['tick'], ['doctor', '--repair'], ['show', id]]) {
      const r = sb.run(args);
      assert.equal(r.code, 0, `${args.join(' ')}: exit ${r.code}: ${r.stderr}`);
    }
    const d = sb.run(['delete', id]);
    assert.equal(d.code, 0, d.stderr);
    assert.equal(existsSync(sb.jobDir(id)), false);
    assert.equal(existsSync(sb.recordDir(id)), false);
    assert.equal(sb.run(['show', id]).code, 3);
  } finally {
    sb.cleanup();
  }
});

test('a job that runs rm -rf ./* ./.[!.]* in its directory stays a job and does not block the queue', T, async () => {
  const sb = new Sandbox(YAML);
  try {
    assert.equal(sb.run(['limit', '1']).code, 0);
    const id = submitJob(sb, ['wiper', '--run']);
    const next = submitJob(sb, ['hello', '--run']);
    const w = sb.run(['wait', id, next, '--timeout', '60']);
    assert.equal(w.code, 0, `no tick needed: ${w.stderr}`);
    const job = sb.job(id);
    assert.equal(job.phase, 'COMPLETED', JSON.stringify(job.errorSummary));
    assert.equal(job.exitCode, 0);
    assert.equal(sb.job(next).phase, 'COMPLETED');
    assert.equal(sb.run(['logs', id]).code, 0, 'its (removed) logs read as empty, not as an error');
  } finally {
    sb.cleanup();
  }
});

test('a HOME of the older layout (job.json, exit, started in the job directory) is moved to records/ by the first command, a reader too', T, async () => {
  const sb = new Sandbox(YAML);
  try {
    const done = submitJob(sb, ['hello', '--run']);
    assert.equal(sb.run(['wait', done, '--timeout', '60']).code, 0);
    const pending = submitJob(sb, ['hello']);
    await waitFor('the runner to have gone idle', () => stateOrEmpty(sb).runner === null, 20_000);
    // Back to the older layout.
    for (const id of [done, pending]) {
      // In that layout every job had its directory from submit on.
      mkdirSync(sb.jobDir(id), { recursive: true });
      for (const name of ['job.json', 'exit', 'started']) {
        const file = join(sb.recordDir(id), name);
        if (existsSync(file)) writeFileSync(join(sb.jobDir(id), name), readFileSync(file));
      }
    }
    rmSync(join(sb.home, 'records'), { recursive: true });
    const listed = sb.json<any[]>(['list']).map((j) => `${j.jobId}:${j.phase}`).sort();
    assert.deepEqual(listed, [`${done}:COMPLETED`, `${pending}:PENDING`].sort(), 'a read-only command sees every job');
    assert.ok(existsSync(join(sb.recordDir(done), 'job.json')) && !existsSync(join(sb.jobDir(done), 'job.json')), 'the record was moved');
    assert.equal(sb.run(['run', pending]).code, 0);
    assert.equal(sb.run(['wait', pending, '--timeout', '60']).code, 0);
    assert.equal(sb.job(pending).phase, 'COMPLETED');
  } finally {
    sb.cleanup();
  }
});

// ---- a job never leaves a process behind (SPEC §5) ----------------------------------------

function childOf(sb: Sandbox, id: string): Proc {
  const pid = Number(readFileSync(join(sb.jobDir(id), 'results', 'child'), 'utf8'));
  const p = procStat(pid);
  assert.ok(p, `the child ${pid} was seen`);
  return p;
}

test("sh -c 'sleep 300 & exit 0': COMPLETED, the sleep is terminated, runner.log names it, doctor sees no stray", T, async () => {
  const sb = new Sandbox(YAML);
  try {
    const id = submitJob(sb, ['leaver', '--run']);
    await waitFor('the child pid file', () => existsSync(join(sb.jobDir(id), 'results', 'child')));
    const child = childOf(sb, id);
    release(sb, id);
    const w = sb.run(['wait', id, '--timeout', '60']);
    assert.equal(w.code, 0, w.stderr);
    const job = sb.job(id);
    assert.equal(job.phase, 'COMPLETED', 'the phase comes from the leader');
    assert.equal(job.exitCode, 0);
    assert.equal(stillAlive(child), false, `the background sleep ${child.pid} must be gone once the job is final`);
    await assertLogged(sb, new RegExp(`job ${id}: its command ended, leaving ${child.pid} \\(sleep\\)`));
    const d = sb.run(['doctor']);
    assert.equal(d.code, 0, d.stdout + d.stderr);
    assert.doesNotMatch(d.stdout, /^problem/m);
  } finally {
    sb.cleanup();
  }
});

test('a leftover that ignores SIGTERM gets SIGKILL after killGrace; the job is EXECUTING until then, then ERROR from its own status', T, async () => {
  const sb = new Sandbox(YAML);
  try {
    const id = submitJob(sb, ['stubbornleaver', '--run']); // killGrace 1, exits 3
    await waitFor('the child pid file', () => existsSync(join(sb.jobDir(id), 'results', 'child')));
    const child = childOf(sb, id);
    const releasedAt = Date.now();
    release(sb, id);
    const w = sb.run(['wait', id, '--timeout', '60']);
    assert.equal(w.code, 1, `wait: the job ended, not COMPLETED: ${w.stderr}`);
    const job = sb.job(id);
    assert.equal(job.phase, 'ERROR');
    assert.equal(job.exitCode, 3, 'the leader\'s status, not the leftover\'s');
    assert.equal(stillAlive(child), false, `the TERM-proof sleep ${child.pid} must be gone`);
    const afterRelease = Date.parse(job.endTime) - releasedAt;
    assert.ok(afterRelease >= 1000, `the job stayed EXECUTING through the 1 s grace (${afterRelease} ms after its command could end)`);
  } finally {
    sb.cleanup();
  }
});

test('a time-limit abort kills a setsid escapee too', T, async () => {
  const sb = new Sandbox(YAML);
  try {
    const id = submitJob(sb, ['escaper', '--run']);
    const escapee = await waitFor('the escapee in a session of its own', () => {
      const p = jobProcs(id).find((q) => q.comm === 'sleep' && q.session === q.pid);
      return p;
    });
    const w = sb.run(['wait', id, '--timeout', '60']);
    assert.equal(w.code, 1, `wait: the job ended, not COMPLETED: ${w.stderr}`);
    const job = sb.job(id);
    assert.equal(job.phase, 'ABORTED');
    assert.match(job.errorSummary?.message ?? '', /executionDuration/);
    assert.equal(stillAlive(escapee), false, `escapee ${escapee.pid} must be gone once the job is final`);
    assert.deepEqual(jobProcs(id).map((p) => p.pid), []);
    await assertLogged(sb, new RegExp(`job ${id}: executionDuration of 1 s exceeded`));
  } finally {
    sb.cleanup();
  }
});

/** `uwsrun abort ID` in the background, SIGKILLed once it has asked (during its grace). */
async function abortKilledInGrace(sb: Sandbox, id: string): Promise<void> {
  const child = spawn(BIN, ['abort', id], { env: sb.env, stdio: 'ignore' });
  const closed = new Promise((r) => child.on('close', r));
  await waitFor('the abort to have asked', () => runnerLog(sb).includes(`job ${id}: abort requested`), 20_000);
  assert.equal(child.exitCode, null, 'the abort command is still in its grace period');
  child.kill('SIGKILL');
  await closed;
}

test('abort killed during its grace period: the runner sends the SIGKILL (job ignoring INT and TERM)', T, async () => {
  const sb = new Sandbox(YAML);
  try {
    const id = submitJob(sb, ['stubborn', '--run']); // killGrace 2
    await waitStarted(sb, id);
    await waitFor('its command to run', () => ranLines(sb).length === 1);
    const procs = await waitFor('its sleep', () => (jobProcs(id).some((p) => p.comm === 'sleep') ? jobProcs(id) : undefined));
    const t0 = Date.now();
    await abortKilledInGrace(sb, id);
    await waitFor(`every process of the job gone (${describeProcs(procs)})`, () => procs.every((p) => !stillAlive(p)), 2_000 + 8_000);
    const took = Date.now() - t0;
    await waitFor('the job ABORTED', () => sb.job(id).phase === 'ABORTED', 10_000);
    assert.ok(took >= 1_500, `not before the grace period (${took} ms)`);
    await assertLogged(sb, new RegExp(`job ${id}: still alive 2 s after the abort: SIGKILL`));
  } finally {
    sb.cleanup();
  }
});

/** Kills the runner (its launcher then exits by itself); the job's processes live on. */
async function killRunner(sb: Sandbox): Promise<void> {
  const runner = stateOrEmpty(sb).runner;
  assert.ok(runner && alive(runner.pid, runner.startTime), 'a live runner');
  const launcher = launcherOf(runner.pid);
  process.kill(runner.pid, 'SIGKILL');
  await waitFor('the runner gone', () => !alive(runner.pid, runner.startTime), 10_000);
  if (launcher) await waitFor('its launcher gone', () => !stillAlive(launcher), 10_000);
}

test('abort killed during its grace period with no runner alive: `tick` sends the SIGKILL', T, async () => {
  const sb = new Sandbox(YAML);
  try {
    const id = submitJob(sb, ['stubborn', '--run']);
    await waitStarted(sb, id);
    const procs = await waitFor('its sleep', () => (jobProcs(id).some((p) => p.comm === 'sleep') ? jobProcs(id) : undefined));
    await killRunner(sb);
    await abortKilledInGrace(sb, id);
    const asked = Date.parse(state(sb).jobs[id].abortRequested);
    await waitFor('the grace period to pass', () => Date.now() > asked + 2_500, 10_000);
    assert.ok(procs.some(stillAlive), 'precondition: nobody has sent the SIGKILL yet');
    const r = sb.run(['tick']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`job ${id}: still alive 2 s after the abort: SIGKILL`));
    await waitFor(`every process of the job gone after tick (${describeProcs(procs)})`, () => procs.every((p) => !stillAlive(p)), 5_000);
    await waitFor('the job ABORTED', () => sb.job(id).phase === 'ABORTED', 20_000);
  } finally {
    sb.cleanup();
  }
});

test('abort of a job started by a runner that died before recording it (QUEUED with a marker), killed in its grace: tick sends the SIGKILL', T, async () => {
  const sb = new Sandbox(YAML);
  try {
    const id = submitJob(sb, ['stubborn', '--run']);
    await waitStarted(sb, id);
    const procs = await waitFor('its sleep', () => (jobProcs(id).some((p) => p.comm === 'sleep') ? jobProcs(id) : undefined));
    await killRunner(sb);
    // Back to what the files held before the start was recorded: no hot entry, job.json
    // (untouched by the start) QUEUED, and the job's queue entry.
    const st = state(sb);
    assert.equal(jobFileOf(sb, id)?.phase, 'QUEUED');
    delete st.jobs[id];
    writeFileSync(queueEntryFile(sb, id), '');
    writeFileSync(join(sb.home, 'state.json'), JSON.stringify(st));
    await abortKilledInGrace(sb, id);
    await waitFor('the grace period to pass', () => {
      const hot = stateOrEmpty(sb).jobs[id];
      return hot?.abortRequested && Date.now() > Date.parse(hot.abortRequested) + 2_500;
    }, 10_000);
    assert.ok(procs.some(stillAlive), 'precondition: the job ignored SIGTERM and nobody has sent SIGKILL yet');
    assert.equal(sb.run(['tick']).code, 0);
    await waitFor(`every process of the job gone after tick (${describeProcs(procs)})`, () => procs.every((p) => !stillAlive(p)), 5_000);
    await waitFor('the job ABORTED', () => sb.job(id).phase === 'ABORTED', 20_000);
    assert.deepEqual(ranLines(sb), [id], 'it ran once');
  } finally {
    sb.cleanup();
  }
});

/**
 * A `stubborn` job held in its starting window (EXECUTING, startTime null: the wrapper waits
 * before forking the command) with its process group stopped (SIGSTOP), so the SIGTERM the
 * abort of that window sends stays pending: only a SIGKILL ends it. Returns its processes.
 */
async function stoppedInStartingWindow(sb: Sandbox): Promise<{ id: string; procs: Proc[] }> {
  const id = submitJob(sb, ['stubborn', '--run'], { UWSRUN_TEST_HOLD_START: '60' }); // killGrace 2
  const hot = await waitFor('EXECUTING, pid set, startTime null', () => {
    const j = stateOrEmpty(sb).jobs[id];
    return j?.phase === 'EXECUTING' && j.pid !== null && j.startTime === null ? j : undefined;
  }, 25_000);
  const pid: number = hot.pid;
  const procs = groupMembers(pid);
  assert.ok(procs.some((p) => p.pid === pid), 'the wrapper leads its group');
  process.kill(-pid, 'SIGSTOP');
  await waitFor('the group stopped', () => procs.every((p) => ['T', 't'].includes(procStat(p.pid)?.state ?? '')));
  return { id, procs };
}

test('abort in the starting window killed during its grace period: the runner sends the SIGKILL after killGrace; ABORTED, startTime null, never ran', T, async () => {
  const sb = new Sandbox(YAML);
  try {
    const { id, procs } = await stoppedInStartingWindow(sb);
    const t0 = Date.now();
    await abortKilledInGrace(sb, id);
    await assertLogged(sb, new RegExp(`job ${id}: abort requested \\(pid \\d+, starting: SIGTERM\\)`));
    await waitFor(`every process of the job gone (${describeProcs(procs)})`, () => procs.every((p) => !stillAlive(p)), 2_000 + 8_000);
    const took = Date.now() - t0;
    assert.ok(took >= 1_500, `not before the grace period (${took} ms)`);
    // (The line is appended once the signal is sent: the process may be seen gone first.)
    await waitFor('runner.log to name the SIGKILL', () => new RegExp(`job ${id}: still alive 2 s after the abort: SIGKILL`).test(runnerLog(sb)), 5_000);
    assert.doesNotMatch(runnerLog(sb), /tick:/, 'sent by the runner');
    await waitFor('the job ABORTED', () => sb.job(id).phase === 'ABORTED', 10_000);
    assert.equal(sb.job(id).startTime, null, 'it never left its starting window');
    assert.deepEqual(ranLines(sb), [], 'its command never ran');
  } finally {
    sb.cleanup();
  }
});

test('abort in the starting window killed during its grace period with no runner alive: `tick` sends the SIGKILL after killGrace', T, async () => {
  const sb = new Sandbox(YAML);
  try {
    const { id, procs } = await stoppedInStartingWindow(sb);
    await killRunner(sb);
    await abortKilledInGrace(sb, id);
    const asked = Date.parse(state(sb).jobs[id].abortRequested);
    await waitFor('the grace period to pass', () => Date.now() > asked + 2_500, 10_000);
    assert.ok(procs.some(stillAlive), 'precondition: the stopped job outlived the SIGTERM, nobody has sent SIGKILL yet');
    const r = sb.run(['tick']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`job ${id}: still alive 2 s after the abort: SIGKILL`));
    await waitFor(`every process of the job gone after tick (${describeProcs(procs)})`, () => procs.every((p) => !stillAlive(p)), 5_000);
    await waitFor('the job ABORTED', () => sb.job(id).phase === 'ABORTED', 20_000);
    assert.deepEqual(ranLines(sb), [], 'its command never ran');
  } finally {
    sb.cleanup();
  }
});

// A runner that did not start the job finds it EXECUTING with startTime null and would set
// startTime from the start marker ("its up went to a runner that died": superviseJob in
// executors/local/executor.ts), but not for a job being aborted in its starting window: its
// command never ran (SPEC §2: startTime is set when the exec succeeded).
test('abort in the starting window with no runner alive: the job ends ABORTED with startTime null (its command never ran)', {
  ...T,
}, async () => {
  const sb = new Sandbox(YAML);
  try {
    const { id, procs } = await stoppedInStartingWindow(sb);
    await killRunner(sb);
    await abortKilledInGrace(sb, id);
    const asked = Date.parse(state(sb).jobs[id].abortRequested);
    await waitFor('the grace period to pass', () => Date.now() > asked + 2_500, 10_000);
    assert.equal(sb.run(['tick']).code, 0);
    await waitFor(`every process of the job gone after tick (${describeProcs(procs)})`, () => procs.every((p) => !stillAlive(p)), 5_000);
    await waitFor('the job ABORTED', () => sb.job(id).phase === 'ABORTED', 20_000);
    assert.deepEqual(ranLines(sb), [], 'its command never ran');
    assert.equal(sb.job(id).startTime, null, `it never left its starting window:\n${runnerLog(sb)}`);
  } finally {
    sb.cleanup();
  }
});

// ---- a process uwsrun may not signal (SPEC §5) -----------------------------------------

const HELPER_C = `
#include <signal.h>
#include <stdio.h>
#include <unistd.h>
int main(int argc, char **argv) {
  if (setuid(0) != 0) { perror("setuid"); return 1; }
  signal(SIGINT, SIG_IGN); signal(SIGTERM, SIG_IGN);
  FILE *f = fopen(argv[1], "w"); if (f) { fprintf(f, "%d", getpid()); fclose(f); }
  for (;;) pause();
}
`;

test('a setuid-root helper that ignores SIGINT: abort exits 1 naming it (EPERM), the job stays EXECUTING while it lives, runner.log names the EPERM, the runner goes on with other jobs; the job ends once the helper does', T, async (t) => {
  const sb = new Sandbox(YAML.replace('jobs:\n', `jobs:\n  setuid:\n    command: [SETUID, PIDFILE]\n    killGrace: 1\n`));
  const helper = join(sb.dir, 'helper');
  const pidFile = join(sb.dir, 'helper.pid');
  let helperPid: number | undefined;
  try {
    const cc = spawnSync('cc', ['-o', helper, '-x', 'c', '-'], { input: HELPER_C, encoding: 'utf8' });
    if (cc.status !== 0) return t.skip(`no C compiler: ${cc.stderr}`);
    chmodSync(helper, 0o4755);
    writeFileSync(sb.jobsFile, readFileSync(sb.jobsFile, 'utf8').replace('SETUID', helper).replace('PIDFILE', pidFile));
    chownSync(sb.dir, 65534, 65534);
    chmodSync(sb.dir, 0o755);
    chownSync(sb.jobsFile, 65534, 65534);
    const asNobody = (args: string[]) => {
      const env = Object.entries(sb.env).filter(([, v]) => v !== undefined).map(([k, v]) => `${k}=${v}`);
      const r = spawnSync('runuser', ['-u', 'nobody', '--', 'env', '-i', ...env, BIN, ...args], { encoding: 'utf8', timeout: 60_000 });
      return { code: r.status ?? 128, stdout: r.stdout, stderr: r.stderr };
    };
    const s = asNobody(['submit', 'setuid', '--run']);
    assert.equal(s.code, 0, s.stderr);
    const id = s.stdout.trim();
    helperPid = await waitFor('the helper to run as root', () => {
      if (!existsSync(pidFile)) return undefined;
      // fopen has made the file, fprintf may not have written the pid yet.
      const pid = Number(readFileSync(pidFile, 'utf8'));
      return pid > 0 && /Uid:\s+0\s+0/.test(readFileSync(`/proc/${pid}/status`, 'utf8')) ? pid : undefined;
    });
    const a = asNobody(['abort', id]);
    assert.equal(a.code, 1, `abort exits 1, not 70: ${a.stderr}`);
    assert.match(a.stderr, new RegExp(`${helperPid}.*not permitted`), a.stderr);
    const phase = (jobId: string): string => JSON.parse(asNobody(['show', jobId, '--json']).stdout).phase;
    // The runner's SIGKILL after killGrace (1 s) is refused too: runner.log says so for this job,
    // and the job stays EXECUTING, since its helper still runs.
    const eperm = new RegExp(`job ${id}: .*${helperPid}.*not permitted \\(EPERM\\)`);
    await waitFor('runner.log to name the EPERM for the job', () => eperm.test(runnerLog(sb)), 20_000);
    assert.equal(phase(id), 'EXECUTING', 'EXECUTING while its helper lives');
    // The runner keeps supervising: another job starts and completes.
    const h = asNobody(['submit', 'hello', '--run']);
    assert.equal(h.code, 0, h.stderr);
    const w = asNobody(['wait', h.stdout.trim(), '--timeout', '60']);
    assert.equal(w.code, 0, w.stderr);
    assert.equal(JSON.parse(asNobody(['show', h.stdout.trim(), '--json']).stdout).phase, 'COMPLETED');
    assert.doesNotMatch(runnerLog(sb), /cycle failed/, 'no runner cycle failed');
    assert.ok(existsSync(`/proc/${helperPid}`), 'the helper still lives');
    assert.equal(phase(id), 'EXECUTING', 'still EXECUTING while its helper lives, after another job ran');
    assert.ok(runnerLog(sb).split('\n').filter((l) => /EPERM/.test(l)).every((l) => l.includes(`job ${id}:`)),
      `every EPERM in runner.log is this job's:\n${runnerLog(sb)}`);
    // Once the helper is gone (root ends it), the job ends ABORTED.
    process.kill(helperPid, 'SIGKILL');
    await waitFor('the job ABORTED', () => JSON.parse(asNobody(['show', id, '--json']).stdout).phase === 'ABORTED', 20_000);
  } finally {
    killQuietly(helperPid);
    chownSync(sb.dir, 0, 0);
    sb.cleanup();
  }
});

// ---- a job's end is recorded right whatever runs out --------------------------------------

test('a start the launcher refuses (cannot create the exit file) leaves the job QUEUED and the launcher alive; it starts once it can', T, async () => {
  const sb = new Sandbox(YAML);
  try {
    const first = submitJob(sb, ['gated', '--run']);
    await waitStarted(sb, first);
    const runner = stateOrEmpty(sb).runner;
    const launcher = launcherOf(runner.pid);
    assert.ok(launcher, 'the runner has a launcher');
    // Damage: the exit file of the next job cannot be created (a directory is in its way).
    const id = submitJob(sb, ['hello']);
    mkdirSync(join(sb.recordDir(id), 'exit'));
    assert.equal(sb.run(['run', id]).code, 0);
    await waitFor('runner.log to say the start failed', () => runnerLog(sb).includes(`job ${id}: could not be started: cannot create`), 20_000);
    assert.equal(sb.job(id).phase, 'QUEUED');
    assert.ok(stillAlive(launcher), 'a refused start is an answer, not a hang: the launcher is not killed');
    rmSync(join(sb.recordDir(id), 'exit'), { recursive: true });
    release(sb, first);
    assert.equal(sb.run(['wait', id, first, '--timeout', '60']).code, 0);
    assert.equal(sb.job(id).phase, 'COMPLETED');
    assert.equal(sb.job(first).phase, 'COMPLETED');
    assert.doesNotMatch(runnerLog(sb), /launcher: no answer|launcher ended/);
  } finally {
    sb.cleanup();
  }
});

test('inodes run out while a job runs (tmpfs, unshare -m): it still ends COMPLETED with exit 0; the queued one runs later', T, async (t) => {
  if (!canUnshare()) return t.skip('unshare -m is not available');
  const sb = new Sandbox(YAML);
  try {
    const mnt = join(sb.dir, 'mnt');
    mkdirSync(mnt);
    const script = `
      set -u
      mount -t tmpfs -o size=32m,nr_inodes=300 tmpfs "$MNT" || exit 90
      export UWSRUN_HOME="$MNT/home"
      u() { "$BIN" "$@"; }
      u limit 1 >/dev/null || exit 91
      a=$(u submit gatedout --run) || exit 92
      b=$(u submit hello --run) || exit 93
      i=0; while [ ! -s "$HOME/ran" ] && [ $i -lt 400 ]; do sleep 0.05; i=$((i+1)); done
      [ -s "$HOME/ran" ] || exit 94
      n=0; while true 2>/dev/null > "$MNT/fill.$n"; do n=$((n+1)); done
      touch "$HOME/release"
      i=0; while ! grep -q '^exit 0' "$MNT/home/records/$a/exit" 2>/dev/null && [ $i -lt 400 ]; do sleep 0.05; i=$((i+1)); done
      sleep 1.5
      rm -f "$MNT"/fill.*
      u wait "$a" "$b" --timeout 60 >/dev/null; w=$?
      printf '{"fill":%s,"wait":%s,"a":%s,"b":%s}\\n' "$n" "$w" "$(u show "$a" --json)" "$(u show "$b" --json)"
      cat "$UWSRUN_HOME/runner.log" >&2
    `;
    const r = spawnSync('unshare', ['-m', 'sh', '-c', script], {
      env: { ...sb.env, MNT: mnt, BIN }, encoding: 'utf8', timeout: 120_000,
    });
    assert.equal(r.status, 0, `script exit ${r.status}: ${r.stderr}`);
    const out = JSON.parse(r.stdout);
    t.diagnostic(`inodes filled: ${out.fill} files`);
    assert.ok(out.fill > 0, 'the file system really ran out of inodes');
    assert.equal(out.wait, 0, r.stderr);
    assert.equal(out.a.phase, 'COMPLETED', `${JSON.stringify(out.a.errorSummary)}\n${r.stderr}`);
    assert.equal(out.a.exitCode, 0);
    assert.equal(out.b.phase, 'COMPLETED', r.stderr);
    assert.doesNotMatch(r.stderr, /launcher: no answer|launcher ended/, 'the launcher was never given up');
  } finally {
    sb.cleanup();
  }
});

// ---- no job ever starts twice ---------------------------------------------------------

test('the launcher killed again and again during a drain: no job starts twice, every job completes', T, async (t) => {
  const sb = new Sandbox(YAML);
  try {
    const N = 300;
    const s = sb.run(['submit', 'quick', '--params-from', '-'], {}, '{}\n'.repeat(N));
    assert.equal(s.code, 0, s.stderr);
    const ids = s.stdout.trim().split('\n');
    assert.equal(sb.run(['limit', '4']).code, 0);
    assert.equal(sb.run(['run', ...ids]).code, 0);
    let kills = 0;
    // EXECUTING jobs are in state.json, QUEUED ones have an entry in HOME/queue/.
    const queued = () => (existsSync(join(sb.home, 'queue')) ? readdirSync(join(sb.home, 'queue')).length : 0);
    const remaining = () => Object.keys(stateOrEmpty(sb).jobs).length + queued();
    const deadline = Date.now() + 120_000;
    while (remaining() > 0 && Date.now() < deadline) {
      const runner = stateOrEmpty(sb).runner;
      const launcher = runner ? launcherOf(runner.pid) : undefined;
      if (launcher) {
        killQuietly(launcher.pid);
        kills++;
      }
      await new Promise((r) => setTimeout(r, 20 + Math.random() * 60));
    }
    const w = sb.run(['wait', ...ids, '--timeout', '120']);
    const ran = ranLines(sb);
    const counts = new Map<string, number>();
    for (const id of ran) counts.set(id, (counts.get(id) ?? 0) + 1);
    const twice = [...counts].filter(([, n]) => n > 1);
    const figures = `${N} jobs, ${kills} launcher kills, ${ran.length} starts, ${twice.length} started twice`;
    t.diagnostic(figures);
    console.log(`# launcher kill loop: ${figures}`);
    assert.ok(kills >= 10, `the launcher was really killed during the drain: ${figures}`);
    assert.deepEqual(twice, [], figures);
    assert.equal(w.code, 0, w.stderr);
    assert.equal(counts.size, N, `every job ran: ${figures}`);
  } finally {
    sb.cleanup();
  }
});
