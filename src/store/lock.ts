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
//
// A holder that is alive but stopped (SIGSTOP: state T in /proc) would keep the lock until
// someone continues it: a waiter that sees the same holder stopped throughout
// STOPPED_HOLDER_MS of its own waiting kills it (reclaimFromStoppedHolder), after which it
// is a dead holder like any other. Taking the lock from it alive would make two writers
// the moment it continues.
//
// Waiting: a command that meets the lock tries again after a growing back-off; one that has
// not got it within LINE_AFTER_MS joins the waiting line (WaitingLine, a flock(2) that only
// orders the waiters): the first in line tries every few ms, the others sleep in the kernel
// until it is their turn. So a storm of waiters costs the holder neither CPU nor directory
// operations. Without flock(1), waiting is fair by age (pauseAfter): the longer a command
// has waited, the more often it tries, so the oldest waiters are the likeliest to get it.

import { type FSWatcher, closeSync, constants, existsSync, openSync, readFileSync, statSync, unlinkSync, watch } from 'node:fs';
import { basename, dirname } from 'node:path';
import { describeFsError, writeAll } from './durable.js';
import { EXIT, UserError, storeError } from '../errors.js';
import { isProcessAlive, processStartTime, readProcStat } from '../run/proc.js';
import { describeLockHolder } from './lock-holder.js';

const STALE_MS = 5_000;
/** How long a waiter watches a stopped holder before it kills it (less than the deadline). */
const STOPPED_HOLDER_MS = 3_000;
const LOCK_DEADLINE_MS = Number(process.env.UWSRUN_LOCK_TIMEOUT_MS) || 10_000;
/** The longest pause between two attempts under light contention (times 0.5 to 1.5, at random). */
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
    fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
  try {
    writeAll(fd, Buffer.from(content), path);
  } catch (err) {
    closeSync(fd);
    try { unlinkSync(path); } catch { /* gone */ }
    throw err;
  }
  closeSync(fd);
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

export interface StoppedHolder {
  text: string;
  since: number;
}

/**
 * Watches for a lock holder that is stopped: returns the observation to pass to the next
 * call (undefined when the holder runs, or is gone); once the same holder has been seen
 * stopped for STOPPED_HOLDER_MS, SIGKILLs it (see the top comment).
 */
export function reclaimFromStoppedHolder(lockFile: string, seen: StoppedHolder | undefined, now = Date.now()): StoppedHolder | undefined {
  let text: string;
  try {
    text = readFileSync(lockFile, 'utf8');
  } catch {
    return undefined;
  }
  const [pid, start] = text.trim().split(' ');
  if (!pid || !/^\d+$/.test(pid) || Number(pid) <= 1) return undefined;
  const stat = readProcStat(Number(pid));
  // T only (SIGSTOP, SIGTSTP): a process held by a debugger (t) is someone's deliberate choice.
  if (!stat || stat.startTime !== start || stat.state !== 'T') return undefined;
  if (seen?.text !== text) return { text, since: now };
  if (now - seen.since < STOPPED_HOLDER_MS) return seen;
  try {
    process.kill(Number(pid), 'SIGKILL');
  } catch { /* gone meanwhile */ }
  return undefined;
}

/**
 * A waiter that failed a few times says so in `state.lock.want`: a holder that takes the
 * lock again and again (the runner, while a queue drains) then leaves it free for a moment
 * (lockWanted), and a newcomer that finds it does not jump in at once but waits its turn
 * in the polling below. The next holder removes the file; other waiters renew it on their
 * next failed attempt.
 */
const waiterFile = (lockFile: string): string => `${lockFile}.want`;

function announceWaiter(lockFile: string): void {
  // Looked up first: an open with O_CREAT locks the directory even when the file exists.
  if (existsSync(waiterFile(lockFile))) return;
  try {
    closeSync(openSync(waiterFile(lockFile), constants.O_WRONLY | constants.O_CREAT | constants.O_NOFOLLOW | constants.O_NONBLOCK, 0o600));
  } catch { /* only a courtesy */ }
}

export function lockWanted(lockFile: string): boolean {
  return existsSync(waiterFile(lockFile));
}

/** For a process that does not hold the lock: someone else holds it or waits for it. */
export function lockContended(lockFile: string): boolean {
  return existsSync(lockFile) || lockWanted(lockFile);
}

/**
 * The pause before attempt `attempt + 1` of a waiter that has waited `waitedMs`. While
 * contention is light (a fresh waiter, nobody announced), a growing back-off: 1, 2, 3 ...
 * up to MAX_BACKOFF_MS, so a command that meets a short transaction waits little. Under
 * contention the order is by age instead: a fresh waiter pauses 2 * MAX_BACKOFF_MS, one
 * that has waited longer less and less, down to MAX_BACKOFF_MS / 2 after half a second,
 * so when the lock comes free the old waiters are the likeliest to take it and nobody's
 * wait is left to luck. (A growing back-off alone does the opposite: the newest waiters
 * try most often and an unlucky old one can lose for the whole deadline.) Everyone keeps
 * polling, so a lock that comes free while the oldest waiter is not running is taken by
 * another, never left idle; and nobody polls faster than every few ms, which would take
 * the CPU from the holder on a loaded machine. Times 0.5 to 1.5, at random.
 */
export function pauseAfter(attempt: number, waitedMs: number, contended: boolean): number {
  const ms = !contended && waitedMs < LIGHT_CONTENTION_MS
    ? Math.min(1 + attempt, MAX_BACKOFF_MS)
    : Math.max(MAX_BACKOFF_MS / 2, 2 * MAX_BACKOFF_MS - waitedMs / AGE_PER_MS_OF_PAUSE);
  return ms * (0.5 + Math.random());
}
const LIGHT_CONTENTION_MS = 50;
const AGE_PER_MS_OF_PAUSE = 33;

/**
 * One waiter's attempts at the lock, shared by acquireLock and acquireLockAsync (they differ
 * only in how they pause): each try() takes the lock or says how long to pause before the
 * next one; along the way it announces the waiter, takes over a stale lock, watches for a
 * stopped holder, and throws at the deadline (exit 5).
 */
class LockAttempts {
  readonly started = Date.now();
  private readonly deadline = this.started + LOCK_DEADLINE_MS;
  private stopped: StoppedHolder | undefined;
  private attempt = 0;
  // A newcomer that finds waiters announced leaves the next turn to them.
  private readonly contended: boolean;
  /** The pause before the first try (0: none). */
  readonly firstPause: number;

  /** `eager`: announced from the first failed attempt, and no pause before the first. */
  constructor(private readonly lockFile: string, private readonly eager = false) {
    this.contended = lockWanted(lockFile);
    this.firstPause = this.contended && !eager ? pauseAfter(0, 0, true) : 0;
  }

  /** How long until the deadline, in ms. */
  remaining(): number {
    return Math.max(0, this.deadline - Date.now());
  }

  /** Takes the lock (undefined), or returns the pause in ms before the next try. */
  try(): number | undefined {
    const { lockFile } = this;
    const attempt = this.attempt++;
    // A lock that is there is seen by a lookup, which takes no lock in the kernel: the
    // exclusive create takes the directory's lock even when it fails (O_EXCL skips the
    // lookup fast path), and the holder's renames and its final unlink in that directory
    // queue behind it. With a hundred waiters creating every few ms, the holder's few
    // directory operations took seconds. So only a lock seen free is tried.
    if (!existsSync(lockFile)) {
      let got: boolean;
      try {
        got = createExclusive(lockFile, identity());
      } catch (err) {
        throw storeError(`cannot create lock ${lockFile}: ${describeFsError(err, dirname(lockFile))}`);
      }
      if (got) return undefined;
    }
    if (attempt >= (this.eager ? 0 : 2)) announceWaiter(lockFile);
    if (attempt % 4 === 3) {
      this.stopped = reclaimFromStoppedHolder(lockFile, this.stopped);
      removeIfStale(lockFile);
    }
    if (Date.now() >= this.deadline) {
      throw new LockTimeoutError(`the state is locked by ${describeLockHolder(lockFile)}; gave up waiting after ${LOCK_DEADLINE_MS / 1000} s (lock file ${lockFile})`);
    }
    // Its own announcement does not make a waiter wait as in a crowd: it polls lightly for
    // LIGHT_CONTENTION_MS, and the runner, which holds the lock in leases, lets it in at once.
    return pauseAfter(attempt, Date.now() - this.started, this.contended);
  }
}

/** Takes the lock (retrying until the deadline: exit 5); returns the function that releases it. */
export function acquireLock(lockFile: string): () => void {
  const attempts = new LockAttempts(lockFile);
  let line: WaitingLine | undefined;
  try {
    if (attempts.firstPause > 0) {
      // Waiters are announced: go to the back of their line rather than poll beside them.
      line = WaitingLine.join(lockFile);
      if (!line) sleepSync(attempts.firstPause);
      else line.waitTurn(attempts.remaining());
    }
    for (let pause = attempts.try(); pause !== undefined; pause = attempts.try()) {
      if (!line && Date.now() - attempts.started >= LINE_AFTER_MS) line = WaitingLine.join(lockFile);
      if (line && !line.first && !noFlock) line.waitTurn(attempts.remaining());
      else sleepSync(line?.first ? FIRST_IN_LINE_PAUSE_MS * (0.5 + Math.random()) : pause);
    }
  } finally {
    line?.leave();
  }
  return taken(lockFile, attempts.started);
}

/** A waiter that has not got the lock in this long joins the waiting line. */
const LINE_AFTER_MS = 20;
/** How often the first in line tries the lock. */
const FIRST_IN_LINE_PAUSE_MS = 2;
/**
 * The longest a waiter sleeps in the line before it tries the lock once itself. Each slice
 * is a spawn of flock(1) (~3 ms of CPU on this machine, the fork of Node included): with
 * 1 s slices the waiters of a 150-command storm made a thousand of them, CPU taken from the
 * holders (bench/p9-lock-storm.mjs). 2.5 s still leaves a waiter four slices within the
 * 10 s deadline should a first in line be stopped.
 */
const LINE_SLICE_MS = 2_500;

/**
 * The line of waiters for the lock: a kernel lock (flock(2) on `state.lock.line`) that only
 * orders the waiters, while the lock itself stays the exclusively created file above (its
 * holder's identity, the takeover of a dead or stopped holder). The first in line holds the
 * line's flock and tries the lock every few ms; everybody behind it sleeps in the kernel,
 * costing no CPU, until the first one has the lock and leaves the line, and the kernel
 * wakes the next. Polling waiters, a hundred of them at a time under a storm of commands,
 * had taken the CPU from the holder and (their exclusive creates lock the directory) stalled
 * its renames: a hold of a few ms of work lasted hundreds.
 *
 * Node has no flock(2), so the line is taken by util-linux's flock(1) on an inherited
 * descriptor: the lock belongs to the open file description, which this process keeps after
 * flock(1) exits, and closing it releases the lock (a killed waiter leaves the line by
 * itself). A waiter sleeps at most LINE_SLICE_MS in the line at a time and then tries the
 * lock once: a first in line that is stopped, or a lock that is taken over as stale, never
 * holds the others beyond a slice. Without flock(1) the waiters poll as before.
 */
class WaitingLine {
  private constructor(private readonly fd: number) {}
  /** Whether this waiter holds the line's lock: it is the one that tries. */
  first = false;

  static join(lockFile: string): WaitingLine | undefined {
    if (!spawnSyncFn()) return undefined;
    try {
      return new WaitingLine(openSync(`${lockFile}.line`, constants.O_RDWR | constants.O_CREAT | constants.O_NOFOLLOW, 0o600));
    } catch {
      return undefined;
    }
  }

  /** Sleeps until this waiter is first in line, or for a slice of at most `ms`. */
  waitTurn(ms: number): void {
    const spawnSync = spawnSyncFn();
    if (!spawnSync) return;
    const slice = Math.max(1, Math.min(ms, LINE_SLICE_MS));
    // Its environment is PATH only: a flock(1) left waiting by a waiter killed meanwhile (it
    // ends within the slice) must not pass for a process of this HOME or of a job.
    const r = spawnSync('flock', ['--exclusive', '--timeout', (slice / 1000).toFixed(3), '3'], {
      stdio: ['ignore', 'ignore', 'ignore', this.fd], env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
    });
    // Exit 1 is the timeout; anything else (no flock(1) after all, a failure of its own)
    // would fail at once every time: the waiters then poll, after a short pause.
    if (r.error || (r.status !== 0 && r.status !== 1)) {
      noFlock = true;
      sleepSync(MAX_BACKOFF_MS);
      return;
    }
    this.first = r.status === 0;
  }

  leave(): void {
    try { closeSync(this.fd); } catch { /* closed */ }
  }
}

let noFlock = false;
let spawnSyncCache: typeof import('node:child_process').spawnSync | undefined;
/** node:child_process, loaded only by a waiter that joins the line (it costs every command ~3 ms). */
function spawnSyncFn(): typeof import('node:child_process').spawnSync | undefined {
  if (noFlock) return undefined;
  return (spawnSyncCache ??= process.getBuiltinModule('node:child_process').spawnSync);
}

/** After the lock was created: clears the waiters' notice; returns the function that releases it. */
function taken(lockFile: string, started: number): () => void {
  if (existsSync(waiterFile(lockFile))) try { unlinkSync(waiterFile(lockFile)); } catch { /* another took it */ }
  const waitLog = process.env.UWSRUN_LOCK_WAIT_LOG;
  if (waitLog) logWait(waitLog, `${Date.now() - started} ${Date.now()} ${process.pid}`);
  const cpuAtTake = waitLog ? process.cpuUsage() : undefined;
  return () => {
    try {
      unlinkSync(lockFile);
    } catch { /* taken over as stale: impossible while we live, but never throw here */ }
    if (waitLog) {
      // The CPU this process spent holding the lock (user + system, µs): on a loaded machine
      // far less noisy than the hold's wall time, and what the hold costs every waiter.
      const cpu = process.cpuUsage(cpuAtTake);
      logWait(`${waitLog}.released`, `${Date.now()} ${process.pid} ${process.argv[2] ?? '-'} ${cpu.user + cpu.system}`);
    }
  };
}

/**
 * acquireLock for a process that must keep serving while it waits (`uwsrun serve`): the
 * same attempts (LockAttempts), but the pauses between them are timers, so the event loop runs on while another process
 * holds the lock. The caller must use the lock before its next await (see
 * Store.handOverLock): a lock held across event-loop turns would make this process's own
 * synchronous transactions wait for it.
 *
 * `eager` (the server, whose every wait is a client's latency): it announces itself at its
 * first failed attempt, so the runner's lease ends at once (run/runner.ts letWaitersIn),
 * and each pause also ends the moment the lock file goes (one watch of its directory per
 * process, releaseWatch): the lock is tried again when it is released, not up to a pause
 * later. The timers stay as the backstop (no inotify, a missed event).
 */
export async function acquireLockAsync(lockFile: string, { eager = false }: { eager?: boolean } = {}): Promise<() => void> {
  const attempts = new LockAttempts(lockFile, eager);
  const pause = (ms: number) => new Promise<void>((resolve) => {
    let off: (() => void) | undefined;
    const done = () => {
      clearTimeout(timer);
      off?.();
      resolve();
    };
    const timer = setTimeout(done, ms);
    if (eager) off = releaseWatch(lockFile, done);
  });
  if (attempts.firstPause > 0) await pause(attempts.firstPause);
  for (let ms = attempts.try(); ms !== undefined; ms = attempts.try()) await pause(ms);
  return taken(lockFile, attempts.started);
}

/** Per lock file: a watch of its directory and the waiters to wake when the lock file changes. */
const releaseWatches = new Map<string, { watcher: FSWatcher | undefined; waiting: Set<() => void> }>();

/** Calls `wake` when the lock file is removed (or created) from now on; returns how to stop. */
function releaseWatch(lockFile: string, wake: () => void): () => void {
  let entry = releaseWatches.get(lockFile);
  if (!entry) {
    const made: { watcher: FSWatcher | undefined; waiting: Set<() => void> } = { watcher: undefined, waiting: new Set() };
    entry = made;
    releaseWatches.set(lockFile, made);
    const name = basename(lockFile);
    try {
      made.watcher = watch(dirname(lockFile), { persistent: false }, (_event, file) => {
        if (file !== name && file !== null) return;
        for (const fn of [...made.waiting]) fn();
      });
      made.watcher.on('error', () => {
        made.watcher?.close();
        made.watcher = undefined;
      });
    } catch { /* the timers only */ }
  }
  const { waiting } = entry;
  waiting.add(wake);
  return () => waiting.delete(wake);
}

/** The lock was not obtained in time (exit 5; HTTP 503). */
export class LockTimeoutError extends UserError {
  constructor(message: string) {
    super(message, EXIT.store);
  }
}

/** For bench/p9-lock-storm.mjs: one line per lock taken (waited ms, when, pid) or released (when, pid, command, CPU µs in the hold). */
function logWait(file: string, line: string): void {
  try {
    const fd = openSync(file, constants.O_WRONLY | constants.O_CREAT | constants.O_APPEND | constants.O_NOFOLLOW, 0o600);
    try { writeAll(fd, Buffer.from(`${line}\n`), file); } finally { closeSync(fd); }
  } catch { /* measurement only */ }
}

export function withLock<T>(lockFile: string, body: () => T): T {
  const release = acquireLock(lockFile);
  try {
    return body();
  } finally {
    release();
  }
}
