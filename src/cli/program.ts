// The command line: commander wiring only. Each command parses its options, calls core/run
// and prints; errors a user can cause become one line on stderr and their exit code.
// Only the module of the command being run is loaded (startup is most of a command's cost);
// help and unknown commands load them all.

import { Command, CommanderError, Option } from 'commander';
import { EXIT } from '../errors.js';
import { reportError } from './ids.js';
import { printableLines } from './printable.js';
import { writeOut } from './stdout.js';

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
  completion: async () => (await import('./completion/command.js')).registerCompletion,
  clean: async () => (await import('./clean.js')).registerClean,
  resubmit: async () => (await import('./resubmit.js')).registerResubmit,
  hold: async () => (await import('./hold.js')).registerHold,
  serve: async () => (await import('./serve.js')).registerServe,
  token: async () => (await import('./token.js')).registerToken,
};

const GROUP_OF: Record<string, keyof typeof GROUPS> = {
  submit: 'submit',
  run: 'change', abort: 'change', delete: 'change', limit: 'change',
  wait: 'wait',
  show: 'inspect', phase: 'inspect', results: 'inspect', logs: 'inspect', list: 'inspect',
  validate: 'definitions', defs: 'definitions',
  set: 'set',
  tick: 'housekeeping', doctor: 'housekeeping',
  completion: 'completion', __complete: 'completion',
  clean: 'clean',
  resubmit: 'resubmit',
  hold: 'hold', release: 'hold',
  serve: 'serve',
  token: 'token',
};

// One example per command, shown at the end of its --help. Kept here, in one table, so the
// command files stay about what the commands do.
const EXAMPLES: Record<string, string[]> = {
  submit: [
    'uwsrun submit hello -p name=Ada --run',
    'uwsrun submit -f jobs.yaml reduce -p night=2026-11-30 --run-id night-2026-11-30 --unique --wait --timeout 3600',
    'uwsrun submit -f jobs.yaml publish -p night=2026-11-30 --after Kx3Vq9ZtR2mB7wLp --not-before 6h --run',
  ],
  run: ['uwsrun run Kx3Vq9ZtR2mB7wLp'],
  abort: ['uwsrun abort Kx3Vq9ZtR2mB7wLp'],
  delete: ['uwsrun delete Kx3Vq9ZtR2mB7wLp'],
  limit: ['uwsrun limit 4'],
  wait: ['uwsrun wait Kx3Vq9ZtR2mB7wLp --timeout 600'],
  show: ['uwsrun show Kx3Vq9ZtR2mB7wLp --xml'],
  phase: ['uwsrun phase Kx3Vq9ZtR2mB7wLp'],
  results: ['uwsrun results Kx3Vq9ZtR2mB7wLp --json'],
  logs: ['uwsrun logs Kx3Vq9ZtR2mB7wLp --stderr --follow'],
  list: ['uwsrun list --phase EXECUTING --phase QUEUED --last 20'],
  validate: ['uwsrun validate jobs.yaml'],
  defs: ['uwsrun defs -f jobs.yaml'],
  set: ['uwsrun set Kx3Vq9ZtR2mB7wLp --destruction 30d -p sigma=2.5'],
  tick: ['* * * * *  uwsrun -q tick        (a crontab line)'],
  doctor: ['uwsrun doctor --repair'],
  completion: ['source <(uwsrun completion bash)'],
  hold: ['uwsrun hold Kx3Vq9ZtR2mB7wLp'],
  release: ['uwsrun release Kx3Vq9ZtR2mB7wLp'],
  resubmit: ['uwsrun resubmit Kx3Vq9ZtR2mB7wLp -p sigma=2.0 --run'],
  clean: ['uwsrun clean --phase ERROR --older-than 30d'],
  serve: ['uwsrun serve --listen 127.0.0.1:8080 --no-auth', 'uwsrun serve --listen 0.0.0.0:8080 --base-url https://example.org/uws --max-wait 30'],
  token: ['uwsrun token create alice', 'uwsrun token create ops --admin', 'uwsrun token list', 'uwsrun token revoke alice'],
};

const examplesText = (lines: string[]): string => `\nExample${lines.length > 1 ? 's' : ''}:\n${lines.map((l) => `  ${l}`).join('\n')}\n`;

/** commander's own errors ("error: unknown option ...", a suggestion on a second line) as uwsrun's: one line. */
const commanderError = (text: string): string => `uwsrun: ${text.replace(/^error: /, '').trim().replace(/\s*\n\s*\(?Did you mean (.*?)\)?$/, ' (did you mean $1)').replace(/\s*\n\s*/g, ' ')}\n`;

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
    .option('--no-color', 'no colours (also NO_COLOR, TERM=dumb; FORCE_COLOR forces them)')
    .option('-q, --quiet', 'no informational messages')
    .exitOverride()
    .configureOutput({ writeOut, writeErr: (s) => process.stderr.write(printableLines(s)), outputError: (s, write) => write(commanderError(s)) }) // commander echoes what was typed
    .showHelpAfterError(false);
  const name = commandIn(args);
  const groups = name ? [GROUP_OF[name]!] : Object.keys(GROUPS);
  for (const group of groups) (await GROUPS[group]!())(program);
  program.addHelpText('after', examplesText(['uwsrun submit -f jobs.example.yaml hello -p name=Ada --wait', 'uwsrun list']));
  for (const cmd of program.commands) {
    cmd.exitOverride();
    const examples = EXAMPLES[cmd.name()];
    if (examples) cmd.addHelpText('after', examplesText(examples));
  }
  return program;
}

export async function runCli(argv: string[]): Promise<void> {
  try {
    const program = await buildProgram(argv.slice(2));
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and version exit 0 (`uwsrun help CMD` too); errors and help shown for one are usage.
      process.exitCode = err.exitCode === 0 ? EXIT.ok : EXIT.usage;
      return;
    }
    process.exitCode = reportError(err);
  }
}
