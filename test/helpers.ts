// Black-box test helpers: run bin/uwsrun exactly as a user would, each test in its own
// temporary HOME, and wait for conditions with deadlines (never fixed sleeps).

import assert from 'node:assert/strict';
import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cpuMs } from './procfs.js';

// build/test/helpers.js -> project root
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const BIN = join(ROOT, 'bin', 'uwsrun');
export const EXAMPLE_JOBS = join(ROOT, 'jobs.example.yaml');

/** A job id of the shape the SPEC gives. */
export const ID_RE = /^[A-Za-z0-9][A-Za-z0-9_-]{5,31}$/;
/** An instant as uwsrun prints it: UTC, milliseconds, Z. */
export const ISO_MS_Z = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
/** The phases a job never leaves by itself. */
export const FINAL = ['COMPLETED', 'ERROR', 'ABORTED', 'ARCHIVED'];

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

export class Sandbox {
  readonly dir: string;
  readonly home: string;
  readonly jobsFile: string;
  env: NodeJS.ProcessEnv;

  constructor(jobsYaml?: string) {
    this.dir = mkdtempSync(join(tmpdir(), 'uwsrun-test-'));
    this.home = join(this.dir, 'state');
    this.jobsFile = join(this.dir, 'jobs.yaml');
    writeFileSync(this.jobsFile, jobsYaml ?? readFileSync(EXAMPLE_JOBS, 'utf8'));
    this.env = {
      PATH: process.env.PATH,
      HOME: this.dir,
      USER: process.env.USER ?? 'root',
      LANG: 'C.UTF-8',
      UWSRUN_HOME: this.home,
      UWSRUN_JOBS: this.jobsFile,
      UWSRUN_RUNNER_IDLE_MS: '400',
      NO_COLOR: '1',
    };
  }

  run(args: string[], extraEnv: NodeJS.ProcessEnv = {}, input?: string): Run {
    const r: SpawnSyncReturns<string> = spawnSync(BIN, args, {
      env: { ...this.env, ...extraEnv },
      encoding: 'utf8',
      input,
      timeout: 60_000,
    });
    if (r.error) throw r.error;
    return { code: r.status ?? 128, stdout: r.stdout, stderr: r.stderr };
  }

  /** Runs in the background; resolves with the outcome. */
  start(args: string[], extraEnv: NodeJS.ProcessEnv = {}): Promise<Run> {
    return new Promise((resolvePromise, reject) => {
      const child = spawn(BIN, args, { env: { ...this.env, ...extraEnv } });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => (stdout += d));
      child.stderr.on('data', (d) => (stderr += d));
      child.on('error', reject);
      child.on('close', (code) => resolvePromise({ code: code ?? 128, stdout, stderr }));
    });
  }

  ok(args: string[], extraEnv: NodeJS.ProcessEnv = {}): string {
    const r = this.run(args, extraEnv);
    if (r.code !== 0) throw new Error(`uwsrun ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
    return r.stdout.trim();
  }

  json<T = any>(args: string[]): T {
    return JSON.parse(this.ok([...args, '--json'])) as T;
  }

  job(id: string): any {
    return this.json(['show', id]);
  }

  jobDir(id: string): string {
    return join(this.home, 'jobs', id);
  }

  /** Where uwsrun keeps its own files about a job (job.json, exit, started). */
  recordDir(id: string): string {
    return join(this.home, 'records', id);
  }

  /**
   * SIGKILLs every process of this sandbox, found by its environment, by a command line
   * naming a path in it (`__runner --home DIR`, `uwsrun-launcher DIR`) or by a working
   * directory in it (a wrapper); returns how many.
   */
  private killProcesses(): number {
    const mine = (v: string) => v === `UWSRUN_HOME=${this.home}` || v.startsWith(`UWSRUN_HOME=${this.dir}/`) || v.startsWith(`UWS_JOB_DIR=${this.home}/`);
    const inside = (path: string) => path === this.dir || path.startsWith(`${this.dir}/`);
    let killed = 0;
    for (const name of readdirSync('/proc')) {
      if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
      let environ: string;
      let cmdline: string;
      let cwd = '';
      try {
        environ = readFileSync(`/proc/${name}/environ`, 'latin1');
        cmdline = readFileSync(`/proc/${name}/cmdline`, 'latin1');
        cwd = readlinkSync(`/proc/${name}/cwd`);
      } catch {
        continue; // gone, or a zombie
      }
      if (!environ.split('\0').some(mine) && !cmdline.split('\0').some((a) => a === this.dir || a.includes(`${this.dir}/`)) && !inside(cwd)) continue;
      try {
        process.kill(Number(name), 'SIGKILL');
        killed++;
      } catch { /* gone meanwhile */ }
    }
    return killed;
  }

  cleanup(): void {
    // Stop whatever still runs for this HOME (runner and jobs), then remove the files. Swept
    // again while a sweep found something: a launcher can fork a job it was asked for while
    // the first sweep kills the runner (a job left running for hours was seen once).
    for (let sweep = 0; sweep < 5 && this.killProcesses() > 0; sweep++);
    // A test may use a HOME of its own below the sandbox (a tmpfs in a private mount
    // namespace, say), whose processes the line above also stops; what they wrote as they
    // died can still be landing, so a directory found not empty is removed again.
    // Still not empty after that (a process of the sandbox found by none of the marks above
    // kept writing): sweep and try again, then name what is left.
    for (let attempt = 1; ; attempt++) {
      try {
        rmSync(this.dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 50 });
        return;
      } catch (err) {
        if (attempt === 5) throw new Error(`cannot remove the sandbox ${this.dir}: ${(err as Error).message}; left: ${leftIn(this.dir).join(', ')}`);
        this.killProcesses();
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 200);
      }
    }
  }
}

/** Polls `check` every 20 ms until it returns a truthy value or `ms` pass. */
export async function waitFor<T>(what: string, check: () => T | undefined | false | null, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = check();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** `uwsrun submit ARGS`: asserts exit 0 and returns what it printed, trimmed. */
export function submitOk(sb: Sandbox, args: string[], env: NodeJS.ProcessEnv = {}): string {
  const r = sb.run(['submit', ...args], env);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.trim();
}

/** `uwsrun submit ARGS`: asserts exit 0 and that it printed a job id of the SPEC's shape. */
export function submitJob(sb: Sandbox, args: string[], env: NodeJS.ProcessEnv = {}): string {
  const r = sb.run(['submit', ...args], env);
  assert.equal(r.code, 0, `submit ${args.join(' ')}: ${r.stderr}`);
  const id = r.stdout.trim();
  assert.match(id, ID_RE);
  return id;
}

/**
 * Creates the file `release` in the job's directory: a job waiting for it may go on. One not
 * started yet has no directory (it is made at its start): made here, the job finds it so.
 */
export const release = (sb: Sandbox, id: string): void => {
  mkdirSync(sb.jobDir(id), { recursive: true, mode: 0o700 });
  writeFileSync(join(sb.jobDir(id), 'release'), '');
};

const shQuote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

let scriptFound: boolean | undefined;

/** Whether util-linux `script` (needed by runOnTty) is installed. */
export function hasScript(): boolean {
  scriptFound ??= spawnSync('sh', ['-c', 'command -v script']).status === 0;
  return scriptFound;
}

/** Runs uwsrun with stdout on a pseudo-terminal (util-linux script); returns what it printed. */
export function runOnTty(sb: Sandbox, args: string[], extraEnv: NodeJS.ProcessEnv = {}): string {
  const r = spawnSync('script', ['-qec', [BIN, ...args].map(shQuote).join(' '), '/dev/null'], {
    env: { ...sb.env, ...extraEnv },
    encoding: 'utf8',
    timeout: 60_000,
  });
  assert.equal(r.status, 0, `uwsrun ${args.join(' ')} on a tty: ${r.stdout}${r.stderr}`);
  return r.stdout;
}

/** Whether this process may make a private mount namespace (`unshare -m`), for tmpfs fault tests. */
export const canUnshare = (): boolean => spawnSync('unshare', ['-m', 'true']).status === 0;

/** Up to 20 paths still under `dir`, for the message of a sandbox that cannot be removed. */
function leftIn(dir: string): string[] {
  try {
    return (readdirSync(dir, { recursive: true }) as string[]).slice(0, 20);
  } catch (err) {
    return [(err as Error).message];
  }
}

/**
 * Holds the HOME's lock in the name of a live process (taking it exclusively, as uwsrun
 * does, when the runner is not holding it a moment); returns the function that lets go.
 */
export async function holdLock(sb: Sandbox): Promise<() => void> {
  const holder = spawn('sleep', ['300'], { stdio: 'ignore' });
  const stat = readFileSync(`/proc/${holder.pid}/stat`, 'utf8');
  const startTime = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  const lock = join(sb.home, 'state.lock');
  await waitFor('the lock to be free', () => {
    try {
      writeFileSync(lock, `${holder.pid} ${startTime}`, { flag: 'wx' });
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      return false;
    }
  });
  return () => {
    rmSync(lock, { force: true });
    holder.kill('SIGKILL');
  };
}

/**
 * The lock acquisitions of process `pid` logged between `from` and `to` (ms since the epoch)
 * in a UWSRUN_LOCK_WAIT_LOG file (store/lock.ts: one line "WAITED_MS NOW_MS PID" each).
 */
export function lockTakes(log: string, pid: number, from: number, to: number): number {
  let text: string;
  try {
    text = readFileSync(log, 'utf8');
  } catch {
    return 0;
  }
  return text.split('\n').filter((line) => {
    const [, at, who] = line.split(' ').map(Number);
    return who === pid && at! >= from && at! <= to;
  }).length;
}

/**
 * Watches a runner while nothing should happen: its lock takes (from the UWSRUN_LOCK_WAIT_LOG
 * file `log`) and its CPU over `window` ms, starting `settleMs` from now.
 */
export async function quietWindow(log: string, runner: number, settleMs: number, window = 8000): Promise<{ takes: number; cpu: number; window: number }> {
  const from = Date.now() + settleMs;
  await waitFor('the window to start', () => Date.now() >= from || undefined, settleMs + 5000);
  const cpu0 = cpuMs(runner);
  await waitFor('the window to pass', () => Date.now() >= from + window || undefined, window + 5000);
  return { takes: lockTakes(log, runner, from, from + window), cpu: cpuMs(runner) - cpu0, window };
}
