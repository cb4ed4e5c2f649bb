// From a definition to what a job executes: its argv and its environment, fixed at submit.
//
// Placeholders: `{name}` inside an argument is replaced by the text of parameter `name` or of
// a built-in (`jobId`, `jobDir`, `resultsDir`); `{{` and `}}` stand for literal braces; any
// other brace is an error, found when the definitions file is loaded. Replacement happens
// inside one argv element and the result stays one element: the job is spawned without a
// shell, so quotes, `$( )`, globs or spaces in a value are passed through byte for byte.
// A shell, when wanted, is the definition's own `[sh, -c, '...']`, reading parameters from
// UWS_PARAM_* variables, never from text spliced into the script.

import type { Definition } from './schema.js';

export type TemplatePart = { literal: string } | { placeholder: string };

export class TemplateError extends Error {}

const NAME_START = /[A-Za-z_]/;
const NAME_CHAR = /[A-Za-z0-9_]/;

/** Splits one argument into literal text and placeholders; throws TemplateError on stray braces. */
export function splitTemplate(arg: string): TemplatePart[] {
  const parts: TemplatePart[] = [];
  let literal = '';
  let i = 0;
  while (i < arg.length) {
    const ch = arg[i]!;
    if (ch === '{' && arg[i + 1] === '{') { literal += '{'; i += 2; continue; }
    if (ch === '}' && arg[i + 1] === '}') { literal += '}'; i += 2; continue; }
    if (ch === '}') throw new TemplateError(`a single } at ${excerpt(arg, i)} (write }} for a literal brace)`);
    if (ch !== '{') { literal += ch; i += 1; continue; }
    let end = i + 1;
    while (end < arg.length && NAME_CHAR.test(arg[end]!)) end += 1;
    const name = arg.slice(i + 1, end);
    if (arg[end] !== '}' || !NAME_START.test(name[0] ?? '')) {
      throw new TemplateError(`a { that does not start a placeholder {name} at ${excerpt(arg, i)} (write {{ for a literal brace)`);
    }
    if (literal) parts.push({ literal });
    literal = '';
    parts.push({ placeholder: name });
    i = end + 1;
  }
  if (literal) parts.push({ literal });
  return parts;
}

/** Where in an argument a brace is, for people: the text from there on, and its line if several. */
function excerpt(arg: string, offset: number): string {
  const line = arg.slice(0, offset).split('\n').length;
  const text = arg.slice(offset).split('\n')[0]!;
  const shown = JSON.stringify(text.length > 24 ? `${text.slice(0, 24)}...` : text);
  return arg.includes('\n') ? `${shown} (line ${line} of the argument)` : shown;
}

/** Placeholder names used in one argument, in order of appearance. */
export function placeholdersOf(arg: string): string[] {
  return splitTemplate(arg).flatMap((part) => ('placeholder' in part ? [part.placeholder] : []));
}

/**
 * The argv of a job: every placeholder of every argument replaced by its text in `vars`.
 * The template was checked when loaded, so a placeholder without a value is a bug, not
 * something a user typed.
 */
export function substituteCommand(template: string[], vars: Record<string, string>): string[] {
  return template.map((arg) => splitTemplate(arg).map((part) => {
    if ('literal' in part) return part.literal;
    const value = Object.hasOwn(vars, part.placeholder) ? vars[part.placeholder] : undefined;
    if (value === undefined) throw new Error(`no value for placeholder {${part.placeholder}} in ${JSON.stringify(arg)}`);
    return value;
  }).join(''));
}

/** The submitter's variables a job gets by default: enough to find programs, locale and time zone. */
const PASSED_VARIABLES = ['PATH', 'HOME', 'USER', 'LOGNAME', 'SHELL', 'LANG', 'TZ', 'TMPDIR'];

const isPassedVariable = (name: string): boolean => PASSED_VARIABLES.includes(name) || name.startsWith('LC_');

/**
 * Variables never copied from the submitter, even with inheritEnv: UWSRUN_* steer uwsrun
 * itself, and UWS_* describe a job — a job submitted from inside another job must not
 * inherit its parent's UWS_PARAM_* for parameters it does not have.
 */
const isJobPrivateVariable = (name: string): boolean => name.startsWith('UWSRUN_') || name.startsWith('UWS_');

export const paramEnvName = (name: string): string => `UWS_PARAM_${name.toUpperCase()}`;

export interface JobEnvInput {
  def: Definition;
  submitterEnv: NodeJS.ProcessEnv;
  jobId: string;
  jobDir: string;
  resultsDir: string;
  /** Text of every parameter that has a value; an optional one without a default is unset. */
  paramText: Record<string, string>;
}

/**
 * The layers of a job's environment that are the same for every job of one definition and
 * submitter: the submitter's variables it gets, then the definition's env. A submit of many
 * jobs takes them once (a walk of the submitter's whole environment per job cost ~10 µs).
 */
export function baseJobEnv(def: Definition, submitterEnv: NodeJS.ProcessEnv): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(submitterEnv)) {
    if (value === undefined || isJobPrivateVariable(name)) continue;
    if (def.inheritEnv || isPassedVariable(name)) env[name] = value;
  }
  return Object.assign(env, def.env);
}

/**
 * The environment of a job (SPEC §3), in layers where a later layer wins; `base` is
 * baseJobEnv(def, submitterEnv) when the caller has it already.
 */
export function buildJobEnv(opts: JobEnvInput, base?: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = { ...(base ?? baseJobEnv(opts.def, opts.submitterEnv)) };
  env.UWS_JOB_ID = opts.jobId;
  env.UWS_JOB_DIR = opts.jobDir;
  env.UWS_RESULTS_DIR = opts.resultsDir;
  for (const [name, text] of Object.entries(opts.paramText)) env[paramEnvName(name)] = text;
  return env;
}
