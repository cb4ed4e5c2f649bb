import type { Command } from 'commander';
import { Context } from './context.js';
import { resolveJobId } from './ids.js';
import { toPublic } from '../core/job.js';
import { changeJob, setJob } from '../core/set.js';
import { parseDestruction, parseDuration } from '../core/duration.js';
import { parseParamAssignment } from '../definitions/params.js';
import { usageError } from '../errors.js';

const collect = (value: string, prev: string[]): string[] => [...prev, value];

export function registerSet(program: Command): void {
  program
    .command('set')
    .description('change a job: parameters while PENDING, executionDuration while PENDING or QUEUED, destruction unless ARCHIVED')
    .argument('<id>', 'job id (or a unique prefix of at least 4 characters)')
    .option('--execution-duration <duration>', 'time limit: 90s, 30m, 12h, 7d or whole seconds (0 = unlimited)')
    .option('--destruction <when>', 'ISO 8601 instant, duration (90s 30m 12h 7d) or 0 = never')
    .option('-p, --param <NAME=VALUE>', 'a parameter (repeatable), checked as by submit', collect, [])
    .action(async (id: string, flags: { executionDuration?: string; destruction?: string; param: string[] }, cmd: Command) => {
      const ctx = Context.of(cmd, { json: true });
      const changes = {
        executionDuration: flags.executionDuration === undefined ? undefined : parseDuration(flags.executionDuration, '--execution-duration'),
        destruction: flags.destruction === undefined ? undefined : parseDestruction(flags.destruction, new Date()),
        params: flags.param.map(parseParamAssignment),
      };
      if (changes.executionDuration === undefined && changes.destruction === undefined && changes.params.length === 0) {
        throw usageError('set: nothing to change (give --execution-duration, --destruction or -p)');
      }
      const jobId = resolveJobId(ctx.store, id);
      const job = await changeJob(ctx.store, jobId, changes, (outside) => setJob(ctx.store, jobId, changes, outside));
      if (ctx.json) ctx.outJson([toPublic(job)]);
      else ctx.info(`job ${job.jobId} changed`);
    });
}
