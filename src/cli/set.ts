import type { Command } from 'commander';
import { Context } from './context.js';
import { checkJobId, toPublic } from '../core/job.js';
import { setJob } from '../core/set.js';
import { parseDestruction, parseSeconds } from '../core/duration.js';
import { parseParamAssignment } from '../definitions/params.js';
import { usageError } from '../errors.js';

const collect = (value: string, prev: string[]): string[] => [...prev, value];

export function registerSet(program: Command): void {
  program
    .command('set')
    .description('change a job: parameters while PENDING, executionDuration while PENDING or QUEUED, destruction unless ARCHIVED')
    .argument('<id>', 'job id')
    .option('--execution-duration <seconds>', 'time limit in seconds (0 = unlimited)')
    .option('--destruction <when>', 'ISO 8601 instant, duration (90s 30m 12h 7d) or 0 = never')
    .option('-p, --param <NAME=VALUE>', 'a parameter (repeatable)', collect, [])
    .action((id: string, flags: { executionDuration?: string; destruction?: string; param: string[] }, cmd: Command) => {
      const ctx = Context.of(cmd);
      const jobId = checkJobId(id);
      const changes = {
        executionDuration: flags.executionDuration === undefined ? undefined : parseSeconds(flags.executionDuration, '--execution-duration'),
        destruction: flags.destruction === undefined ? undefined : parseDestruction(flags.destruction, new Date()),
        params: flags.param.map(parseParamAssignment),
      };
      if (changes.executionDuration === undefined && changes.destruction === undefined && changes.params.length === 0) {
        throw usageError('set: nothing to change (give --execution-duration, --destruction or -p)');
      }
      const job = setJob(ctx.store, jobId, changes);
      if (ctx.json) ctx.outJson([toPublic(job)]);
      else ctx.info(`job ${job.jobId} changed`);
    });
}
