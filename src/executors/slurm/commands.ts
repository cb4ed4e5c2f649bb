// Slurm's client commands (sbatch, squeue, scontrol, scancel, sacct), run through execa: argv
// arrays (no shell ever sees a parameter), a 10 s timeout, and Slurm's own stderr in every
// message. This module is the only one that imports execa, and it is loaded only where Slurm
// is used (a dynamic import from the runner and from abort), so no local-only command pays
// for it.
//
// Every call ends in one of three ways:
//   ok        the command did what it was asked (stdout in hand);
//   refused   Slurm answered no (a bad partition or option, an unknown job): its message;
//   outage    the controller did not answer: a communication error, or over 10 s. Nothing
//             about any job may be decided from that (SPEC §11): the caller retries later.
// SLURM_CONF and PATH come from the caller's environment (the runner inherits the
// submitter's PATH and UWSRUN_* only, see ensure-runner.ts; SLURM_CONF is passed on too).

import { execa } from 'execa';

/** Longer than this, and the controller counts as not answering (SPEC §11). */
export const SLURM_TIMEOUT_MS = 10_000;

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

/** The Slurm commands this process ran, by name: the runner says them when it goes idle. */
export const slurmCalls = new Map<string, number>();

export const describeSlurmCalls = (): string =>
  [...slurmCalls].map(([name, n]) => `${name} ${n}`).join(', ');

export async function runSlurm(command: string, args: string[], input?: string): Promise<SlurmResult> {
  slurmCalls.set(command, (slurmCalls.get(command) ?? 0) + 1);
  // Lean options (measured: ~15% of the CPU of a call of /bin/true through execa): no
  // exit handler to kill the command with this process (cleanup; an sbatch that outlives a
  // runner is waited for by its successor, see handover.ts), SIGKILL at the timeout instead
  // of SIGTERM and a second timer for a later SIGKILL, no newline stripping (callers trim).
  const r = await execa(command, args, {
    reject: false,
    timeout: SLURM_TIMEOUT_MS,
    killSignal: 'SIGKILL',
    forceKillAfterDelay: false,
    cleanup: false,
    input,
    stdin: input === undefined ? 'ignore' : 'pipe',
    env: { LC_ALL: 'C' },
    stripFinalNewline: false,
  });
  const said = oneLine(r.stderr || r.stdout || '');
  if (r.timedOut) return { kind: 'outage', message: `${command} got no answer within ${SLURM_TIMEOUT_MS / 1000} s${said ? `: ${said}` : ''}` };
  if (r.failed && r.exitCode === undefined) {
    // Not even started (ENOENT): no Slurm client here; nothing about the job is known.
    return { kind: 'outage', message: `cannot run ${command}: ${oneLine(r.originalMessage ?? r.shortMessage ?? '')}` };
  }
  if (COMMUNICATION.test(r.stderr)) return { kind: 'outage', message: `${command}: ${said}` };
  if (r.exitCode !== 0) return { kind: 'refused', message: said || `${command} exited with status ${r.exitCode}` };
  return { kind: 'ok', stdout: r.stdout };
}

/** Slurm's words on one line: its last meaningful line, without the "sbatch: error: " prefix noise doubled. */
function oneLine(text: string): string {
  const lines = text.split('\n').map((l) => l.trim()).filter((l) => l !== '');
  const errors = lines.filter((l) => /error/i.test(l));
  return (errors.length > 0 ? errors : lines).join('; ').slice(0, 500);
}
