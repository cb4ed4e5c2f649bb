// Commands that look after a HOME: tick (cron) and doctor.

import type { Command } from 'commander';
import { Context } from './context.js';
import { tick } from '../run/housekeeping.js';
import { doctor } from '../run/doctor.js';
import { EXIT } from '../errors.js';

export function registerHousekeeping(program: Command): void {
  program
    .command('tick')
    .description('housekeeping for cron: lost jobs, time limits, destruction, queued jobs; prints nothing when it did nothing')
    .action(async (_flags: unknown, cmd: Command) => {
      const ctx = Context.of(cmd);
      const lines = await tick(ctx.store);
      if (lines.length) ctx.out(lines.join('\n'));
    });

  program
    .command('doctor')
    .description('check the HOME; exit 1 when a problem is left unrepaired')
    .option('--repair', 'fix what can be fixed safely (restores the last good state copy)')
    .action(async (flags: { repair?: boolean }, cmd: Command) => {
      const ctx = Context.of(cmd);
      const report = await doctor(ctx.store, Boolean(flags.repair));
      ctx.out(report.lines.join('\n'));
      process.exitCode = report.unrepaired > 0 ? EXIT.failed : EXIT.ok;
    });
}
