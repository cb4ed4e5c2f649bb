// Making sure a runner will look at newly queued jobs (see runner.ts). Decided inside the
// same state transaction that queued them, acted on after the lock is released.

import type { StateData, Transaction } from '../store/state.js';
import { isProcessAlive } from './proc.js';

export type RunnerWake = { signal: number } | { spawn: true };

/** Whether the runner recorded in the state is alive (pid and start time in /proc). */
export function runnerAlive(state: StateData): boolean {
  const r = state.runner;
  return r !== null && isProcessAlive(r.pid, r.startTime);
}

/** How many jobs want a runner: queued ones to start, executing ones to watch. */
export function jobsNeedingRunner(state: StateData): number {
  return Object.values(state.jobs).filter((h) => h.phase === 'QUEUED' || h.phase === 'EXECUTING').length;
}

export function runnerWakeFor(tx: Transaction): RunnerWake {
  return runnerAlive(tx.state) ? { signal: tx.state.runner!.pid } : { spawn: true };
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
  if (runnerAlive(state)) return false;
  const active = jobsNeedingRunner(state) > 0;
  if (active) await wakeRunner(home, { spawn: true });
  return active;
}
