// Shared helpers for the benchmarks: timing whole commands, medians, temporary HOMEs.
import { spawnSync, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

// BENCH_ROOT: time another checkout (built) with the same scripts, for A/B comparisons.
export const ROOT = process.env.BENCH_ROOT || resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const BIN = join(ROOT, 'bin', 'uwsrun');

export const BENCH_JOBS = `
jobs:
  hello:
    command: [echo, "Hello, {name}!"]
    parameters:
      name: { type: string, default: world }
  true:
    command: ["true"]
  sleep:
    command: [sleep, "300"]
    killGrace: 5
`;

/**
 * The temporary HOMEs whose processes were stopped, removed when the bench exits. Not at
 * once: on ext4 without a journal (this machine kind's root disk) a new file skips, one by
 * one, every inode of its block group freed in the last minute (five while not yet written
 * back), so the thousands a HOME's removal frees made each new file of the next figure cost
 * 0.3-1 ms instead of ~20 µs, and the next figure measured the removal, not uwsrun (README,
 * "The disk's state counts"). Leave a minute between two bench runs for the same reason.
 */
const removeAtExit = [];
let removalHooked = false;

function removeAll() {
  for (const dir of removeAtExit.splice(0)) rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 50 });
}

function hookRemoval() {
  if (removalHooked) return;
  removalHooked = true;
  process.once('exit', removeAll);
  for (const sig of ['SIGINT', 'SIGTERM']) {
    process.once(sig, () => {
      removeAll();
      process.exit(128 + (sig === 'SIGINT' ? 2 : 15));
    });
  }
}

/**
 * What a new file costs in TMPDIR now (µs per create of 200 empty files, removed after): the
 * disk's state each figure is measured in (see removeAtExit), printed beside the figures.
 */
export function fileCreateMicros() {
  const dir = mkdtempSync(join(tmpdir(), 'uwsrun-bench-probe-'));
  try {
    const t0 = performance.now();
    for (let i = 0; i < 200; i++) writeFileSync(join(dir, String(i)), '');
    return ((performance.now() - t0) * 1000) / 200;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A temporary HOME with BENCH_JOBS (plus `extraJobs`, YAML under `jobs:`) as its definitions. */
export function tempHome(label, extraJobs = '') {
  const dir = mkdtempSync(join(tmpdir(), `uwsrun-bench-${label}-`));
  const jobs = join(dir, 'jobs.yaml');
  writeFileSync(jobs, BENCH_JOBS + extraJobs);
  const env = { ...process.env, UWSRUN_HOME: join(dir, 'home'), UWSRUN_JOBS: jobs, NO_COLOR: '1' };
  const cleanup = () => {
    // Swept again while a sweep found something: a job killed by one sweep may have its
    // wrapper start a runner again (launcher.pl respawnRunner) before the files are gone.
    for (let sweep = 0; sweep < 5 && killHomeProcesses(env.UWSRUN_HOME) > 0; sweep++);
    // Removed when the bench exits (see removeAtExit). A wrapper forked while the line above
    // walked /proc may still make its job's directory: rmSync retries a directory found not empty.
    hookRemoval();
    removeAtExit.push(dir);
  };
  return { dir, env, cleanup };
}

/**
 * Kills the runner and jobs of a HOME, found by their environment in /proc, or by their
 * command line (`__runner --home HOME`) or working directory (a wrapper: Perl's $0 hides
 * its environment); returns how many it killed.
 */
export function killHomeProcesses(home) {
  let killed = 0;
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    let env;
    let argv;
    let cwd = '';
    try {
      env = readFileSync(`/proc/${name}/environ`, 'latin1').split('\0');
      argv = readFileSync(`/proc/${name}/cmdline`, 'latin1').split('\0');
      cwd = readlinkSync(`/proc/${name}/cwd`);
    } catch {
      continue;
    }
    if (env.includes(`UWSRUN_HOME=${home}`) || env.some((e) => e.startsWith(`UWS_JOB_DIR=${home}/`)) || argv.includes(home)
      || cwd === home || cwd.startsWith(`${home}/`)) {
      try {
        process.kill(Number(name), 'SIGKILL');
        killed++;
      } catch { /* gone */ }
    }
  }
  return killed;
}

/** Wall time of one command in milliseconds. */
export function timeCommand(cmd, args, opts = {}) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return { ms, stdout: String(r.stdout) };
}

export const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

export const fmt = (ms) => `${ms.toFixed(1)} ms`;
/** A peer's figure, or how to get the peer when it is not on this machine. */
export const fmtPeer = (ms, pkg) => (Number.isNaN(ms) ? `not installed (apt-get install -y ${pkg})` : fmt(ms));

export function have(cmd) {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export function row(cells, widths = [34, 14, 14, 14]) {
  return cells.map((c, i) => String(c).padEnd(widths[i] ?? 14)).join(' ');
}
