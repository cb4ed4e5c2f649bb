// Making sure a runner will look at newly queued jobs (see runner.ts). Decided inside the
// same state transaction that queued them, acted on after the lock is released.

import type { StateData, Transaction } from '../store/state.js';
import { isProcessAlive } from './proc.js';

export type RunnerWake = { signal: number } | { spawn: true };

export function runnerWakeFor(tx: Transaction): RunnerWake {
  const runner = tx.state.runner;
  if (runner && isProcessAlive(runner.pid, runner.startTime)) return { signal: runner.pid };
  return { spawn: true };
}

/** The script to start the runner with: this bundle (or, unbundled, the entry script). */
const entryScript = (): string => (typeof __filename !== 'undefined' ? __filename : process.argv[1] ?? '');

/** Async only to load node:child_process when a runner must really be started. */
export async function wakeRunner(home: string, wake: RunnerWake): Promise<void> {
  if ('signal' in wake) {
    try {
      process.kill(wake.signal, 'SIGUSR2');
      return;
    } catch {
      // It died after we looked: start another.
    }
  }
  const { spawn } = await import('node:child_process');
  const env: Record<string, string> = { PATH: process.env.PATH ?? '/usr/bin:/bin' };
  for (const [k, v] of Object.entries(process.env)) if (k.startsWith('UWSRUN_') && v !== undefined) env[k] = v;
  spawn(process.execPath, [entryScript(), '__runner', '--home', home], {
    detached: true,
    stdio: 'ignore',
    env,
    cwd: '/',
  }).unref();
}

/**
 * For commands that only read: when active jobs have no live runner (it was killed, the
 * machine rebooted), start one; it adopts EXECUTING jobs, records lost ones and starts
 * queued ones. Duplicates are harmless: the runner that records itself first wins.
 */
export async function superviseIfOrphaned(home: string, state: StateData): Promise<boolean> {
  const r = state.runner;
  if (r && isProcessAlive(r.pid, r.startTime)) return false;
  const active = Object.values(state.jobs).some((h) => h.phase === 'QUEUED' || h.phase === 'EXECUTING');
  if (active) await wakeRunner(home, { spawn: true });
  return active;
}
