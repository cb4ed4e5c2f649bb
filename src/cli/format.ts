// Human output: aligned tables and coloured phases (plain when not a terminal, with NO_COLOR
// or --no-color).

import { Chalk } from 'chalk';
import type { JobRecord } from '../core/job.js';
import type { Phase } from '../core/phases.js';

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
    ARCHIVED: c.dim,
  };
  return (phase, text) => (styles[phase] ?? ((s: string) => s))(text);
}

/** Columns padded to their widest cell; `paint` may colour a cell after padding. */
export function table(header: string[], rows: string[][], paint?: (row: number, col: number, cell: string) => string): string {
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

export function jobSummary(job: JobRecord, jobDir: string, paint: Paint): string {
  const lines: [string, string][] = [
    ['job', job.jobId],
    ['phase', paint(job.phase, job.phase)],
    ['definition', job.definition],
    ['run id', job.runId ?? '-'],
    ['owner', job.ownerId],
    ['command', job.command.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ')],
    ['parameters', Object.entries(job.parameters).map(([k, v]) => `${k}=${String(v)}`).join(' ') || '-'],
    ['created', shortTime(job.creationTime)],
    ['started', shortTime(job.startTime)],
    ['ended', shortTime(job.endTime)],
    ['runtime', duration(job)],
    ['time limit', job.executionDuration ? `${job.executionDuration} s` : 'none'],
    ['destruction', shortTime(job.destruction)],
  ];
  if (job.pid !== null) lines.push(['pid', String(job.pid)]);
  if (job.exitCode !== null) lines.push(['exit code', String(job.exitCode)]);
  if (job.signal) lines.push(['signal', job.signal]);
  if (job.errorSummary) lines.push(['error', `${job.errorSummary.type}: ${job.errorSummary.message}`]);
  lines.push(['directory', jobDir]);
  lines.push(['results', job.results.length ? job.results.map((r) => `${r.id} (${humanSize(r.size)})`).join(', ') : '-']);
  return lines.map(([k, v]) => `${k.padEnd(12)}${v}`).join('\n');
}
