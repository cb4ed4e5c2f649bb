// What goes into a job's own directory at submit (HOME/jobs/ID/: results/ and an empty
// stdout.log and stderr.log, 0600 whatever the umask; SPEC §2 and §8), and a worker thread
// that fills the directories of a big submit beside it.
// Why a thread: a 100,000-line --params-from makes six inodes per job, and on this
// machine's ext4 (no journal) allocating one costs 60-250 µs of kernel time, because the
// allocator scans past every inode freed in the last minutes; the submit was 80% system
// time on one core. The submitter's thread keeps the id reservation (records/ID, then
// jobs/ID: an existing jobs/ID gives the id back at once, as for any submit) and the
// record; the worker makes the three inodes inside each jobs/ID it is handed, in
// directories no one else writes to, and the jobs' queue entries (hard links, see
// store/queue-dir.ts), so the two threads never wait on one directory's lock and the
// machine's second core does half of the file system's work (when it is free: on a
// machine loaded by others the two threads only share the one core they get).
// The submit commits only after the worker has reported every directory done
// (JobDirFiller.finish); an error there (a full disk) or a worker that dies fails the
// submit, which removes its jobs as after any failed write. A submit killed meanwhile leaves
// what any killed submit leaves (invisible jobs, some with directories still empty), and
// `tick` removes it.

import { closeSync, constants, mkdirSync, openSync } from 'node:fs';
import type { Worker } from 'node:worker_threads';
import { makeEntryFiles } from './queue-dir.js';

/**
 * Fills the job directory `dir` (which exists). Logs are appended to, never truncated: a
 * job already started there keeps what it wrote. Self-contained, only its parameters: the
 * worker runs it from its source text.
 */
function fillJobDirectoryWith(fs: Pick<typeof import('node:fs'), 'mkdirSync' | 'openSync' | 'closeSync' | 'constants'>, dir: string): void {
  try {
    fs.mkdirSync(`${dir}/results`, { mode: 0o700 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  const c = fs.constants;
  const flags = c.O_WRONLY | c.O_APPEND | c.O_CREAT | c.O_NOFOLLOW | c.O_NONBLOCK;
  fs.closeSync(fs.openSync(`${dir}/stdout.log`, flags, 0o600));
  fs.closeSync(fs.openSync(`${dir}/stderr.log`, flags, 0o600));
}

const FS = { closeSync, constants, mkdirSync, openSync };

/** Fills a job directory that exists, in this thread. */
export const fillJobDirectory = (dir: string): void => fillJobDirectoryWith(FS, dir);

/** From this many jobs a submit fills their directories on a worker (~30 ms to start one). */
export const WORKER_FROM = 512;

/**
 * The worker's program. It takes { dirs, entries } (job directories to fill, queue entries
 * to make as makeEntryFiles does, one series of links for the whole submit) and does them
 * in order; at the message `null` it answers { done: how many directories }. At the first
 * error it answers { error } at once, sets status[0] (for the submitter to see without a
 * turn of its event loop) and stops. UWSRUN_TEST_FILLER_DIES_AFTER=N (tests only) makes it
 * throw after N directories, as a worker that crashes.
 */
const WORKER_SOURCE = `
'use strict';
const { parentPort, workerData } = require('node:worker_threads');
const fs = require('node:fs');
const fill = ${fillJobDirectoryWith.toString()};
const makeEntries = ${makeEntryFiles.toString()};
const status = new Int32Array(workerData.status);
const dieAfter = workerData.dieAfter;
const links = { linking: true };
let failed = false;
let filled = 0;
parentPort.on('message', (work) => {
  if (failed) return;
  if (work === null) {
    parentPort.postMessage({ done: filled });
    parentPort.close();
    return;
  }
  let path;
  try {
    for (const dir of work.dirs) {
      if (dieAfter > 0 && filled >= dieAfter) throw Object.assign(new Error('test: the worker dies'), { crash: true });
      path = dir;
      fill(fs, dir);
      filled++;
    }
    path = work.entries[0];
    makeEntries(fs, work.entries, links);
  } catch (err) {
    if (err.crash) throw err;
    failed = true;
    Atomics.store(status, 0, 1);
    parentPort.postMessage({ error: { message: err.message, code: err.code, path } });
    parentPort.close();
  }
});
`;

const CHUNK = 256;

type WorkerAnswer = { done?: number; error?: { message: string; code?: string; path: string } };

/**
 * Fills job directories on a worker thread, in the order added. add() never blocks;
 * finish() resolves when all are filled and the worker has ended, and rejects with the
 * worker's first error (an Error with its errno code, for writeError) or when the worker
 * died; stop() ends it at once.
 */
export class JobDirFiller {
  private dirs: string[] = [];
  private entries: string[] = [];
  private added = 0;
  private readonly outcome: Promise<void>;
  private readonly exited: Promise<void>;

  private constructor(private readonly worker: Worker, private readonly status: Int32Array) {
    let answered = false;
    this.exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
    this.outcome = new Promise<void>((resolve, reject) => {
      worker.on('message', (m: WorkerAnswer) => {
        answered = true;
        if (m.error) reject(Object.assign(new Error(m.error.message), { code: m.error.code, path: m.error.path }));
        else if (m.done === this.added) resolve();
        else reject(new Error(`the worker filled ${m.done} job directories of ${this.added}`));
      });
      worker.on('error', (err) => reject(new Error(`the worker making job directories failed: ${err.message}`)));
      // Its answer comes before its exit; an exit without one is a worker that died.
      worker.on('exit', (code) => {
        if (!answered) reject(new Error(`the worker making job directories ended (exit ${code}) before it was done`));
      });
    });
    // Observed here, so that a failure before finish() is awaited is no unhandled rejection.
    this.outcome.catch(() => undefined);
  }

  static async start(): Promise<JobDirFiller> {
    const { Worker } = await import('node:worker_threads');
    const status = new Int32Array(new SharedArrayBuffer(4));
    const worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { status: status.buffer, dieAfter: Number(process.env.UWSRUN_TEST_FILLER_DIES_AFTER) || 0 },
    });
    return new JobDirFiller(worker, status);
  }

  /** A job directory to fill, and the job's queue entry to make (a path in HOME/queue/). */
  add(dir: string, entry?: string): void {
    this.dirs.push(dir);
    if (entry !== undefined) this.entries.push(entry);
    this.added++;
    if (this.dirs.length >= CHUNK) this.flush();
  }

  /** Whether the worker has reported an error already: the caller can stop early. */
  get failed(): boolean {
    return Atomics.load(this.status, 0) !== 0;
  }

  private flush(): void {
    if (this.dirs.length === 0 && this.entries.length === 0) return;
    this.worker.postMessage({ dirs: this.dirs, entries: this.entries });
    this.dirs = [];
    this.entries = [];
  }

  async finish(): Promise<void> {
    this.flush();
    this.worker.postMessage(null);
    await this.outcome;
    await this.exited;
  }

  /** Ends the worker at once (a failed submit, before it removes its jobs' directories). */
  async stop(): Promise<void> {
    await this.worker.terminate();
    await this.exited;
  }
}
