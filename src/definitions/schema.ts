// The shape of a definitions file (SPEC §3) in two layers:
//   Raw*        valibot schemas for what the YAML may contain, key by key. Every key a
//               mapping may hold is listed in its schema; load.ts walks the data against
//               these schemas to report each key that is not (`comand:` -> did you mean
//               "command"?), so a misspelt key is an error instead of a silently ignored line.
//   Definition  the checked, resolved form the rest of uwsrun uses: defaults applied,
//               durations in seconds, parameter defaults typed and with their source text.
// The schemas check structure only; rules that relate several keys (a default against its
// type, placeholders against declared parameters) are in load.ts, which knows positions.

import * as v from 'valibot';
import type { ParamValue } from '../core/job.js';

export const PARAM_TYPES = ['string', 'integer', 'float', 'boolean', 'date', 'datetime'] as const;
export type ParamType = (typeof PARAM_TYPES)[number];

export const EXECUTORS = ['local', 'slurm'] as const;
export type ExecutorName = (typeof EXECUTORS)[number];

/** The final phases a notification may be sent for (SPEC §13). */
export const NOTIFY_PHASES = ['COMPLETED', 'ERROR', 'ABORTED'] as const;
export type NotifyPhase = (typeof NOTIFY_PHASES)[number];

/** Placeholders every command may use besides its parameters. */
export const BUILTIN_PLACEHOLDERS = ['jobId', 'jobDir', 'resultsDir'] as const;

export const PARAM_NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*$/;
export const DEFINITION_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
export const ENV_NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*$/;

export interface ParamSpec {
  type: ParamType;
  description: string | null;
  /** Typed default; undefined when there is none. */
  default: ParamValue | undefined;
  /** The default as written in the YAML (`3.0`, not `3`): what a placeholder receives. */
  defaultText: string | undefined;
  required: boolean;
  enum: ParamValue[] | undefined;
  /** The enum values as written, for listing them to people. */
  enumText: string[] | undefined;
  min: number | undefined;
  max: number | undefined;
  /** The pattern as written; values must match it as a whole (checked as ^(?:pattern)$). */
  pattern: string | undefined;
}

export interface Definition {
  name: string;
  description: string | null;
  command: string[];
  /** Absolute; null = the job's own directory. */
  cwd: string | null;
  env: Record<string, string>;
  inheritEnv: boolean;
  /** In declaration order. */
  parameters: Record<string, ParamSpec>;
  /** Seconds, 0 = unlimited. */
  executionDuration: number;
  /** Seconds after creation, 0 = never. */
  destruction: number;
  killGrace: number;
  archive: boolean;
  maxRunning: number | null;
  /** Who runs its jobs (SPEC §11): local (the default) or slurm. */
  executor: ExecutorName;
  /** sbatch settings of a slurm definition; null when none are given. */
  slurm: SlurmSettings | null;
  /** How many times a failed attempt is run again (SPEC §13), and the wait before each, in seconds. */
  retries: number;
  retryDelay: number;
  notify: NotifySettings | null;
}

export interface SlurmSettings {
  partition: string | null;
  account: string | null;
  /** More sbatch options, each one argv word `--name` or `--name=value`. */
  options: string[];
}

export interface NotifySettings {
  /** The argv template; `{phase}` besides the placeholders of `command`. */
  command: string[];
  on: NotifyPhase[];
}

export interface DefinitionsFile {
  path: string;
  jobs: Record<string, Definition>;
}

export const INT32_MAX = 2147483647;

/** Names that a JS object cannot hold as an ordinary key (valibot's records drop them). */
const RESERVED_KEYS = ['__proto__', 'constructor', 'prototype'];

/** How a YAML value is shown in a message: strings quoted, collections named. */
export function describeValue(value: unknown): string {
  if (value === null || value === undefined) return 'nothing';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'string') return JSON.stringify(value);
  return String(value);
}

const expected = (what: string) => (issue: v.BaseIssue<unknown>): string =>
  `expected ${what}, got ${describeValue(issue.input)}`;

const isMapping = (value: unknown): boolean =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * A YAML mapping checked by `schema`. valibot treats a list as an object with keys "0", "1"
 * and silently skips keys such as `constructor`; both would hide mistakes, so they are
 * refused here first, each reported at its own key.
 */
function mapping<TSchema extends v.GenericSchema<Record<string, unknown>>>(schema: TSchema) {
  return v.pipe(
    v.custom<Record<string, unknown>>(isMapping, expected('a mapping')),
    v.rawCheck<Record<string, unknown>>(({ dataset, addIssue }) => {
      if (!dataset.typed) return;
      for (const key of RESERVED_KEYS) {
        if (!Object.hasOwn(dataset.value, key)) continue;
        addIssue({
          message: `the name ${key} is reserved`,
          path: [{ type: 'object', origin: 'key', input: dataset.value, key, value: dataset.value[key] }],
        });
      }
    }),
    schema,
  );
}

const scalar = v.union([v.string(), v.number(), v.boolean()], expected('a single value'));
/** `7d`, `90s`, ... or a plain number of seconds; parsed by load.ts. */
const durationText = v.union([v.string(), v.number()], expected('a duration (90s, 30m, 12h, 7d, whole seconds, or 0)'));
const count = (least: number) => v.pipe(
  v.number(expected(`a whole number of at least ${least}`)),
  v.integer(expected(`a whole number of at least ${least}`)),
  v.minValue(least, expected(`a whole number of at least ${least}`)),
  v.maxValue(INT32_MAX, expected(`a whole number of at most ${INT32_MAX}`)),
);
const finiteNumber = v.pipe(v.number(expected('a number')), v.finite(expected('a finite number')));
const text = v.string(expected('a string'));
const flag = v.boolean(expected('true or false'));
const named = (pattern: RegExp, what: string) =>
  v.pipe(v.string(), v.regex(pattern, (issue) => `${describeValue(issue.input)} is not a valid ${what} (${pattern.source.slice(1, -1)})`));

export const RawParameter = mapping(v.object({
  type: v.optional(v.picklist(PARAM_TYPES, expected(`one of ${PARAM_TYPES.join(', ')}`))),
  description: v.optional(v.nullable(text)),
  default: v.optional(scalar),
  required: v.optional(flag),
  enum: v.optional(v.pipe(v.array(scalar, expected('a list of values')), v.minLength(1, 'expected at least one value'))),
  min: v.optional(finiteNumber),
  max: v.optional(finiteNumber),
  pattern: v.optional(text),
}));

const limits = {
  executionDuration: v.optional(durationText),
  destruction: v.optional(durationText),
  killGrace: v.optional(durationText),
  archive: v.optional(flag),
  executor: v.optional(v.picklist(EXECUTORS, expected(`one of ${EXECUTORS.join(', ')}`))),
};

export const RawDefaults = mapping(v.object(limits));

const nonEmptyText = v.pipe(text, v.minLength(1, 'expected a non-empty string'));
/** One argv word for sbatch: `--mem=4G`, not `--mem 4G` (which sbatch would get as one word). */
const SBATCH_OPTION = /^--[A-Za-z][A-Za-z0-9-]*(?:=[\s\S]*)?$/;

const RawSlurm = mapping(v.object({
  partition: v.optional(v.nullable(nonEmptyText)),
  account: v.optional(v.nullable(nonEmptyText)),
  options: v.optional(v.nullable(v.array(
    v.pipe(v.string(expected('an sbatch option such as --mem=4G')), v.regex(SBATCH_OPTION, (issue) =>
      `${describeValue(issue.input)} is not one sbatch option of the form --name or --name=value`)),
    expected('a list of sbatch options such as [--mem=4G, --cpus-per-task=4]'),
  ))),
}));

const RawNotify = mapping(v.object({
  command: v.pipe(
    v.array(v.union([v.string(), v.number()], expected('a string')), expected('a list: the program and its arguments')),
    v.minLength(1, 'expected a non-empty list: the program and its arguments'),
  ),
  on: v.optional(v.pipe(
    v.array(v.picklist(NOTIFY_PHASES, expected(`one of ${NOTIFY_PHASES.join(', ')}`)), expected(`a list of phases among ${NOTIFY_PHASES.join(', ')}`)),
    v.minLength(1, `expected at least one of ${NOTIFY_PHASES.join(', ')}`),
  )),
}));

export const RawDefinition = mapping(v.object({
  description: v.optional(v.nullable(text)),
  command: v.pipe(
    v.array(v.union([v.string(), v.number()], expected('a string')), expected('a list: the program and its arguments')),
    v.minLength(1, 'expected a non-empty list: the program and its arguments'),
  ),
  cwd: v.optional(v.nullable(v.pipe(text, v.minLength(1, 'expected a directory, got an empty string')))),
  env: v.optional(mapping(v.record(named(ENV_NAME_PATTERN, 'variable name'), scalar))),
  inheritEnv: v.optional(flag),
  parameters: v.optional(v.nullable(mapping(v.record(named(PARAM_NAME_PATTERN, 'parameter name'), RawParameter)))),
  ...limits,
  maxRunning: v.optional(v.nullable(count(1))),
  slurm: v.optional(v.nullable(RawSlurm)),
  retries: v.optional(count(0)),
  retryDelay: v.optional(durationText),
  notify: v.optional(v.nullable(RawNotify)),
}));

export const RawDefinitionsFile = mapping(v.object({
  defaults: v.optional(v.nullable(RawDefaults)),
  jobs: mapping(v.record(named(DEFINITION_NAME_PATTERN, 'definition name'), RawDefinition)),
}));

export type RawParameter = v.InferOutput<typeof RawParameter>;
export type RawDefinition = v.InferOutput<typeof RawDefinition>;
export type RawDefinitionsFile = v.InferOutput<typeof RawDefinitionsFile>;
