// syncfs(2) for writers of many files at once: one call makes every file of HOME's file
// system durable, where one fsync per file and directory costs thousands of journal commits
// (a 100,000-line --params-from, a `run` of 2,000 ids). Node has no binding for it, so it is
// coreutils' `sync -f PATH` (Essential on Debian), a process of ~1 ms. node:child_process is
// loaded only by prepareSyncfs(), awaited by the commands that may need it before they take
// the lock, so that the synchronous transaction can call syncFileSystem(). Outside a
// transaction (a submit's files) syncFileSystemAsync waits for it without blocking the event
// loop: `uwsrun serve` answers other requests meanwhile.

import type { spawn as Spawn, spawnSync as SpawnSync } from 'node:child_process';

/** Fewer files than this are synced one by one; a process would cost more. */
export const SYNCFS_FROM = 17;

let spawnSync: typeof SpawnSync | undefined;

export async function prepareSyncfs(): Promise<void> {
  spawnSync ??= (await import('node:child_process')).spawnSync;
}

/**
 * Syncs the file system that holds `path`. False when it could not be tried (not prepared,
 * or no `sync` program): the caller syncs file by file. A failed sync throws EIO.
 */
export function syncFileSystem(path: string): boolean {
  if (!spawnSync) return false;
  const r = spawnSync('sync', ['-f', path], { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
  if (r.error) return false;
  if (r.status !== 0) throw Object.assign(new Error(`sync -f ${path} failed: ${r.stderr.trim()}`), { code: 'EIO' });
  return true;
}

let spawn: typeof Spawn | undefined;

/** syncFileSystem without blocking: the process is waited for asynchronously. */
export async function syncFileSystemAsync(path: string): Promise<boolean> {
  spawn ??= (await import('node:child_process')).spawn;
  const child = spawn('sync', ['-f', path], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (d: string) => (stderr += d));
  const outcome = await new Promise<number | Error>((resolve) => {
    child.once('error', resolve);
    child.once('close', (code) => resolve(code ?? 1));
  });
  if (outcome instanceof Error) return false;
  if (outcome !== 0) throw Object.assign(new Error(`sync -f ${path} failed: ${stderr.trim()}`), { code: 'EIO' });
  return true;
}
