// Commands that change jobs: run, abort, delete, limit (clean and resubmit have files of their own).

import type { Command } from 'commander';
import { Context } from './context.js';
import { forEachId, reportError, resolveJobIds } from './ids.js';
import { toPublic, type JobRecord } from '../core/job.js';
import { deleteDamagedJob, deleteJob, runJobs, setLimit } from '../core/actions.js';
import { DamagedRecordError, EXIT, UserError } from '../errors.js';
import { abortJob } from '../run/abort.js';
import { PAUSED_NOTICE } from './wait.js';
import { isFinal } from '../core/phases.js';
import { superviseIfOrphaned } from '../run/ensure-runner.js';

function printChanged(ctx: Context, jobs: JobRecord[]): void {
  if (ctx.json) ctx.outJson(jobs.map(toPublic));
}

/**
 * What an abort of `job` is about to wait for, in words (SPEC §2: an EXECUTING job's
 * processes get killGrace seconds between SIGINT or SIGTERM and SIGKILL); undefined when
 * no process is involved. A second abort waits only for what is left of the grace period.
 */
function abortWaitNotice(job: JobRecord | undefined): string | undefined {
  if (job?.phase !== 'EXECUTING') return undefined;
  const since = job.abortRequested ? Date.parse(job.abortRequested) : Date.now();
  const left = Math.max(0, Math.ceil((since + job.killGrace * 1000 - Date.now()) / 1000));
  return `job ${job.jobId}: waiting up to ${left} s (killGrace) for it to stop, then SIGKILL`;
}

/** The notices of abort and delete, before they act (stderr; -q silences them). */
function announceAbort(ctx: Context, jobId: string, deleting: boolean): void {
  let job: JobRecord | undefined;
  try {
    job = ctx.store.getJob(jobId);
  } catch {
    return; // the command itself reports what is wrong
  }
  if (deleting && job && !isFinal(job.phase)) ctx.info(`job ${jobId} is ${job.phase}: aborting it first`);
  const wait = abortWaitNotice(job);
  if (wait) ctx.info(wait);
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
      const { code, done } = await forEachId(ctx.store, ids, (id) => {
        announceAbort(ctx, id, false);
        return abortJob(ctx.store, id);
      });
      // An abort that ended a job while no runner lived (it was killed during the grace
      // period, say) freed a slot nobody would fill: queued jobs get a runner.
      if (done.length > 0) await superviseIfOrphaned(ctx.store.home, ctx.store.readState());
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
      const { code, done } = await forEachId(ctx.store, ids, async (id) => {
        announceAbort(ctx, id, true);
        try {
          return await deleteJob(ctx.store, id);
        } catch (err) {
          // Its record is damaged or missing: removed all the same (SPEC §8), without a
          // record to print.
          const unreadable = err instanceof DamagedRecordError || (err instanceof UserError && err.exitCode === EXIT.noSuchJob);
          if (!unreadable || !(await deleteDamagedJob(ctx.store, id))) throw err;
          ctx.info(`job ${id} deleted (its record was ${err instanceof DamagedRecordError ? 'damaged' : 'missing'})`);
          return undefined;
        }
      });
      const deleted = done.filter((j) => j !== undefined);
      // As after abort: a job ended while no runner lived leaves its slot to nobody.
      if (done.length > 0) await superviseIfOrphaned(ctx.store.home, ctx.store.readState());
      printChanged(ctx, deleted);
      for (const j of deleted) ctx.info(`job ${j.jobId} deleted`);
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
