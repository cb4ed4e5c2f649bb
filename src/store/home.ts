// Where a HOME is and what lives in it (SPEC §8):
//   HOME/state.json        lowdb: limit, runner, counters, submits in progress, and the hot
//                          entries of EXECUTING jobs only (PENDING/QUEUED ones: job.json)
//   HOME/queue/            one empty file per QUEUED job, named for its place (queue-dir.ts)
//   HOME/index             creation order: one fixed-width line (job id) per seq number
//   HOME/state.lock        the lock of every read-modify-write (holder's pid + start time)
//   HOME/state.good.json   the last good copy of state.json (for `doctor --repair`)
//   HOME/runner.log        what the auto-started runner says
//   HOME/runner.beat       the runner's heartbeat: rewritten every second (run/runner-stall.ts)
//   HOME/trash/            directories of deleted jobs, on their way out
//   HOME/runids/           run-id index for `submit --unique`
//   HOME/tokens.json       API tokens of `serve`, hashed (serve/tokens.ts; tokens.lock while written)
//   HOME/cache/            definitions files that validated, as JSON (keyed by inode+mtime)
//   HOME/jobs/ID/          the job's directory and default working directory: stdout.log,
//                          stderr.log, results/ (the job's own: it may change them at will)
//   HOME/records/ID/       uwsrun's own files about the job, out of the job's reach (SPEC §8):
//                          job.json (its record), `started` (the start marker) and `exit`
//                          (its exit status, written by its group leader)

import { existsSync, mkdirSync, readdirSync, renameSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { fsProblem, storeError, usageError } from '../errors.js';

export interface HomeOptions {
  home?: string;
}

export function resolveHome(opts: HomeOptions, env: NodeJS.ProcessEnv = process.env): string {
  // `--home "$H"` with H unset must not act on the default HOME instead.
  if (opts.home === '') throw usageError('--home: the directory is empty; give a path');
  if (opts.home) return resolve(opts.home);
  if (env.UWSRUN_HOME) return resolve(env.UWSRUN_HOME);
  // The XDG Base Directory spec: a relative path in XDG_STATE_HOME is invalid and ignored.
  if (env.XDG_STATE_HOME && isAbsolute(env.XDG_STATE_HOME)) return join(env.XDG_STATE_HOME, 'uwsrun');
  return join(homedir(), '.local', 'state', 'uwsrun');
}

/**
 * A 64-bit hex key for naming a file after some text (run-id index, definitions cache): two
 * 32-bit FNV-1a hashes with different offsets, without loading node:crypto. Users of a key
 * check what the file holds, so a collision can only cost a miss.
 */
export function fileKey(text: string): string {
  let a = 0x811c9dc5;
  let b = 0x01000193 ^ 0x5bd1e995;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193) >>> 0;
    b = Math.imul(b ^ c, 0x01000193 + 2) >>> 0;
  }
  return a.toString(16).padStart(8, '0') + b.toString(16).padStart(8, '0');
}

export class HomeLayout {
  constructor(readonly dir: string) {}
  get stateFile(): string { return join(this.dir, 'state.json'); }
  get goodCopy(): string { return join(this.dir, 'state.good.json'); }
  get lockFile(): string { return join(this.dir, 'state.lock'); }
  /** The seq and queue places of a submit inside its one turn at the lock (see core/submit.ts). */
  get turnFile(): string { return join(this.dir, 'state.turn'); }
  get runnerLog(): string { return join(this.dir, 'runner.log'); }
  /** Rewritten every second by the live runner: its mtime tells that it makes progress. */
  get runnerBeat(): string { return join(this.dir, 'runner.beat'); }
  get jobsDir(): string { return join(this.dir, 'jobs'); }
  /** One entry per QUEUED job (see store/queue-dir.ts). */
  get queueDir(): string { return join(this.dir, 'queue'); }
  /** Job ids in creation order, one fixed-width line per seq (see Store.lastJobs). */
  get indexFile(): string { return join(this.dir, 'index'); }
  /** Deleted job directories, moved here under the lock and removed after it. */
  get trashDir(): string { return join(this.dir, 'trash'); }
  /** Validated definitions files, as JSON (see definitions/cached.ts). */
  get cacheDir(): string { return join(this.dir, 'cache'); }
  /** The run-id index for `submit --unique` (see core/submit.ts). */
  get runIdsDir(): string { return join(this.dir, 'runids'); }
  /** uwsrun's own files about jobs: nothing a job does in its directory reaches them. */
  get recordsDir(): string { return join(this.dir, 'records'); }
  jobDir(jobId: string): string { return join(this.dir, 'jobs', jobId); }
  recordDir(jobId: string): string { return join(this.dir, 'records', jobId); }
  jobFile(jobId: string): string { return join(this.dir, 'records', jobId, 'job.json'); }
  resultsDir(jobId: string): string { return join(this.dir, 'jobs', jobId, 'results'); }
  stdoutLog(jobId: string): string { return join(this.dir, 'jobs', jobId, 'stdout.log'); }
  stderrLog(jobId: string): string { return join(this.dir, 'jobs', jobId, 'stderr.log'); }
  exitFile(jobId: string): string { return join(this.dir, 'records', jobId, 'exit'); }
  startMarker(jobId: string): string { return join(this.dir, 'records', jobId, 'started'); }
  /** Left by whoever is deleting an active job, for its waiters (core/deleting.ts). */
  deletingMarker(jobId: string): string { return join(this.dir, 'records', jobId, 'deleting'); }
  /** Attempt N's exit status and start marker, kept when the job is retried (run/retry.ts). */
  attemptFile(jobId: string, name: 'exit' | 'started', attempt: number): string { return join(this.dir, 'records', jobId, `${name}.${attempt}`); }
  /** Attempt N's logs, kept in the job's directory when the job is retried. */
  attemptLog(jobId: string, stream: 'stdout' | 'stderr', attempt: number): string { return join(this.dir, 'jobs', jobId, `${stream}.${attempt}.log`); }
  /** Created by whoever spawned a job's notifier, right after the spawn (run/notify.ts). */
  notifiedMarker(jobId: string): string { return join(this.dir, 'records', jobId, 'notified'); }
  /** What notifiers print, appended (SPEC §13). */
  get notifyLog(): string { return join(this.dir, 'notify.log'); }

  exists(): boolean {
    try {
      return statSync(this.dir).isDirectory();
    } catch {
      return false;
    }
  }

  /**
   * For commands that write: creates HOME (0700), jobs/ and records/, and refuses a HOME that another
   * user owns or that others may write, since job records and logs may hold secrets.
   */
  ensure(): void {
    try {
      mkdirSync(this.jobsDir, { recursive: true, mode: 0o700 });
      if (!existsSync(this.recordsDir)) this.createRecordsDir();
    } catch (err) {
      throw storeError(`cannot create HOME ${this.dir}: ${fsProblem(err)}`);
    }
    this.checkOwnership();
  }

  ensureQueueDir(): void {
    mkdirSync(this.queueDir, { recursive: true, mode: 0o700 });
  }

  /**
   * A HOME of an older uwsrun (jobs/ but no records/) is brought to this layout by whichever
   * command opens it first, reader or writer: otherwise a reader would see no jobs. Costs one
   * stat per command. (Upgrade while no runner of the older version runs: it would still
   * look for job.json in the job directories.)
   */
  upgradeIfOld(): void {
    if (existsSync(this.recordsDir) || !existsSync(this.jobsDir)) return;
    try {
      this.createRecordsDir();
    } catch (err) {
      throw storeError(`cannot move job records of ${this.dir} to records/: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
    }
  }

  /**
   * records/ is new: a HOME of an older uwsrun kept job.json, exit and started in the job's
   * directory. Whoever creates records/ moves them there, once (a command running at that
   * very moment may miss a job for a few milliseconds).
   */
  private createRecordsDir(): void {
    try {
      mkdirSync(this.recordsDir, { mode: 0o700 });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') return;
      throw err;
    }
    for (const id of readdirSync(this.jobsDir)) {
      for (const name of ['job.json', 'exit', 'started']) {
        const old = join(this.jobDir(id), name);
        if (!existsSync(old)) continue;
        mkdirSync(this.recordDir(id), { recursive: true, mode: 0o700 });
        renameSync(old, join(this.recordDir(id), name));
      }
    }
  }

  checkOwnership(): void {
    let st;
    try {
      st = statSync(this.dir);
    } catch {
      return;
    }
    const uid = process.getuid?.();
    if (uid !== undefined && st.uid !== uid) {
      throw storeError(`HOME ${this.dir} belongs to uid ${st.uid}, not to you (uid ${uid}); refusing to use it`);
    }
    if ((st.mode & 0o022) !== 0) {
      throw storeError(`HOME ${this.dir} is writable by others (mode ${(st.mode & 0o777).toString(8)}); run: chmod 700 ${this.dir}`);
    }
  }
}
