import type { Command } from 'commander';
import { Context } from './context.js';
import { toPublic } from '../core/job.js';
import { watchUntilFinal, type WatchProgress } from '../core/watch.js';
import { parseDuration } from '../core/duration.js';
import { EXIT, UserError } from '../errors.js';
import { resolveJobId } from './ids.js';

/** Said when a job is queued or waited for in a paused HOME. */
export const PAUSED_NOTICE = 'the HOME is paused (limit 0): queued jobs start after `uwsrun limit N` with N > 0';

/** Said once by `wait` and `logs --follow`: a PENDING job is never started by itself. */
export const pendingNotice = (jobId: string): string =>
  `job ${jobId} is PENDING: nothing will start it until \`uwsrun run ${jobId}\``;

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
  if (!ctx.quiet) {
    const phaseOf = (id: string) => {
      try {
        return ctx.store.getJob(id)?.phase;
      } catch {
        return undefined; // a damaged record is reported by the wait itself
      }
    };
    const phases = [...new Set(ids)].map((id) => [id, phaseOf(id)] as const);
    for (const [id, phase] of phases) if (phase === 'PENDING') ctx.info(pendingNotice(id));
    if (phases.some(([, phase]) => phase === 'QUEUED') && ctx.store.readState().limit === 0) ctx.info(PAUSED_NOTICE);
  }
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
    .argument('<ids...>', 'job ids (or unique prefixes of at least 4 characters)')
    .option('--timeout <duration>', 'give up after this long (90s, 30m, 12h, 7d or seconds; exit 124)')
    .action(async (ids: string[], flags: { timeout?: string }, cmd: Command) => {
      const ctx = Context.of(cmd, { json: true });
      const timeout = flags.timeout === undefined ? undefined : parseDuration(flags.timeout, '--timeout');
      // An id that names no job is waited for like one that vanished (exit 3, after the
      // others); a bad or ambiguous one is a usage error before any waiting.
      const resolved: string[] = [];
      for (const id of ids) {
        try {
          resolved.push(resolveJobId(ctx.store, id));
        } catch (err) {
          if (!(err instanceof UserError && err.exitCode === EXIT.noSuchJob)) throw err;
          resolved.push(id);
        }
      }
      process.exitCode = await waitForJobs(ctx, resolved, timeout);
    });
}
