// Commands that change jobs: run, abort, delete, limit.

import type { Command } from 'commander';
import { Context } from './context.js';
import { forEachId, reportError } from './ids.js';
import { checkJobId, toPublic, type JobRecord } from '../core/job.js';
import { deleteJob, runJobs, setLimit } from '../core/actions.js';
import { abortJob } from '../run/abort.js';

function printChanged(ctx: Context, jobs: JobRecord[]): void {
  if (ctx.json) ctx.outJson(jobs.map(toPublic));
}

export function registerChange(program: Command): void {
  program
    .command('run')
    .description('queue PENDING jobs')
    .argument('<ids...>', 'job ids')
    .action(async (ids: string[], _flags: unknown, cmd: Command) => {
      const ctx = Context.of(cmd);
      let code = 0;
      const valid: string[] = [];
      for (const id of ids) {
        try {
          valid.push(checkJobId(id));
        } catch (err) {
          code = Math.max(code, reportError(err));
        }
      }
      const queued: JobRecord[] = [];
      if (valid.length) {
        for (const r of await runJobs(ctx.store, valid)) {
          if (r instanceof Error) code = Math.max(code, reportError(r));
          else queued.push(r);
        }
      }
      printChanged(ctx, queued);
      if (queued.length) ctx.info(`queued ${queued.length} job${queued.length === 1 ? '' : 's'}`);
      process.exitCode = code;
    });

  program
    .command('abort')
    .description('abort jobs; returns when they are ABORTED and their processes gone')
    .argument('<ids...>', 'job ids')
    .action(async (ids: string[], _flags: unknown, cmd: Command) => {
      const ctx = Context.of(cmd);
      const { code, done } = await forEachId(ids, (id) => abortJob(ctx.store, id));
      printChanged(ctx, done);
      for (const j of done) ctx.info(`job ${j.jobId} ${j.phase}`);
      process.exitCode = code;
    });

  program
    .command('delete')
    .description('abort jobs if active, then remove their records and directories')
    .argument('<ids...>', 'job ids')
    .action(async (ids: string[], _flags: unknown, cmd: Command) => {
      const ctx = Context.of(cmd);
      const { code, done } = await forEachId(ids, (id) => deleteJob(ctx.store, id));
      printChanged(ctx, done);
      for (const j of done) ctx.info(`job ${j.jobId} deleted`);
      process.exitCode = code;
    });

  program
    .command('limit')
    .description('show or set how many jobs of this HOME may execute at once')
    .argument('[n]', 'the new limit')
    .action(async (n: string | undefined, _flags: unknown, cmd: Command) => {
      const ctx = Context.of(cmd);
      if (n === undefined) {
        ctx.out(String(ctx.store.readState().limit));
        return;
      }
      ctx.out(String(await setLimit(ctx.store, n)));
    });
}
