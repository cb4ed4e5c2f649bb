// Slurm's client commands (sbatch, squeue, scontrol, scancel, sacct), each one process run
// through execa: argv arrays (no shell ever sees a parameter), a 10 s timeout, and Slurm's
// own stderr in every message. execa is loaded only where Slurm is used: this module is
// reached by dynamic imports only (from the runner and from abort), and the build keeps
// execa out of the main bundle (dist/uwsrun-execa.cjs, scripts/build.mjs), so no local-only
// command parses it. Its options are the lean ones: the runner makes one sbatch per job, and
// each helper left on (an exit handler, final-newline stripping, verbose logging) is CPU of
// SPEC §11's 5 ms budget per Slurm job; a call is started, its output collected, its end
// classified below.
//
// Every call ends in one of three ways:
//   ok        the command did what it was asked (stdout in hand);
//   refused   Slurm answered no (a bad partition or option, an unknown job): its message;
//   outage    the controller did not answer: a communication error, or over 10 s, or the
//             command could not be run at all, or found no configuration. Nothing about
//             any job may be decided from that (SPEC §11): the caller retries later.
// SLURM_CONF and PATH come from the caller's environment (the runner inherits the
// submitter's PATH and UWSRUN_* only, see ensure-runner.ts; SLURM_CONF is passed on too).

import { execa } from 'execa';

/** Longer than this, and the controller counts as not answering (SPEC §11). */
export const SLURM_TIMEOUT_MS = 10_000;

/** More output than this from one call is not Slurm answering a question of ours: cut off. */
const MAX_OUTPUT_BYTES = 16 * 1024 * 1024;

export type SlurmResult =
  | { kind: 'ok'; stdout: string }
  | { kind: 'refused'; message: string }
  | { kind: 'outage'; message: string };

/**
 * What Slurm's clients print when they cannot reach (or hear back from) the controller.
 * `scontrol hold`/`release` say "Unexpected message received" then (measured: 9 s after a
 * controller stopped), where squeue says "Unable to contact slurm controller".
 */
const COMMUNICATION = /Unable to contact slurm controller|Socket timed out|Communication connection failure|Connection refused|connect failure|Zero Bytes were transmitted|Transport endpoint|Slurm backup controller in standby|Insane message length|Connection timed out|Network is unreachable|Unexpected message received/i;

/**
 * What Slurm's clients print when they find no configuration to use: no slurm.conf where
 * SLURM_CONF (or the default path) says, an unreadable or broken one, and no configless
 * DNS record either ("fatal: Could not establish a configuration source"). No job is at
 * fault, and sbatch's refusal must not end every job ERROR: an outage, retried, which
 * `doctor` names (typically a runner started from cron without SLURM_CONF).
 */
const NO_CONFIG = /Could not establish a configuration source|Unable to process configuration file/i;

/** The Slurm commands this process ran, by name: the runner says them when it goes idle. */
export const slurmCalls = new Map<string, number>();

export const describeSlurmCalls = (): string =>
  [...slurmCalls].map(([name, n]) => `${name} ${n}`).join(', ');

/** How one process ended: its output, and its exit status, or why it has none. */
interface Finished {
  stdout: string;
  stderr: string;
  exitCode: number | null;
  signal: string | null;
  timedOut: boolean;
  /** It could not be started (ENOENT, EACCES): the reason. */
  notStarted?: string;
}

/**
 * Runs `command args` with stdin from /dev/null and LC_ALL=C (Slurm's messages untranslated),
 * collecting stdout and stderr; SIGKILL after SLURM_TIMEOUT_MS, or past MAX_OUTPUT_BYTES.
 * Never rejects. No exit handler kills it with this process (`cleanup: false`): an sbatch
 * that outlives a runner is waited for by its successor (handover.ts).
 */
async function runProcess(command: string, args: string[]): Promise<Finished> {
  const r = await execa(command, args, {
    stdin: 'ignore',
    env: { LC_ALL: 'C' },
    timeout: SLURM_TIMEOUT_MS,
    killSignal: 'SIGKILL',
    maxBuffer: MAX_OUTPUT_BYTES,
    reject: false,
    cleanup: false,
    stripFinalNewline: false,
  });
  const stdout = typeof r.stdout === 'string' ? r.stdout : '';
  const stderr = typeof r.stderr === 'string' ? r.stderr : '';
  // Flooding us: execa killed it, whatever status it may still have exited with.
  if (r.isMaxBuffer) return { stdout, stderr, exitCode: null, signal: r.signal ?? 'SIGKILL', timedOut: false };
  const started = !r.failed || r.exitCode !== undefined || r.signal !== undefined || r.timedOut;
  return {
    stdout,
    stderr,
    exitCode: r.exitCode ?? null,
    signal: r.signal ?? null,
    timedOut: r.timedOut,
    ...(started ? {} : { notStarted: r.cause instanceof Error ? r.cause.message : r.shortMessage }),
  };
}

export async function runSlurm(command: string, args: string[]): Promise<SlurmResult> {
  slurmCalls.set(command, (slurmCalls.get(command) ?? 0) + 1);
  const r = await runProcess(command, args);
  const said = oneLine(r.stderr || r.stdout);
  // A slurm.conf that is not there: the client retries for a minute before it says so.
  if (r.timedOut && /cannot stat file \S*slurm\.conf/.test(r.stderr)) return noConfig(command, said);
  if (r.timedOut) return { kind: 'outage', message: `${command} got no answer within ${SLURM_TIMEOUT_MS / 1000} s${said ? `: ${said}` : ''}` };
  // Not even started (ENOENT): no Slurm client here; nothing about the job is known.
  if (r.notStarted !== undefined) return { kind: 'outage', message: `cannot run ${command}: ${oneLine(r.notStarted)}` };
  // Killed by someone else (or for flooding us): no answer either.
  if (r.exitCode === null) return { kind: 'outage', message: `${command} was killed by ${r.signal ?? 'a signal'}${said ? `: ${said}` : ''}` };
  if (COMMUNICATION.test(r.stderr)) return { kind: 'outage', message: `${command}: ${said}` };
  if (NO_CONFIG.test(r.stderr)) return noConfig(command, said);
  if (r.exitCode !== 0) return { kind: 'refused', message: said || `${command} exited with status ${r.exitCode}` };
  return { kind: 'ok', stdout: r.stdout };
}

/** The outage of a client that found no configuration (see NO_CONFIG): where it looked, and its words. */
const noConfig = (command: string, said: string): SlurmResult => ({
  kind: 'outage',
  message: `${command} found no usable Slurm configuration (SLURM_CONF ${process.env.SLURM_CONF ? `is ${process.env.SLURM_CONF}` : 'is not set'}): ${said}`,
});

/** Slurm's words on one line: its error and fatal lines (else all it said), joined. */
function oneLine(text: string): string {
  const lines = text.split('\n').map((l) => l.trim()).filter((l) => l !== '');
  const errors = lines.filter((l) => /error|fatal/i.test(l));
  return (errors.length > 0 ? errors : lines).join('; ').slice(0, 500);
}
