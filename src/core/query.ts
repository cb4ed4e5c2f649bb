// Filters of `list`, as UWS 1.1 §2.2.2.1 defines them: PHASE is a union, AFTER keeps jobs
// created strictly after an instant (a date YYYY-MM-DD stands for its midnight UTC), LAST
// keeps the N most recently created; `--definition` is a union too; ARCHIVED jobs appear
// only when asked for by phase.

import type { JobRecord } from './job.js';
import { type Phase, isPhase } from './phases.js';
import { calendarDateMs, parseInstantText } from './duration.js';
import { usageError } from '../errors.js';

export interface ListFilter {
  phases: Phase[];
  after: number | null;
  last: number | null;
  /** Definition names (union); empty = all. */
  definitions: string[];
}

export interface ListFlags {
  phase: string[];
  after?: string;
  last?: string;
  definition: string[];
}

/** Milliseconds of `--after`: an ISO 8601 instant with Z or an offset, or a date (midnight UTC). */
function afterMs(text: string): number {
  const date = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
  const ms = date ? calendarDateMs(Number(date[1]), Number(date[2]), Number(date[3])) : null;
  if (ms !== null) return ms;
  const parsed = parseInstantText(text);
  if (!parsed.ok) {
    const why = parsed.reason === 'no-offset' ? ' (an instant needs Z or an offset such as +02:00)' : '';
    throw usageError(`--after: ${JSON.stringify(text)} is not a date (YYYY-MM-DD) or an ISO 8601 instant with Z or an offset${why}`);
  }
  return parsed.ms;
}

export function parseListFilter(flags: ListFlags): ListFilter {
  const phases = flags.phase.map((p) => {
    const up = p.toUpperCase();
    if (!isPhase(up)) throw usageError(`--phase: unknown phase ${JSON.stringify(p)}; phases: PENDING QUEUED EXECUTING COMPLETED ERROR ABORTED ARCHIVED HELD SUSPENDED UNKNOWN`);
    return up;
  });
  const after = flags.after === undefined ? null : afterMs(flags.after);
  let last: number | null = null;
  if (flags.last !== undefined) {
    if (!/^\d+$/.test(flags.last) || Number(flags.last) < 1) throw usageError(`--last: ${JSON.stringify(flags.last)} is not a positive whole number`);
    last = Number(flags.last);
  }
  return { phases, after, last, definitions: flags.definition };
}

/** `jobs` oldest first in, oldest first out. */
export function filterJobs(jobs: JobRecord[], f: ListFilter): JobRecord[] {
  let out = jobs.filter((j) => (f.phases.length ? f.phases.includes(j.phase) : j.phase !== 'ARCHIVED'));
  if (f.after !== null) out = out.filter((j) => Date.parse(j.creationTime) > f.after!);
  if (f.definitions.length) out = out.filter((j) => f.definitions.includes(j.definition));
  if (f.last !== null) out = out.slice(-f.last);
  return out;
}
