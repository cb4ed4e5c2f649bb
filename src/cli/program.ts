// The command line: commander wiring only. Each command parses its options, calls core/run
// and prints; errors a user can cause become one line on stderr and their exit code.

import { Command, CommanderError, Option } from 'commander';
import { EXIT } from '../errors.js';
import { reportError } from './ids.js';
import { registerSubmit } from './submit.js';
import { registerWait } from './wait.js';
import { registerInspect } from './inspect.js';
import { registerChange } from './change.js';
import { registerDefinitions } from './definitions.js';
import { registerSet } from './set.js';
import { registerHousekeeping } from './housekeeping.js';

export const VERSION = '0.1.0';

export function buildProgram(): Command {
  const program = new Command('uwsrun');
  program
    .description('run batch jobs defined in YAML, with the IVOA UWS 1.1 phase model')
    .version(VERSION, '-V, --version')
    .option('--home <dir>', 'the HOME holding state and jobs (default $UWSRUN_HOME, $XDG_STATE_HOME/uwsrun, ~/.local/state/uwsrun)')
    .option('--json', 'machine output on stdout')
    .addOption(new Option('--xml', 'UWS 1.1 XML on stdout (show, list, results)'))
    .option('--no-color', 'no colours (NO_COLOR is honoured too)')
    .option('-q, --quiet', 'no informational messages')
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) })
    .showHelpAfterError(false);
  registerSubmit(program);
  registerChange(program);
  registerWait(program);
  registerInspect(program);
  registerDefinitions(program);
  registerSet(program);
  registerHousekeeping(program);
  for (const cmd of program.commands) cmd.exitOverride();
  return program;
}

export async function runCli(argv: string[]): Promise<void> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      const ok = err.code === 'commander.helpDisplayed' || err.code === 'commander.version';
      process.exitCode = ok ? EXIT.ok : EXIT.usage;
      return;
    }
    process.exitCode = reportError(err);
  }
}
