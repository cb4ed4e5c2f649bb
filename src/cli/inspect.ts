// Commands that read jobs: show, phase, logs, results, list.

import { createReadStream, existsSync } from 'node:fs';
import type { Command } from 'commander';
import { Context } from './context.js';
import { forEachId } from './ids.js';
import { humanSize, jobSummary, jobsTable, phasePainter, table } from './format.js';
import { checkJobId, type JobRecord, toPublic } from '../core/job.js';
import { filterJobs, parseListFilter } from '../core/query.js';
import { isFinal } from '../core/phases.js';
import { noSuchJob } from '../errors.js';
import type { Store } from '../store/state.js';

export function getJobOrThrow(store: Store, jobId: string): JobRecord {
  const job = store.getJob(checkJobId(jobId));
  if (!job) throw noSuchJob(jobId);
  return job;
}

const collect = (value: string, prev: string[]): string[] => [...prev, value];

export function registerInspect(program: Command): void {
  program
    .command('show')
    .description('show one job')
    .argument('<id>', 'job id')
    .action((id: string, _flags: unknown, cmd: Command) => {
      const ctx = Context.of(cmd);
      const job = getJobOrThrow(ctx.store, id);
      if (ctx.json) ctx.outJson(toPublic(job));
      else ctx.out(jobSummary(job, ctx.store.layout.jobDir(job.jobId), phasePainter(ctx.color)));
    });

  program
    .command('phase')
    .description('print the phase of a job')
    .argument('<id>', 'job id')
    .action((id: string, _flags: unknown, cmd: Command) => {
      const ctx = Context.of(cmd);
      ctx.out(getJobOrThrow(ctx.store, id).phase);
    });

  program
    .command('results')
    .description('list the result files of a job')
    .argument('<id>', 'job id')
    .action((id: string, _flags: unknown, cmd: Command) => {
      const ctx = Context.of(cmd);
      const job = getJobOrThrow(ctx.store, id);
      if (ctx.json) ctx.outJson(job.results);
      else if (job.results.length === 0) ctx.info(isFinal(job.phase) ? `job ${job.jobId} has no results` : `job ${job.jobId} is ${job.phase}: results are listed when it ends`);
      else ctx.out(table(['ID', 'SIZE', 'TYPE', 'PATH'], job.results.map((r) => [r.id, humanSize(r.size), r.mimeType, r.path])));
    });

  program
    .command('logs')
    .description("print a job's output")
    .argument('<id>', 'job id')
    .option('--stderr', 'print stderr.log instead of stdout.log')
    .option('--follow', 'keep printing until the job is final and its log drained')
    .action(async (id: string, flags: { stderr?: boolean; follow?: boolean }, cmd: Command) => {
      const ctx = Context.of(cmd);
      const job = getJobOrThrow(ctx.store, id);
      const file = flags.stderr ? ctx.store.layout.stderrLog(job.jobId) : ctx.store.layout.stdoutLog(job.jobId);
      if (flags.follow) {
        const { followLog } = await import('./follow.js');
        await followLog(ctx.store, job.jobId, file);
        return;
      }
      if (!existsSync(file)) return;
      await new Promise<void>((resolve, reject) => {
        const stream = createReadStream(file);
        stream.on('error', reject);
        stream.on('end', resolve);
        stream.pipe(process.stdout, { end: false });
      });
    });

  program
    .command('list')
    .description('list jobs, oldest first')
    .option('--phase <phase>', 'only jobs in this phase (repeatable: union)', collect, [])
    .option('--after <iso>', 'only jobs created strictly after this instant')
    .option('--last <n>', 'only the N most recently created jobs')
    .option('--definition <name>', 'only jobs of this definition')
    .action((flags: { phase: string[]; after?: string; last?: string; definition?: string }, cmd: Command) => {
      const ctx = Context.of(cmd);
      const filter = parseListFilter(flags);
      const jobs = filterJobs(ctx.store.listJobs(), filter);
      if (ctx.json) ctx.outJson(jobs.map(toPublic));
      else if (jobs.length === 0) ctx.info('no jobs');
      else ctx.out(jobsTable(jobs, phasePainter(ctx.color)));
    });

  void forEachId;
}
