// `uwsrun serve` runs `uwsrun tick` once a minute (SPEC §6's housekeeping: lost jobs found,
// execution durations enforced, expired jobs destroyed, queued jobs started), so that a UWS
// service honours the DESTRUCTION its clients set without a cron line beside it. tick is
// idempotent and safe beside anything, a cron line's own tick included. It runs as a child
// process, never in the server: its work holds the state lock synchronously, and the
// server's event loop must never wait for that (SPEC §12). One at a time: a tick still
// running when the next is due is not doubled. What it did (its output, one line per
// action) goes to the server's log, unless -q; a tick that fails is said there too.
// UWSRUN_SERVE_TICK_MS sets the interval (tests); 0 turns it off.

import { spawn } from 'node:child_process';
import { entryScript } from '../run/ensure-runner.js';

const TICK_MS = process.env.UWSRUN_SERVE_TICK_MS === undefined ? 60_000 : Number(process.env.UWSRUN_SERVE_TICK_MS);

export class Housekeeping {
  private readonly timer: NodeJS.Timeout | undefined;
  private running = false;

  constructor(private readonly home: string, private readonly log: (line: string) => void, private readonly verbose: boolean) {
    if (Number.isFinite(TICK_MS) && TICK_MS > 0) this.timer = setInterval(() => this.tick(), TICK_MS).unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private tick(): void {
    if (this.running) return;
    this.running = true;
    let out = '';
    let err = '';
    const child = spawn(process.execPath, [entryScript(), 'tick', '--home', this.home], { stdio: ['ignore', 'pipe', 'pipe'], cwd: '/' });
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    child.on('error', (e) => {
      this.running = false;
      this.log(`${new Date().toISOString()} tick: cannot run: ${e.message}`);
    });
    child.on('close', (code, signal) => {
      this.running = false;
      const stamp = new Date().toISOString();
      if (this.verbose) for (const line of out.split('\n')) if (line.trim() !== '') this.log(`${stamp} tick: ${line}`);
      if (code !== 0) this.log(`${stamp} tick: failed (${signal ?? `exit ${code}`})${err.trim() ? `: ${err.trim().split('\n').join('; ')}` : ''}`);
    });
  }
}
