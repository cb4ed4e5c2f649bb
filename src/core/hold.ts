// `hold` and `release` (SPEC §13): a PENDING or QUEUED job is HELD, not started until it is
// released; release puts it back in the queue at the place it had. A HELD job keeps a queue
// place in its record (queuedAt) but has no entry in HOME/queue/, so the runner never sees
// it: a QUEUED job keeps the place it was queued at, a PENDING one gets the next place when
// it is held (so `release` queues it behind the jobs queued before the hold). Release
// writes the entry again under that old place: queue entries sort by place, so it is
// started before every job queued after it. Each is one transaction of table rows; a
// refused one leaves the job unchanged.
// A job in a scheduler's hands (a QUEUED Slurm job already handed over) is held there too:
// its executor asks the scheduler first, outside the lock (holdOutside: `scontrol uhold`),
// then the transaction checks it is still as it was; what the scheduler did is undone for
// every job the transaction did not hold after all (refused, or the state not writable).
// Release likewise (`scontrol release`), and the job goes back into the scheduler's hands,
// not into HOME/queue/ (it must not be handed over twice).

import type { JobRecord } from './job.js';
import { applyTransition } from './phases.js';
import { EXIT, UserError } from '../errors.js';
import type { Store } from '../store/state.js';
import { entryName, removeEntry } from '../store/queue-dir.js';
import { executorKind } from '../executors/index.js';
import type { OutsideStep } from '../executors/executor.js';
import { eachJob, queueEach } from './each-job.js';

/** Holds each job; returns, per id, the held job or the refusal. */
export async function holdJobs(store: Store, ids: string[]): Promise<(JobRecord | Error)[]> {
  const outside = await outsideSteps(store, ids, 'hold');
  return undoUnchanged(outside, 'HELD', () => store.update((tx) => eachJob(tx, ids, (job) => {
    const id = job.jobId;
    const step = outside.get(id);
    if (step instanceof Error) throw step;
    // Started already (local: a runner died before recording it), or in Slurm's hands and
    // not held there: its executor says why it cannot be held here.
    const refused = executorKind(job).holdRefusal(tx, job, step);
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
  })));
}

/** Releases each HELD job into the queue at its old place; returns the jobs or refusals. */
export async function releaseJobs(store: Store, ids: string[]): Promise<(JobRecord | Error)[]> {
  const outside = await outsideSteps(store, ids, 'release');
  return undoUnchanged(outside, 'QUEUED', () => queueEach(store, ids, (tx, job) => {
    const step = outside.get(job.jobId);
    if (step instanceof Error) throw step;
    const queued: JobRecord = { ...job, phase: applyTransition(job, 'release').to };
    // Back in the scheduler's hands (a hot entry, as after its handover), or in the queue.
    const back = executorKind(job).releaseStep?.(tx, job, step);
    if (back && 'refused' in back) throw new UserError(back.refused, EXIT.notAllowed);
    // A new queue revision all the same, so a runner lists HOME/queue/ again.
    const fresh = ++tx.state.queueSeq;
    tx.putHot(queued, { queuedAt: job.queuedAt ?? fresh, ...back?.hot });
    return tx.getJob(job.jobId) ?? queued;
  }));
}

/** What each job's scheduler did first (or its refusal), by job id; nothing for the others. */
async function outsideSteps(store: Store, ids: string[], what: 'hold' | 'release'): Promise<Map<string, OutsideStep | Error>> {
  const steps = new Map<string, OutsideStep | Error>();
  await Promise.all([...new Set(ids)].map(async (id) => {
    let job: JobRecord | undefined;
    try {
      job = store.getJob(id);
    } catch {
      return; // a damaged record: the transaction reports it
    }
    const kind = job && executorKind(job);
    const ask = what === 'hold' ? kind?.holdOutside : kind?.releaseOutside;
    if (!job || !ask) return;
    try {
      const step = await ask.call(kind, store, job);
      if (step) steps.set(id, step);
    } catch (err) {
      steps.set(id, err as Error);
    }
  }));
  return steps;
}

/** Runs the transaction; undoes the scheduler's steps of the jobs it did not bring to `phase`. */
async function undoUnchanged(
  outside: Map<string, OutsideStep | Error>, phase: JobRecord['phase'], change: () => (JobRecord | Error)[] | Promise<(JobRecord | Error)[]>,
): Promise<(JobRecord | Error)[]> {
  const steps = [...outside].filter((e): e is [string, OutsideStep] => !(e[1] instanceof Error));
  if (steps.length === 0) return change();
  let outcome: (JobRecord | Error)[];
  try {
    outcome = await change();
  } catch (err) {
    await Promise.all(steps.map(([, step]) => step.undo().catch(() => {})));
    throw err;
  }
  const done = new Set(outcome.flatMap((r) => (r instanceof Error || r.phase !== phase ? [] : [r.jobId])));
  await Promise.all(steps.filter(([id]) => !done.has(id)).map(([, step]) => step.undo().catch(() => {})));
  return outcome;
}
