// Commands that change jobs: run, abort, delete, limit (clean and resubmit have files of their own).

import type { Command } from 'commander';
import { Context } from './context.js';
import { forEachId, reportError, resolveJobIds } from './ids.js';
import { toPublic, type JobRecord } from '../core/job.js';
import { deleteJob, runJobs, setLimit } from '../core/actions.js';
import { abortJob } from '../run/abort.js';
import { PAUSED_NOTICE } from './wait.js';

function printChanged(ctx: Context, jobs: JobRecord[]): void {
  if (ctx.json) ctx.outJson(jobs.map(toPublic));
}

export function registerChange(program: Command): void {
  program
    .command('run')
    .description('queue PENDING jobs')
    .argument('<ids...>', 'job ids')
    .action(async (ids: string[], _flags: unknown, cmd: Command) => {
      const ctx = Context.of(cmd, { json: true });
      const { code: idCode, resolved: valid } = resolveJobIds(ctx.store, ids);
      let code = idCode;
      const queued: JobRecord[] = [];
      if (valid.length) {
        for (const r of await runJobs(ctx.store, valid)) {
          if (r instanceof Error) code = Math.max(code, reportError(r));
          else queued.push(r);
        }
      }
      printChanged(ctx, queued);
      if (queued.length) {
        ctx.info(`queued ${queued.length} job${queued.length === 1 ? '' : 's'}`);
        if (ctx.store.readState().limit === 0) ctx.info(PAUSED_NOTICE);
      }
      process.exitCode = code;
    });

  program
    .command('abort')
    .description('abort jobs; returns when they are ABORTED and their processes gone')
    .argument('<ids...>', 'job ids')
    .action(async (ids: string[], _flags: unknown, cmd: Command) => {
      const ctx = Context.of(cmd, { json: true });
      const { code, done } = await forEachId(ctx.store, ids, (id) => abortJob(ctx.store, id));
      printChanged(ctx, done);
      for (const j of done) ctx.info(`job ${j.jobId} ${j.phase}`);
      process.exitCode = code;
    });

  program
    .command('delete')
    .description('abort jobs if active, then remove their records and directories')
    .argument('<ids...>', 'job ids')
    .action(async (ids: string[], _flags: unknown, cmd: Command) => {
      const ctx = Context.of(cmd, { json: true });
      const { code, done } = await forEachId(ctx.store, ids, (id) => deleteJob(ctx.store, id));
      printChanged(ctx, done);
      for (const j of done) ctx.info(`job ${j.jobId} deleted`);
      process.exitCode = code;
    });

  program
    .command('limit')
    .description('show or set how many jobs of this HOME may execute at once (0 pauses: no job starts)')
    .argument('[n]', 'the new limit, 0 to 10000')
    .action(async (n: string | undefined, _flags: unknown, cmd: Command) => {
      const ctx = Context.of(cmd, { json: true });
      const limit = n === undefined ? ctx.store.readState().limit : await setLimit(ctx.store, n);
      if (ctx.json) ctx.outJson({ limit });
      else ctx.out(String(limit));
      if (n !== undefined && limit === 0) ctx.info('paused: no job starts until `uwsrun limit N` with N > 0; running jobs go on');
    });
}
