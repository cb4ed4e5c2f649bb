// The command line: commander wiring only. Each command parses its options, calls core/run
// and prints; errors a user can cause become one line on stderr and their exit code.
// Only the module of the command being run is loaded (startup is most of a command's cost);
// help and unknown commands load them all.

import { Command, CommanderError, Option } from 'commander';
import { EXIT } from '../errors.js';
import { reportError } from './ids.js';

export const VERSION = '0.1.0';

type Register = (program: Command) => void;

const GROUPS: Record<string, () => Promise<Register>> = {
  submit: async () => (await import('./submit.js')).registerSubmit,
  change: async () => (await import('./change.js')).registerChange,
  wait: async () => (await import('./wait.js')).registerWait,
  inspect: async () => (await import('./inspect.js')).registerInspect,
  definitions: async () => (await import('./definitions.js')).registerDefinitions,
  set: async () => (await import('./set.js')).registerSet,
  housekeeping: async () => (await import('./housekeeping.js')).registerHousekeeping,
  clean: async () => (await import('./clean.js')).registerClean,
  resubmit: async () => (await import('./resubmit.js')).registerResubmit,
};

const GROUP_OF: Record<string, keyof typeof GROUPS> = {
  submit: 'submit',
  run: 'change', abort: 'change', delete: 'change', limit: 'change',
  wait: 'wait',
  show: 'inspect', phase: 'inspect', results: 'inspect', logs: 'inspect', list: 'inspect',
  validate: 'definitions', defs: 'definitions',
  set: 'set',
  tick: 'housekeeping', doctor: 'housekeeping',
  clean: 'clean',
  resubmit: 'resubmit',
};

/** The command named in argv (after global options), if it is one of ours. */
export function commandIn(args: string[]): string | undefined {
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--home') i++;
    else if (a === '-h' || a === '--help' || a === 'help') return undefined;
    else if (!a.startsWith('-')) return a in GROUP_OF ? a : undefined;
  }
  return undefined;
}

export async function buildProgram(args: string[]): Promise<Command> {
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
  const name = commandIn(args);
  const groups = name ? [GROUP_OF[name]!] : Object.keys(GROUPS);
  for (const group of groups) (await GROUPS[group]!())(program);
  for (const cmd of program.commands) cmd.exitOverride();
  return program;
}

export async function runCli(argv: string[]): Promise<void> {
  try {
    const program = await buildProgram(argv.slice(2));
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
