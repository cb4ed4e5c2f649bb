// Retries (SPEC §13): a job whose attempt ended as ERROR (a non-zero exit status, a signal
// nobody asked for, the job lost) while its definition's `retries` are not used up goes back
// to QUEUED through the table's retry row instead of ending. Everything about it happens in
// the transaction that records the end, so a supervisor killed at any moment either recorded
// nothing (its successor records the end again, and decides the same) or the whole retry:
//   - attempt N's own files are kept under new names first (records/ID/exit -> exit.N,
//     started -> started.N; the job's stdout.log -> stdout.N.log, stderr.log -> stderr.N.log)
//     and its results moved aside, so the next start finds no start marker (the launcher
//     would take one for a start already done and adopt the dead attempt) and fresh logs;
//     recordEnd reads exit.N when it finds no exit file, should the transaction be lost;
//   - then the record: phase QUEUED, attempt N + 1, attempt N appended to `attempts`, and
//     `retryAfter` = its end + retryDelay; a Slurm job's slurmJobId and handover mark are
//     cleared (and its RECORDS/batch and up kept as batch.N, up.N): handed over afresh. job.json is written before the state write that
//     drops the job's hot entry; a hot entry left beside a job.json that counts a later
//     attempt is stale (core/job.ts staleHot), so the end is never recorded twice.
// The delay is data: the queue gate (core/gate.ts) lets no runner start a QUEUED job before
// its retryAfter, whoever that runner is; its queue entry is marked as one that may wait. A retried job re-enters the queue at its end, as if
// queued anew at the moment its attempt failed.

import { mkdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Attempt, ErrorSummary, JobRecord } from '../core/job.js';
import { applyTransition } from '../core/phases.js';
import type { Transaction } from '../store/state.js';
import { executorKind } from '../executors/index.js';

/** Whether a job whose attempt just failed is run again: fewer than `retries` retries made. */
export function retriesLeft(job: JobRecord): boolean {
  const retries = job.definitionSnapshot?.retries ?? 0;
  return (job.attempt ?? 1) - 1 < retries;
}

/** Renames `from` to `to` if `from` is there; false when it is not (done before). */
function keepAs(from: string, to: string): boolean {
  try {
    renameSync(from, to);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}

/**
 * Keeps attempt N's files under their attempt's names and moves its results aside (into
 * trash, removed once the lock is released). What the job did to its own directory (a
 * log turned into a directory) may make a rename fail: that is said, and the retry goes on.
 */
function retireAttemptFiles(tx: Transaction, jobId: string, attempt: number, say: (line: string) => void): void {
  const layout = tx.layout;
  keepAs(layout.exitFile(jobId), layout.attemptFile(jobId, 'exit', attempt));
  keepAs(layout.startMarker(jobId), layout.attemptFile(jobId, 'started', attempt));
  // A Slurm job's (executors/slurm/): the batch script's mark that it ran, "up", its note of Slurm's signals, and its end.
  for (const name of ['batch', 'up', 'signalled', 'ended']) keepAs(join(layout.recordDir(jobId), name), join(layout.recordDir(jobId), `${name}.${attempt}`));
  for (const stream of ['stdout', 'stderr'] as const) {
    const from = stream === 'stdout' ? layout.stdoutLog(jobId) : layout.stderrLog(jobId);
    try {
      keepAs(from, layout.attemptLog(jobId, stream, attempt));
    } catch (err) {
      say(`job ${jobId}: cannot keep ${stream}.log of attempt ${attempt} as ${stream}.${attempt}.log: ${(err as NodeJS.ErrnoException).code}; the next attempt appends to it`);
    }
  }
  const results = layout.resultsDir(jobId);
  const aside = join(layout.trashDir, `${jobId}.results-${attempt}.${process.pid}.${Date.now()}`);
  try {
    mkdirSync(layout.trashDir, { recursive: true, mode: 0o700 });
    if (keepAs(results, aside)) tx.afterUnlock.push(() => rmSync(aside, { recursive: true, force: true }));
  } catch {
    // Not movable (another file system under the job's directory): removed in place.
    rmSync(results, { recursive: true, force: true });
  }
  mkdirSync(results, { recursive: true, mode: 0o700 });
}

/**
 * Records the end of a failed attempt as a retry: `ended` is the job with the attempt's
 * endTime, exitCode and signal. The caller checked retriesLeft.
 */
export function recordRetry(tx: Transaction, ended: JobRecord, errorSummary: ErrorSummary | null, say: (line: string) => void): JobRecord {
  const row = applyTransition(ended, 'retry');
  const attempt = ended.attempt ?? 1;
  retireAttemptFiles(tx, ended.jobId, attempt, say);
  const failed: Attempt = {
    attempt, startTime: ended.startTime, endTime: ended.endTime, exitCode: ended.exitCode, signal: ended.signal, errorSummary,
  };
  const delay = ended.definitionSnapshot?.retryDelay ?? 0;
  const endedAt = Date.parse(ended.endTime ?? new Date().toISOString());
  const reset = executorKind(ended).retryReset;
  const next: JobRecord = {
    ...ended,
    phase: row.to,
    attempt: attempt + 1,
    attempts: [...(ended.attempts ?? []), failed],
    startTime: null,
    endTime: null,
    exitCode: null,
    signal: null,
    errorSummary: null,
    results: [],
    pid: null,
    pidStart: null,
    abortRequested: null,
    retryAfter: delay > 0 ? new Date(endedAt + delay * 1000).toISOString() : null,
    // What the executor forgets of the last attempt (Slurm: its batch job; a new one is made).
    ...reset?.record,
  };
  tx.putHot(next, { queuedAt: ++tx.state.queueSeq, ...reset?.hot });
  tx.requeued = true;
  const retries = ended.definitionSnapshot?.retries ?? 0;
  const when = delay > 0 ? ` after ${delay} s (not before ${next.retryAfter})` : '';
  say(`job ${ended.jobId}: attempt ${attempt} failed (${errorSummary?.message ?? 'ERROR'}): queued again for retry ${attempt} of ${retries}${when}`);
  return next;
}
