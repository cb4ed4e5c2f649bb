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
import { type Proc, killQuietly, procStat, stillAlive } from '../procfs.js';
import { runnerLog } from '../runner-state.js';

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

test('a process with the job\'s UWS_JOB_ID outside its tree is terminated when the job exits 0; runner.log names it', T, async () => {
  const sb = new Sandbox(YAML);
  const fifo = join(sb.dir, 'requests');
  assert.equal(spawnSync('mkfifo', [fifo]).status, 0);
  let helper: Proc | undefined;
  // The spawner: outside every job, it starts `sleep 300` in a session of its own with the
  // asking job's UWS_JOB_ID, and tells the job it runs.
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
  try {
    const id = submitJob(sb, ['askhelper', '--run']);
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no request from job ${id} in 30 s: ${runnerLog(sb)}`)), 30_000);
    });
    try {
      helper = await Promise.race([spawned, late]);
    } finally {
      clearTimeout(timer);
    }
    assert.equal(helper.ppid, process.pid, 'the helper is the test\'s child, no descendant of the job');
    const w = sb.run(['wait', id, '--timeout', '60']);
    assert.equal(w.code, 0, w.stderr);
    const job = sb.job(id);
    assert.equal(job.phase, 'COMPLETED', 'the phase comes from the leader');
    assert.equal(job.exitCode, 0);
    // Our own child: once killed it is a zombie until we reap it, which stillAlive counts as gone.
    assert.equal(stillAlive(helper), false, `the helper ${helper.pid} carrying UWS_JOB_ID=${id} must be gone once the job is final`);
    assert.match(runnerLog(sb), new RegExp(`job ${id}: its leader ended, leaving ${helper.pid} \\(sleep\\): SIGTERM`));
  } finally {
    // A reader still blocked in open() (no request came) would keep this process alive.
    try { closeSync(openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK)); } catch { /* none waits */ }
    requests.destroy();
    killQuietly(helper?.pid);
    sb.cleanup();
  }
});
