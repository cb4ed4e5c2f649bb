// The executor seam (SPEC §11): who runs a job. A definition's `executor` (else
// `defaults.executor`, else local) is copied into each job at submit time; from then on
// everything else — the phases and the one transition table (core/phases.ts), the record,
// the store, the commands, the documents — is the same for every executor. What differs is
// behind this interface, one folder per executor:
//
//   local/   the runner's Perl launcher forks a wrapper per job on this machine (launcher.ts,
//            launcher.pl, wrapper.pl); liveness from /proc (pid + start time); signals to
//            the process group (run/signal.ts). The HOME-wide limit counts its jobs.
//   slurm/   sbatch/squeue/scancel/sacct through execa (commands.ts); the same wrapper Perl
//            runs as the batch script (batch.pl); liveness is what Slurm says (one squeue per
//            poll for all jobs); signals are scancel. The HOME-wide limit does not count it.
//
// The runner drives an executor in two halves, because its state transaction must never wait
// on anything slow (a fork is ~0.5 ms; a Slurm command tens of ms, or 9 s when the
// controller is down):
//   start(tx, job)     inside the transaction: a QUEUED job the queue chose (run/queue.ts)
//                      starts or is marked for handover, recorded by a row of the table;
//   watch(tx, now)     inside every cycle's transaction: what was learnt since (up, ended,
//                      handed over, refused) is recorded, and time limits enforced;
//   afterCommit(state) after the state is durable: the slow calls (sbatch, squeue), whose
//                      outcomes the next watch() records;
//   abandoned()        the transaction was given up: marks made in it are forgotten.
// The local executor's start and its events (the launcher's "up" and "exit" reports, /proc
// for adopted jobs) are still woven into the runner's cycle (run/runner.ts) for speed; a
// third executor (HTCondor, Kubernetes) is a new folder implementing this interface.

import type { JobRecord } from '../core/job.js';
import type { ExecutorName } from '../definitions/schema.js';
import type { StateData, Transaction } from '../store/state.js';

export interface Executor {
  readonly name: ExecutorName;
  /** Whether the HOME-wide limit (SPEC §6) counts this executor's jobs. */
  readonly countsAgainstHomeLimit: boolean;
  start(tx: Transaction, job: JobRecord): void;
  watch(tx: Transaction, now: number): void;
  afterCommit(state: Pick<StateData, 'jobs'>): void;
  abandoned(): void;
  /** True while calls are under way or their outcomes wait: the runner comes back soon. */
  readonly busy: boolean;
}
