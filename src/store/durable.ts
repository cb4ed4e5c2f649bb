// Crash-safe file replacement: write a temp file with a name no other process uses, fsync
// it, rename it over the target, fsync the directory. A reader sees the old file or the new
// one, never a torn one, and a crash never loses a write that was reported as done.
//
// What can go wrong on the way is handled here, once, for every file uwsrun keeps (state,
// good copy, job records, run-id index, definitions cache):
//   - a short write (a full disk often accepts part of a write(2) without an error) is
//     continued until every byte is written; the next write then reports ENOSPC, or, if the
//     kernel keeps accepting nothing, the write fails as "short write". The temp file is
//     removed and the target is never renamed over: the previous version stays in place.
//   - nothing is written through a symbolic link: temp files are created exclusively with
//     O_NOFOLLOW, and rename(2) replaces a link at the target instead of following it.
//     Reads of uwsrun's own files (readOwnFile) refuse a link and a non-regular file (a
//     FIFO would block the reader), so a planted link never steers uwsrun anywhere.
//   - writeError turns what failed into one line in words for the operator.
//
// Replacing a file that was synced frees its blocks, and on a file system mounted with
// `discard` (this machine's ext4) freeing synced blocks waits for the device to discard
// them: 0.1-0.3 ms per file on a quiet disk, several ms on a busy one. A writer under the
// lock replaces with replaceKeepingOld instead: the old version keeps a second name until
// dropKeptVersions, called once the lock is released, so the freeing is nobody's wait.

import {
  close, closeSync, constants, fdatasync, fdatasyncSync, fstatSync, fsync, fsyncSync, linkSync, open, openSync, promises as fsp,
  readFileSync, renameSync, unlinkSync, write, writeSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { UserError, storeError } from '../errors.js';

export function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** pid + a per-process counter: no two live processes ever pick the same temp name. */
let tmpCounter = 0;

/** A written, not yet synced, temp file beside its target. */
export interface PendingFile {
  path: string;
  tmp: string;
  fd: number;
}

const tempName = (path: string): string =>
  join(dirname(path), `.${basename(path)}.${process.pid}.${(tmpCounter++).toString(36)}.tmp`);

const CREATE_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;

/** write(2) that accepted nothing this many times in a row: give up (the disk takes no more). */
const MAX_ZERO_WRITES = 3;

const shortWrite = (path: string): NodeJS.ErrnoException =>
  Object.assign(new Error(`short write to ${path}`), { code: 'ESHORTWRITE' });

/** Writes every byte of `data` to `fd`, continuing after short writes. */
export function writeAll(fd: number, data: Uint8Array, path: string): void {
  let done = 0;
  let zeros = 0;
  while (done < data.length) {
    const n = writeSync(fd, data, done, data.length - done);
    if (n > 0) {
      done += n;
      zeros = 0;
    } else if (++zeros >= MAX_ZERO_WRITES) {
      throw shortWrite(path);
    }
  }
}

/** Writes `text` to a fresh temp file beside `path`; the caller syncs and commits it. */
export function writeTemp(path: string, text: string, mode = 0o600): PendingFile {
  const tmp = tempName(path);
  const fd = openSync(tmp, CREATE_FLAGS, mode);
  try {
    writeAll(fd, Buffer.from(text, 'utf8'), tmp);
  } catch (err) {
    discardTemp({ path, tmp, fd });
    throw err;
  }
  return { path, tmp, fd };
}

export function discardTemp(file: PendingFile): void {
  try { closeSync(file.fd); } catch { /* already closed */ }
  try { unlinkSync(file.tmp); } catch { /* already gone */ }
}

/**
 * Syncs the temp file's data (unless `sync` is false), closes it and renames it over its
 * target (`keepOld`: see replaceKeepingOld). close(2) is checked too: some file systems
 * report a failed write only there.
 */
export function commitTemp(file: PendingFile, sync = true, keepOld = false): void {
  try {
    if (sync) fdatasyncSync(file.fd);
    closeSync(file.fd);
    if (keepOld) replaceKeepingOld(file.tmp, file.path);
    else renameSync(file.tmp, file.path);
  } catch (err) {
    discardTemp(file);
    throw err;
  }
}

/** Old versions kept alive by replaceKeepingOld, to be unlinked by dropKeptVersions. */
const keptVersions: string[] = [];

/**
 * rename(2) of `tmp` over `path`, the old `path` first given a second name (a temp name
 * beside it: a link costs no block) so the rename frees nothing (see the top comment). A
 * process killed before dropKeptVersions leaves the old version under a temp name, as it
 * would leave a temp file.
 */
export function replaceKeepingOld(tmp: string, path: string): void {
  const kept = tempName(path);
  let linked = false;
  try {
    linkSync(path, kept);
    linked = true;
  } catch { /* no old version (or no hard links): a plain rename */ }
  try {
    renameSync(tmp, path);
  } catch (err) {
    if (linked) try { unlinkSync(kept); } catch { /* gone */ }
    throw err;
  }
  if (linked) keptVersions.push(kept);
}

/** Unlinks the old versions replaceKeepingOld kept: after the lock is released. */
export function dropKeptVersions(): void {
  for (const kept of keptVersions.splice(0)) {
    try { unlinkSync(kept); } catch { /* gone */ }
  }
}

export function writeFileDurable(path: string, text: string, mode = 0o600): void {
  commitTemp(writeTemp(path, text, mode));
  fsyncDir(dirname(path));
}

/**
 * Replaces `path` by temp file + rename without fsync: for copies that only help (the good
 * copy of the state, the definitions cache), which a crash may lose but never tear.
 */
export function replaceFile(path: string, text: string, mode = 0o600): void {
  commitTemp(writeTemp(path, text, mode), false);
}

/**
 * The same as writeTemp + commitTemp, on libuv's thread pool: many files written this way
 * at once share the journal commits of their fsyncs, and the caller's thread never waits.
 * The caller syncs the directory.
 */
export async function writeFileDurableAsync(path: string, text: string, mode = 0o600): Promise<void> {
  const tmp = tempName(path);
  const fd = await openAsync(tmp, CREATE_FLAGS, mode);
  try {
    const data = Buffer.from(text, 'utf8');
    let done = 0;
    let zeros = 0;
    while (done < data.length) {
      const bytesWritten = await writeAsync(fd, data, done, data.length - done);
      done += bytesWritten;
      if (bytesWritten > 0) zeros = 0;
      else if (++zeros >= MAX_ZERO_WRITES) throw shortWrite(tmp);
    }
    await fdatasyncAsync(fd);
    await closeAsync(fd);
  } catch (err) {
    await closeAsync(fd).catch(() => undefined);
    await fsp.unlink(tmp).catch(() => undefined);
    throw err;
  }
  await fsp.rename(tmp, path).catch(async (err: unknown) => {
    await fsp.unlink(tmp).catch(() => undefined);
    throw err;
  });
}

// The callback API on libuv's thread pool, not FileHandles: the server syncs ~6 paths per
// creation and the runner writes each final record this way, and a FileHandle's open, sync
// and close cost the calling thread about twice the CPU (0.48 against 0.27 ms per 10 paths
// here), in the time every other request waits for.
const openAsync = (path: string, flags: number | string, mode?: number): Promise<number> =>
  new Promise((resolve, reject) => open(path, flags, mode, (err, fd) => (err ? reject(err) : resolve(fd))));
const writeAsync = (fd: number, data: Buffer, offset: number, length: number): Promise<number> =>
  new Promise((resolve, reject) => write(fd, data, offset, length, null, (err, n) => (err ? reject(err) : resolve(n))));
const fdatasyncAsync = (fd: number): Promise<void> =>
  new Promise((resolve, reject) => fdatasync(fd, (err) => (err ? reject(err) : resolve())));
const fsyncAsync = (fd: number): Promise<void> =>
  new Promise((resolve, reject) => fsync(fd, (err) => (err ? reject(err) : resolve())));
const closeAsync = (fd: number): Promise<void> =>
  new Promise((resolve, reject) => close(fd, (err) => (err ? reject(err) : resolve())));

/** fsync of a directory (or a file: it is opened read-only either way) on libuv's thread pool. */
export async function fsyncDirAsync(dir: string): Promise<void> {
  const fd = await openAsync(dir, 'r');
  try {
    await fsyncAsync(fd);
  } finally {
    await closeAsync(fd);
  }
}

/**
 * fsync of every path (files or directories) at once on libuv's thread pool: the file
 * system commits several together, and the event loop goes on meanwhile. All are settled
 * before the first error is thrown, so a caller that then removes the files races none.
 */
export async function fsyncAllAsync(paths: readonly string[]): Promise<void> {
  const outcomes = await Promise.allSettled(paths.map(fsyncDirAsync));
  const failed = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected');
  if (failed) throw failed.reason;
}

/**
 * Reads one of uwsrun's own files: never through a symbolic link (ELOOP) and only when it
 * is a regular file (ENOTREG otherwise; O_NONBLOCK keeps a FIFO from blocking the open).
 */
export function readOwnFile(path: string): string {
  const fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  try {
    if (!fstatSync(fd).isFile()) throw Object.assign(new Error(`${path} is not a regular file`), { code: 'ENOTREG' });
    return readFileSync(fd, 'utf8');
  } finally {
    closeSync(fd);
  }
}

const errnoOf = (err: unknown): string | undefined => (err as NodeJS.ErrnoException | null)?.code;

/** What went wrong with a file of HOME, in words (the errno in parentheses). */
export function describeFsError(err: unknown, home: string): string {
  const code = errnoOf(err);
  switch (code) {
    case 'ENOSPC': return `HOME ${home} is full (no space left on device)`;
    case 'EDQUOT': return `HOME ${home} is over its disk quota (EDQUOT)`;
    case 'EROFS': return `HOME ${home} is on a read-only file system (EROFS)`;
    case 'EIO': return `input/output error in HOME ${home} (EIO)`;
    case 'ESHORTWRITE': return `HOME ${home} accepted only part of a write (short write)`;
    case 'EACCES': case 'EPERM': return `permission denied in HOME ${home} (${code})`;
    case 'ELOOP': return `a symbolic link in HOME ${home} where uwsrun keeps its own file (ELOOP)`;
    case 'ENOTREG': return `a file that is not a regular file in HOME ${home}`;
    default: return `HOME ${home}: ${code ?? String(err)}`;
  }
}

/** exit 5 for a failed write of `what` ("the state", "a job record"); UserErrors pass as they are. */
export function writeError(err: unknown, home: string, what: string): UserError {
  if (err instanceof UserError) return err;
  return storeError(`cannot write ${what}: ${describeFsError(err, home)}`);
}
