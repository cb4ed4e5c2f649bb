// Commands that change several jobs (run, hold, release) change them in one transaction,
// job by job: each id gives its changed job or its refusal (an unknown id, a row the
// transition table does not have), and a refused job is left exactly as it was.

import type { JobRecord } from './job.js';
import { noSuchJob } from '../errors.js';
import type { Store, Transaction } from '../store/state.js';
import { type RunnerWake, runnerWakeForQueued, wakeRunner } from '../run/ensure-runner.js';

/** `change` applied to each job of `ids` in `tx`; per id, what it returned or threw. */
export function eachJob(tx: Transaction, ids: string[], change: (job: JobRecord) => JobRecord): (JobRecord | Error)[] {
  return ids.map((id) => {
    try {
      const job = tx.getJob(id);
      if (!job) throw noSuchJob(id);
      return change(job);
    } catch (err) {
      return err as Error;
    }
  });
}

/**
 * eachJob for changes that put jobs into the queue (run, release), in a transaction of its
 * own; once it is committed the runner is woken (or started) if any job was queued (and
 * the HOME is not paused: runnerWakeForQueued).
 */
export async function queueEach(store: Store, ids: string[], queue: (tx: Transaction, job: JobRecord) => JobRecord): Promise<(JobRecord | Error)[]> {
  let wake: RunnerWake | undefined;
  const outcome = store.update((tx) => {
    const results = eachJob(tx, ids, (job) => queue(tx, job));
    if (results.some((r) => !(r instanceof Error))) wake = runnerWakeForQueued(tx);
    return results;
  });
  if (wake) await wakeRunner(store.home, wake);
  return outcome;
}
