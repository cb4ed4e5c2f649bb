// Making sure a runner will look at newly queued jobs (see runner.ts). Decided inside the
// same state transaction that queued them, acted on after the lock is released.

import { spawn } from 'node:child_process';
import type { Transaction } from '../store/state.js';
import { isProcessAlive } from './proc.js';

export type RunnerWake = { signal: number } | { spawn: true };

export function runnerWakeFor(tx: Transaction): RunnerWake {
  const runner = tx.state.runner;
  if (runner && isProcessAlive(runner.pid, runner.startTime)) return { signal: runner.pid };
  return { spawn: true };
}

/** The script to start the runner with: this bundle (or, unbundled, the entry script). */
const entryScript = (): string => (typeof __filename !== 'undefined' ? __filename : process.argv[1] ?? '');

export function wakeRunner(home: string, wake: RunnerWake): void {
  if ('signal' in wake) {
    try {
      process.kill(wake.signal, 'SIGUSR2');
      return;
    } catch {
      // It died after we looked: start another.
    }
  }
  const env: Record<string, string> = { PATH: process.env.PATH ?? '/usr/bin:/bin' };
  for (const [k, v] of Object.entries(process.env)) if (k.startsWith('UWSRUN_') && v !== undefined) env[k] = v;
  spawn(process.execPath, [entryScript(), '__runner', '--home', home], {
    detached: true,
    stdio: 'ignore',
    env,
    cwd: '/',
  }).unref();
}
