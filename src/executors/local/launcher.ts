// How jobs are started. Node forking itself per job costs ~1.5 ms of the runner's time (its
// address space is large), so the runner starts one small Perl process, the launcher
// (perl-base is Essential on Debian; its code is launcher.pl, after wrapper.pl), and asks it to fork each job's
// wrapper.
//
// The launcher reads requests from a FIFO and answers each on its stdout (a pipe the runner
// reads asynchronously), in the same stream as its other reports: "launched ID PID
// STARTTIME" once it forked the wrapper, "started ID [PID STARTTIME]" when the job's start
// marker shows it was started before, or "fail ID MESSAGE" when this one job could not be
// started (no inode or space for its files, no fork: the launcher is fine and stays). The
// runner does not wait for the answer (a fork is ~0.5 ms of the launcher's time, which the
// runner spends on the other jobs' news meanwhile); it keeps its transaction open until
// the answer is in, so the job's pid is still recorded in the transaction that chose to
// start it. Only no answer at all within a deadline means the launcher hangs. The other
// reports are "up ID" lines written by wrappers and "exit ID CODE SIGNAL" lines when it
// reaps a wrapper (in its main loop, woken by SIGCHLD or every 50 ms); one stream keeps
// them in order: a job's answer always comes before its "exit" (a wrapper's "up" may come
// before its answer). The launcher exits when the runner is gone (EOF on the request FIFO);
// wrappers already started live on in their own sessions, and the next runner adopts them.
//
// Before forking, the launcher creates the job's start marker (records/ID/started)
// exclusively, and its exit file (records/ID/exit) filled with blanks. The forked wrapper's
// first act is to write its own pid and start time into the marker, so no launcher death
// can leave a marker empty while a copy of the job runs: a job is started at most once.
//
// Every job's process-group leader is its wrapper. It:
//   1. calls setsid() (its own session and process group), waits holdStart seconds when
//      asked (tests only: UWSRUN_TEST_HOLD_START of the submitter keeps the job in the
//      starting window), then cd's to the job's cwd;
//   2. forks the command with exactly the job's environment, stdin /dev/null and
//      stdout/stderr appended straight to the job's stdout.log/stderr.log;
//   3. learns whether exec succeeded through a close-on-exec pipe (EOF = the program is
//      running), and only then says "up": the "child is up" event that sets startTime. An
//      exec that failed is reported, and the job is never "up";
//   4. traps INT and TERM (in itself only: the command gets the signals sent to the group),
//      and waits for the command. It is a child subreaper, so whatever the command leaves
//      running (in the group, or escaped by setsid, once orphaned) becomes its child: those
//      get SIGTERM, then SIGKILL after killGrace, while the wrapper, still the leader, keeps
//      the job EXECUTING (SPEC §5: the job ends with its leader, leaving nothing behind);
//   5. writes how the command ended over the blanks of its exit file: "exit N", "signal N"
//      or "error MESSAGE", and a second line "left PID (COMM), ..." naming what it had to
//      terminate (no new inode or block needed, so a full disk cannot lose it). A runner
//      that starts after the previous one died reads that file to learn how an adopted job
//      ended.
// Until step 4 the wrapper has no handlers: SIGTERM in the starting window ends it at once.

import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, constants, openSync, readSync, unlinkSync, writeSync } from 'node:fs';
import { signalName } from '../../run/exit-status.js';
import { readProcStat } from '../../run/proc.js';
import { sleepSync } from '../../store/lock.js';

// The Perl of the launcher and the wrapper, in files of their own (bundled as text by esbuild;
// `perl -c` checks them in test/unit/perl.test.ts). The launcher program is the wrapper's
// file followed by the launcher's (the wrapper is a fork of the launcher).
import WRAPPER from './wrapper.pl';
import LAUNCHER_MAIN from './launcher.pl';

const LAUNCHER = `${WRAPPER}\n${LAUNCHER_MAIN}`;

export const PERL = '/usr/bin/perl';

export interface JobLaunch {
  jobId: string;
  /** Where its logs go (stdout.log, stderr.log). */
  jobDir: string;
  /** Where its start marker and exit file are (uwsrun's own, out of the job's reach). */
  recordDir: string;
  cwd: string;
  command: string[];
  env: Record<string, string>;
  holdStart: number;
  /** Seconds between SIGTERM and SIGKILL for what the command leaves behind. */
  killGrace: number;
}

/**
 * A launch: the wrapper's pid and start time; `before` when the job's marker says it was
 * started already (pid null when its starter died before writing the marker).
 */
export type Launched =
  | { pid: number; pidStart: string; before: boolean }
  | { pid: null; pidStart: null; before: true };

export interface WrapperExit {
  exitCode: number | null;
  signal: string | null;
}

/** The launcher's answer to a request: a launch, or why this job could not be started. */
export type LaunchAnswer = Launched | { refused: string };

export interface LauncherEvents {
  answer(jobId: string, answer: LaunchAnswer): void;
  up(jobId: string): void;
  exit(jobId: string, status: WrapperExit): void;
  /** The launcher itself ended: wrappers it started live on, but report nothing more. */
  gone(why: string): void;
}

const SETUP_TIMEOUT_MS = 5_000;
/** How long a launch may wait for the launcher's answer before it is taken to be hung. */
const ANSWER_TIMEOUT_MS = 5_000;

/** The launcher is gone or hangs: it is given up. */
export class LaunchError extends Error {}

/**
 * How a wrapper whose launcher died can start a runner again (respawnRunner in launcher.pl):
 * this runner's own command line, hex-encoded (any byte of a path gets through), and its
 * environment (PATH, UWSRUN_*, SLURM_CONF: what the command that started it passed on,
 * ensure-runner.ts) as the launcher's own variables, with their names in
 * UWSRUN_RUNNER_ENV_KEYS. Not one variable holding them all: Linux limits each variable to
 * 128 KiB, and a large PATH would then stop every launcher from starting (E2BIG).
 */
function respawnEnv(): Record<string, string> {
  const argv = [process.execPath, ...process.execArgv, ...process.argv.slice(1)];
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && k !== 'LC_ALL') env[k] = v;
  return { ...env, UWSRUN_RUNNER_ARGV: argv.map((a) => Buffer.from(a).toString('hex')).join(','), UWSRUN_RUNNER_ENV_KEYS: Object.keys(env).join(',') };
}

export class Launcher {
  private readonly proc: ChildProcess;
  private reqFd = -1;
  private closed = false;
  /** Requests whose answer has not come: job id -> when asked. */
  private readonly asked = new Map<string, number>();
  private answerTimer: NodeJS.Timeout | undefined;

  /**
   * Starts the launcher, with FIFOs at `fifoBase`.req/.rep (removed once both sides have
   * them open). Throws LaunchError when it does not answer within a few seconds.
   */
  constructor(fifoBase: string, private readonly events: LauncherEvents, stderrFd: number | 'ignore') {
    const req = `${fifoBase}.req`;
    const rep = `${fifoBase}.rep`;
    this.proc = spawn(PERL, ['-e', LAUNCHER, '--', req, rep], {
      stdio: ['ignore', 'pipe', stderrFd], env: { ...respawnEnv(), LC_ALL: 'C' },
    });
    let pending = '';
    this.proc.stdout!.setEncoding('utf8');
    this.proc.stdout!.on('data', (chunk: string) => {
      pending += chunk;
      let nl: number;
      while ((nl = pending.indexOf('\n')) >= 0) {
        const line = pending.slice(0, nl);
        pending = pending.slice(nl + 1);
        const [what, id, a, b] = line.split(' ');
        if (!id) continue;
        if (what === 'up') events.up(id);
        else if (what === 'exit') {
          const signum = Number(b);
          events.exit(id, signum > 0 ? { exitCode: null, signal: signalName(signum) } : { exitCode: Number(a), signal: null });
        } else if (this.asked.delete(id)) {
          if (what === 'fail') events.answer(id, { refused: line.slice(`fail ${id} `.length) });
          else if (a && /^\d+$/.test(a)) events.answer(id, { pid: Number(a), pidStart: b ?? '', before: what === 'started' });
          else events.answer(id, { pid: null, pidStart: null, before: true });
        }
      }
    });
    this.proc.on('error', (err) => this.fail(`launcher: ${err.message}`));
    this.proc.on('exit', (code, signal) => this.fail(`launcher ended (${signal ?? `exit ${code}`})`));
    try {
      if (this.proc.pid === undefined) throw new Error(`cannot run ${PERL}`);
      this.connect(req, rep);
    } catch (err) {
      this.close();
      throw new LaunchError(`launcher did not start: ${(err as Error).message}`);
    } finally {
      for (const f of [req, rep]) try { unlinkSync(f); } catch { /* never created */ }
    }
  }

  get pid(): number | undefined {
    return this.proc.pid;
  }

  private fail(why: string): void {
    if (this.closed) return;
    this.close();
    this.events.gone(why);
  }

  /**
   * Opens our ends of both FIFOs without ever blocking on a launcher that is not there:
   * non-blocking opens are retried until it has its ends open. The request end is then
   * reopened blocking (a large request waits for the launcher to read it). The answer FIFO
   * carries only the launcher's "ready" (its answers come on its stdout), read
   * non-blocking until a deadline, then closed.
   */
  private connect(req: string, rep: string): void {
    const deadline = Date.now() + SETUP_TIMEOUT_MS;
    const retry = (err: unknown, codes: string[]): void => {
      if (!codes.includes((err as NodeJS.ErrnoException).code ?? '') || Date.now() > deadline) throw err;
      const stat = readProcStat(this.proc.pid!);
      if (!stat || stat.state === 'Z') throw new Error('it exited (see runner.log)');
      sleepSync(1);
    };
    let probe: number;
    for (;;) {
      try {
        probe = openSync(req, constants.O_WRONLY | constants.O_NONBLOCK);
        break;
      } catch (err) { retry(err, ['ENOENT', 'ENXIO']); }
    }
    this.reqFd = openSync(req, constants.O_WRONLY);
    closeSync(probe);
    probe = openSync(rep, constants.O_RDONLY | constants.O_NONBLOCK);
    const reply = Buffer.alloc(64);
    try {
      let got = '';
      while (!got.endsWith('\n')) {
        try {
          const n = readSync(probe, reply);
          if (n === 0) retry(Object.assign(new Error('no answer'), { code: 'EAGAIN' }), ['EAGAIN']);
          got += reply.toString('utf8', 0, n);
        } catch (err) { retry(err, ['EAGAIN']); }
      }
      if (got !== 'ready\n') throw new Error(`unexpected answer ${JSON.stringify(got)}`);
    } finally {
      closeSync(probe);
    }
  }

  /**
   * Asks for the job's wrapper to be forked, unless the job's "started" marker shows it was
   * started before (by a runner that died before recording it). Returns at once; the answer
   * comes as an event. A launcher that answers no request within ANSWER_TIMEOUT_MS is
   * taken to hang: it is killed and reported gone. Throws LaunchError when the request
   * cannot be written (the launcher is gone).
   */
  request(job: JobLaunch): void {
    if (this.closed) throw new LaunchError('launcher is gone');
    const env = Object.entries(job.env).map(([k, v]) => `${k}=${v}`);
    const payload = Buffer.from([job.jobId, job.jobDir, job.recordDir, job.cwd, String(job.holdStart), String(job.killGrace), String(job.command.length), ...job.command, ...env].join('\0'));
    const request = Buffer.concat([Buffer.from(`${payload.length}\n`), payload]);
    try {
      for (let off = 0; off < request.length;) off += writeSync(this.reqFd, request, off);
    } catch (err) {
      throw new LaunchError(`launcher: ${(err as Error).message}`);
    }
    this.asked.set(job.jobId, Date.now());
    this.answerTimer ??= setTimeout(() => this.checkAnswers(), ANSWER_TIMEOUT_MS);
  }

  /** Whether requests wait for their answers. */
  get waiting(): boolean {
    return this.asked.size > 0;
  }

  private checkAnswers(): void {
    this.answerTimer = undefined;
    if (this.closed || this.asked.size === 0) return;
    const oldest = Math.min(...this.asked.values());
    if (Date.now() - oldest >= ANSWER_TIMEOUT_MS) {
      this.fail(`launcher: no answer within ${ANSWER_TIMEOUT_MS / 1000} s (stopped or hung?)`);
      return;
    }
    this.answerTimer = setTimeout(() => this.checkAnswers(), oldest + ANSWER_TIMEOUT_MS - Date.now());
  }

  /** Closes our ends and kills the launcher (it may be hung); its wrappers live on. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.answerTimer);
    // Answers still on their way are not taken: the caller counts those jobs as not started
    // (a start the launcher did make is found from the job's marker next time).
    this.asked.clear();
    this.proc.kill('SIGKILL');
    // Its stdout stays open: reports it wrote before it ended are still read.
    if (this.reqFd >= 0) try { closeSync(this.reqFd); } catch { /* closed */ }
  }
}
