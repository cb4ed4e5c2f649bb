// What the fault and recovery tests read behind uwsrun's back: state.json (without the lock:
// every version is a whole file), runner.log, the `ran` file gated jobs append to, and the
// runner's launcher found in /proc.

import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Sandbox, waitFor } from './helpers.js';
import { HomeLayout } from '../src/store/home.js';
import { entryName } from '../src/store/queue-dir.js';
import { type Proc, allProcs, isZombie, readProc } from './procfs.js';

export const stateText = (sb: Sandbox): string => readFileSync(join(sb.home, 'state.json'), 'utf8');

export const state = (sb: Sandbox): any => JSON.parse(stateText(sb));

/** The state, tolerating a missing file (nothing written yet). */
export function stateOrEmpty(sb: Sandbox): any {
  return existsSync(join(sb.home, 'state.json')) ? state(sb) : { jobs: {}, finished: {}, runner: null };
}

/** A job's record file as it is on disk (a PENDING or QUEUED job's truth), or undefined. */
export function jobFileOf(sb: Sandbox, id: string): any {
  const file = new HomeLayout(sb.home).jobFile(id);
  return existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : undefined;
}

/**
 * A job's phase as the files show it: its hot entry in state.json (EXECUTING), its final
 * record there, else its job.json (PENDING, QUEUED, or final and moved out); 'gone' when none.
 */
export function phaseOf(sb: Sandbox, id: string): string {
  const st = stateOrEmpty(sb);
  return st.jobs[id]?.phase ?? st.finished?.[id]?.phase ?? jobFileOf(sb, id)?.phase ?? 'gone';
}

/** The queue entry a QUEUED job has in HOME/queue/ (see src/store/queue-dir.ts). */
export function queueEntryFile(sb: Sandbox, id: string): string {
  return join(new HomeLayout(sb.home).queueDir, entryName(jobFileOf(sb, id)));
}

export function runnerLog(sb: Sandbox): string {
  const file = join(sb.home, 'runner.log');
  return existsSync(file) ? readFileSync(file, 'utf8') : '';
}

/**
 * Asserts that runner.log gets a line matching `re` within `ms`. The runner writes its lines
 * for runner.log together at the end of its event-loop turn, after the state commit that
 * made the news visible: a test that saw the news may read the log a moment too early.
 */
export async function assertLogged(sb: Sandbox, re: RegExp, message?: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!re.test(runnerLog(sb))) {
    if (Date.now() > deadline) assert.match(runnerLog(sb), re, message ?? `runner.log within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
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
