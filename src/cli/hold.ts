// hold and release (SPEC §13): PENDING or QUEUED -> HELD, HELD -> QUEUED at its old place.

import type { Command } from 'commander';
import { Context } from './context.js';
import { reportError, resolveJobIds } from './ids.js';
import { type JobRecord, toPublic } from '../core/job.js';
import { holdJobs, releaseJobs } from '../core/hold.js';
import { PAUSED_NOTICE } from './wait.js';

function report(ctx: Context, outcome: (JobRecord | Error)[], idCode: number): void {
  let code = idCode;
  const changed: JobRecord[] = [];
  for (const r of outcome) {
    if (r instanceof Error) code = Math.max(code, reportError(r));
    else changed.push(r);
  }
  if (ctx.json) ctx.outJson(changed.map(toPublic));
  for (const j of changed) ctx.info(`job ${j.jobId} ${j.phase}`);
  process.exitCode = code;
}

export function registerHold(program: Command): void {
  program
    .command('hold')
    .description('hold PENDING or QUEUED jobs: not started until released')
    .argument('<ids...>', 'job ids')
    .action(async (ids: string[], _flags: unknown, cmd: Command) => {
      const ctx = Context.of(cmd, { json: true });
      const { code, resolved } = resolveJobIds(ctx.store, ids);
      report(ctx, resolved.length ? await holdJobs(ctx.store, resolved) : [], code);
    });

  program
    .command('release')
    .description('release HELD jobs: queued again at the place they had')
    .argument('<ids...>', 'job ids')
    .action(async (ids: string[], _flags: unknown, cmd: Command) => {
      const ctx = Context.of(cmd, { json: true });
      const { code, resolved } = resolveJobIds(ctx.store, ids);
      const outcome = resolved.length ? await releaseJobs(ctx.store, resolved) : [];
      report(ctx, outcome, code);
      if (outcome.some((r) => !(r instanceof Error)) && ctx.store.readState().limit === 0) ctx.info(PAUSED_NOTICE);
    });
}
