// The inter-process lock around every read-modify-write of the state (proper-lockfile).
// The lock is a directory (mkdir is atomic); its holder refreshes its mtime, so a lock whose
// mtime is older than STALE_MS belongs to a dead process and is taken over. We retry with
// short jittered sleeps until LOCK_DEADLINE_MS, then fail with exit 5 instead of hanging.
// Critical sections are synchronous and short (milliseconds), which is what makes a
// synchronous lock cheap for a CLI that lives ~50 ms.

import lockfile from 'proper-lockfile';
import { storeError } from '../errors.js';

const STALE_MS = 5_000;
const LOCK_DEADLINE_MS = Number(process.env.UWSRUN_LOCK_TIMEOUT_MS) || 10_000;

const sleeper = new Int32Array(new SharedArrayBuffer(4));
export const sleepSync = (ms: number): void => {
  Atomics.wait(sleeper, 0, 0, ms);
};

export function withLock<T>(target: string, lockDir: string, body: () => T): T {
  const deadline = Date.now() + LOCK_DEADLINE_MS;
  let compromised: Error | undefined;
  let release: (() => void) | undefined;
  for (let attempt = 0; ; attempt++) {
    try {
      release = lockfile.lockSync(target, {
        realpath: false,
        lockfilePath: lockDir,
        stale: STALE_MS,
        retries: 0,
        onCompromised: (err) => {
          compromised = err;
        },
      });
      break;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ELOCKED') {
        throw storeError(`cannot lock ${lockDir}: ${code ?? String(err)}`);
      }
      if (Date.now() >= deadline) {
        throw storeError(`state is locked by another uwsrun process (${lockDir}); gave up after ${LOCK_DEADLINE_MS / 1000} s`);
      }
      sleepSync(Math.min(2 + attempt * 2, 25) * (0.5 + Math.random()));
    }
  }
  try {
    return body();
  } finally {
    try {
      release();
    } catch (err) {
      // Released by someone who judged us stale: our write may have raced theirs.
      compromised ??= err as Error;
    }
    if (compromised) process.emitWarning(`uwsrun: lock ${lockDir} was compromised: ${compromised.message}`);
  }
}
