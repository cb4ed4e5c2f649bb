// How a job's life is recorded, for whoever supervises it (the runner, `abort`, `tick`):
// start, "up", and the end, each a row of the transition table applied inside a state
// transaction. The end is decided from the wrapper's `exit` file when it exists (it is the
// job's own account and survives the runner), else from what waitpid told the runner, else
// the job was lost. What the end takes from the job's own files (the last stderr line, the
// results) is read before the transaction, as EndFacts (job-files.ts): a job's files are
// never opened under the lock.

import { readFileSync, statSync, unlinkSync } from 'node:fs';
import { type JobRecord, isoNow } from '../core/job.js';
import { applyTransition } from '../core/phases.js';
import type { Transaction } from '../store/state.js';
import type { HomeLayout } from '../store/home.js';
import type { EndFacts } from './job-files.js';
import { type EndStatus, parseExitFile } from './exit-status.js';
import { jobGroupMembers } from './signal.js';

export type ExitStatus = EndStatus;

export function readExitFile(layout: HomeLayout, jobId: string): ExitStatus | undefined {
  try {
    return parseExitFile(readFileSync(layout.exitFile(jobId), 'utf8'));
  } catch {
    return undefined;
  }
}

/**
 * The job's "started" marker, created exclusively by the launcher before it forks the
 * wrapper and holding "PID STARTTIME": a job is started at most once, even when its runner
 * dies before recording the start. Undefined when the job was never started (or the marker
 * is still empty).
 */
export function readStartMarker(layout: HomeLayout, jobId: string): { pid: number; pidStart: string } | undefined {
  let text: string;
  try {
    text = readFileSync(layout.startMarker(jobId), 'utf8');
  } catch {
    return undefined;
  }
  const m = /^(\d+) (\d*)$/.exec(text.trim());
  return m ? { pid: Number(m[1]), pidStart: m[2]! } : undefined;
}

export function startMarkerAge(layout: HomeLayout, jobId: string): number {
  try {
    return Date.now() - statSync(layout.startMarker(jobId)).mtimeMs;
  } catch {
    return 0;
  }
}

/**
 * When an adopted job started, for its startTime: the marker's mtime (written right after
 * the fork), unless its command could not even be executed (startTime stays null then).
 */
export function startMarkerTime(layout: HomeLayout, jobId: string): string | undefined {
  if (readExitFile(layout, jobId)?.error !== undefined) return undefined;
  try {
    return new Date(statSync(layout.startMarker(jobId)).mtimeMs).toISOString();
  } catch {
    return undefined;
  }
}

export function removeStartMarker(layout: HomeLayout, jobId: string): void {
  try {
    unlinkSync(layout.startMarker(jobId));
  } catch { /* gone already */ }
}

const describeStatus = (s: ExitStatus): string =>
  s.signal ? `killed by signal ${s.signal}` : `exited with status ${s.exitCode}`;

export function recordStart(tx: Transaction, job: JobRecord, pid: number, pidStart: string): void {
  const row = applyTransition(job, 'start');
  tx.putHot({ ...job, phase: row.to, pid, pidStart, startTime: null });
}

export function recordUp(tx: Transaction, jobId: string, at: string): void {
  const job = tx.getJob(jobId);
  if (!job || job.phase !== 'EXECUTING' || job.startTime !== null) return;
  applyTransition(job, 'up');
  tx.putHot({ ...job, startTime: at });
}

/**
 * The job's group leader is gone. Returns false when the job must stay EXECUTING for now:
 * it was aborted and other members of its process group are still alive.
 */
export function recordEnd(tx: Transaction, jobId: string, observed: ExitStatus | undefined, facts: EndFacts): boolean {
  const job = tx.getJob(jobId);
  if (!job || job.phase !== 'EXECUTING') return true;
  const status = readExitFile(tx.layout, jobId) ?? observed;
  const base = { ...job, endTime: isoNow(), exitCode: status?.exitCode ?? null, signal: status?.signal ?? null };
  if (job.abortRequested) {
    if (jobGroupMembers(job).length > 0) return false;
    const reason = tx.state.jobs[jobId]?.abortReason ?? null;
    finishAs(tx, base, 'aborted', reason ? { type: 'transient', message: reason } : null, facts);
    return true;
  }
  if (!status) {
    finishAs(tx, base, 'lost', {
      type: 'transient',
      message: 'the job was lost: it ended while nothing supervised it and left no exit status',
    }, facts);
  } else if (status.error !== undefined) {
    finishAs(tx, base, 'exit-failed', { type: 'fatal', message: status.error }, facts);
  } else if (status.exitCode === 0) {
    finishAs(tx, base, 'exit-ok', null, facts);
  } else {
    const line = facts.stderrLine;
    finishAs(tx, base, 'exit-failed', { type: 'fatal', message: line ? `${describeStatus(status)}: ${line}` : describeStatus(status) }, facts);
  }
  return true;
}

type EndEvent = 'aborted' | 'lost' | 'exit-ok' | 'exit-failed';

function finishAs(tx: Transaction, job: JobRecord, event: EndEvent, errorSummary: JobRecord['errorSummary'], facts: EndFacts): void {
  const row = applyTransition(job, event);
  tx.finish({ ...job, phase: row.to, errorSummary, results: facts.results });
}
