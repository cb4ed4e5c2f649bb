import { usageError } from '../errors.js';
import type { Definition, DefinitionsFile } from './schema.js';

export function getDefinition(file: DefinitionsFile, name: string): Definition {
  const def = Object.hasOwn(file.jobs, name) ? file.jobs[name] : undefined;
  if (def) return def;
  const known = Object.keys(file.jobs);
  throw usageError(known.length === 0
    ? `unknown definition ${JSON.stringify(name)} in ${file.path}; it defines no jobs`
    : `unknown definition ${JSON.stringify(name)} in ${file.path}; known: ${known.join(', ')}`);
}

