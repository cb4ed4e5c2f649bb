// Loading a definitions file (SPEC §3) in three steps, each of which can refuse the file
// with ONE line, exit 2, that names `file:line:column` and the dotted path of the culprit:
//   1. yaml parses the text into a document that keeps every node's source range
//      (a LineCounter turns offsets into line:column);
//   2. valibot checks the plain data against the strict schemas of schema.ts; of all its
//      issues the one that comes first in the file is reported, its path walked back
//      through the document to find the node;
//   3. the rules that relate keys to each other (a default against its type, enum, min,
//      max and pattern; placeholders against declared parameters; defaults and overrides)
//      are checked here, in file order, while building the resolved Definitions.
// Numbers keep the text they were written with (`3.0`, `1.50`): a placeholder receives what
// the operator wrote, not what JavaScript would print.

import { dirname, resolve } from 'node:path';
import * as v from 'valibot';
import { type Document, LineCounter, isAlias, isMap, isPair, isScalar, isSeq, parseDocument, visit } from 'yaml';
import type { ParamValue } from '../core/job.js';
import { DURATION_FORMS, DURATION_HINT, durationSeconds } from '../core/duration.js';
import { usageError, type UserError } from '../errors.js';
import { anchoredPattern, checkParamText, parseTypedText, TYPE_DESCRIPTIONS } from './params.js';
import {
  BUILTIN_PLACEHOLDERS, type Definition, type DefinitionsFile, type ParamSpec, type ParamType,
  RawDefinitionsFile, type RawDefinition, type RawParameter,
} from './schema.js';
import { paramEnvName, placeholdersOf, TemplateError } from './substitute.js';
import { readDefinitionsText } from './read-file.js';

export type { Definition, DefinitionsFile, ParamSpec, ParamType } from './schema.js';
export { getDefinition } from './lookup.js';

type PathKey = string | number;

/** What a definition gets when neither it nor the `defaults:` block says otherwise. */
const BUILT_IN_DEFAULTS = { executionDuration: 0, destruction: '7d', killGrace: 5, archive: false };

export function loadDefinitions(path: string): DefinitionsFile {
  const text = readDefinitionsText(path);
  const source = new YamlSource(path, text);
  const parsed = v.safeParse(RawDefinitionsFile, source.toData());
  if (!parsed.success) throw source.issueError(parsed.issues);
  return resolveDefinitionsFile(path, parsed.output, source);
}

/** A parsed YAML document that can say where any path of its data was written. */
class YamlSource {
  private readonly lineCounter = new LineCounter();
  private readonly doc: Document.Parsed;

  constructor(private readonly file: string, text: string) {
    // yaml's own duplicate-key check compares each key with every earlier one (quadratic:
    // minutes for a file of many definitions); refuseDuplicateKeys does it with a Set.
    this.doc = parseDocument(text, { lineCounter: this.lineCounter, prettyErrors: true, uniqueKeys: false });
    const [error] = this.doc.errors;
    if (error) {
      // yaml's message ends in " at line L, column C:" and a multi-line excerpt; keep one line.
      const message = error.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
      throw usageError(`${this.where(error.pos[0])}: ${message}`);
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
    visit(this.doc, {
      Alias: (_key, node) => {
        if (!node.resolve(this.doc)) throw usageError(`${this.where(node.range?.[0] ?? 0)}: unknown alias *${node.source}`);
      },
    });
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

  error(path: readonly PathKey[], message: string, at: 'key' | 'value' = 'value'): UserError {
    const node = this.nodeAt(path, at);
    const where = this.where(node.range?.[0] ?? 0);
    return usageError(path.length === 0 ? `${where}: ${message}` : `${where}: ${dottedPath(path)}: ${message}`);
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

  /** The one error to report for valibot's issues: the one written first in the file. */
  issueError(issues: readonly v.BaseIssue<unknown>[]): UserError {
    const errors = issues.map((issue) => this.describeIssue(issue));
    const offsetOf = (e: { path: PathKey[]; at: 'key' | 'value' }) => this.nodeAt(e.path, e.at).range?.[0] ?? 0;
    errors.sort((a, b) => offsetOf(a) - offsetOf(b));
    const first = errors[0]!;
    return this.error(first.path, first.message, first.at);
  }

  private describeIssue(issue: v.BaseIssue<unknown>): { path: PathKey[]; message: string; at: 'key' | 'value' } {
    const items = issue.path ?? [];
    const path = items.map((item) => item.key as PathKey);
    const last = items[items.length - 1];
    if (issue.type === 'strict_object' && last) {
      const parent = path.slice(0, -1);
      if (issue.expected === 'never') {
        const allowed = allowedKeys(parent);
        return { path, at: 'key', message: `unknown key ${JSON.stringify(last.key)}${allowed.length ? `; allowed: ${allowed.join(', ')}` : ''}` };
      }
      return { path: parent, at: 'value', message: `missing required key ${JSON.stringify(last.key)}` };
    }
    return { path, at: last?.origin === 'key' ? 'key' : 'value', message: issue.message };
  }
}

/** The keys the schema allows in the mapping at `path`, for "unknown key" messages. */
function allowedKeys(path: readonly PathKey[]): string[] {
  type SchemaParts = { wrapped?: SchemaParts; pipe?: SchemaParts[]; entries?: Record<string, SchemaParts>; value?: SchemaParts; item?: SchemaParts };
  // optional/nullable keep their schema in `wrapped`; mapping() pipes end in the object or record.
  const unwrap = (schema: SchemaParts | undefined): SchemaParts | undefined => {
    if (schema?.wrapped) return unwrap(schema.wrapped);
    if (schema?.pipe) return unwrap(schema.pipe.find((item) => item.entries || item.value));
    return schema;
  };
  let schema = unwrap(RawDefinitionsFile as unknown as SchemaParts);
  for (const key of path) {
    schema = unwrap(schema?.entries ? schema.entries[String(key)] : schema?.value ?? schema?.item);
  }
  return schema?.entries ? Object.keys(schema.entries) : [];
}

/** `jobs.reduce.parameters.sigma.min`; list indexes as `[1]`, odd keys quoted. */
function dottedPath(path: readonly PathKey[]): string {
  return path.map((key, i) => {
    if (typeof key === 'number') return `[${key}]`;
    const plain = /^[A-Za-z0-9_-]+$/.test(key) ? key : `[${JSON.stringify(key)}]`;
    return i === 0 || plain.startsWith('[') ? plain : `.${plain}`;
  }).join('');
}

function resolveDefinitionsFile(path: string, raw: RawDefinitionsFile, source: YamlSource): DefinitionsFile {
  const given = raw.defaults ?? {};
  const defaults: Limits = {
    executionDuration: durationAt(given.executionDuration ?? BUILT_IN_DEFAULTS.executionDuration, ['defaults', 'executionDuration'], source),
    destruction: durationAt(given.destruction ?? BUILT_IN_DEFAULTS.destruction, ['defaults', 'destruction'], source, DURATION_HINT),
    killGrace: durationAt(given.killGrace ?? BUILT_IN_DEFAULTS.killGrace, ['defaults', 'killGrace'], source),
    archive: given.archive ?? BUILT_IN_DEFAULTS.archive,
  };
  // A relative cwd means the same directory whoever submits, from wherever: the file's own.
  const baseDir = dirname(resolve(path));
  const jobs: Record<string, Definition> = {};
  for (const [name, rawDef] of Object.entries(raw.jobs)) jobs[name] = resolveDefinition(name, rawDef, defaults, baseDir, source);
  return { path, jobs };
}

/** A duration in the file (`7d`, `90s`, `3600`), in seconds, by the one parser of core/duration. */
function durationAt(value: string | number, at: PathKey[], source: YamlSource, hint = DURATION_FORMS): number {
  const text = typeof value === 'number' ? source.sourceText(at) ?? String(value) : value;
  const seconds = durationSeconds(text);
  if (seconds === null) throw source.error(at, `expected ${hint}, got ${JSON.stringify(text)}`);
  return seconds;
}

interface Limits { executionDuration: number; destruction: number; killGrace: number; archive: boolean }

function resolveDefinition(name: string, raw: RawDefinition, defaults: Limits, baseDir: string, source: YamlSource): Definition {
  const at = ['jobs', name];
  const parameters = resolveParameters(at, raw.parameters ?? {}, source);
  const command = raw.command.map((arg, i) => typeof arg === 'number' ? source.sourceText([...at, 'command', i]) ?? String(arg) : arg);
  if (command[0] === '') throw source.error([...at, 'command', 0], 'the program name is empty');
  command.forEach((arg, i) => {
    refuseNul(arg, [...at, 'command', i], source);
    checkPlaceholders(arg, [...at, 'command', i], parameters, source);
  });

  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(raw.env ?? {})) {
    if (key.startsWith('UWS_') || key.startsWith('UWSRUN_')) {
      throw source.error([...at, 'env', key], `variables starting with ${key.startsWith('UWS_') ? 'UWS_' : 'UWSRUN_'} are set by uwsrun`, 'key');
    }
    env[key] = valueText(value, [...at, 'env', key], source);
    refuseNul(env[key], [...at, 'env', key], source);
  }
  if (raw.cwd) refuseNul(raw.cwd, [...at, 'cwd'], source);

  return {
    name,
    description: raw.description ?? null,
    command,
    cwd: raw.cwd == null ? null : resolve(baseDir, raw.cwd),
    env,
    inheritEnv: raw.inheritEnv ?? false,
    parameters,
    executionDuration: raw.executionDuration === undefined ? defaults.executionDuration : durationAt(raw.executionDuration, [...at, 'executionDuration'], source),
    destruction: raw.destruction === undefined ? defaults.destruction : durationAt(raw.destruction, [...at, 'destruction'], source, DURATION_HINT),
    killGrace: raw.killGrace === undefined ? defaults.killGrace : durationAt(raw.killGrace, [...at, 'killGrace'], source),
    archive: raw.archive ?? defaults.archive,
    maxRunning: raw.maxRunning ?? null,
  };
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

function resolveParameters(at: PathKey[], raw: Record<string, RawParameter>, source: YamlSource): Record<string, ParamSpec> {
  const specs: Record<string, ParamSpec> = {};
  const envNames = new Map<string, string>();
  for (const [name, rawSpec] of Object.entries(raw)) {
    const here = [...at, 'parameters', name];
    if ((BUILTIN_PLACEHOLDERS as readonly string[]).includes(name)) {
      throw source.error(here, `the name ${name} is reserved for the built-in placeholder {${name}}`, 'key');
    }
    const envName = paramEnvName(name);
    const clash = envNames.get(envName);
    if (clash !== undefined) throw source.error(here, `parameters ${clash} and ${name} would both be ${envName}`, 'key');
    envNames.set(envName, name);
    specs[name] = resolveParamSpec(here, rawSpec, source);
  }
  return specs;
}

function resolveParamSpec(at: PathKey[], raw: RawParameter, source: YamlSource): ParamSpec {
  const type: ParamType = raw.type ?? 'string';
  const numeric = type === 'integer' || type === 'float';
  for (const key of ['min', 'max'] as const) {
    if (raw[key] !== undefined && !numeric) throw source.error([...at, key], `${key} applies only to integer and float parameters, not ${type}`);
  }
  if (raw.min !== undefined && raw.max !== undefined && raw.min > raw.max) {
    throw source.error([...at, 'max'], `max ${raw.max} is less than min ${raw.min}`);
  }
  if (raw.pattern !== undefined) {
    if (type !== 'string') throw source.error([...at, 'pattern'], `pattern applies only to string parameters, not ${type}`);
    try {
      new RegExp(raw.pattern);
      anchoredPattern(raw.pattern);
    } catch (err) {
      const reason = (err as Error).message.split(': ').pop();
      throw source.error([...at, 'pattern'], `${JSON.stringify(raw.pattern)} is not a valid regular expression (${reason})`);
    }
  }

  let enumValues: ParamValue[] | undefined;
  let enumText: string[] | undefined;
  if (raw.enum !== undefined) {
    enumValues = [];
    enumText = [];
    for (const [i, value] of raw.enum.entries()) {
      const text = valueText(value, [...at, 'enum', i], source);
      const typed = parseTypedText(type, text);
      if (typed === null) throw source.error([...at, 'enum', i], `expected ${TYPE_DESCRIPTIONS[type]}, got ${JSON.stringify(text)}`);
      enumValues.push(typed);
      enumText.push(text);
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
  if (raw.default !== undefined) {
    if (spec.required) throw source.error([...at, 'required'], 'a parameter with a default cannot be required');
    const text = valueText(raw.default, [...at, 'default'], source);
    const checked = checkParamText(spec, text);
    if ('problem' in checked) throw source.error([...at, 'default'], checked.problem);
    spec.default = checked.value;
    spec.defaultText = text;
  }
  return spec;
}

function checkPlaceholders(arg: string, at: PathKey[], parameters: Record<string, ParamSpec>, source: YamlSource): void {
  let names: string[];
  try {
    names = placeholdersOf(arg);
  } catch (err) {
    if (err instanceof TemplateError) throw source.error(at, err.message);
    throw err;
  }
  for (const name of names) {
    if ((BUILTIN_PLACEHOLDERS as readonly string[]).includes(name)) continue;
    const spec = Object.hasOwn(parameters, name) ? parameters[name] : undefined;
    if (!spec) {
      const declared = Object.keys(parameters);
      throw source.error(at, `unknown placeholder {${name}}; ${declared.length ? `declared parameters: ${declared.join(', ')}` : 'no parameters are declared'}; built-in: ${BUILTIN_PLACEHOLDERS.join(', ')}`);
    }
    if (!spec.required && spec.default === undefined) {
      throw source.error(at, `placeholder {${name}} may have no value: give parameter ${name} a default or required: true`);
    }
  }
}
