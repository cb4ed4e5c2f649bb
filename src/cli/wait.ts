// Waiting for jobs on the command line (`wait`, `submit --wait`). On a terminal, stderr
// carries one live line, rewritten in place: the time waited, how many jobs are done,
// running, queued, and when the quote (uws/quote.ts) expects them all done. The quote reads
// every job's record, so it is worked out when the wait starts and again at most every
// QUOTE_REFRESH_MS, not on every poll. Ctrl-C leaves the jobs running and says so.

import type { Command } from 'commander';
import { Context } from './context.js';
import { printable } from './printable.js';
import { toPublic } from '../core/job.js';
import { watchUntilFinal, type WatchProgress } from '../core/watch.js';
import { parseDuration } from '../core/duration.js';
import { EXIT, UserError } from '../errors.js';
import { QuoteModel } from '../uws/quote.js';
import { type Phase, isFinal } from '../core/phases.js';
import type { StateData } from '../store/state.js';
import { resolveJobId } from './ids.js';

/** Said when a job is queued or waited for in a paused HOME. */
export const PAUSED_NOTICE = 'the HOME is paused (limit 0): queued jobs start after `uwsrun limit N` with N > 0';

/** Said once by `wait` and `logs --follow`: a PENDING job is never started by itself. */
export const pendingNotice = (jobId: string): string =>
  `job ${jobId} is PENDING: nothing will start it until \`uwsrun run ${jobId}\``;

const QUOTE_REFRESH_MS = 10_000;

/** 75 s -> 1m15s; 3725 s -> 1h02m05s. */
export function elapsedText(ms: number): string {
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  const two = (n: number) => String(n).padStart(2, '0');
  if (s < 3600) return `${Math.floor(s / 60)}m${two(s % 60)}s`;
  return `${Math.floor(s / 3600)}h${two(Math.floor((s % 3600) / 60))}m${two(s % 60)}s`;
}

/**
 * When every job of `ids` that is not final yet is expected to be done, or null when unknown.
 * Queue order is taken as creation order (the quote's default): an estimate either way.
 */
function latestQuote(ctx: Context, ids: string[]): string | null {
  try {
    const state = ctx.store.readState();
    const model = new QuoteModel(ctx.store.listJobs(state), state.limit, new Date());
    let latest: string | null = null;
    for (const id of ids) {
      const job = ctx.store.getJob(id);
      if (!job || isFinal(job.phase)) continue;
      const quote = model.quoteFor(job);
      if (quote === null) return null;
      if (latest === null || quote > latest) latest = quote;
    }
    return latest;
  } catch {
    return null; // only a decoration of the live line
  }
}

/** The ids of `ids` still active (not final), for the hint after Ctrl-C. */
function stillActive(ctx: Context, ids: string[]): string[] {
  return ids.filter((id) => {
    try {
      const job = ctx.store.getJob(id);
      return job !== undefined && !isFinal(job.phase);
    } catch {
      return true;
    }
  });
}

/**
 * Waits for jobs and returns wait's exit code (SPEC §9), by precedence: 124 timed out,
 * 3 a job vanished, 1 some job ended other than COMPLETED (ARCHIVED with exit 0 counts as
 * COMPLETED), else 0. A job that failed and a timeout are said on stderr also with -q: the
 * exit code alone would leave a cron mail empty.
 */
export async function waitForJobs(ctx: Context, ids: string[], timeoutS: number | undefined): Promise<number> {
  const live = process.stderr.isTTY && !ctx.quiet && process.env.TERM !== 'dumb'; // the line is redrawn with escapes
  const started = Date.now();
  let shown = '';
  let quote: string | null = null;
  let quotedAt = -Infinity;
  const show = (p: WatchProgress) => {
    if (Date.now() - quotedAt > QUOTE_REFRESH_MS) {
      quote = latestQuote(ctx, ids);
      quotedAt = Date.now();
    }
    const counts = `${p.done} done, ${p.running} running, ${p.queued} queued${p.pending ? `, ${p.pending} pending` : ''}`;
    const expected = quote ? `; expected done by ${quote.replace('T', ' ').slice(0, 19)} UTC` : '';
    const line = `waiting ${elapsedText(Date.now() - started)}: ${counts}${expected}`;
    if (line !== shown) process.stderr.write(`\r\x1b[2K${line}`);
    shown = line;
  };
  // Said once, from the first poll's phases (no second read of every record).
  const notices = (phases: ReadonlyMap<string, Phase>, state: StateData) => {
    if (ctx.quiet) return;
    for (const [id, phase] of phases) if (phase === 'PENDING') ctx.info(pendingNotice(id));
    for (const [id, phase] of phases) if (phase === 'HELD') ctx.info(`job ${id} is HELD: nothing will start it until \`uwsrun release ${id}\``);
    if ([...phases.values()].includes('QUEUED') && state.limit === 0) ctx.info(PAUSED_NOTICE);
  };
  // Ctrl-C ends the wait, not the jobs: say so, and how to wait again.
  const onInterrupt = () => {
    if (live) process.stderr.write('\r\x1b[2K');
    const going = stillActive(ctx, ids);
    if (going.length > 0) {
      ctx.info(going.length === 1
        ? `job ${going[0]} goes on; \`uwsrun wait ${going[0]}\` to wait again`
        : `jobs ${going.join(', ')} go on; \`uwsrun wait ${going.join(' ')}\` to wait again`);
    }
    process.exit(130);
  };
  process.on('SIGINT', onInterrupt);
  let outcome;
  try {
    outcome = await watchUntilFinal(ctx.store, ids, timeoutS, live ? show : undefined, notices);
  } finally {
    process.removeListener('SIGINT', onInterrupt);
  }
  if (live) process.stderr.write('\r\x1b[2K');
  for (const id of outcome.vanished) process.stderr.write(`uwsrun: no such job: ${printable(id)}\n`);
  const jobs = [...outcome.finished.values()];
  if (ctx.json) ctx.outJson(ids.length === 1 && jobs.length === 1 ? toPublic(jobs[0]!) : jobs.map(toPublic));
  const failed = jobs.filter((j) => !(j.phase === 'COMPLETED' || (j.phase === 'ARCHIVED' && j.exitCode === 0)));
  for (const j of failed) ctx.problem(`job ${j.jobId} ended ${j.phase}${j.errorSummary ? `: ${j.errorSummary.message}` : ''}`);
  if (outcome.timedOut) {
    const left = ids.length - outcome.finished.size - outcome.vanished.length;
    ctx.problem(`timed out after ${timeoutS} s; ${left} job${left === 1 ? ' is' : 's are'} not final yet`);
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
