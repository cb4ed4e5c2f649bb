// Parameter values: from the text a user wrote (`-p sigma=3.50`) or from a JSON Lines object
// to a typed value, checked against the definition's type, enum, min, max and pattern.
// Each parameter keeps two forms, because they serve different readers:
//   values  typed (number, boolean, string): what the JSON job record and UWS XML show;
//   text    exactly as written (`3.50`, a YAML default's source `3.0`): what placeholders
//           and UWS_PARAM_* receive, so a program sees what its user typed, not a reformat.
// load.ts checks YAML defaults (checkParamText) and enum values (parseTypedText) with these too.

import type { ParamValue } from '../core/job.js';
import { calendarDateMs, parseInstantText } from '../core/duration.js';
import { usageError } from '../errors.js';
import type { Definition, ParamSpec, ParamType } from './schema.js';
import { closestName } from './suggest.js';

const INTEGER_PATTERN = /^[+-]?\d+$/;
const FLOAT_PATTERN = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
const DATE_PATTERN = /^(\d{4})-(\d{2})-(\d{2})$/;

export const TYPE_DESCRIPTIONS: Record<ParamType, string> = {
  string: 'a string',
  integer: 'an integer',
  float: 'a float',
  boolean: 'a boolean (true or false)',
  date: 'a date (YYYY-MM-DD)',
  datetime: 'a datetime (ISO 8601 with Z or an offset)',
};

/** The typed value of `text` for `type`, or null when the text is not of that type. */
export function parseTypedText(type: ParamType, text: string): ParamValue | null {
  switch (type) {
    case 'string':
      return text;
    case 'integer': {
      if (!INTEGER_PATTERN.test(text)) return null;
      const n = Number(text);
      return Number.isSafeInteger(n) ? n + 0 : null; // + 0 turns -0 into 0
    }
    case 'float': {
      if (!FLOAT_PATTERN.test(text)) return null;
      const n = Number(text);
      return Number.isFinite(n) ? n + 0 : null;
    }
    case 'boolean':
      return text === 'true' ? true : text === 'false' ? false : null;
    case 'date': {
      const m = DATE_PATTERN.exec(text);
      return m && calendarDateMs(Number(m[1]), Number(m[2]), Number(m[3])) !== null ? text : null;
    }
    case 'datetime':
      return parseInstantText(text).ok ? text : null;
  }
}

export function anchoredPattern(pattern: string): RegExp {
  return new RegExp(`^(?:${pattern})$`);
}

/**
 * Checks one value as written against everything its spec demands; returns the typed value,
 * or the reason it is refused (without the "parameter NAME: " prefix, which callers add).
 */
export function checkParamText(spec: ParamSpec, text: string): { value: ParamValue } | { problem: string } {
  const shown = JSON.stringify(text);
  // Nothing that contains NUL can be an argument or a variable of a process.
  if (text.includes('\0')) return { problem: `${shown} contains a NUL character` };
  const value = parseTypedText(spec.type, text);
  if (value === null) {
    const instant = spec.type === 'datetime' ? parseInstantText(text) : null;
    const why = instant && !instant.ok && instant.reason === 'no-offset' ? ' (it has no Z or offset)' : '';
    return { problem: `${shown} is not ${TYPE_DESCRIPTIONS[spec.type]}${why}` };
  }
  if (spec.enum !== undefined && !spec.enum.includes(value)) {
    return { problem: `${shown} is not one of ${(spec.enumText ?? spec.enum.map(String)).join(', ')}` };
  }
  if (typeof value === 'number') {
    if (spec.min !== undefined && value < spec.min) return { problem: `${shown} is less than the minimum ${spec.min}` };
    if (spec.max !== undefined && value > spec.max) return { problem: `${shown} is greater than the maximum ${spec.max}` };
  }
  if (spec.pattern !== undefined && !anchoredPattern(spec.pattern).test(text)) {
    return { problem: `${shown} does not match the pattern ${spec.pattern}` };
  }
  return { value };
}

/** `NAME=VALUE` from `-p`; the value may itself contain `=` and may be empty. */
export function parseParamAssignment(arg: string): [string, string] {
  const eq = arg.indexOf('=');
  if (eq <= 0) throw usageError(`-p ${JSON.stringify(arg)}: expected NAME=VALUE`);
  return [arg.slice(0, eq), arg.slice(eq + 1)];
}

export interface ResolvedParameters {
  values: Record<string, ParamValue>;
  text: Record<string, string>;
}

/**
 * The parameters of one job from `-p` pairs, defaults filled in (a parameter that is
 * optional and has no default stays absent from both maps). `source`, when given, starts
 * every message (for example `params.jsonl:3`). `previous` (for `set` and `resubmit`) is
 * the text a job already has: it stands in for a parameter not given, before the default,
 * so what is given is checked exactly as by `submit` and the rest is kept.
 */
export function resolveParameters(def: Definition, given: Array<[string, string]>, source?: string, previous: Record<string, string> = {}): ResolvedParameters {
  const fail = (message: string) => usageError(source ? `${source}: ${message}` : message);
  const givenText = new Map<string, string>();
  for (const [name, text] of given) {
    if (!Object.hasOwn(def.parameters, name)) throw fail(unknownParameterMessage(def, name));
    if (givenText.has(name)) throw fail(`parameter ${name} given more than once`);
    givenText.set(name, text);
  }
  const resolved: ResolvedParameters = { values: {}, text: {} };
  for (const [name, spec] of Object.entries(def.parameters)) {
    const text = givenText.get(name) ?? (Object.hasOwn(previous, name) ? previous[name] : undefined);
    if (text === undefined) {
      if (spec.required) throw fail(`missing required parameter ${name} for ${def.name}`);
      if (spec.default === undefined || spec.defaultText === undefined) continue;
      resolved.values[name] = spec.default;
      resolved.text[name] = spec.defaultText;
      continue;
    }
    const checked = checkParamText(spec, text);
    if ('problem' in checked) throw fail(`parameter ${name}: ${checked.problem}`);
    resolved.values[name] = checked.value;
    resolved.text[name] = text;
  }
  return resolved;
}

/**
 * The parameters of one job from a JSON object (`--params-from`). A JSON number or boolean
 * stands for its text (`{"sigma": 3.5}` is `-p sigma=3.5`), so both inputs obey one set of
 * rules; null, arrays and objects are refused.
 */
export function resolveParameterObject(def: Definition, obj: Record<string, unknown>, source?: string): ResolvedParameters {
  const given: Array<[string, string]> = [];
  for (const [name, value] of Object.entries(obj)) {
    const spec = Object.hasOwn(def.parameters, name) ? def.parameters[name] : undefined;
    if (spec && typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') {
      const shown = value === null ? 'null' : Array.isArray(value) ? 'an array' : 'an object';
      const message = `parameter ${name}: ${shown} is not ${TYPE_DESCRIPTIONS[spec.type]}`;
      throw usageError(source ? `${source}: ${message}` : message);
    }
    given.push([name, String(value)]); // an unknown name is reported by resolveParameters
  }
  return resolveParameters(def, given, source);
}

function unknownParameterMessage(def: Definition, name: string): string {
  const declared = Object.keys(def.parameters);
  const guess = closestName(name, declared);
  const suggestion = guess === undefined ? '' : ` (did you mean ${JSON.stringify(guess)}?)`;
  return declared.length === 0
    ? `unknown parameter ${JSON.stringify(name)} for ${def.name}; it declares no parameters`
    : `unknown parameter ${JSON.stringify(name)} for ${def.name}${suggestion}; declared: ${declared.join(', ')}`;
}
