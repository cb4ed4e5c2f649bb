// The queue directory, HOME/queue/: one empty file per QUEUED job (the entries of one
// submit are hard links of one file: see addEntries), whose name says all the runner needs
// to pick jobs FIFO within the limits, so it never reads a queued job's record until it
// starts it:
//     <queuedAt, 12 digits>.<jobId>.[s]<maxRunning or "-">[w].<definition>
// Names sort in queue order. The `s` marks a job of the slurm executor (SPEC §11: the
// HOME-wide limit does not count it), e.g. 000000000042.Kx3Vq9ZtR2mB7wLp.s4.reduce.
// The `w` marks a job that may have to wait before it starts
// (dependencies, a start time: core/gate.ts); only such jobs' records are read before their
// start, and each only once by a runner (run/waiting.ts). A QUEUED job's truth is its record (job.json, phase QUEUED
// with queuedAt); the entry is an index of it, created (O_EXCL, directory synced) before the
// record says QUEUED and removed after the job left the queue (started, aborted, deleted).
// So a crash can leave an entry whose job is no longer queued, never a queued job without
// an entry; the runner drops such stale entries when it looks at them.
// The runner keeps the listing in memory (QueueListing) and reads the directory again only
// when a transaction may have added entries.

import { closeSync, fsyncSync, linkSync, openSync, opendirSync, readdirSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import type { JobRecord } from '../core/job.js';
import { mayWait } from '../core/gate.js';
import type { HomeLayout } from './home.js';
import { fileKey } from './home.js';
import { fsyncDir } from './durable.js';

export interface QueueEntry {
  name: string;
  queuedAt: number;
  jobId: string;
  maxRunning: number | null;
  /** The definition's name, or (too long for a file name) '#' and a hash of it. */
  defKey: string;
  /** Whether the job may have to wait before it starts (see the top). */
  waits: boolean;
  /** Handed over to Slurm rather than started here (the HOME-wide limit does not count it). */
  slurm: boolean;
}

/** What an entry's name is made of. */
export type EntryFields = Pick<JobRecord, 'jobId' | 'queuedAt' | 'maxRunning' | 'definition'> & Partial<Pick<JobRecord, 'after' | 'notBefore' | 'retryAfter' | 'executor'>>;

const REREAD_MS = 10_000;
const NAME = /^(\d{12})\.([A-Za-z0-9][A-Za-z0-9_-]{5,31})\.(s?)(\d+|-)(w?)\.(.+)$/;

/** What groups jobs for maxRunning: the definition's name, hashed when it is very long. */
export const definitionKey = (definition: string): string =>
  definition.length <= 160 ? definition : `#${fileKey(definition)}`;

export function entryName(job: EntryFields): string {
  const waits = mayWait(job) ? 'w' : '';
  const slurm = job.executor === 'slurm' ? 's' : '';
  return `${String(job.queuedAt ?? 0).padStart(12, '0')}.${job.jobId}.${slurm}${job.maxRunning ?? '-'}${waits}.${definitionKey(job.definition)}`;
}

export function parseEntry(name: string): QueueEntry | undefined {
  const m = NAME.exec(name);
  if (!m) return undefined;
  return { name, queuedAt: Number(m[1]), jobId: m[2]!, maxRunning: m[4] === '-' ? null : Number(m[4]), defKey: m[6]!, waits: m[5] === 'w', slurm: m[3] === 's' };
}

/**
 * Creates the entries of queued jobs (existing ones are kept); `sync`: the directory too.
 * Only names matter, so the second and later entries are hard links to the first one made:
 * a link costs the file system a name, a new file an inode too, and allocating an inode on
 * this machine's ext4 (no journal: it scans past every inode freed in the last minutes) cost
 * ~17 times a link, the most of any file of a 100,000-line --params-from. Where a link is
 * refused (the inode's link limit, 65,000 on ext4; a file system without hard links; the
 * first entry gone meanwhile) that entry is a file of its own, and the next link to it.
 */
export function addEntries(layout: HomeLayout, jobs: EntryFields[], sync = true): void {
  if (jobs.length === 0) return;
  layout.ensureQueueDir();
  makeEntryFiles(FS, jobs.map((job) => join(layout.queueDir, entryName(job))), { linking: true });
  if (sync) fsyncDir(layout.queueDir);
}

/** What the next entry of a series is linked to (see addEntries). */
export interface EntryLinks {
  first?: string;
  /** False once the file system refused hard links as such. */
  linking: boolean;
}

const FS = { closeSync, linkSync, openSync };

/**
 * Makes the entry files `paths`, existing ones kept, as addEntries says. Self-contained, only
 * its parameters: the worker of store/job-dirs.ts runs it from its source text.
 */
export function makeEntryFiles(fs: Pick<typeof import('node:fs'), 'closeSync' | 'linkSync' | 'openSync'>, paths: string[], links: EntryLinks): void {
  for (const path of paths) {
    if (links.first !== undefined && links.linking) {
      try {
        fs.linkSync(links.first, path);
        continue;
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'EEXIST') continue;
        if (code === 'EPERM' || code === 'ENOTSUP' || code === 'EOPNOTSUPP' || code === 'ENOSYS') links.linking = false;
        else if (code !== 'EMLINK' && code !== 'ENOENT') throw err;
      }
    }
    try {
      fs.closeSync(fs.openSync(path, 'wx', 0o600));
      links.first = path;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
}

/** Removes a job's entry; one already gone is fine. */
export function removeEntry(layout: HomeLayout, name: string): void {
  try {
    unlinkSync(join(layout.queueDir, name));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

/** All entries, in queue order. O(queued jobs). */
export function readEntries(layout: HomeLayout): QueueEntry[] {
  let names: string[];
  try {
    names = readdirSync(layout.queueDir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const entries: QueueEntry[] = [];
  for (const name of names.sort()) {
    const e = parseEntry(name);
    if (e) entries.push(e);
  }
  return entries;
}

/** Whether any entry (that `skip` does not skip) exists: reads up to the first such one. */
export function hasEntries(layout: HomeLayout, skip: (e: QueueEntry) => boolean = () => false): boolean {
  let dir;
  try {
    dir = opendirSync(layout.queueDir);
  } catch {
    return false;
  }
  try {
    for (let d = dir.readSync(); d !== null; d = dir.readSync()) {
      const e = parseEntry(d.name);
      if (e && !skip(e)) return true;
    }
    return false;
  } finally {
    dir.closeSync();
  }
}

/**
 * The runner's listing of the queue directory, read again only when it may have gained
 * entries. Entries are added only by transactions that also change `revision` (the state's
 * queueSeq and its submits in progress, see Store.queueRevision), so a revision unchanged
 * since the last reading means nothing new to start; entries that went away are found
 * stale when looked at. A reading every REREAD_MS backs that up.
 */
export class QueueListing {
  private entries: QueueEntry[] = [];
  private revision = '';
  private readAt = 0;

  constructor(private readonly layout: HomeLayout) {}

  list(revision: string, now = Date.now()): QueueEntry[] {
    if (revision !== this.revision || now - this.readAt > REREAD_MS) {
      this.entries = readEntries(this.layout);
      this.revision = revision;
      this.readAt = now;
    }
    return this.entries;
  }

  /** The directory is read again next time (entries were added by the caller's own commit). */
  invalidate(): void {
    this.revision = '';
  }

  /** Forgets entries the caller removed (or found stale) without reading the directory. */
  drop(names: Set<string>): void {
    if (names.size > 0) this.entries = this.entries.filter((e) => !names.has(e.name));
  }
}

/** Syncs a file by path (for entries and records written without their own fsync). */
export function fsyncPath(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
