// Commands that read jobs: show, phase, logs, results, list.

import { createReadStream, statSync } from 'node:fs';
import type { Command } from 'commander';
import { Context } from './context.js';
import { humanSize, jobSummary, jobsTable, phasePainter, table } from './format.js';
import { type JobRecord, executorOf, toPublic } from '../core/job.js';
import { resolveJobId } from './ids.js';
import { parseLineCount, tailOffset } from './tail.js';
import { writeOut } from './stdout.js';
import { pendingNotice } from './wait.js';
import { type ListFlags, filterJobs, parseListFilter } from '../core/query.js';
import { isFinal } from '../core/phases.js';
import { DamagedRecordError, noSuchJob } from '../errors.js';
import type { StateData, Store } from '../store/state.js';
import { jobDocument, jobsDocument, resultsDocument } from '../uws/xml.js';
import { QuoteModel } from '../uws/quote.js';
import { superviseIfOrphaned } from '../run/ensure-runner.js';
import { type QueueView, whyWaiting } from '../run/why-waiting.js';
import { readEntries } from '../store/queue-dir.js';
import { type DependencyState, queuedJobGate } from '../core/gate.js';

/** The job an argument names (a full id or a unique prefix, see ids.ts). */
export function getJobOrThrow(store: Store, text: string): JobRecord {
  const jobId = resolveJobId(store, text);
  const job = store.getJob(jobId);
  if (!job) throw noSuchJob(jobId);
  return job;
}

/** An active job shown to a user gets a runner if its runner is gone (SPEC §2: lost jobs
 * are found by the next uwsrun call). */
async function lookAfter(store: Store, job: JobRecord): Promise<void> {
  if (job.phase === 'QUEUED' || job.phase === 'EXECUTING') await superviseIfOrphaned(store.home, store.readState());
}

const collect = (value: string, prev: string[]): string[] => [...prev, value];

/** The quote (SPEC §4) is computed when shown: from every job's history and the queue. */
function quoteModel(state: StateData, all: JobRecord[]): QuoteModel {
  // The queue manager's FIFO order (run/queue.ts): the job's queuedAt.
  return new QuoteModel(all, state.limit, new Date(), (j) => j.queuedAt ?? state.jobs[j.jobId]?.queuedAt ?? 0);
}

const withQuote = (job: JobRecord, model: QuoteModel): JobRecord => ({ ...job, quote: model.quoteFor(job) });

/**
 * What run/why-waiting.ts judges a QUEUED job by, as the runner does: the limit, the
 * EXECUTING jobs (hot entries), and its place in the queue (HOME/queue/, whose entries sort
 * by queuedAt; one whose job has started meanwhile is not counted).
 */
function queueView(store: Store, job: JobRecord, state: StateData): QueueView {
  const slurm = executorOf(job) === 'slurm';
  const mine = job.queuedAt ?? Infinity;
  const lookup = dependencyLookup(store, state);
  // A job ahead that waits itself (its entry is marked) holds no place: judged like this one.
  const mayStart = (id: string): boolean => {
    try {
      const ahead = store.jobFrom(state, id);
      return ahead?.phase === 'QUEUED' && queuedJobGate(ahead, lookup).eligible;
    } catch {
      return false;
    }
  };
  return {
    job,
    gate: queuedJobGate(job, lookup),
    limit: slurm && state.limit > 0 ? Number.POSITIVE_INFINITY : state.limit,
    // SPEC §11: the HOME-wide limit counts local jobs; a slurm definition's maxRunning counts
    // its jobs in Slurm's hands (pending or running there), and the HOME's limit is not its.
    executing: Object.values(state.jobs)
      .filter((h) => (slurm ? h.executor === 'slurm' : h.phase === 'EXECUTING' && h.executor !== 'slurm'))
      .map((h) => h.definition),
    queuedBefore: job.phase === 'QUEUED'
      ? readEntries(store.layout).filter((e) => e.queuedAt < mine && e.jobId !== job.jobId && !state.jobs[e.jobId] && (!e.waits || mayStart(e.jobId))).length
      : 0,
  };
}

/** The gate's view of other jobs (core/gate.ts), from their records; cached per command. */
function dependencyLookup(store: Store, state: StateData): (id: string) => DependencyState {
  const seen = new Map<string, DependencyState>();
  return (id) => {
    if (!seen.has(id)) {
      try {
        const dep = store.jobFrom(state, id);
        seen.set(id, dep ? { phase: dep.phase, exitCode: dep.exitCode } : null);
      } catch {
        seen.set(id, { phase: 'UNKNOWN', exitCode: null }); // damaged: its dependents wait
      }
    }
    return seen.get(id)!;
  };
}

/** Each dependency with its phase now, for `show`: `Kx3V... (COMPLETED)`, `... (ERROR; any end)`. */
function dependencyText(store: Store, state: StateData, job: JobRecord): string | undefined {
  if (!job.after?.length) return undefined;
  const lookup = dependencyLookup(store, state);
  return job.after.map((d) => {
    const dep = lookup(d.jobId);
    return `${d.jobId} (${dep ? dep.phase : 'deleted'}${d.any ? '; any end' : ''})`;
  }).join(', ');
}

function hasContent(file: string): boolean {
  try {
    return statSync(file).size > 0;
  } catch {
    return false;
  }
}

export function registerInspect(program: Command): void {
  program
    .command('show')
    .description('show one job')
    .argument('<id>', 'job id (or a unique prefix of at least 4 characters)')
    .action(async (id: string, _flags: unknown, cmd: Command) => {
      const ctx = Context.of(cmd, { json: true, xml: true });
      let job = getJobOrThrow(ctx.store, id);
      await lookAfter(ctx.store, job);
      // Only an active job has a quote; listing every job is O(n), so skip it otherwise.
      let waiting: string | null = null;
      const state = ctx.store.readState();
      if (job.phase === 'QUEUED' || job.phase === 'EXECUTING') {
        job = withQuote(job, quoteModel(state, ctx.store.listJobs(state)));
        waiting = whyWaiting(queueView(ctx.store, job, state));
      }
      const after = ctx.xml || ctx.json ? undefined : dependencyText(ctx.store, state, job);
      if (ctx.xml) ctx.out(jobDocument(job, { hasDetail: (j) => hasContent(ctx.store.layout.stderrLog(j.jobId)) }));
      else if (ctx.json) ctx.outJson(toPublic(job));
      else ctx.out(jobSummary(job, ctx.store.layout.jobDir(job.jobId), phasePainter(ctx.color), { waiting, after }));
    });

  program
    .command('phase')
    .description('print the phase of a job')
    .argument('<id>', 'job id (or a unique prefix of at least 4 characters)')
    .action(async (id: string, _flags: unknown, cmd: Command) => {
      const ctx = Context.of(cmd, { json: true });
      const job = getJobOrThrow(ctx.store, id);
      await lookAfter(ctx.store, job);
      if (ctx.json) ctx.outJson({ jobId: job.jobId, phase: job.phase });
      else ctx.out(job.phase);
    });

  program
    .command('results')
    .description('list the result files of a job')
    .argument('<id>', 'job id (or a unique prefix of at least 4 characters)')
    .action((id: string, _flags: unknown, cmd: Command) => {
      const ctx = Context.of(cmd, { json: true, xml: true });
      const job = getJobOrThrow(ctx.store, id);
      if (ctx.xml) ctx.out(resultsDocument(job.results));
      else if (ctx.json) ctx.outJson(job.results);
      else if (job.results.length === 0) ctx.info(isFinal(job.phase) ? `job ${job.jobId} has no results` : `job ${job.jobId} is ${job.phase}: results are listed when it ends`);
      else ctx.out(table(['ID', 'SIZE', 'TYPE', 'PATH'], job.results.map((r) => [r.id, humanSize(r.size), r.mimeType, r.path])));
    });

  program
    .command('logs')
    .description("print a job's output")
    .argument('<id>', 'job id (or a unique prefix of at least 4 characters)')
    .option('--stderr', 'print stderr.log instead of stdout.log')
    .option('--follow', 'keep printing until the job is final and its log drained')
    .option('--tail <n>', 'only the last N lines (with --follow: then what follows)')
    .action(async (id: string, flags: { stderr?: boolean; follow?: boolean; tail?: string }, cmd: Command) => {
      // The log is printed as the job wrote it: there is no JSON form of it.
      const ctx = Context.of(cmd);
      const tailLines = flags.tail === undefined ? undefined : parseLineCount(flags.tail);
      const job = getJobOrThrow(ctx.store, id);
      const file = flags.stderr ? ctx.store.layout.stderrLog(job.jobId) : ctx.store.layout.stdoutLog(job.jobId);
      if (flags.follow) {
        if (job.phase === 'PENDING') ctx.info(pendingNotice(job.jobId));
        const { followLog } = await import('./follow.js');
        await followLog(ctx.store, job.jobId, file, tailLines);
        return;
      }
      // The job may have made its log a FIFO or a symlink: only a regular file is read.
      const { openJobFile } = await import('../run/job-files.js');
      const opened = openJobFile(file);
      if (!opened) return;
      const start = tailLines === undefined ? 0 : tailOffset(opened.fd, opened.size, tailLines);
      await new Promise<void>((resolve, reject) => {
        const stream = createReadStream(file, { fd: opened.fd, start });
        stream.on('error', reject);
        stream.on('end', resolve);
        stream.on('data', (chunk) => writeOut(chunk as Buffer)); // a reader gone: exit 0 (stdout.ts)
      });
    });

  program
    .command('list')
    .description('list jobs, oldest first')
    .option('--phase <phase>', 'only jobs in this phase (repeatable: union)', collect, [])
    .option('--after <when>', 'only jobs created strictly after this ISO 8601 instant or date (YYYY-MM-DD: its midnight UTC)')
    .option('--last <n>', 'only the N most recently created jobs')
    .option('--definition <name>', 'only jobs of this definition (repeatable: union)', collect, [])
    .action(async (flags: ListFlags, cmd: Command) => {
      const ctx = Context.of(cmd, { json: true, xml: true });
      const filter = parseListFilter(flags);
      const state = ctx.store.readState();
      await superviseIfOrphaned(ctx.store.home, state);
      // --last N reads the tail of the creation index only; the rest lists every job.
      const { last, ...rest } = filter;
      // A damaged record leaves its job out and is named on stderr, even with -q: it is a
      // problem, not information; the listing and exit 0 are for the others (SPEC §8).
      const damaged: DamagedRecordError[] = [];
      const tail = last === null ? undefined
        : ctx.store.lastJobs(last, (j) => filterJobs([j], { ...rest, last: null }).length === 1, state, damaged);
      let all = tail ? undefined : ctx.store.listJobs(state, damaged);
      for (const d of new Map(damaged.map((d) => [d.jobId, d])).values()) ctx.problem(d.line);
      const jobs = tail ?? filterJobs(all!, filter);
      // uws:jobref carries no quote, so only the JSON listing needs one; and only QUEUED and
      // EXECUTING jobs have one (computed from every job's history: O(n)).
      if (ctx.xml) ctx.out(jobsDocument(jobs));
      else if (ctx.json) {
        const needQuote = jobs.some((j) => j.phase === 'QUEUED' || j.phase === 'EXECUTING');
        all ??= needQuote ? ctx.store.listJobs(state, []) : [];
        const model = quoteModel(state, all);
        ctx.outJson(jobs.map((j) => toPublic(needQuote ? withQuote(j, model) : j)));
      } else if (jobs.length === 0) ctx.info('no jobs');
      else ctx.out(jobsTable(jobs, phasePainter(ctx.color)));
    });

}
