// What the completion scripts know without asking uwsrun: a table written from the program's
// own commander definitions when the script is printed, so a new command or option is
// completed without anyone editing the scripts. One line per option,
// "o COMMAND FLAG KIND" (COMMAND * for the global options, - for uwsrun's own, KIND ! when
// the option takes no value), and one per command, "a COMMAND KIND..." for its arguments.
// KIND: file, dir, defs (definition names), ids (job ids), words:A,B, or - (anything).

import type { Argument, Command, Option } from 'commander';
import { PHASES } from '../../core/phases.js';

/** Values that the value's name alone does not tell (`--run-id <id>` is not a job id). */
const OPTION_VALUES: Record<string, string> = {
  '--home': 'dir',
  '--file': 'file',
  '--params-from': 'file',
  '--phase': `words:${PHASES.join(',')}`,
  '--definition': 'defs',
  'submit --after': 'ids',
  'submit --after-any': 'ids',
};

function optionKind(command: string, option: Option): string {
  if (!option.required && !option.optional) return '!';
  if (option.argChoices) return `words:${option.argChoices.join(',')}`;
  const long = option.long ?? '';
  return OPTION_VALUES[`${command} ${long}`] ?? OPTION_VALUES[long] ?? '-';
}

function argumentKind(arg: Argument): string {
  const name = arg.name();
  const kind = arg.argChoices ? `words:${arg.argChoices.join(',')}`
    : /^ids?$/.test(name) ? 'ids'
    : name === 'definition' ? 'defs'
    : name === 'file' ? 'file'
    : '-';
  return arg.variadic ? `${kind}...` : kind;
}

function optionLines(command: string, options: readonly Option[]): string[] {
  const lines: string[] = [];
  for (const option of options) {
    if (option.hidden) continue;
    const kind = optionKind(command, option);
    for (const flag of [option.short, option.long]) if (flag) lines.push(`o ${command} ${flag} ${kind}`);
  }
  return lines;
}

/** The table for `program` with every command group registered. */
export function completionTable(program: Command): string {
  const lines = [
    ...optionLines('-', program.options.filter((o) => o.long === '--version')),
    ...optionLines('*', program.options.filter((o) => o.long !== '--version')),
    'o * -h !',
    'o * --help !',
  ];
  for (const cmd of program.commands) {
    const name = cmd.name();
    if (name === 'help' || name.startsWith('__')) continue;
    lines.push(`a ${[name, ...cmd.registeredArguments.map(argumentKind)].join(' ')}`);
    lines.push(...optionLines(name, cmd.options));
  }
  const table = lines.join('\n');
  // The scripts hold the table in single quotes.
  if (table.includes("'")) throw new Error(`a quote in the completion table: ${table}`);
  return table;
}
