// Human output: aligned tables and coloured phases (plain when not a terminal, with NO_COLOR
// or --no-color). Every cell and value is made printable (printable.ts) before it is padded,
// so widths count what the terminal shows and no control character reaches it.

import { Chalk } from 'chalk';
import type { JobRecord } from '../core/job.js';
import type { Phase } from '../core/phases.js';
import { printable } from './printable.js';

export type Paint = (phase: Phase, text: string) => string;

export function phasePainter(color: boolean): Paint {
  const c = new Chalk({ level: color ? 1 : 0 });
  const styles: Partial<Record<Phase, (s: string) => string>> = {
    PENDING: c.gray,
    QUEUED: c.cyan,
    EXECUTING: c.yellow,
    COMPLETED: c.green,
    ERROR: c.red,
    ABORTED: c.magenta,
    HELD: c.blue,
    ARCHIVED: c.dim,
  };
  return (phase, text) => (styles[phase] ?? ((s: string) => s))(text);
}

/** Columns padded to their widest cell; `paint` may colour a cell after padding. */
export function table(header: string[], rawRows: string[][], paint?: (row: number, col: number, cell: string) => string): string {
  const rows = rawRows.map((r) => r.map(printable));
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[], r: number) =>
    cells.map((cell, i) => {
      const padded = i === cells.length - 1 ? cell : cell.padEnd(widths[i]!);
      return paint && r >= 0 ? paint(r, i, padded) : padded;
    }).join('  ').trimEnd();
  return [line(header, -1), ...rows.map((r, i) => line(r, i))].join('\n');
}

/** 2026-11-27T20:39:40.123Z -> 2026-11-27 20:39:40 (UTC, as stored). */
export const shortTime = (iso: string | null): string => (iso ? iso.replace('T', ' ').slice(0, 19) : '-');

/** An instant for `show`, with its zone: 2026-11-27 20:39:40.123 UTC. */
export const zonedTime = (iso: string): string => `${iso.replace('T', ' ').replace(/Z$/, '')} UTC`;

export function duration(job: JobRecord): string {
  if (!job.startTime) return '-';
  const ms = (job.endTime ? Date.parse(job.endTime) : Date.now()) - Date.parse(job.startTime);
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(Math.round(s % 60)).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

export function jobsTable(jobs: JobRecord[], paint: Paint): string {
  const rows = jobs.map((j) => [j.jobId, j.phase, j.definition, shortTime(j.creationTime), duration(j), j.runId ?? '']);
  return table(['ID', 'PHASE', 'DEFINITION', 'CREATED (UTC)', 'RUNTIME', 'RUN ID'], rows,
    (r, col, cell) => (col === 1 ? paint(jobs[r]!.phase, cell) : cell));
}

export function humanSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = bytes / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) { v /= 1024; u++; }
  return `${v.toFixed(1)} ${units[u]}`;
}

/** How `show` writes an argument: plain when it is plain, else in single quotes as a shell would. */
const shellWord = (a: string): string => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`);

/** Each parameter as the text it was given (`-p sigma=2.50`, a YAML default `3.0`). */
function parameterText(job: JobRecord): string {
  const text = job.paramText ?? {};
  return Object.entries(job.parameters).map(([k, v]) => `${k}=${shellWord(Object.hasOwn(text, k) ? text[k]! : String(v))}`).join(' ');
}

function quoteText(job: JobRecord): string | undefined {
  if (job.phase !== 'QUEUED' && job.phase !== 'EXECUTING') return undefined;
  return job.quote ? `${zonedTime(job.quote)} (estimate)` : 'unknown (no COMPLETED job of this definition to learn from)';
}

export interface SummaryExtras {
  /** Why a QUEUED job has not started (run/why-waiting.ts); null when nothing holds it. */
  waiting?: string | null;
  /** Its dependencies, each with its phase now (SPEC §13). */
  after?: string;
}

/**
 * A job with retries (SPEC §13): which attempt this is, and one line per earlier attempt
 * that failed (how, when, where its logs are). Nothing for a job without retries.
 */
function attemptLines(job: JobRecord): [string, string][] {
  const attempts = job.attempts ?? [];
  const retries = job.definitionSnapshot?.retries ?? 0;
  if (attempts.length === 0 && retries === 0) return [];
  const lines: [string, string][] = [['attempt', `${job.attempt ?? 1} of at most ${retries + 1}`]];
  for (const a of attempts) {
    const how = a.errorSummary?.message ?? (a.signal ? `killed by signal ${a.signal}` : `exit code ${a.exitCode}`);
    const when = a.endTime ? `ended ${zonedTime(a.endTime)}` : 'no end time';
    lines.push([`attempt ${a.attempt}`, `ERROR: ${how}; ${when}; logs stdout.${a.attempt}.log, stderr.${a.attempt}.log`]);
  }
  return lines;
}

export function jobSummary(job: JobRecord, jobDir: string, paint: Paint, extras: SummaryExtras = {}): string {
  const when = (iso: string | null, none: string) => (iso ? zonedTime(iso) : none);
  const notYet = job.phase === 'PENDING' || job.phase === 'QUEUED' || job.phase === 'EXECUTING' ? 'not yet' : '-';
  const lines: [string, string][] = [
    ['job', job.jobId],
    ['phase', job.phase],
    ['definition', job.definition],
    ['run id', job.runId ?? '-'],
    ['owner', job.ownerId],
    ['command', job.command.map(shellWord).join(' ')],
    ['parameters', parameterText(job) || '-'],
    ['created', zonedTime(job.creationTime)],
    ['started', when(job.startTime, job.phase === 'EXECUTING' ? 'starting up' : notYet)],
    ['ended', when(job.endTime, notYet)],
    ['runtime', duration(job)],
  ];
  const quote = quoteText(job);
  if (quote) lines.push(['quote', quote]);
  if (job.phase === 'QUEUED') {
    lines.push(['why queued', job.slurmJobId ? `handed over to Slurm (job ${job.slurmJobId}), which keeps it pending` : extras.waiting ?? 'nothing holds it: it starts any moment']);
  }
  if (job.phase === 'HELD') lines.push(['why held', `held: not started until \`uwsrun release ${job.jobId}\``]);
  if (extras.after) lines.push(['after', extras.after]);
  if (job.notBefore) lines.push(['not before', zonedTime(job.notBefore)]);
  lines.push(['time limit', job.executionDuration ? `${job.executionDuration} s` : 'none']);
  lines.push(['destruction', when(job.destruction, 'never')]);
  lines.push(['executor', job.executor ?? 'local']);
  if (job.slurmJobId) lines.push(['slurm job', job.slurmJobId]);
  if (job.pid !== null) lines.push(['pid', String(job.pid)]);
  if (job.exitCode !== null) lines.push(['exit code', String(job.exitCode)]);
  if (job.signal) lines.push(['signal', job.signal]);
  if (job.errorSummary) lines.push(['error', `${job.errorSummary.type}: ${job.errorSummary.message}`]);
  lines.push(...attemptLines(job));
  // Its notification (SPEC §13) went out when the job became final: what notify.log holds.
  if (job.notified) lines.push(['notified', `${zonedTime(job.notified)} (${job.phase}; output in notify.log)`]);
  lines.push(['directory', jobDir]);
  lines.push(['results', job.results.length ? job.results.map((r) => `${r.id} (${humanSize(r.size)})`).join(', ') : '-']);
  // The phase is painted after escaping: its colour codes are ours, not the job's.
  return lines.map(([k, v]) => `${k.padEnd(12)}${k === 'phase' ? paint(job.phase, v) : printable(v)}`).join('\n');
}
