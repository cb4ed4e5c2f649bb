// `resubmit`: a fresh run of an earlier job (SPEC §9), through the same submit as `submit`.

import type { Command } from 'commander';
import { Context } from './context.js';
import { resolveJobId } from './ids.js';
import { toPublic } from '../core/job.js';
import { resubmitJob } from '../core/submit.js';
import { parseDuration } from '../core/duration.js';
import { parseParamAssignment } from '../definitions/params.js';
import { usageError } from '../errors.js';
import { waitForJobs } from './wait.js';

const collect = (value: string, prev: string[]): string[] => [...prev, value];

export function registerResubmit(program: Command): void {
  program
    .command('resubmit')
    .description("create a new job like an earlier one (its definition as submitted, parameters, run id, limits); PENDING unless --run or --wait")
    .argument('<id>', 'the earlier job, in any phase (or a unique prefix of at least 4 characters)')
    .option('-p, --param <NAME=VALUE>', 'change a parameter (repeatable), checked as by submit', collect, [])
    .option('--run', 'queue the new job at once')
    .option('--wait', 'run, then wait until the new job is final')
    .option('--timeout <duration>', 'with --wait: give up after this long (90s, 30m, 12h, 7d or seconds; exit 124)')
    .action(async (id: string, flags: { param: string[]; run?: boolean; wait?: boolean; timeout?: string }, cmd: Command) => {
      const ctx = Context.of(cmd, { json: true });
      if (flags.timeout !== undefined && !flags.wait) throw usageError('--timeout needs --wait');
      const timeout = flags.timeout === undefined ? undefined : parseDuration(flags.timeout, '--timeout');
      const params = flags.param.map(parseParamAssignment);
      const job = await resubmitJob(ctx.store, resolveJobId(ctx.store, id), params, Boolean(flags.run || flags.wait));
      if (ctx.json && !flags.wait) ctx.outJson(toPublic(job));
      else if (!ctx.json) ctx.out(job.jobId);
      if (flags.wait) process.exitCode = await waitForJobs(ctx, [job.jobId], timeout);
    });
}
