// The inter-process lock around every read-modify-write of the state: the same mechanism as
// proper-lockfile (an atomically created lock entry beside the state file, taken over when
// its holder is gone, a retry loop with a deadline), written here because loading
// proper-lockfile (graceful-fs, signal-exit, node:assert) cost ~17 ms of every command's
// ~70 ms, and because a holder's identity beats an mtime: the lock file holds the holder's
// pid and process start time, so a lock left by a killed process is taken over at once
// (liveness from /proc, not a clock), while a live holder is never judged stale however long
// it works. A lock file without a readable owner (its creator died between creating and
// writing it) is stale after STALE_MS by its mtime.
//
// Taking over is itself guarded by a second lock (`.takeover`, created exclusively), so two
// processes that both find the lock stale cannot both remove it and then both hold a fresh
// one. Critical sections are synchronous and short; the deadline gives exit 5, not a hang.

import { closeSync, existsSync, openSync, readFileSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { storeError } from '../errors.js';
import { isProcessAlive, processStartTime } from '../run/proc.js';
import { describeLockHolder } from './lock-holder.js';

const STALE_MS = 5_000;
const LOCK_DEADLINE_MS = Number(process.env.UWSRUN_LOCK_TIMEOUT_MS) || 10_000;
/** The longest pause between two attempts (times 0.5 to 1.5, at random). */
export const MAX_BACKOFF_MS = 10;

const sleeper = new Int32Array(new SharedArrayBuffer(4));
export const sleepSync = (ms: number): void => {
  Atomics.wait(sleeper, 0, 0, ms);
};

let myIdentity: string | undefined;
const identity = (): string => (myIdentity ??= `${process.pid} ${processStartTime(process.pid) ?? ''}`);

/** Creates `path` exclusively with our identity inside; false when it exists. */
function createExclusive(path: string, content: string): boolean {
  let fd: number;
  try {
    fd = openSync(path, 'wx', 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
  try {
    writeSync(fd, content);
  } finally {
    closeSync(fd);
  }
  return true;
}

/**
 * The content of the lock at `path` when it belongs to nobody alive (its holder's pid and
 * start time name no live process, or it has no owner and is older than STALE_MS);
 * undefined when it is live or gone.
 */
export function staleLockContent(path: string): string | undefined {
  let text: string;
  let mtimeMs: number;
  try {
    text = readFileSync(path, 'utf8');
    mtimeMs = statSync(path).mtimeMs;
  } catch {
    return undefined; // gone already: just retry
  }
  const [pid, start] = text.trim().split(' ');
  const stale = pid && start && /^\d+$/.test(pid) ? !isProcessAlive(Number(pid), start) : Date.now() - mtimeMs > STALE_MS;
  return stale ? text : undefined;
}

/**
 * Removes the lock at `path` if it is stale. Only the lock that was judged is removed:
 * between reading it and finding its holder gone, that holder may have released it and
 * another process taken a fresh one (its holder then exiting is what makes it look dead).
 * A lock whose holder is dead is removed by nobody but a takeover, so a lock that still
 * reads the same right before the unlink is the one judged.
 */
export function removeStaleLock(path: string): boolean {
  const judged = staleLockContent(path);
  if (judged === undefined) return false;
  try {
    if (readFileSync(path, 'utf8') !== judged) return false;
    unlinkSync(path);
    return true;
  } catch {
    return false; // gone meanwhile
  }
}

function removeIfStale(lockFile: string): void {
  const guard = `${lockFile}.takeover`;
  if (!createExclusive(guard, identity())) {
    removeStaleLock(guard);
    return;
  }
  try {
    removeStaleLock(lockFile);
  } finally {
    try { unlinkSync(guard); } catch { /* taken over as stale meanwhile */ }
  }
}

/**
 * A waiter that failed a few times says so in `state.lock.want`: a holder that takes the
 * lock again and again (the runner, while a queue drains) then leaves it free for a moment
 * (lockWanted), so waiters are not starved. The next holder removes the file; other
 * waiters renew it on their next failed attempt.
 */
const waiterFile = (lockFile: string): string => `${lockFile}.want`;

function announceWaiter(lockFile: string): void {
  try {
    closeSync(openSync(waiterFile(lockFile), 'a', 0o600));
  } catch { /* only a courtesy */ }
}

export function lockWanted(lockFile: string): boolean {
  return existsSync(waiterFile(lockFile));
}

/** Takes the lock (retrying until the deadline: exit 5); returns the function that releases it. */
export function acquireLock(lockFile: string): () => void {
  const deadline = Date.now() + LOCK_DEADLINE_MS;
  for (let attempt = 0; ; attempt++) {
    let got: boolean;
    try {
      got = createExclusive(lockFile, identity());
    } catch (err) {
      throw storeError(`cannot create lock ${lockFile}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
    }
    if (got) break;
    if (attempt >= 2) announceWaiter(lockFile);
    if (attempt % 4 === 3) removeIfStale(lockFile);
    if (Date.now() >= deadline) {
      throw storeError(`the state is locked by ${describeLockHolder(lockFile)}; gave up waiting after ${LOCK_DEADLINE_MS / 1000} s (lock file ${lockFile})`);
    }
    sleepSync(Math.min(1 + attempt, MAX_BACKOFF_MS) * (0.5 + Math.random()));
  }
  if (existsSync(waiterFile(lockFile))) try { unlinkSync(waiterFile(lockFile)); } catch { /* another took it */ }
  return () => {
    try {
      unlinkSync(lockFile);
    } catch { /* taken over as stale: impossible while we live, but never throw here */ }
  };
}

export function withLock<T>(lockFile: string, body: () => T): T {
  const release = acquireLock(lockFile);
  try {
    return body();
  } finally {
    release();
  }
}
