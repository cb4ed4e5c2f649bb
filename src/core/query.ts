// Filters of `list`, as UWS 1.1 §2.2.2.1 defines them: PHASE is a union, AFTER keeps jobs
// created strictly after an instant, LAST keeps the N most recently created; ARCHIVED jobs
// appear only when asked for by phase.

import type { JobRecord } from './job.js';
import { type Phase, isPhase } from './phases.js';
import { parseInstantText } from './duration.js';
import { usageError } from '../errors.js';

export interface ListFilter {
  phases: Phase[];
  after: number | null;
  last: number | null;
  definition: string | null;
}

export function parseListFilter(flags: { phase: string[]; after?: string; last?: string; definition?: string }): ListFilter {
  const phases = flags.phase.map((p) => {
    const up = p.toUpperCase();
    if (!isPhase(up)) throw usageError(`--phase: unknown phase ${JSON.stringify(p)}; phases: PENDING QUEUED EXECUTING COMPLETED ERROR ABORTED ARCHIVED HELD SUSPENDED UNKNOWN`);
    return up;
  });
  let after: number | null = null;
  if (flags.after !== undefined) {
    const parsed = parseInstantText(flags.after);
    if (!parsed.ok) throw usageError(`--after: ${JSON.stringify(flags.after)} is not an ISO 8601 instant with Z or an offset`);
    after = parsed.ms;
  }
  let last: number | null = null;
  if (flags.last !== undefined) {
    if (!/^\d+$/.test(flags.last) || Number(flags.last) < 1) throw usageError(`--last: ${JSON.stringify(flags.last)} is not a positive whole number`);
    last = Number(flags.last);
  }
  return { phases, after, last, definition: flags.definition ?? null };
}

/** `jobs` oldest first in, oldest first out. */
export function filterJobs(jobs: JobRecord[], f: ListFilter): JobRecord[] {
  let out = jobs.filter((j) => (f.phases.length ? f.phases.includes(j.phase) : j.phase !== 'ARCHIVED'));
  if (f.after !== null) out = out.filter((j) => Date.parse(j.creationTime) > f.after!);
  if (f.definition !== null) out = out.filter((j) => j.definition === f.definition);
  if (f.last !== null) out = out.slice(-f.last);
  return out;
}
