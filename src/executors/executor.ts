// The executor seam (SPEC §11): who runs a job. A definition's `executor` (else
// `defaults.executor`, else local) is copied into each job at submit time; from then on
// everything else — the phases and the one transition table (core/phases.ts), the record,
// the store, the runner's queue, the commands, the documents — is the same for every
// executor. What differs is behind the two interfaces below, one folder per executor, named
// by one registry (index.ts):
//
//   local/   the runner's Perl launcher forks a wrapper per job on this machine (launcher.ts,
//            launcher.pl, wrapper.pl; LocalExecutor in executor.ts); liveness from /proc
//            (pid + start time); signals to the process group (run/signal.ts, abort.ts here).
//            The HOME-wide limit counts its jobs.
//   slurm/   sbatch/squeue/scancel/sacct, one process each (commands.ts); the same wrapper Perl
//            runs as the batch script (batch.pl); liveness is what Slurm says (one squeue per
//            poll for all jobs); signals are scancel. The HOME-wide limit does not count it.
//
// ExecutorKind is what any process may ask of an executor: its facts (ExecutorFacts, plain
// data) and the synchronous parts of abort, hold and retry (they run inside a command's
// state transaction). Its heavy
// parts are loaded on first use only (`runner()`, and Slurm's commands inside its abort), so
// a command of a local-only HOME never loads Slurm's commands.
//
// Executor is the runner's side (one object per executor and runner, made by
// ExecutorKind.runner() the first time a job of it is about). The runner drives it in two
// halves, because its state transaction must never wait on anything slow (a fork is
// ~0.5 ms; a Slurm command tens of ms, or 9 s when the controller is down):
//   start(tx, job)     inside the transaction: a QUEUED job the queue chose (run/queue.ts)
//                      starts or is marked for handover, recorded by a row of the table;
//   watch(tx, now)     inside every cycle's transaction: what was learnt since (answers, up,
//                      ended, handed over, refused) is recorded, jobs whose end nothing
//                      reports are looked at, and time limits enforced;
//   afterCommit(state) after the state is durable: the slow calls (sbatch, squeue), whose
//                      outcomes the next watch() records;
//   abandoned()        the transaction was given up: marks made in it are forgotten.
// An executor fast enough to start inside the transaction (local: the launcher answers
// within ~1 ms) may ask the runner to keep it open until its answers are in
// (`awaitingAnswers`) and to batch its jobs' news under a lease (`leases`).
// A third executor (HTCondor, Kubernetes) is a new folder with its facts, an ExecutorKind and
// an Executor, and a line in facts.ts and in index.ts (the registry).

import { type HotEntry, type JobRecord, isoNow } from '../core/job.js';
import type { Phase } from '../core/phases.js';
import type { ExecutorName } from '../definitions/schema.js';
import type { HomeLayout } from '../store/home.js';
import type { StateData, Store, Transaction } from '../store/state.js';
import type { ProcessTable } from '../run/signal.js';

/** What an executor may ask of the runner that drives it. */
export interface RunnerContext {
  readonly home: string;
  readonly layout: HomeLayout;
  /** A line for runner.log. */
  log(line: string): void;
  /** A line about an active job, logged once however often supervision repeats it. */
  logOnce(jobId: string, line: string): void;
  /** What recordEnd says about a job (logOnce; its end closes the job's lines). */
  sayFor(jobId: string): (line: string) => void;
  /** The job starts (again): what was logged once about it may be said again. */
  startsAfresh(jobId: string): void;
  /** A cycle now (news that must be recorded at once). */
  wake(): void;
  /** A cycle within `ms` (news that may wait for company: one state write for several). */
  wakeWithin(ms: number): void;
  /** Whether the runner holds the state lock now (between the cycles of a lease). */
  holdsLock(): boolean;
  /** HOME/queue/ must be listed again (a start failed: its job is still QUEUED). */
  queueChanged(): void;
}

/** How long a cycle may wait for company before it writes news (an "up", a Slurm answer). */
export const NEWS_DELAY_MS = 20;

export interface Executor {
  readonly name: ExecutorName;
  /**
   * Starts a QUEUED job the queue chose, in the runner's transaction. 'stop': nothing more
   * is started in this cycle (the executor cannot start now; the job stays QUEUED).
   */
  start(tx: Transaction, job: JobRecord): 'started' | 'stop';
  watch(tx: Transaction, now: number): void;
  afterCommit(state: StateData): void;
  abandoned(): void;
  /** True while it has work in hand (calls under way, news unrecorded): the runner comes back soon and does not go idle. */
  readonly busy: boolean;
  /** Starts asked in the open transaction whose answers are due in it: it is kept open. */
  readonly awaitingAnswers?: boolean;
  /** Jobs of it run whose news comes in bursts: the runner keeps the lock for a lease to batch it. */
  readonly leases?: boolean;
  /** Jobs it is starting that the state does not show yet: the queue counts them as running. */
  starting?(): Iterable<JobRecord>;
  /** Jobs it asks not to be offered for now (undefined: none), e.g. a start to look at again. */
  readonly holdsBack?: ((jobId: string) => boolean) | undefined;
  /** No job of any executor is started before this time (ms; a start failed for lack of resources). */
  readonly startsPausedUntil?: number;
  /** What it says in runner.log when the runner goes idle. */
  summary?(): string;
  /**
   * How soon it wants the next cycle now (ms), when that varies with what it has in hand
   * (Slurm: a second while it waits for a verdict, else its next deadline or backstop);
   * absent: its facts' cycleMs.
   */
  readonly cycleMs?: number;
  /**
   * Asked outside the lock before a cycle that only a timer asked for: true when that cycle
   * would record nothing (no news in hand, no job file changed, nothing due by `now`), so
   * the runner may leave the lock and state.json alone (run/runner.ts quietCycle). Absent
   * or false: the cycle runs.
   */
  quiet?(now: number): boolean;
}

/**
 * One step of an abort, decided in the abort's transaction: the job is final (`done`, with
 * what follows once the state is written, e.g. Slurm's scancel), or it runs and the abort
 * waits for it (`waitFor`, abortRequested recorded).
 */
export type AbortStep = { done: JobRecord; after?: (store: Store) => Promise<void> } | { waitFor: JobRecord };

/**
 * What the queue and the runner's bookkeeping need to know of an executor: data, in a module
 * of its own per executor (facts.ts) that imports nothing of the rest, so the queue
 * (run/queue.ts) can ask without loading any executor's code.
 */
export interface ExecutorFacts {
  readonly name: ExecutorName;
  /** Whether the HOME-wide limit (SPEC §6) counts this executor's jobs. */
  readonly countsAgainstHomeLimit: boolean;
  /** How often the runner cycles while jobs of it are active (ms). */
  readonly cycleMs: number;
  /** Whether its QUEUED jobs with a hot entry are in its hands (handed over): a runner watches them. */
  readonly watchesQueued: boolean;
  /** Work of its own the state holds besides hot entries (e.g. cancels to confirm): it keeps a runner. */
  pendingWork(state: StateData): number;
}

export interface ExecutorKind extends ExecutorFacts {
  /** The runner's side; loaded on first use. */
  runner(ctx: RunnerContext): Promise<Executor>;

  /**
   * Abort, before its transaction: a job that ended a moment ago, unrecorded yet by its
   * supervisor, is recorded first by the transaction returned (its files read here, outside
   * the lock), so the abort is refused as for any final job (SPEC §2). Undefined: nothing to record.
   */
  endedUnrecorded(store: Store, job: JobRecord): ((tx: Transaction) => void) | undefined;
  /** Abort, in its transaction; `to` is the transition table's phase for the abort row. */
  abortStep(tx: Transaction, job: JobRecord, to: Phase): AbortStep;
  /** `abort`: waits until nothing of the job runs; returns the job as it ended. */
  awaitAbort(store: Store, job: JobRecord): Promise<JobRecord>;
  /** The abort without the wait (PHASE=ABORT over HTTP): whoever supervises the job ends it. */
  abortRequested(store: Store, job: JobRecord): void;
  /**
   * `tick` without a runner: executionDuration and the SIGKILL after killGrace, when they are
   * this side's to enforce. Returns what it did. Absent: its runner side does it.
   */
  enforceTimeLimits?(tx: Transaction, job: JobRecord, now: number, table?: ProcessTable): string | undefined;
  /**
   * `hold` and `release` of a job in a scheduler's hands (a handed-over Slurm job): the
   * scheduler is told first, outside the lock (its commands are slow), and the transaction
   * then checks that the job is still as found (holdRefusal, releaseStep). Resolves to what
   * was done there (undone when the transaction does not hold or release the job after
   * all), undefined when the job is not in its hands; rejects with the UserError to report,
   * nothing changed. Absent: nothing outside uwsrun holds its jobs.
   */
  holdOutside?(store: Store, job: JobRecord): Promise<OutsideStep | undefined>;
  releaseOutside?(store: Store, job: JobRecord): Promise<OutsideStep | undefined>;
  /** `hold` of a QUEUED job: why this executor does not allow it now (exit 4), or undefined. */
  holdRefusal(tx: Transaction, job: JobRecord, outside?: OutsideStep): string | undefined;
  /**
   * `release` of a HELD job: the hot fields it gets back in the scheduler's hands, or why not
   * now (exit 4). Undefined: queued like any job.
   */
  releaseStep?(tx: Transaction, job: JobRecord, outside?: OutsideStep): { hot: Partial<HotEntry> } | { refused: string } | undefined;
  /**
   * `set --execution-duration` of a job in a scheduler's hands (a handed-over QUEUED Slurm
   * job, whose --time was fixed at its handover): told to the scheduler first, outside the
   * lock (`scontrol update`); then the transaction checks that the job is still that one
   * (limitRefusal), and what the scheduler did is undone when the change is not made after
   * all. Absent, or undefined: nothing outside uwsrun knows the job's limit.
   */
  limitOutside?(store: Store, job: JobRecord, seconds: number): Promise<OutsideStep | undefined>;
  /** `set --execution-duration` in the transaction: why not now (exit 4), or undefined. */
  limitRefusal?(tx: Transaction, job: JobRecord, outside?: OutsideStep): string | undefined;
  /** A retry queues the job again: what of the last attempt this executor forgets (record, hot entry). */
  readonly retryReset?: { record: Partial<JobRecord>; hot: Partial<HotEntry> };
}

/** What a scheduler did for `hold`, `release` or `set` (ExecutorKind.holdOutside, limitOutside): its job's id there, and how to undo it. */
export interface OutsideStep {
  readonly ref: string;
  undo(): Promise<void>;
}

/** The abort of a job with no process anywhere: ABORTED now (its row's phase). */
export function abortAtOnce(tx: Transaction, job: JobRecord, to: Phase): AbortStep {
  const aborted = { ...job, phase: to, endTime: isoNow() };
  tx.finish(aborted);
  return { done: aborted };
}
