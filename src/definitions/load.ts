// Loading a definitions file (SPEC §3) in three steps; every problem found names
// `file:line:column` and the dotted path of the culprit, and all of them are reported at once
// (exit 2, one line each, in file order), so one run of `validate` shows all there is to fix:
//   1. yaml parses the text into a document that keeps every node's source range
//      (a LineCounter turns offsets into line:column); syntax errors stop here;
//   2. the shape: valibot checks each value against the schemas of schema.ts, and a walk of
//      the data beside those schemas finds every key that no schema lists (named with the
//      closest known key as a suggestion: `comand` -> "command"); every issue's path is
//      walked back through the document to find its node;
//   3. the rules that relate keys to each other (a default against its type, enum, min,
//      max and pattern; placeholders against declared parameters; defaults and overrides;
//      durations; cwd) are checked while building the resolved Definitions, for each part
//      of the file whose shape was right (a broken part would only give follow-on errors).
// Numbers keep the text they were written with (`3.0`, `1.50`): a placeholder receives what
// the operator wrote, not what JavaScript would print.

import { dirname, resolve } from 'node:path';
import * as v from 'valibot';
import { type Document, LineCounter, isAlias, isMap, isPair, isScalar, isSeq, parseDocument, visit } from 'yaml';
import type { ParamValue } from '../core/job.js';
import { DURATION_HINT, durationSeconds, MAX_SECONDS } from '../core/duration.js';
import { EXIT, usageError, usageErrors, UserError } from '../errors.js';
import { anchoredPattern, checkParamText, parseTypedText, TYPE_DESCRIPTIONS } from './params.js';
import {
  BUILTIN_PLACEHOLDERS, type Definition, type DefinitionsFile, type ExecutorName, NOTIFY_PHASES, type NotifySettings,
  type ParamSpec, type ParamType, RawDefaults, RawDefinition, RawDefinitionsFile, type RawParameter, type SlurmSettings,
} from './schema.js';
import { closestName } from './suggest.js';
import { paramEnvName, placeholdersOf, TemplateError } from './substitute.js';
import { readDefinitionsText } from './read-file.js';

export type { Definition, DefinitionsFile, ParamSpec, ParamType } from './schema.js';
export { getDefinition } from './lookup.js';

type PathKey = string | number;

/** What a definition gets when neither it nor the `defaults:` block says otherwise. */
const BUILT_IN_DEFAULTS = { executionDuration: 0, destruction: 7 * 86400, killGrace: 5, archive: false, executor: 'local' as ExecutorName };

export function loadDefinitions(path: string): DefinitionsFile {
  const text = readDefinitionsText(path);
  const source = new YamlSource(path, text);
  const data = source.toData();
  const problems = new Problems();
  const broken = checkShape(data, source, problems);
  const file = resolveDefinitionsFile(path, data, broken, source, problems);
  problems.throwIfAny();
  return file;
}

/** A problem at a place in the file: the offset orders the report. */
class PlacedError extends UserError {
  constructor(message: string, readonly offset: number) {
    super(message, EXIT.usage);
  }
}

/** The problems of one file, reported together in file order. */
class Problems {
  private readonly found: PlacedError[] = [];

  add(error: PlacedError): void {
    if (!this.found.some((e) => e.message === error.message)) this.found.push(error);
  }

  /** Runs one check; a problem it throws is recorded and loading goes on. False when it failed. */
  check(body: () => void): boolean {
    try {
      body();
      return true;
    } catch (err) {
      if (!(err instanceof PlacedError)) throw err;
      this.add(err);
      return false;
    }
  }

  throwIfAny(): void {
    if (this.found.length === 0) return;
    throw usageErrors([...this.found].sort((a, b) => a.offset - b.offset).map((e) => e.message));
  }
}

/** A parsed YAML document that can say where any path of its data was written. */
class YamlSource {
  private readonly lineCounter = new LineCounter();
  private readonly doc: Document.Parsed;

  constructor(private readonly file: string, text: string) {
    // yaml's own duplicate-key check compares each key with every earlier one (quadratic:
    // minutes for a file of many definitions); refuseDuplicateKeys does it with a Set.
    this.doc = parseDocument(text, { lineCounter: this.lineCounter, prettyErrors: true, uniqueKeys: false });
    const [first, ...cascade] = this.doc.errors;
    if (first) {
      // yaml's message ends in " at line L, column C:" and a multi-line excerpt; keep one line.
      // One mistake often makes yaml report several (the tokens after it no longer fit): the
      // first names the culprit, the rest are counted on the same line.
      const more = cascade.length > 0 ? ` (and ${cascade.length} more YAML error${cascade.length === 1 ? '' : 's'} after it)` : '';
      throw usageError(`${this.where(first.pos[0])}: ${first.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '')}${more}`);
    }
    this.refuseDuplicateKeys();
  }

  /** The first key written twice in one mapping, refused where it is written a second time. */
  private refuseDuplicateKeys(): void {
    visit(this.doc, {
      Map: (_key, map) => {
        const seen = new Set<unknown>();
        for (const pair of map.items) {
          const key = isScalar(pair.key) ? pair.key.value : pair.key;
          if (seen.has(key)) throw usageError(`${this.where((pair.key as { range?: [number] } | null)?.range?.[0] ?? 0)}: Map keys must be unique`);
          seen.add(key);
        }
      },
    });
  }

  /** The document as plain data; aliases that point nowhere are refused where they are written. */
  toData(): unknown {
    const dangling: string[] = [];
    visit(this.doc, {
      Alias: (_key, node) => {
        if (!node.resolve(this.doc)) dangling.push(`${this.where(node.range?.[0] ?? 0)}: unknown alias *${node.source}`);
      },
    });
    if (dangling.length > 0) throw usageErrors(dangling);
    try {
      return this.doc.toJS({ maxAliasCount: 1000 });
    } catch (err) {
      throw usageError(`${this.where(0)}: ${(err as Error).message}`);
    }
  }

  private where(offset: number): string {
    const { line, col } = this.lineCounter.linePos(offset);
    return `${this.file}:${line}:${col}`;
  }

  /**
   * The node at `path` (or its key, with at = 'key'). A path that leaves the document
   * (a missing key, an alias) ends at the deepest node that exists.
   */
  private nodeAt(path: readonly PathKey[], at: 'key' | 'value'): { range?: [number, number, number] | null } {
    let node: unknown = this.doc.contents;
    let fallback = (node ?? {}) as { range?: [number, number, number] | null }; // null: an empty file
    for (const [i, key] of path.entries()) {
      const last = i === path.length - 1;
      if (isMap(node)) {
        const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === String(key));
        if (!pair || !isScalar(pair.key)) return fallback;
        // An empty value (`min:`) has no text of its own: point at its key instead.
        const emptyValue = pair.value === null || (isScalar(pair.value) && pair.value.source === '');
        if ((last && at === 'key') || emptyValue) return pair.key;
        node = pair.value;
      } else if (isSeq(node) && typeof key === 'number' && node.items[key] !== undefined) {
        node = node.items[key];
      } else {
        return fallback;
      }
      if (isAlias(node)) return node;
      fallback = node as typeof fallback;
    }
    return fallback;
  }

  error(path: readonly PathKey[], message: string, at: 'key' | 'value' = 'value'): PlacedError {
    const offset = this.nodeAt(path, at).range?.[0] ?? 0;
    const where = this.where(offset);
    return new PlacedError(path.length === 0 ? `${where}: ${message}` : `${where}: ${dottedPath(path)}: ${message}`, offset);
  }

  /** The text a scalar was written with (`3.0`, `0x10`), or null when it has none (an alias). */
  sourceText(path: readonly PathKey[]): string | null {
    let node: unknown = this.doc.contents;
    for (const key of path) {
      if (isMap(node)) node = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(key))?.value;
      else if (isSeq(node) && typeof key === 'number') node = node.items[key];
      else return null;
    }
    return isScalar(node) && typeof node.source === 'string' ? node.source : null;
  }

  /** One valibot issue in words, at its place; a missing key is reported at its mapping. */
  issueError(issue: v.BaseIssue<unknown>): PlacedError {
    const items = issue.path ?? [];
    const path = items.map((item) => item.key as PathKey);
    const last = items[items.length - 1];
    if (isMissingKey(issue)) return this.error(path.slice(0, -1), `missing required key ${JSON.stringify(last!.key)}`);
    return this.error(path, issue.message, last?.origin === 'key' ? 'key' : 'value');
  }
}

/** valibot's issue for a required key that is absent. */
function isMissingKey(issue: v.BaseIssue<unknown>): boolean {
  const last = issue.path?.[issue.path.length - 1];
  return issue.type === 'object' && issue.input === undefined && last !== undefined && issue.expected === `"${String(last.key)}"`;
}

/** The parts of a valibot schema that say what a mapping or a list may hold. */
type SchemaParts = { wrapped?: SchemaParts; pipe?: SchemaParts[]; entries?: Record<string, SchemaParts>; value?: SchemaParts; item?: SchemaParts };

/** optional/nullable keep their schema in `wrapped`; a pipe holds the object, record or array. */
function unwrap(schema: SchemaParts | undefined): SchemaParts | undefined {
  if (schema?.wrapped) return unwrap(schema.wrapped);
  if (schema?.pipe) return unwrap(schema.pipe.find((item) => item.entries || item.value || item.item));
  return schema;
}

const isMapping = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

interface UnknownKey { path: PathKey[]; known: string[] }

/**
 * Every key of `data` that its schema does not list. Walks the data and the schema side by
 * side, following known keys, record values (definitions, parameters) and list items.
 */
function findUnknownKeys(schema: SchemaParts | undefined, data: unknown, path: PathKey[], out: UnknownKey[]): void {
  const parts = unwrap(schema);
  if (!parts) return;
  if (parts.entries && isMapping(data)) {
    const known = Object.keys(parts.entries);
    for (const [key, value] of Object.entries(data)) {
      if (Object.hasOwn(parts.entries, key)) findUnknownKeys(parts.entries[key], value, [...path, key], out);
      else out.push({ path: [...path, key], known });
    }
  } else if (parts.value && isMapping(data)) {
    for (const [key, value] of Object.entries(data)) findUnknownKeys(parts.value, value, [...path, key], out);
  } else if (parts.item && Array.isArray(data)) {
    data.forEach((value, i) => findUnknownKeys(parts.item, value, [...path, i], out));
  }
}

/**
 * Step 2, the shape of the whole file: records every problem and returns the paths where
 * one was found, so that step 3 leaves those parts alone.
 */
function checkShape(data: unknown, source: YamlSource, problems: Problems): PathKey[][] {
  const broken: PathKey[][] = [];
  const unknown: UnknownKey[] = [];
  findUnknownKeys(RawDefinitionsFile as unknown as SchemaParts, data, [], unknown);
  // `comand:` leaves `command` missing too; the suggestion says all there is to say.
  const suggested = new Set<string>();
  for (const { path, known } of unknown) {
    const key = String(path[path.length - 1]);
    const guess = closestName(key, known);
    if (guess !== undefined) suggested.add(JSON.stringify([...path.slice(0, -1), guess]));
    const message = guess !== undefined
      ? `unknown key ${JSON.stringify(key)} (did you mean ${JSON.stringify(guess)}?)`
      : `unknown key ${JSON.stringify(key)}${known.length ? `; allowed: ${known.join(', ')}` : ''}`;
    problems.add(source.error(path, message, 'key'));
    broken.push(path);
  }
  const parsed = v.safeParse(RawDefinitionsFile, data);
  if (!parsed.success) {
    for (const issue of parsed.issues) {
      const path = (issue.path ?? []).map((item) => item.key as PathKey);
      broken.push(path);
      if (isMissingKey(issue) && suggested.has(JSON.stringify(path))) continue;
      problems.add(source.issueError(issue));
    }
  }
  return broken;
}

const isPrefix = (prefix: readonly PathKey[], path: readonly PathKey[]): boolean =>
  prefix.length <= path.length && prefix.every((key, i) => String(path[i]) === String(key));

/** Whether a problem was found at `path`, inside it, or around it. */
const brokenAt = (broken: PathKey[][], path: PathKey[]): boolean =>
  broken.some((b) => isPrefix(path, b) || isPrefix(b, path));

/**
 * The keys of the mapping at `path` whose values had no problem (and, of `parameters`, the
 * parameters that had none), so the rules of step 3 can still check them: every value
 * valibot found no issue in has the shape its schema gives.
 */
function soundFields<T>(value: Record<string, unknown>, path: PathKey[], broken: PathKey[][]): Partial<T> {
  const sound: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(value)) {
    if (!brokenAt(broken, [...path, key])) sound[key] = field;
    else if (key === 'parameters' && isMapping(field)) {
      sound[key] = Object.fromEntries(Object.entries(field).filter(([name]) => !brokenAt(broken, [...path, key, name])));
    }
  }
  return sound as Partial<T>;
}

/** `jobs.reduce.parameters.sigma.min`; list indexes as `[1]`, odd keys quoted. */
function dottedPath(path: readonly PathKey[]): string {
  return path.map((key, i) => {
    if (typeof key === 'number') return `[${key}]`;
    const plain = /^[A-Za-z0-9_-]+$/.test(key) ? key : `[${JSON.stringify(key)}]`;
    return i === 0 || plain.startsWith('[') ? plain : `.${plain}`;
  }).join('');
}

/**
 * Step 3 for the whole file. `data` passed the shape checks wherever `broken` names no
 * problem; each part that did is parsed again on its own (it then succeeds) for its typed
 * form, and resolved.
 */
function resolveDefinitionsFile(path: string, data: unknown, broken: PathKey[][], source: YamlSource, problems: Problems): DefinitionsFile {
  const raw = isMapping(data) ? data : {};
  const given: Partial<v.InferOutput<typeof RawDefaults>> = !isMapping(raw.defaults) ? {}
    : brokenAt(broken, ['defaults']) ? soundFields(raw.defaults, ['defaults'], broken) : v.parse(RawDefaults, raw.defaults);
  const defaults: Limits = {
    executionDuration: durationAt(given.executionDuration, ['defaults', 'executionDuration'], source, problems) ?? BUILT_IN_DEFAULTS.executionDuration,
    destruction: durationAt(given.destruction, ['defaults', 'destruction'], source, problems) ?? BUILT_IN_DEFAULTS.destruction,
    killGrace: durationAt(given.killGrace, ['defaults', 'killGrace'], source, problems) ?? BUILT_IN_DEFAULTS.killGrace,
    archive: given.archive ?? BUILT_IN_DEFAULTS.archive,
    executor: given.executor ?? BUILT_IN_DEFAULTS.executor,
  };
  // A relative cwd means the same directory whoever submits, from wherever: the file's own.
  const baseDir = dirname(resolve(path));
  const jobs: Record<string, Definition> = {};
  for (const [name, rawDef] of Object.entries(isMapping(raw.jobs) ? raw.jobs : {})) {
    const at = ['jobs', name];
    if (!isMapping(rawDef) || broken.some((b) => isPrefix(b, at))) continue; // not even a mapping
    if (brokenAt(broken, at)) {
      // A definition whose shape is wrong somewhere is still checked where it is right.
      const sound = soundFields<RawDefinition>(rawDef, at, broken);
      const dropped = Object.keys(isMapping(rawDef.parameters) ? rawDef.parameters : {}).filter((p) => !Object.hasOwn(sound.parameters ?? {}, p));
      resolveDefinition(name, sound, defaults, baseDir, source, problems, dropped);
      continue;
    }
    const def = resolveDefinition(name, v.parse(RawDefinition, rawDef), defaults, baseDir, source, problems);
    if (def) jobs[name] = def;
  }
  return { path, jobs };
}

const DURATION_RANGE = `a duration (90s, 30m, 12h, 7d, or whole seconds; 0 to ${MAX_SECONDS} seconds)`;

/** Seconds of a duration written at `at` (`90s`, `12h`, `3600`); undefined when absent or wrong (recorded). */
function durationAt(value: string | number | undefined, at: PathKey[], source: YamlSource, problems: Problems): number | undefined {
  if (value === undefined) return undefined;
  const text = typeof value === 'number' ? source.sourceText(at) ?? String(value) : value;
  const seconds = durationSeconds(text);
  if (seconds === null) {
    const hint = at[at.length - 1] === 'destruction' ? DURATION_HINT : DURATION_RANGE;
    problems.add(source.error(at, `expected ${hint}, got ${JSON.stringify(text)}`));
    return undefined;
  }
  return seconds;
}

interface Limits { executionDuration: number; destruction: number; killGrace: number; archive: boolean; executor: ExecutorName }

/**
 * Checks one definition and resolves it. `raw` lacks the fields whose shape was wrong (see
 * soundFields); without a command there is no Definition, only the problems found.
 */
function resolveDefinition(
  name: string, raw: Partial<RawDefinition>, defaults: Limits, baseDir: string, source: YamlSource, problems: Problems, dropped: string[] = [],
): Definition | undefined {
  const at = ['jobs', name];
  const { specs: parameters, broken } = resolveParameters(at, raw.parameters ?? {}, source, problems);
  for (const param of dropped) broken.add(param); // had a shape problem: placeholders using it are not judged
  const command = raw.command === undefined ? undefined : argvText(raw.command, [...at, 'command'], source);
  problems.check(() => {
    if (command?.[0] === '') throw source.error([...at, 'command', 0], 'the program name is empty');
  });
  command?.forEach((arg, i) => {
    problems.check(() => refuseNul(arg, [...at, 'command', i], source));
    problems.check(() => checkPlaceholders(arg, [...at, 'command', i], parameters, broken, BUILTIN_PLACEHOLDERS, source));
  });

  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(raw.env ?? {})) {
    problems.check(() => {
      if (key.startsWith('UWS_') || key.startsWith('UWSRUN_')) {
        throw source.error([...at, 'env', key], `variables starting with ${key.startsWith('UWS_') ? 'UWS_' : 'UWSRUN_'} are set by uwsrun`, 'key');
      }
      env[key] = valueText(value, [...at, 'env', key], source);
      refuseNul(env[key], [...at, 'env', key], source);
    });
  }
  // `cwd: ~` is YAML's null, but whoever wrote it meant a home directory.
  const cwd = raw.cwd == null ? (source.sourceText([...at, 'cwd']) === '~' ? '~' : null) : raw.cwd;
  if (cwd !== null) problems.check(() => checkCwd(cwd, [...at, 'cwd'], source));

  const executor = raw.executor ?? defaults.executor;
  const limits = {
    executionDuration: durationAt(raw.executionDuration, [...at, 'executionDuration'], source, problems) ?? defaults.executionDuration,
    destruction: durationAt(raw.destruction, [...at, 'destruction'], source, problems) ?? defaults.destruction,
    killGrace: durationAt(raw.killGrace, [...at, 'killGrace'], source, problems) ?? defaults.killGrace,
    retryDelay: durationAt(raw.retryDelay, [...at, 'retryDelay'], source, problems) ?? 0,
  };
  const notify = resolveNotify(raw.notify ?? null, [...at, 'notify'], parameters, broken, source, problems);
  if (command === undefined) return undefined;
  return {
    name,
    description: raw.description ?? null,
    command,
    cwd: cwd === null ? null : resolve(baseDir, cwd),
    env,
    inheritEnv: raw.inheritEnv ?? false,
    parameters,
    executionDuration: limits.executionDuration,
    destruction: limits.destruction,
    killGrace: limits.killGrace,
    archive: raw.archive ?? defaults.archive,
    maxRunning: raw.maxRunning ?? null,
    executor,
    slurm: resolveSlurm(raw.slurm ?? null),
    retries: raw.retries ?? 0,
    retryDelay: limits.retryDelay,
    notify,
  };
}

/**
 * `~` means a home directory only to a shell, and no shell ever sees a job's cwd: refused,
 * rather than failing when the job starts. Relative paths are the file's directory's.
 */
function checkCwd(cwd: string, at: PathKey[], source: YamlSource): void {
  refuseNul(cwd, at, source);
  if (cwd === '~' || cwd.startsWith('~/') || /^~[A-Za-z0-9_.-]+(?:\/|$)/.test(cwd)) {
    throw source.error(at, `${JSON.stringify(cwd)}: ~ is not expanded (no shell reads cwd); write the full path, or a path relative to the directory of this file`);
  }
}

/** An argv list as written: numbers keep their source text. */
function argvText(list: readonly (string | number)[], at: PathKey[], source: YamlSource): string[] {
  return list.map((arg, i) => (typeof arg === 'number' ? source.sourceText([...at, i]) ?? String(arg) : arg));
}

function resolveSlurm(raw: RawDefinition['slurm'] | null): SlurmSettings | null {
  if (!raw) return null;
  return { partition: raw.partition ?? null, account: raw.account ?? null, options: raw.options ?? [] };
}

function resolveNotify(raw: RawDefinition['notify'] | null, at: PathKey[], parameters: Record<string, ParamSpec>, broken: Set<string>, source: YamlSource, problems: Problems): NotifySettings | null {
  if (!raw) return null;
  const command = argvText(raw.command, [...at, 'command'], source);
  problems.check(() => {
    if (command[0] === '') throw source.error([...at, 'command', 0], 'the program name is empty');
  });
  // In the notifier's argv {phase} is the job's phase (SPEC §13): a parameter of that name
  // would be silently shadowed there.
  problems.check(() => {
    if (Object.hasOwn(parameters, 'phase')) {
      throw source.error([...at.slice(0, -1), 'parameters', 'phase'], 'the name phase is reserved for the notifier\'s built-in placeholder {phase} (this definition has a notify block)', 'key');
    }
  });
  command.forEach((arg, i) => {
    problems.check(() => refuseNul(arg, [...at, 'command', i], source));
    problems.check(() => checkPlaceholders(arg, [...at, 'command', i], parameters, broken, [...BUILTIN_PLACEHOLDERS, 'phase'], source));
  });
  // SPEC §13: a notification goes out for the phases that need a look unless told otherwise.
  const on = raw.on ?? NOTIFY_PHASES.filter((phase) => phase !== 'COMPLETED');
  return { command, on: [...new Set(on)] };
}

/** A NUL cannot be passed to a process; YAML's "\0" would only fail later, when the job starts. */
function refuseNul(text: string, at: PathKey[], source: YamlSource): void {
  if (text.includes('\0')) throw source.error(at, 'contains a NUL character');
}

/** How a scalar is written: numbers keep their source text; booleans are `true`/`false`. */
function valueText(value: string | number | boolean, at: PathKey[], source: YamlSource): string {
  if (typeof value === 'number') return source.sourceText(at) ?? String(value);
  return String(value);
}

/** The parameters' specs, and the names of those that had a problem (placeholders using them are not judged). */
function resolveParameters(at: PathKey[], raw: Record<string, RawParameter>, source: YamlSource, problems: Problems): { specs: Record<string, ParamSpec>; broken: Set<string> } {
  const specs: Record<string, ParamSpec> = {};
  const broken = new Set<string>();
  const envNames = new Map<string, string>();
  for (const [name, rawSpec] of Object.entries(raw)) {
    const here = [...at, 'parameters', name];
    const named = problems.check(() => {
      if ((BUILTIN_PLACEHOLDERS as readonly string[]).includes(name)) {
        throw source.error(here, `the name ${name} is reserved for the built-in placeholder {${name}}`, 'key');
      }
      const envName = paramEnvName(name);
      const clash = envNames.get(envName);
      if (clash !== undefined) throw source.error(here, `parameters ${clash} and ${name} would both be ${envName}`, 'key');
      envNames.set(envName, name);
    });
    const spec = resolveParamSpec(here, rawSpec, source, problems);
    if (!named || !spec) broken.add(name);
    if (spec) specs[name] = spec;
  }
  return { specs, broken };
}

/** The spec of one parameter, or undefined when it has a problem (recorded). */
function resolveParamSpec(at: PathKey[], raw: RawParameter, source: YamlSource, problems: Problems): ParamSpec | undefined {
  const type: ParamType = raw.type ?? 'string';
  const numeric = type === 'integer' || type === 'float';
  let ok = true;
  const check = (body: () => void) => {
    ok = problems.check(body) && ok;
  };
  for (const key of ['min', 'max'] as const) {
    check(() => {
      if (raw[key] !== undefined && !numeric) throw source.error([...at, key], `${key} applies only to integer and float parameters, not ${type}`);
    });
  }
  check(() => {
    if (raw.min !== undefined && raw.max !== undefined && raw.min > raw.max) {
      throw source.error([...at, 'max'], `max ${raw.max} is less than min ${raw.min}`);
    }
  });
  if (raw.pattern !== undefined) {
    const pattern = raw.pattern;
    check(() => {
      if (type !== 'string') throw source.error([...at, 'pattern'], `pattern applies only to string parameters, not ${type}`);
      try {
        new RegExp(pattern);
        anchoredPattern(pattern);
      } catch (err) {
        const reason = (err as Error).message.split(': ').pop();
        throw source.error([...at, 'pattern'], `${JSON.stringify(pattern)} is not a valid regular expression (${reason})`);
      }
    });
  }

  let enumValues: ParamValue[] | undefined;
  let enumText: string[] | undefined;
  if (raw.enum !== undefined) {
    enumValues = [];
    enumText = [];
    for (const [i, value] of raw.enum.entries()) {
      check(() => {
        const text = valueText(value, [...at, 'enum', i], source);
        const typed = parseTypedText(type, text);
        if (typed === null) throw source.error([...at, 'enum', i], `expected ${TYPE_DESCRIPTIONS[type]}, got ${JSON.stringify(text)}`);
        enumValues!.push(typed);
        enumText!.push(text);
      });
    }
  }

  const spec: ParamSpec = {
    type,
    description: raw.description ?? null,
    default: undefined,
    defaultText: undefined,
    required: raw.required ?? false,
    enum: enumValues,
    enumText,
    min: raw.min,
    max: raw.max,
    pattern: raw.pattern,
  };
  if (raw.default !== undefined && ok) {
    const rawDefault = raw.default;
    check(() => {
      if (spec.required) throw source.error([...at, 'required'], 'a parameter with a default cannot be required');
      const text = valueText(rawDefault, [...at, 'default'], source);
      const checked = checkParamText(spec, text);
      if ('problem' in checked) throw source.error([...at, 'default'], checked.problem);
      spec.default = checked.value;
      spec.defaultText = text;
    });
  }
  return ok ? spec : undefined;
}

function checkPlaceholders(
  arg: string, at: PathKey[], parameters: Record<string, ParamSpec>, broken: Set<string>, builtins: readonly string[], source: YamlSource,
): void {
  let names: string[];
  try {
    names = placeholdersOf(arg);
  } catch (err) {
    if (err instanceof TemplateError) throw source.error(at, err.message);
    throw err;
  }
  for (const name of names) {
    if (builtins.includes(name) || broken.has(name)) continue;
    const spec = Object.hasOwn(parameters, name) ? parameters[name] : undefined;
    if (!spec) {
      // Parameters with errors of their own (reported apart) are declared too.
      const declared = [...Object.keys(parameters), ...broken];
      throw source.error(at, `unknown placeholder {${name}}; ${declared.length ? `declared parameters: ${declared.join(', ')}` : 'no parameters are declared'}; built-in: ${builtins.join(', ')}`);
    }
    if (!spec.required && spec.default === undefined) {
      throw source.error(at, `placeholder {${name}} may have no value: give parameter ${name} a default or required: true`);
    }
  }
}
