// Changing the state from the server without freezing it (SPEC §12, "never stalls"). The
// store's lock is synchronous: a CLI command simply sleeps while another process holds it,
// but the server would stop answering everyone. So a request that changes something first
// takes the lock asynchronously (store/lock.ts acquireLockAsync: the same attempts, with
// timers between them; 503 after 10 s) and hands it to the store (Store.handOverLock) just
// before it calls the core function, which runs its first transaction with it at once. A
// core function that makes a further transaction after an await (submit's commit, delete
// after an abort, abort's wait) first calls store.lockAhead(), which in the server takes
// the lock the same way (Store.takeLockAsync). The lock is never
// held by this process across a turn of its event loop, so two requests never wait for
// each other's lock.

import { acquireLockAsync } from '../store/lock.js';
import type { Store } from '../store/state.js';

/** Runs `change` (a core function: submit, run, set, abort, delete) with the lock ready. */
export async function withStateLock<T>(store: Store, change: () => T | Promise<T>): Promise<T> {
  store.takeLockAsync ??= () => acquireLockAsync(store.layout.lockFile);
  const release = await acquireLockAsync(store.layout.lockFile);
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
