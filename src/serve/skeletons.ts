// Job skeletons made ahead, so that a creation writes little more than its record. A new
// job has two directories, records/ID and jobs/ID (results/ and two empty logs inside):
// five new inodes, each 0.2-0.6 ms of kernel time on this machine's journal-less ext4
// (allocating an inode is what costs; a rename(2) of a directory is a third of it). The
// server makes them here ahead of need, on libuv's thread pool while its main thread serves
// requests, in a staging directory of its own (HOME/skeletons/PID-START/, rec-ID and
// job-ID), a few at a time. A creation takes ready ones (next(), for core/submit.ts
// writeReservedJobs): two renames put both directories in place, and the creation's own
// fsyncs of records/ID and records/ make them durable exactly as after a mkdir (nothing
// here needs a sync: a crash loses only skeletons). With none ready (a burst used them up,
// a full disk) a creation makes its own directories as before.
//
// A skeleton is nobody's job and nothing reads the staging directory: not in records/ or
// jobs/, no index line, nothing in the state, so listings and `doctor` never meet it. The
// ids are fresh random ones (core/job.ts newJobId); one that a record directory holds
// already (an archived job's, which keeps its record alone) fails the rename (ENOTEMPTY)
// and the skeleton is dropped. At SIGTERM the server removes its staging directory; a
// server killed -9 leaves it, and `tick` removes the staging directories of processes
// that are gone (run/housekeeping.ts, removeDeadSkeletons).

import { constants, readdirSync, renameSync, rmSync } from 'node:fs';
import { mkdir, open } from 'node:fs/promises';
import { join } from 'node:path';
import { newJobId } from '../core/job.js';
import { claimant, type Store } from '../store/state.js';
import { isProcessAlive } from '../run/proc.js';

/** Skeletons kept ready: a few flushes of 8 concurrent clients. */
const POOL = 32;
/** Made (and synced) together. */
const CHUNK = 8;
/** After a failure to make one (a full disk, no inodes), no new attempt for this long. */
const RETRY_MS = 5_000;

/** HOME/skeletons: one staging directory per server process, named PID-START. */
export const skeletonsRoot = (home: string): string => join(home, 'skeletons');

export class Skeletons {
  private readonly ready: string[] = [];
  private filling: Promise<void> | undefined;
  private pausedUntil = 0;
  private closed = false;
  private readonly dir: string;

  constructor(private readonly store: Store) {
    const me = claimant();
    this.dir = join(skeletonsRoot(store.home), `${me.pid}-${me.pidStart}`);
  }

  /**
   * The next ready skeleton, moved into place: records/ID and jobs/ID exist (records/
   * still to be synced by the caller). Undefined when none is ready.
   */
  next(): string | undefined {
    const { layout } = this.store;
    for (;;) {
      const id = this.ready.shift();
      if (id === undefined) {
        this.refill();
        return undefined;
      }
      try {
        renameSync(join(this.dir, `rec-${id}`), layout.recordDir(id));
      } catch {
        this.remove(id);
        continue;
      }
      try {
        renameSync(join(this.dir, `job-${id}`), layout.jobDir(id));
      } catch {
        rmSync(layout.recordDir(id), { recursive: true, force: true });
        this.remove(id);
        continue;
      }
      if (this.ready.length < POOL / 2) this.refill();
      return id;
    }
  }

  /** Makes skeletons in the background until POOL are ready (one fill at a time). */
  refill(): void {
    if (this.closed || this.filling || this.ready.length >= POOL || Date.now() < this.pausedUntil) return;
    this.filling = this.fill().finally(() => {
      this.filling = undefined;
    });
  }

  /** Stopping: no more are made, and the staging directory goes. */
  async close(): Promise<void> {
    this.closed = true;
    await this.filling;
    this.ready.length = 0;
    rmSync(this.dir, { recursive: true, force: true });
  }

  private async fill(): Promise<void> {
    while (!this.closed && this.ready.length < POOL) {
      const made: string[] = [];
      try {
        await mkdir(this.dir, { recursive: true, mode: 0o700 });
        const want = Math.min(CHUNK, POOL - this.ready.length);
        for (let i = 0; i < want; i++) {
          const id = newJobId();
          made.push(id);
          await this.makeOne(id);
        }
      } catch {
        for (const id of made) this.remove(id);
        this.pausedUntil = Date.now() + RETRY_MS;
        return;
      }
      if (this.closed) return;
      this.ready.push(...made);
    }
  }

  private async makeOne(id: string): Promise<void> {
    await mkdir(join(this.dir, `rec-${id}`), { mode: 0o700 });
    const job = join(this.dir, `job-${id}`);
    await mkdir(job, { mode: 0o700 });
    // As store/job-dirs.ts fillJobDirectory makes them.
    await mkdir(join(job, 'results'), { mode: 0o700 });
    const flags = constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW | constants.O_NONBLOCK;
    for (const log of ['stdout.log', 'stderr.log']) await (await open(join(job, log), flags, 0o600)).close();
  }

  private remove(id: string): void {
    for (const name of [`rec-${id}`, `job-${id}`]) {
      try {
        rmSync(join(this.dir, name), { recursive: true, force: true });
      } catch { /* left in the staging directory, which goes at stop or by tick */ }
    }
  }
}

/** The staging directories of servers that are gone (killed -9): removed; what was said. */
export function removeDeadSkeletons(home: string): string[] {
  const root = skeletonsRoot(home);
  let names: string[];
  try {
    names = readdirSync(root);
  } catch {
    return [];
  }
  const lines: string[] = [];
  for (const name of names) {
    const m = /^(\d+)-(\d*)$/.exec(name);
    if (!m || isProcessAlive(Number(m[1]), m[2] || null)) continue;
    rmSync(join(root, name), { recursive: true, force: true });
    lines.push(`removed the job skeletons of server ${m[1]}, which is gone`);
  }
  return lines;
}
