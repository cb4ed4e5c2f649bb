// runner.log: one line per thing that happened to a job while nobody watched, so an operator
// can read the night the next morning: "ISO-TIME [PID] job ID: ..." for its start, adoption,
// abort, time-limit abort, SIGKILL, leftovers killed, loss and end (phase, exit code).
// Written by the runner, and by `abort` and `tick` for what they do themselves. Appends of
// one short line each (O_APPEND) do not interleave between processes.

import { appendFileSync } from 'node:fs';
import { isoNow } from '../core/job.js';
import type { HomeLayout } from '../store/home.js';

export function appendRunnerLog(layout: HomeLayout, message: string): void {
  try {
    appendFileSync(layout.runnerLog, `${isoNow()} [${process.pid}] ${message}\n`, { mode: 0o600 });
  } catch { /* nowhere left to say it */ }
}
