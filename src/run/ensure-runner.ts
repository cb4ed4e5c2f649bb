// Making sure a runner will look at newly queued jobs (see runner.ts). Decided inside the
// same state transaction that queued them, acted on after the lock is released.

import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { type StateData, type Transaction, entryInBatch } from '../store/state.js';
import { HomeLayout } from '../store/home.js';
import { type QueueEntry, hasEntries, readEntries } from '../store/queue-dir.js';
import { isProcessAlive } from './proc.js';
import { activeInState } from '../executors/facts.js';

export type RunnerWake = { signal: number } | { spawn: true };

/** Whether the runner recorded in the state is alive (pid and start time in /proc). */
export function runnerAlive(state: StateData): boolean {
  const r = state.runner;
  return r !== null && isProcessAlive(r.pid, r.startTime);
}

/**
 * EXECUTING jobs to watch, QUEUED ones in an executor's hands (handed over to Slurm), and
 * the executors' own work (Slurm jobs of aborted jobs whose cancel is not confirmed yet).
 */
const executingJobs = activeInState;

/**
 * How many jobs want a runner: queued ones to start (their entries in HOME/queue/, but not
 * those of a submit still in progress), executing ones to watch. O(queued jobs). A paused
 * HOME (limit 0) starts nothing, so its queued jobs want no runner: it exits once the
 * executing ones are done, and `limit N` wakes or starts one again.
 */
export function jobsNeedingRunner(state: StateData, layout: HomeLayout, skip: (e: QueueEntry) => boolean = () => false): number {
  const queued = state.limit > 0 ? readEntries(layout).filter((e) => !entryInBatch(state, e) && !skip(e)).length : 0;
  return executingJobs(state) + queued;
}

/** Whether any job wants a runner; reads one queue entry, not all of them. */
export function needsRunner(state: StateData, layout: HomeLayout): boolean {
  return executingJobs(state) > 0 || (state.limit > 0 && hasEntries(layout, (e) => entryInBatch(state, e)));
}

export function runnerWakeFor(tx: Transaction): RunnerWake {
  return runnerAlive(tx.state) ? { signal: tx.state.runner!.pid } : { spawn: true };
}

/**
 * The wake for jobs this transaction queued (submit --run, run, release): none in a paused
 * HOME (limit 0) with nothing active, where they would not start. A runner started for them
 * found nothing to do and lived out its idle seconds, one per `submit --run` (a cron script
 * submitting into a maintenance pause); a live one ran a cycle per creation of `uwsrun
 * serve`. `limit N` wakes or starts one for them. A job released back into Slurm's hands is
 * active (its hot entry): the runner watches it, paused or not.
 */
export function runnerWakeForQueued(tx: Transaction): RunnerWake | undefined {
  return tx.state.limit > 0 || executingJobs(tx.state) > 0 ? runnerWakeFor(tx) : undefined;
}

/**
 * Wakes a live runner (SIGUSR2) after a job ended or vanished outside it (an abort of a
 * job that was not executing, a delete): queued jobs may wait on that job (run/waiting.ts),
 * and a runner whose queue only waits sleeps until it is woken.
 */
export function nudgeRunner(state: StateData): void {
  if (!runnerAlive(state)) return;
  try {
    process.kill(state.runner!.pid, 'SIGUSR2');
  } catch { /* it died after we looked: its successor judges the queue afresh */ }
}

/**
 * The script to start the runner with: the bundle's loader, bin/uwsrun, so that the runner
 * uses V8's code cache as every command does (its own cache file: see bin/uwsrun); without
 * it the bundle itself; unbundled (tests of build/), the entry script.
 */
export function entryScript(): string {
  if (typeof __filename === 'undefined') return process.argv[1] ?? '';
  const loader = join(dirname(__filename), '..', 'bin', 'uwsrun');
  return existsSync(loader) ? loader : __filename;
}

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
  // Where Slurm's client commands find the cluster (SPEC §11), for the runner's handovers.
  if (process.env.SLURM_CONF) env.SLURM_CONF = process.env.SLURM_CONF;
  // Without V8's memory reducer: after each burst of work it ran up to three full GCs
  // in the quiet seconds that followed (20-60 ms of CPU each here, ~100 ms a time: more than
  // the runner's whole idle second costs otherwise), to give back a few MB that the next burst
  // takes again. The runner exits after a few idle seconds anyway.
  spawn(process.execPath, ['--no-memory-reducer', entryScript(), '__runner', '--home', home], {
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
  const active = needsRunner(state, new HomeLayout(home));
  if (active) await wakeRunner(home, { spawn: true });
  return active;
}
