// Changing the state from the server without freezing it (SPEC §12, "never stalls"). The
// store's lock is synchronous: a CLI command simply sleeps while another process holds it,
// but the server would stop answering everyone. So a request that changes something first
// takes the lock asynchronously (store/lock.ts acquireLockAsync: the same attempts, with
// timers between them; 503 after 10 s) and hands it to the store (Store.handOverLock) just
// before it calls the core function, which runs its first transaction with it at once. A
// core function that makes a further transaction after an await (submit's commit, delete
// after an abort, abort's wait) first calls store.lockAhead(), which in the server takes
// the lock the same way (Store.takeLockAsync). The lock is never held by this process
// across a turn of its event loop.
//
// This process's own requests take their turns at the lock first come first served
// (LockTurns): only the first of them tries the lock file; the others wait for its release
// on a promise, not on timers, and the next one tries the lock file the moment it is
// released. Without that, every request in flight polled the lock file against the others
// with pauses of up to 10 ms, and a burst of creations lost most of its time to those
// pauses. Other processes (the runner, CLI commands) still meet only the lock file.

import { acquireLockAsync } from '../store/lock.js';
import type { Store } from '../store/state.js';

/** One process's queue of turns at one lock file. */
class LockTurns {
  /** Settles when the last turn taken so far has been released (or failed). */
  private tail: Promise<void> = Promise.resolve();
  /** Turns waiting behind the current one; a lock timeout fails them too (see take). */
  private readonly waiting = new Set<(err: unknown) => void>();

  constructor(private readonly lockFile: string) {}

  /** Resolves with the lock taken, in the order of the calls; the function releases it. */
  take(): Promise<() => void> {
    const before = this.tail;
    let done!: () => void;
    this.tail = new Promise((resolve) => (done = resolve));
    return new Promise((resolve, reject) => {
      let failed = false;
      const fail = (err: unknown) => {
        failed = true;
        this.waiting.delete(fail);
        reject(err);
      };
      this.waiting.add(fail);
      void before.then(async () => {
        if (failed) return done();
        this.waiting.delete(fail);
        let release: () => void;
        try {
          release = await acquireLockAsync(this.lockFile, { eager: true });
        } catch (err) {
          // The lock stayed taken for the whole deadline (exit 5, 503): the turns queued
          // behind this one meanwhile would each wait the deadline again, one after the
          // other, for the same holder. They fail with it now.
          for (const other of [...this.waiting]) other(err);
          done();
          return reject(err);
        }
        let released = false;
        resolve(() => {
          if (released) return;
          released = true;
          release();
          done();
        });
      });
    });
  }
}

const turnsOf = new WeakMap<Store, LockTurns>();

/** This process's turns at the store's lock (one queue per Store). */
function lockTurns(store: Store): LockTurns {
  let turns = turnsOf.get(store);
  if (!turns) {
    turns = new LockTurns(store.layout.lockFile);
    turnsOf.set(store, turns);
  }
  return turns;
}

/** Runs `change` (a core function: submit, run, set, abort, delete) with the lock ready. */
export async function withStateLock<T>(store: Store, change: () => T | Promise<T>): Promise<T> {
  const turns = lockTurns(store);
  store.takeLockAsync ??= () => turns.take();
  const release = await turns.take();
  const releaseUnused = store.handOverLock(release);
  let result: T | Promise<T>;
  try {
    result = change();
  } finally {
    // Synchronously, before anything else runs: a change that returned (or reached its
    // first await) without a transaction must not keep the lock.
    releaseUnused();
  }
  return result;
}
