// Crash-safe file replacement: write a temp file with a name no other process uses, fsync
// it, rename it over the target, fsync the directory. A reader sees the old file or the new
// one, never a torn one, and a crash never loses a write that was reported as done.

import { closeSync, fdatasyncSync, fsyncSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
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

/**
 * The first half of writeFileDurable for batches: writes a temp file and renames it over
 * `path`, returning the open descriptor so the caller can fsync many files together (and
 * then their directories) before relying on them.
 */
export function writeFileNoSync(path: string, text: string, mode = 0o600): number {
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${(tmpCounter++).toString(36)}.tmp`);
  const fd = openSync(tmp, 'wx', mode);
  try {
    writeSync(fd, text);
    renameSync(tmp, path);
  } catch (err) {
    closeSync(fd);
    try { unlinkSync(tmp); } catch { /* already gone */ }
    throw err;
  }
  return fd;
}

export function writeFileDurable(path: string, text: string, mode = 0o600): void {
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${(tmpCounter++).toString(36)}${Math.random().toString(36).slice(2, 8)}.tmp`);
  const fd = openSync(tmp, 'wx', mode);
  try {
    try {
      writeSync(fd, text);
      fdatasyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (err) {
    try { unlinkSync(tmp); } catch { /* already gone */ }
    throw err;
  }
  fsyncDir(dir);
}
