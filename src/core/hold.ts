// `hold` and `release` (SPEC §13): a PENDING or QUEUED job is HELD, not started until it is
// released; release puts it back in the queue at the place it had. A HELD job keeps a queue
// place in its record (queuedAt) but has no entry in HOME/queue/, so the runner never sees
// it: a QUEUED job keeps the place it was queued at, a PENDING one gets the next place when
// it is held (so `release` queues it behind the jobs queued before the hold). Release
// writes the entry again under that old place: queue entries sort by place, so it is
// started before every job queued after it. Each is one transaction of table rows; a
// refused one leaves the job unchanged.

import type { JobRecord } from './job.js';
import { applyTransition } from './phases.js';
import { EXIT, UserError } from '../errors.js';
import type { Store } from '../store/state.js';
import { entryName, removeEntry } from '../store/queue-dir.js';
import { executorKind } from '../executors/index.js';
import { eachJob, queueEach } from './each-job.js';

/** Holds each job; returns, per id, the held job or the refusal. */
export function holdJobs(store: Store, ids: string[]): (JobRecord | Error)[] {
  return store.update((tx) => eachJob(tx, ids, (job) => {
    const id = job.jobId;
    // Started already (local: a runner died before recording it), or in Slurm's hands:
    // its executor says why it cannot be held here.
    const refused = executorKind(job).holdRefusal(tx, job);
    if (refused) throw new UserError(refused, EXIT.notAllowed);
    const held: JobRecord = { ...job, phase: applyTransition(job, 'hold').to };
    if (job.phase === 'QUEUED') {
      const name = entryName(job);
      tx.afterCommit.push(() => removeEntry(tx.layout, name));
      tx.putHot(held);
    } else {
      tx.putHot(held, { queuedAt: ++tx.state.queueSeq });
    }
    return tx.getJob(id) ?? held;
  }));
}

/** Releases each HELD job into the queue at its old place; returns the jobs or refusals. */
export function releaseJobs(store: Store, ids: string[]): Promise<(JobRecord | Error)[]> {
  return queueEach(store, ids, (tx, job) => {
    const queued: JobRecord = { ...job, phase: applyTransition(job, 'release').to };
    // A new queue revision all the same, so a runner lists HOME/queue/ again.
    const fresh = ++tx.state.queueSeq;
    tx.putHot(queued, { queuedAt: job.queuedAt ?? fresh });
    return tx.getJob(job.jobId) ?? queued;
  });
}
