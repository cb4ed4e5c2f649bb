import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { Context } from './context.js';
import { definitionsPath } from './definitions-file.js';
import { getDefinition } from '../definitions/lookup.js';
import { readDefinitionsCached } from '../definitions/cached.js';
import { parseParamAssignment, resolveParameterObject, resolveParameters } from '../definitions/params.js';
import { parseDestruction, parseDuration, parseNotBefore } from '../core/duration.js';
import { dependencyList } from '../core/gate.js';
import { resolveJobId } from './ids.js';
import { type ResolvedParameters, submitJobs } from '../core/submit.js';
import { checkRunId, toPublic } from '../core/job.js';
import { UserError, fsProblem, usageError } from '../errors.js';
import { waitForJobs } from './wait.js';

interface SubmitFlags {
  file?: string;
  param: string[];
  paramsFrom?: string;
  run?: boolean;
  runId?: string;
  executionDuration?: string;
  destruction?: string;
  wait?: boolean;
  timeout?: string;
  unique?: boolean;
  after: string[];
  afterAny: string[];
  notBefore?: string;
}

const collect = (value: string, prev: string[]): string[] => [...prev, value];

function readParamLines(def: Parameters<typeof resolveParameters>[0], source: string): ResolvedParameters[] {
  let text: string;
  try {
    text = readFileSync(source === '-' ? 0 : source, 'utf8');
  } catch (err) {
    throw usageError(`cannot read --params-from ${source}: ${fsProblem(err)}`);
  }
  const sets: ResolvedParameters[] = [];
  const lines = text.split('\n');
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    const where = `${source === '-' ? 'stdin' : source} line ${i + 1}`;
    let obj: unknown;
    try {
      obj = JSON.parse(line);
    } catch (err) {
      throw usageError(`${where}: not JSON (${(err as Error).message})`);
    }
    if (!obj || typeof obj !== 'object' || Array.isArray(obj)) throw usageError(`${where}: expected a JSON object of parameters`);
    try {
      sets.push(resolveParameterObject(def, obj as Record<string, unknown>));
    } catch (err) {
      throw usageError(`${where}: ${(err as Error).message}`);
    }
  });
  return sets;
}

export function registerSubmit(program: Command): void {
  program
    .command('submit')
    .description('create a job (PENDING; QUEUED with --run)')
    .argument('<definition>', 'definition name')
    .option('-f, --file <file>', 'definitions file')
    .option('-p, --param <NAME=VALUE>', 'a parameter (repeatable)', collect, [])
    .option('--params-from <file>', 'JSON Lines of parameter objects, one job each (- for stdin)')
    .option('--run', 'queue the job at once')
    .option('--run-id <id>', 'a free label, echoed back')
    .option('--execution-duration <duration>', 'time limit: 90s, 30m, 12h, 7d or whole seconds (0 = unlimited)')
    .option('--destruction <when>', 'ISO 8601 instant, duration (90s 30m 12h 7d) or 0 = never')
    .option('--unique', 'with --run-id: if a job of this definition and run id exists that has not failed, print its id and create nothing (with --run: queue it if PENDING)')
    .option('--after <id>', 'start only once this job is COMPLETED; ABORTED if it ends otherwise (repeatable)', collect, [])
    .option('--after-any <id>', 'start only once this job is final, whatever its phase (repeatable)', collect, [])
    .option('--not-before <when>', 'not started before this ISO 8601 instant, or this long from now (90s, 30m, 12h, 7d)')
    .option('--wait', 'run, then wait until the job is final')
    .option('--timeout <duration>', 'with --wait: give up after this long (90s, 30m, 12h, 7d or seconds; exit 124)')
    .action(async (name: string, flags: SubmitFlags, cmd: Command) => {
      const ctx = Context.of(cmd, { json: true });
      if (flags.runId !== undefined) checkRunId(flags.runId);
      if (flags.timeout !== undefined && !flags.wait) throw usageError('--timeout needs --wait');
      if (flags.unique && flags.runId === undefined) throw usageError('--unique needs --run-id');
      if (flags.unique && flags.paramsFrom !== undefined) throw usageError('--unique and --params-from cannot be used together');
      if (flags.paramsFrom !== undefined && flags.param.length > 0) throw usageError('-p and --params-from cannot be used together');
      const executionDuration = flags.executionDuration === undefined ? undefined : parseDuration(flags.executionDuration, '--execution-duration');
      const destruction = flags.destruction === undefined ? undefined : parseDestruction(flags.destruction, new Date());
      const timeout = flags.timeout === undefined ? undefined : parseDuration(flags.timeout, '--timeout');
      const notBefore = flags.notBefore === undefined ? null : parseNotBefore(flags.notBefore, new Date());
      // Ids as everywhere (a unique prefix will do); an unknown one exits 3, before anything is written.
      const after = dependencyList(flags.after.map(dependency(ctx, '--after')), flags.afterAny.map(dependency(ctx, '--after-any')));
      const { file: defs, remember } = await readDefinitionsCached(definitionsPath(ctx, flags.file), ctx.store.layout.exists() ? ctx.store.layout.cacheDir : null);
      const def = getDefinition(defs, name);
      const paramSets = flags.paramsFrom !== undefined
        ? readParamLines(def, flags.paramsFrom)
        : [resolveParameters(def, flags.param.map(parseParamAssignment))];
      const run = Boolean(flags.run || flags.wait);
      const jobs = await submitJobs(ctx.store, def, paramSets, {
        runId: flags.runId ?? null,
        executionDuration,
        destruction,
        run,
        unique: Boolean(flags.unique),
        after,
        notBefore,
      });
      // Only now, and only into a HOME that exists: a refused submit, or one that created
      // nothing in a fresh HOME (an empty --params-from), writes nothing.
      if (ctx.store.layout.exists()) remember(ctx.store.layout.cacheDir);
      if (ctx.json && !flags.wait) {
        ctx.outJson(flags.paramsFrom !== undefined ? jobs.map(toPublic) : toPublic(jobs[0]!));
      } else if (!ctx.json && jobs.length > 0) {
        ctx.out(jobs.map((j) => j.jobId).join('\n'));
      }
      if (flags.wait && jobs.length > 0) {
        process.exitCode = await waitForJobs(ctx, jobs.map((j) => j.jobId), timeout);
      }
    });
}

/** Resolves a dependency's id; a bad or unknown one says which option gave it (exit 2 or 3). */
const dependency = (ctx: Context, option: string) => (id: string): string => {
  try {
    return resolveJobId(ctx.store, id);
  } catch (err) {
    if (err instanceof UserError) throw new UserError(`${err.message} (given to ${option})`, err.exitCode);
    throw err;
  }
};
