import { usageError } from '../errors.js';
import type { Definition, DefinitionsFile } from './schema.js';
import { closestName } from './suggest.js';

export function getDefinition(file: DefinitionsFile, name: string): Definition {
  const def = Object.hasOwn(file.jobs, name) ? file.jobs[name] : undefined;
  if (def) return def;
  const known = Object.keys(file.jobs);
  const guess = closestName(name, known);
  const suggestion = guess === undefined ? '' : ` (did you mean ${JSON.stringify(guess)}?)`;
  throw usageError(known.length === 0
    ? `unknown definition ${JSON.stringify(name)} in ${file.path}; it defines no jobs`
    : `unknown definition ${JSON.stringify(name)} in ${file.path}${suggestion}; known: ${known.join(', ')}`);
}

