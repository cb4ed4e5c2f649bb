// `clean`: deletes finished jobs in bulk (SPEC §9), through the same delete as `delete`.

import type { Command } from 'commander';
import { Context } from './context.js';
import { cleanJobs } from '../core/actions.js';
import { parseDuration } from '../core/duration.js';
import { FINAL_PHASES, type Phase } from '../core/phases.js';
import { usageError } from '../errors.js';

const collect = (value: string, prev: string[]): string[] => [...prev, value];

function finalPhase(text: string): Phase {
  const up = text.toUpperCase();
  const phase = FINAL_PHASES.find((p) => p === up);
  if (!phase) throw usageError(`--phase: clean deletes only final jobs; ${JSON.stringify(text)} is not one of ${FINAL_PHASES.join(' ')}`);
  return phase;
}

export function registerClean(program: Command): void {
  program
    .command('clean')
    .description('delete final jobs (COMPLETED, ERROR, ABORTED; ARCHIVED only when asked for)')
    .option('--phase <phase>', 'only jobs in this final phase (repeatable: union)', collect, [])
    .option('--older-than <duration>', 'only jobs that ended more than this long ago (90s, 30m, 12h, 7d or seconds)')
    .option('--definition <name>', 'only jobs of this definition (repeatable: union)', collect, [])
    .action(async (flags: { phase: string[]; olderThan?: string; definition: string[] }, cmd: Command) => {
      const ctx = Context.of(cmd, { json: true });
      const deleted = await cleanJobs(ctx.store, {
        phases: flags.phase.map(finalPhase),
        olderThan: flags.olderThan === undefined ? null : parseDuration(flags.olderThan, '--older-than'),
        definitions: flags.definition,
      });
      const ids = deleted.map((j) => j.jobId);
      if (ctx.json) ctx.outJson(ids);
      else if (ids.length) ctx.out(ids.join('\n'));
    });
}
