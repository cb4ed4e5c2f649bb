import type { Command } from 'commander';
import { Context } from './context.js';
import { checkJobId, toPublic } from '../core/job.js';
import { watchUntilFinal, type WatchProgress } from '../core/watch.js';
import { parseSeconds } from '../core/duration.js';
import { EXIT } from '../errors.js';

/**
 * Waits for jobs and returns wait's exit code (SPEC §9), by precedence: 124 timed out,
 * 3 a job vanished, 1 some job ended other than COMPLETED (ARCHIVED with exit 0 counts as
 * COMPLETED), else 0. On a terminal it keeps a one-line status up to date on stderr.
 */
export async function waitForJobs(ctx: Context, ids: string[], timeoutS: number | undefined): Promise<number> {
  const live = process.stderr.isTTY && !ctx.quiet && process.env.TERM !== 'dumb'; // the line is redrawn with escapes
  let shown = '';
  const show = (p: WatchProgress) => {
    const line = `waiting: ${p.done} done, ${p.running} running, ${p.queued} queued${p.pending ? `, ${p.pending} pending` : ''}`;
    if (line !== shown) process.stderr.write(`\r\x1b[2K${line}`);
    shown = line;
  };
  const outcome = await watchUntilFinal(ctx.store, ids, timeoutS, live ? show : undefined);
  if (live) process.stderr.write('\r\x1b[2K');
  for (const id of outcome.vanished) process.stderr.write(`uwsrun: no such job: ${id}\n`);
  const jobs = [...outcome.finished.values()];
  if (ctx.json) ctx.outJson(ids.length === 1 && jobs.length === 1 ? toPublic(jobs[0]!) : jobs.map(toPublic));
  const failed = jobs.filter((j) => !(j.phase === 'COMPLETED' || (j.phase === 'ARCHIVED' && j.exitCode === 0)));
  for (const j of failed) ctx.info(`job ${j.jobId} ended ${j.phase}${j.errorSummary ? `: ${j.errorSummary.message}` : ''}`);
  if (outcome.timedOut) {
    ctx.info(`timed out after ${timeoutS} s; ${ids.length - outcome.finished.size - outcome.vanished.length} job(s) not final`);
    return EXIT.timeout;
  }
  if (outcome.vanished.length > 0) return EXIT.noSuchJob;
  return failed.length > 0 ? EXIT.failed : EXIT.ok;
}

export function registerWait(program: Command): void {
  program
    .command('wait')
    .description('block until every job is final')
    .argument('<ids...>', 'job ids')
    .option('--timeout <seconds>', 'give up after this many seconds (exit 124)')
    .action(async (ids: string[], flags: { timeout?: string }, cmd: Command) => {
      const ctx = Context.of(cmd);
      const timeout = flags.timeout === undefined ? undefined : parseSeconds(flags.timeout, '--timeout');
      ids.forEach(checkJobId);
      process.exitCode = await waitForJobs(ctx, ids, timeout);
    });
}
