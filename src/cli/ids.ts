// Job ids from the command line (SPEC §9). People paste short ids, so an argument is the full
// id or a prefix of at least 4 characters that matches exactly one job of the HOME; output
// always shows full ids. resolveJobId is the one place that knows how ids are found: a job's
// directory is HOME/jobs/ID, so a prefix is resolved by one readdir of jobs/ and a look at
// the few directories that match (a half-created directory, which has no job, never counts).
// Commands that take several IDs act on every one, report each failure on stderr, and exit
// with the highest code.

import { existsSync, readdirSync } from 'node:fs';
import { isJobId } from '../core/job.js';
import { EXIT, UserError, noSuchJob, usageError } from '../errors.js';
import type { Store } from '../store/state.js';
import { printable, printableLines } from './printable.js';

export const MIN_PREFIX = 4;
const MAX_ID = 32;
const ID_CHARS = /^[A-Za-z0-9][A-Za-z0-9_-]*$/;
/** At most this many candidates are named in the message of an ambiguous prefix. */
const NAMED_CANDIDATES = 10;

/**
 * The full id of the job that `text` names: the job with exactly that id, else the one job
 * whose id starts with it. Exit 2 for text that is neither (too short, bad characters) and
 * for an ambiguous prefix (naming the candidates); exit 3 when no job matches. The text is
 * checked before it is used in any path.
 */
export function resolveJobId(store: Store, text: string): string {
  if (text.length < MIN_PREFIX || text.length > MAX_ID || !ID_CHARS.test(text)) {
    throw usageError(`invalid job id ${JSON.stringify(text)}: expected a job id (6-32 characters [A-Za-z0-9_-], starting with a letter or digit) or a prefix of at least ${MIN_PREFIX} characters of one`);
  }
  // A full id whose record directory exists is taken as it is: one stat, whatever the HOME
  // holds. Records (HOME/records/ID) outlive job directories (an archived job has none).
  if (isJobId(text) && (existsSync(store.layout.recordDir(text)) || isJob(store, text))) return text;
  let names: string[];
  try {
    names = readdirSync(store.layout.recordsDir);
  } catch {
    names = []; // no HOME yet: no job
  }
  let matches = names.filter((name) => name.startsWith(text) && isJobId(name)).sort();
  // Only when several match does it matter which are jobs (not a half-created directory).
  if (matches.length > 1) matches = matches.filter((name) => isJob(store, name));
  if (matches.length === 1) return matches[0]!;
  if (matches.length === 0) throw noSuchJob(text);
  const named = matches.slice(0, NAMED_CANDIDATES).join(', ');
  const more = matches.length > NAMED_CANDIDATES ? ` and ${matches.length - NAMED_CANDIDATES} more` : '';
  throw usageError(`job id prefix ${JSON.stringify(text)} is ambiguous: it matches ${matches.length} jobs: ${named}${more}; give more characters`);
}

/** A directory with a record; a damaged record counts (the command then says what is wrong). */
function isJob(store: Store, jobId: string): boolean {
  try {
    return store.getJob(jobId) !== undefined;
  } catch {
    return true;
  }
}

/**
 * Whether every problem of an error is printed, one line each: for `validate`, whose job it
 * is to list them. Every other command prints the first and counts the rest (SPEC §3: one
 * clear message; a cron mail of fourteen lines for one edit of the file helps nobody).
 */
let everyProblem = false;
export const reportEveryProblem = (): void => {
  everyProblem = true;
};

export function reportError(err: unknown): number {
  if (err instanceof UserError) {
    const more = err.problems.length - 1;
    const lines = everyProblem || more === 0 ? err.problems
      : [`${err.problems[0]} (and ${more} more problem${more === 1 ? '' : 's'} in the file: \`uwsrun validate\` lists them all)`];
    // A message may echo user input: printable() keeps its control characters off the terminal.
    for (const problem of lines) process.stderr.write(`uwsrun: ${printable(problem.replace(/\s*\n\s*/g, ' '))}\n`);
    return err.exitCode;
  }
  process.stderr.write(`uwsrun: internal error: ${printableLines((err as Error)?.stack ?? String(err))}\n`);
  return EXIT.internal;
}

/** Resolves each id and acts on it; failures are reported and the rest go on. */
export async function forEachId<T>(store: Store, ids: string[], act: (jobId: string) => T | Promise<T>): Promise<{ code: number; done: T[] }> {
  let code = 0;
  const done: T[] = [];
  for (const id of ids) {
    try {
      done.push(await act(resolveJobId(store, id)));
    } catch (err) {
      code = Math.max(code, reportError(err));
    }
  }
  return { code, done };
}

/** Resolves every id; those that fail are reported. Returns the full ids and the worst code. */
export function resolveJobIds(store: Store, ids: string[]): { code: number; resolved: string[] } {
  let code = 0;
  const resolved: string[] = [];
  for (const id of ids) {
    try {
      resolved.push(resolveJobId(store, id));
    } catch (err) {
      code = Math.max(code, reportError(err));
    }
  }
  return { code, resolved };
}
