// Crash-safe file replacement: write a temp file with a name no other process uses, fsync
// it, rename it over the target, fsync the directory. A reader sees the old file or the new
// one, never a torn one, and a crash never loses a write that was reported as done.

import { closeSync, fdatasyncSync, fsyncSync, openSync, promises as fsp, renameSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

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

/** Writes `text` to a fresh temp file beside `path`; the caller syncs and commits it. */
export function writeTemp(path: string, text: string, mode = 0o600): PendingFile {
  const tmp = tempName(path);
  const fd = openSync(tmp, 'wx', mode);
  try {
    writeSync(fd, text);
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

/** Syncs the temp file's data, closes it and renames it over its target. */
export function commitTemp(file: PendingFile): void {
  try {
    fdatasyncSync(file.fd);
    closeSync(file.fd);
    renameSync(file.tmp, file.path);
  } catch (err) {
    discardTemp(file);
    throw err;
  }
}

export function writeFileDurable(path: string, text: string, mode = 0o600): void {
  commitTemp(writeTemp(path, text, mode));
  fsyncDir(dirname(path));
}

/**
 * The same as writeTemp + commitTemp, on libuv's thread pool: many files written this way
 * at once share the journal commits of their fsyncs, and the caller's thread never waits.
 * The caller syncs the directory.
 */
export async function writeFileDurableAsync(path: string, text: string, mode = 0o600): Promise<void> {
  const tmp = tempName(path);
  const fh = await fsp.open(tmp, 'wx', mode);
  try {
    await fh.writeFile(text);
    await fh.datasync();
  } catch (err) {
    await fh.close().catch(() => undefined);
    await fsp.unlink(tmp).catch(() => undefined);
    throw err;
  }
  await fh.close();
  await fsp.rename(tmp, path).catch(async (err: unknown) => {
    await fsp.unlink(tmp).catch(() => undefined);
    throw err;
  });
}

export async function fsyncDirAsync(dir: string): Promise<void> {
  const fh = await fsp.open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
