// Every job's process-group leader is a tiny POSIX sh wrapper, not the command itself:
//   1. it points its own stdio at the job's stdout.log/stderr.log and /dev/null, so the job
//      writes its output straight into its files (no pipe through the runner);
//   2. it cd's to the job's cwd and, once it is about to run the command, says "up" on fd 3
//      (a pipe to the runner: the "child is up" event that sets startTime) and closes it;
//   3. it runs the command in the foreground, with INT/TERM trapped to a no-op in the
//      wrapper only, so the command gets the signals and the wrapper survives to
//   4. write the command's exit status to jobs/ID/exit. A runner that starts after the
//      previous one died reads that file to learn how an adopted job ended.
// Before step 2 the wrapper has no traps: SIGTERM in the starting window ends it at once.
// SIGPIPE is ignored only around the write to fd 3, in case the runner is gone.
// A job's holdStart (tests only: UWSRUN_TEST_HOLD_START of its submitter) keeps the wrapper
// that many seconds in the starting window.

import { spawn, type ChildProcess } from 'node:child_process';

const WRAPPER = [
  'd=$1 cwd=$2 hold=$3; shift 3',
  'exec </dev/null >>"$d/stdout.log" 2>>"$d/stderr.log"',
  '[ "$hold" = 0 ] || sleep "$hold"',
  'cd -- "$cwd" || { echo 126 >"$d/exit"; exit 126; }',
  "trap '' PIPE; echo up >&3; exec 3>&-; trap - PIPE",
  "trap : INT TERM",
  '"$@"',
  's=$?',
  'echo $s >"$d/exit"',
  'exit $s',
].join('\n');

export interface JobLaunch {
  jobDir: string;
  cwd: string;
  command: string[];
  env: Record<string, string>;
  holdStart: number;
}

export function spawnJobWrapper(launch: JobLaunch): ChildProcess {
  const hold = String(launch.holdStart);
  return spawn('/bin/sh', ['-c', WRAPPER, 'uwsrun-job', launch.jobDir, launch.cwd, hold, ...launch.command], {
    detached: true, // setsid(): its own session and process group, led by the wrapper
    stdio: ['ignore', 'ignore', 'ignore', 'pipe'],
    env: launch.env,
    cwd: launch.jobDir,
  });
}
