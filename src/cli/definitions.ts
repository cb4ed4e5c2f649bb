// Commands about definitions files: validate, defs.

import type { Command } from 'commander';
import { Context } from './context.js';
import { definitionsPath } from './definitions-file.js';
import { reportEveryProblem } from './ids.js';
import { table } from './format.js';
import { usageError } from '../errors.js';
import type { ParamSpec } from '../definitions/schema.js';

// The YAML parser is loaded only by the commands that need it (see definitions/cached.ts).
const loadDefinitions = async (path: string) => (await import('../definitions/load.js')).loadDefinitions(path);

function describeParam(name: string, p: ParamSpec): string {
  const bits: string[] = [p.type];
  if (p.required) bits.push('required');
  if (p.defaultText !== undefined) bits.push(`default ${p.defaultText}`);
  if (p.enum) bits.push(`one of ${(p.enumText ?? p.enum.map(String)).join('|')}`);
  if (p.min !== undefined) bits.push(`min ${p.min}`);
  if (p.max !== undefined) bits.push(`max ${p.max}`);
  if (p.pattern !== undefined) bits.push(`pattern ${p.pattern}`);
  return `${name} (${bits.join(', ')})`;
}

export function registerDefinitions(program: Command): void {
  program
    .command('validate')
    .description('check a definitions file')
    .argument('[file]', 'definitions file')
    .option('-f, --file <file>', 'definitions file (as for submit and defs)')
    .action(async (file: string | undefined, flags: { file?: string }, cmd: Command) => {
      const ctx = Context.of(cmd, { json: true });
      reportEveryProblem();
      // SPEC §9 gives validate both spellings: `validate [FILE]` and `-f FILE` as for submit
      // and defs. Two different files at once are a mistake, not a choice to guess at.
      if (file !== undefined && flags.file !== undefined && file !== flags.file) {
        throw usageError(`validate: give the definitions file once, as FILE or as -f FILE (got ${file} and ${flags.file})`);
      }
      const path = definitionsPath(ctx, file ?? flags.file);
      const defs = await loadDefinitions(path);
      const names = Object.keys(defs.jobs);
      if (ctx.json) ctx.outJson({ file: path, definitions: names });
      else ctx.info(`${path}: ok, ${names.length} definition${names.length === 1 ? '' : 's'} (${names.join(', ')})`);
    });

  program
    .command('defs')
    .description('list definitions and their parameters')
    .option('-f, --file <file>', 'definitions file')
    .action(async (flags: { file?: string }, cmd: Command) => {
      const ctx = Context.of(cmd, { json: true });
      const defs = await loadDefinitions(definitionsPath(ctx, flags.file));
      const list = Object.values(defs.jobs);
      if (ctx.json) {
        ctx.outJson(list);
        return;
      }
      ctx.out(table(['NAME', 'DESCRIPTION', 'PARAMETERS'], list.map((d) => [
        d.name,
        d.description ?? '',
        Object.entries(d.parameters).map(([n, p]) => describeParam(n, p)).join('; ') || '-',
      ])));
    });
}
