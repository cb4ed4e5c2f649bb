// runner.log: one line per thing that happened to a job while nobody watched, so an operator
// can read the night the next morning: "ISO-TIME [PID] job ID: ..." for its start, adoption,
// abort, time-limit abort, SIGKILL, leftovers killed, loss and end (phase, exit code).
// Written by the runner, and by `abort` and `tick` for what they do themselves. Appends of
// one short line each (O_APPEND) do not interleave between processes.

import { appendFileSync } from 'node:fs';
import { isoNow } from '../core/job.js';
import type { HomeLayout } from '../store/home.js';

export function appendRunnerLog(layout: HomeLayout, message: string): void {
  appendRunnerLines(layout, [runnerLogLine(message)]);
}

/** A line of runner.log, stamped now (for a writer that appends several at once). */
export const runnerLogLine = (message: string): string => `${isoNow()} [${process.pid}] ${message}\n`;

/** Appends lines made by runnerLogLine in one write (the runner: a cycle's lines together). */
export function appendRunnerLines(layout: HomeLayout, lines: readonly string[]): void {
  if (lines.length === 0) return;
  try {
    appendFileSync(layout.runnerLog, lines.join(''), { mode: 0o600 });
  } catch { /* nowhere left to say it */ }
}
