// What the fault and recovery tests read behind uwsrun's back: state.json (without the lock:
// every version is a whole file), runner.log, the `ran` file gated jobs append to, and the
// runner's launcher found in /proc.

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Sandbox, waitFor } from './helpers.js';
import { type Proc, allProcs, isZombie, readProc } from './procfs.js';

export const stateText = (sb: Sandbox): string => readFileSync(join(sb.home, 'state.json'), 'utf8');

export const state = (sb: Sandbox): any => JSON.parse(stateText(sb));

/** The state, tolerating a missing file (nothing written yet). */
export function stateOrEmpty(sb: Sandbox): any {
  return existsSync(join(sb.home, 'state.json')) ? state(sb) : { jobs: {}, finished: {}, runner: null };
}

export function runnerLog(sb: Sandbox): string {
  const file = join(sb.home, 'runner.log');
  return existsSync(file) ? readFileSync(file, 'utf8') : '';
}

/** Lines of $HOME/ran: one per start of a job command that appends its id there. */
export function ranLines(sb: Sandbox): string[] {
  const file = join(sb.dir, 'ran');
  return existsSync(file) ? readFileSync(file, 'utf8').trim().split('\n').filter(Boolean) : [];
}

/** Waits until the job is EXECUTING with startTime set (read from state.json). */
export async function waitStarted(sb: Sandbox, id: string, ms = 25_000): Promise<{ pid: number; pidStart: string }> {
  return waitFor(`job ${id} EXECUTING with startTime`, () => {
    const hot = stateOrEmpty(sb).jobs[id];
    return hot && hot.phase === 'EXECUTING' && hot.pid && hot.startTime ? { pid: hot.pid as number, pidStart: hot.pidStart as string } : undefined;
  }, ms);
}

/** The live launcher (`uwsrun-launcher HOME`, a direct child) of the runner `runnerPid`, or undefined. */
export function launcherOf(runnerPid: number): Proc | undefined {
  return allProcs().find((p) => p.ppid === runnerPid && !isZombie(p)
    && (readProc(p.pid, 'cmdline') ?? '').startsWith('uwsrun-launcher '));
}
