// Black-box tests of SPEC §5 "A job ends when its group leader ends. Whatever is left of its
// process group and of its escaped processes (as found for abort) is then terminated" for a
// job that ends by itself with exit 0:
//   - a `setsid` escapee the job started itself (still in the wrapper's tree: the wrapper is
//     a subreaper), and
//   - a process that carries the job's UWS_JOB_ID but is no descendant of the job at all:
//     started on the job's behalf by a service that runs outside it (here a spawner the test
//     runs, reading requests from a FIFO, as a local daemon or spooler would). Only the
//     UWS_JOB_ID search of /proc finds it, as abort does.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, constants, createReadStream, existsSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { Sandbox, submitJob, waitFor } from '../helpers.js';
import { type Proc, alive, killQuietly, procStat, stillAlive } from '../procfs.js';
import { assertLogged, launcherOf, runnerLog, stateOrEmpty } from '../runner-state.js';

const YAML = `
defaults:
  destruction: 0
jobs:
  setsidleaver:
    description: starts a setsid escapee and exits 0 at once
    command: [sh, -c, 'setsid sleep 300 & echo $! > "$UWS_RESULTS_DIR/child.tmp"; mv "$UWS_RESULTS_DIR/child.tmp" "$UWS_RESULTS_DIR/child"; exit 0']
    killGrace: 2
  askhelper:
    description: asks the spawner for a process with its UWS_JOB_ID, waits until it runs, exits 0
    command: [sh, -c, 'echo "$UWS_JOB_ID" > "$HOME/requests"; while [ ! -e "$UWS_RESULTS_DIR/spawned" ]; do sleep 0.05; done; exit 0']
    killGrace: 2
  askhelperlimit:
    description: as askhelper, but then runs on until its time limit (5 s) aborts it
    command: [sh, -c, 'echo "$UWS_JOB_ID" > "$HOME/requests"; exec sleep 300']
    executionDuration: 5
    killGrace: 2
  askhelperlong:
    description: as askhelperlimit with a time limit of 12 s, long enough to kill its runner first
    command: [sh, -c, 'echo "$UWS_JOB_ID" > "$HOME/requests"; exec sleep 300']
    executionDuration: 12
    killGrace: 2
`;

const T = { timeout: 120_000 };

test('setsid sleep 300 & in a job that exits 0: COMPLETED, the escapee is terminated', T, async () => {
  const sb = new Sandbox(YAML);
  let child: Proc | undefined;
  try {
    const id = submitJob(sb, ['setsidleaver', '--run']);
    await waitFor('the child pid file', () => existsSync(join(sb.jobDir(id), 'results', 'child')), 30_000);
    child = procStat(Number(readFileSync(join(sb.jobDir(id), 'results', 'child'), 'utf8')));
    const w = sb.run(['wait', id, '--timeout', '60']);
    assert.equal(w.code, 0, w.stderr);
    const job = sb.job(id);
    assert.equal(job.phase, 'COMPLETED');
    assert.equal(job.exitCode, 0);
    if (child) assert.equal(stillAlive(child), false, `the setsid sleep ${child.pid} must be gone once the job is final`);
  } finally {
    killQuietly(child?.pid);
    sb.cleanup();
  }
});

/**
 * The spawner: outside every job, it starts `sleep 300` in a session of its own with the
 * asking job's UWS_JOB_ID (read from the FIFO HOME/requests of the sandbox), and tells the
 * job it runs. `helper(id)` resolves with that process, or fails after 30 s.
 */
function startSpawner(sb: Sandbox): { helper: (id: string) => Promise<Proc>; close: () => void } {
  const fifo = join(sb.dir, 'requests');
  assert.equal(spawnSync('mkfifo', [fifo]).status, 0);
  const requests = createReadStream(fifo, { encoding: 'utf8' });
  const spawned = new Promise<Proc>((resolve, reject) => {
    requests.on('data', (line: string | Buffer) => {
      const id = String(line).trim();
      const p = spawn('sleep', ['300'], { env: { PATH: process.env.PATH, UWS_JOB_ID: id }, detached: true, stdio: 'ignore' });
      p.unref();
      p.on('error', reject);
      p.on('spawn', () => {
        const stat = procStat(p.pid!);
        if (!stat) return reject(new Error('the helper died at once'));
        writeFileSync(join(sb.jobDir(id), 'results', 'spawned'), '');
        resolve(stat);
      });
    });
  });
  const helper = async (id: string): Promise<Proc> => {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no request from job ${id} in 30 s: ${runnerLog(sb)}`)), 30_000);
    });
    try {
      return await Promise.race([spawned, late]);
    } finally {
      clearTimeout(timer);
    }
  };
  const close = (): void => {
    // A reader still blocked in open() (no request came) would keep this process alive.
    try { closeSync(openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK)); } catch { /* none waits */ }
    requests.destroy();
  };
  return { helper, close };
}

test('a process with the job\'s UWS_JOB_ID outside its tree is terminated when the job exits 0; runner.log names it', T, async () => {
  const sb = new Sandbox(YAML);
  const spawner = startSpawner(sb);
  let helper: Proc | undefined;
  try {
    const id = submitJob(sb, ['askhelper', '--run']);
    helper = await spawner.helper(id);
    assert.equal(helper.ppid, process.pid, 'the helper is the test\'s child, no descendant of the job');
    const w = sb.run(['wait', id, '--timeout', '60']);
    assert.equal(w.code, 0, w.stderr);
    const job = sb.job(id);
    assert.equal(job.phase, 'COMPLETED', 'the phase comes from the leader');
    assert.equal(job.exitCode, 0);
    // Our own child: once killed it is a zombie until we reap it, which stillAlive counts as gone.
    assert.equal(stillAlive(helper), false, `the helper ${helper.pid} carrying UWS_JOB_ID=${id} must be gone once the job is final`);
    await assertLogged(sb, new RegExp(`job ${id}: its leader ended, leaving ${helper.pid} \\(sleep\\): SIGTERM`));
  } finally {
    spawner.close();
    killQuietly(helper?.pid);
    sb.cleanup();
  }
});

test('a time-limit abort (executionDuration) kills a process with the job\'s UWS_JOB_ID outside its tree', T, async () => {
  const sb = new Sandbox(YAML);
  const spawner = startSpawner(sb);
  let helper: Proc | undefined;
  try {
    const id = submitJob(sb, ['askhelperlimit', '--run']);
    helper = await spawner.helper(id);
    assert.equal(helper.ppid, process.pid, 'the helper is the test\'s child, no descendant of the job');
    assert.ok(stillAlive(helper));
    const w = sb.run(['wait', id, '--timeout', '60']);
    assert.equal(w.code, 1, `wait: the job ended, not COMPLETED: ${w.stderr}`);
    const job = sb.job(id);
    assert.equal(job.phase, 'ABORTED');
    assert.match(job.errorSummary?.message ?? '', /executionDuration/);
    assert.equal(stillAlive(helper), false, `the helper ${helper.pid} carrying UWS_JOB_ID=${id} must be gone once the job is final`);
    await assertLogged(sb, new RegExp(`job ${id}: executionDuration of 5 s exceeded`));
  } finally {
    spawner.close();
    killQuietly(helper?.pid);
    sb.cleanup();
  }
});

test('a time-limit abort by `tick` with no runner alive kills a process with the job\'s UWS_JOB_ID outside its tree', T, async () => {
  const sb = new Sandbox(YAML);
  const spawner = startSpawner(sb);
  let helper: Proc | undefined;
  try {
    const id = submitJob(sb, ['askhelperlong', '--run']);
    helper = await spawner.helper(id);
    const hot = await waitFor('the job\'s startTime recorded', () => stateOrEmpty(sb).jobs[id]?.startTime ? stateOrEmpty(sb).jobs[id] : undefined);
    const runner = stateOrEmpty(sb).runner;
    assert.ok(runner && alive(runner.pid, runner.startTime), 'a live runner');
    const launcher = launcherOf(runner.pid);
    process.kill(runner.pid, 'SIGKILL');
    await waitFor('the runner gone', () => !alive(runner.pid, runner.startTime), 10_000);
    if (launcher) await waitFor('its launcher gone', () => !stillAlive(launcher), 10_000);
    assert.equal(stateOrEmpty(sb).jobs[id]?.abortRequested, null, 'precondition: the runner died before the time limit');
    await waitFor('the time limit to pass', () => Date.now() > Date.parse(hot.startTime) + 12_500, 30_000);
    const t = sb.run(['tick']);
    assert.equal(t.code, 0, t.stderr);
    assert.match(t.stdout, new RegExp(`job ${id}: executionDuration of 12 s exceeded`));
    // Ticks, as cron would run them, until the job is final (tick may also start a runner).
    await waitFor('the job final', () => {
      const r = sb.run(['tick']);
      assert.equal(r.code, 0, r.stderr);
      return sb.job(id).phase !== 'EXECUTING';
    }, 30_000);
    const job = sb.job(id);
    assert.equal(job.phase, 'ABORTED');
    assert.match(job.errorSummary?.message ?? '', /executionDuration/);
    assert.equal(stillAlive(helper), false, `the helper ${helper.pid} carrying UWS_JOB_ID=${id} must be gone once the job is final`);
  } finally {
    spawner.close();
    killQuietly(helper?.pid);
    sb.cleanup();
  }
});
