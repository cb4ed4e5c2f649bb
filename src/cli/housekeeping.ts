// Commands that look after a HOME: tick (cron) and doctor.

import type { Command } from 'commander';
import { Context } from './context.js';
import { tick } from '../run/housekeeping.js';
import { doctor } from '../run/doctor.js';
import { EXIT } from '../errors.js';
import { printableLines } from './printable.js';

export interface TickAction {
  jobId: string | null;
  action: string;
}

/**
 * One line of tick's report as `{jobId, action}` for `tick --json`. Housekeeping words its
 * lines "job ID: what", or names the job's directory at the end; a line about the HOME as a
 * whole (a runner started) has no job.
 */
export function tickAction(line: string): TickAction {
  const about = /^job ([A-Za-z0-9][A-Za-z0-9_-]*): (.*)$/s.exec(line);
  if (about) return { jobId: about[1]!, action: about[2]! };
  const named = /^(.*\bjob(?: directory)?) ([A-Za-z0-9][A-Za-z0-9_-]{5,31})$/s.exec(line);
  if (named) return { jobId: named[2]!, action: named[1]! };
  return { jobId: null, action: line };
}

export function registerHousekeeping(program: Command): void {
  program
    .command('tick')
    .description('housekeeping for cron: lost jobs, time limits, destruction, queued jobs; prints nothing when it did nothing')
    .action(async (_flags: unknown, cmd: Command) => {
      const ctx = Context.of(cmd, { json: true });
      const lines = await tick(ctx.store);
      if (ctx.json) ctx.outJson(lines.map(tickAction));
      else if (lines.length) ctx.out(printableLines(lines.join('\n')));
    });

  program
    .command('doctor')
    .description('check the HOME; exit 1 when a problem is left unrepaired')
    .option('--repair', 'fix what can be fixed safely (restores the last good state copy)')
    .action(async (flags: { repair?: boolean }, cmd: Command) => {
      const ctx = Context.of(cmd, { json: true });
      const report = await doctor(ctx.store, Boolean(flags.repair));
      if (ctx.json) ctx.outJson({ problems: report.problems, repaired: report.repaired });
      else ctx.out(printableLines(report.lines.join('\n')));
      process.exitCode = report.unrepaired > 0 ? EXIT.failed : EXIT.ok;
    });
}
