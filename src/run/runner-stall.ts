// Whether the runner makes progress (SPEC §6, issue 10). A runner stopped with SIGSTOP, or
// stuck in a system call, is still "alive" by pid and start time, so queued jobs would wait
// for it forever. So the runner rewrites HOME/runner.beat (its pid and start time) every
// BEAT_MS from a timer of its event loop: a loop that turns rewrites it, a stopped or
// blocked one cannot. The beat is a plain small write (no fsync, not state.json): it costs
// nothing when idle and never grows the hot file. A recorded runner that is alive but whose
// beat is older than STALL_MS has stalled: `doctor` reports it, `tick` (and
// `doctor --repair`) replace it: SIGKILL to it and to its launcher, after which it is a
// runner that died, and the next runner adopts its jobs as after a kill -9 (start markers,
// exit files). The beat is written before the runner records itself, so a recorded runner
// without a fresh beat is never one that has only just started.

import { closeSync, constants, lutimesSync, openSync, statSync, writeSync } from 'node:fs';
import type { HomeLayout } from '../store/home.js';
import type { StateData } from '../store/state.js';
import { isProcessAlive, listProcesses, readProcStat, signalProcess } from './proc.js';

export const BEAT_MS = 1_000;
/** A beat older than this means the runner stopped making progress. */
export const STALL_MS = Number(process.env.UWSRUN_RUNNER_STALL_MS) || 15_000;

/** Writes the beat's contents anew (a runner that lost the race restores the winner's). */
export function rewriteBeat(layout: HomeLayout, identity: string): void {
  beating.delete(layout.runnerBeat);
  writeBeat(layout, identity);
}

/** The beat files this process wrote (their first beat; later ones only touch them). */
const beating = new Set<string>();

/**
 * One beat: the file written (its content names the runner, for a reader's eyes) the first
 * time, then only its mtime set, which is all that stall checks read: one utimensat(2) a
 * second instead of an open, a truncate and a write (0.007 ms against 0.11 ms here). Never
 * through a link (O_NOFOLLOW, lutimes). A file gone meanwhile is written again.
 */
export function writeBeat(layout: HomeLayout, identity: string): void {
  const path = layout.runnerBeat;
  try {
    if (beating.has(path)) {
      const now = new Date();
      lutimesSync(path, now, now);
      return;
    }
  } catch { /* gone: written again below */ }
  try {
    const fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW, 0o600);
    try {
      writeSync(fd, `${identity}\n`);
    } finally {
      closeSync(fd);
    }
    beating.add(path);
  } catch { /* a full disk: the runner goes on; a stall judged wrongly only costs a restart */ }
}

export interface RunnerStall {
  pid: number;
  startTime: string;
  /** How long since the last beat, in ms (Infinity: there is none). */
  silentMs: number;
  /** Its /proc state is T or t (stopped by a signal or a tracer). */
  stopped: boolean;
}

/** The recorded runner, when it is alive but has not beaten for STALL_MS; else undefined. */
export function runnerStall(layout: HomeLayout, state: StateData, now = Date.now()): RunnerStall | undefined {
  const r = state.runner;
  if (!r || !isProcessAlive(r.pid, r.startTime)) return undefined;
  let silentMs = Infinity;
  try {
    silentMs = now - statSync(layout.runnerBeat).mtimeMs;
  } catch { /* no beat at all */ }
  if (silentMs <= STALL_MS) return undefined;
  const st = readProcStat(r.pid)?.state;
  return { pid: r.pid, startTime: r.startTime, silentMs, stopped: st === 'T' || st === 't' };
}

export const describeStall = (s: RunnerStall): string =>
  `runner ${s.pid} has stopped making progress (${Number.isFinite(s.silentMs) ? `no heartbeat for ${Math.round(s.silentMs / 1000)} s` : 'no heartbeat'}${s.stopped ? '; it is stopped (SIGSTOP)' : ''})`;

/**
 * SIGKILLs a stalled runner and its launcher (its child, found first while it is still the runner's
 * child) and waits until the runner is gone, so that its lock, if it held one, is a dead
 * holder's and is taken over at once. Returns what it did.
 */
export async function killStalledRunner(stall: RunnerStall): Promise<string> {
  // Judged again right before the kill: the same process, still alive.
  if (!isProcessAlive(stall.pid, stall.startTime)) return 'it was gone already';
  // The runner's only children are its launchers (jobs are the launcher's children).
  const launchers = listProcesses().filter((p) => p.ppid === stall.pid && p.state !== 'Z');
  signalProcess(stall.pid, 'SIGKILL');
  for (const l of launchers) if (isProcessAlive(l.pid, l.startTime)) signalProcess(l.pid, 'SIGKILL');
  const deadline = Date.now() + 5_000;
  while (isProcessAlive(stall.pid, stall.startTime) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  return `killed${launchers.length ? ` with its launcher ${launchers.map((l) => l.pid).join(', ')}` : ''}`;
}
