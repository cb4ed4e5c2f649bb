// Black-box test helpers for looking at processes the way the tests must: straight from
// /proc, never through uwsrun's own code (src/) and never through `ps`.
//
// - /proc/PID/stat is "pid (comm) state ppid pgrp session ... starttime ...". comm may hold
//   spaces and ')', so the line is split at the LAST ')'; field 22 is the start time.
// - A pid alone proves nothing (pids are reused): a process counts as alive only while its
//   stat can be read, it is not a zombie, and (when known) its start time is unchanged.
// - Zombies count as gone: PID 1 here may never reap orphans.
// - A process that vanishes while it is being read is simply left out.

import { readFileSync, readdirSync } from 'node:fs';

export interface Proc {
  pid: number;
  comm: string;
  state: string;
  ppid: number;
  pgrp: number;
  session: number;
  /** Field 22 of /proc/PID/stat, as text. */
  start: string;
}

/** The text of /proc/PID/NAME, or undefined if it cannot be read (the process is gone). */
export function readProc(pid: number, name: string): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/${name}`, 'utf8');
  } catch {
    return undefined;
  }
}

/** /proc/PID/stat of one process, or undefined if it is gone. */
export function procStat(pid: number): Proc | undefined {
  const text = readProc(pid, 'stat');
  if (text === undefined) return undefined;
  const close = text.lastIndexOf(')');
  const f = text.slice(close + 2).split(' ');
  return {
    pid,
    comm: text.slice(text.indexOf('(') + 1, close),
    state: f[0]!,
    ppid: Number(f[1]),
    pgrp: Number(f[2]),
    session: Number(f[3]),
    start: f[19]!,
  };
}

export const isZombie = (p: Proc): boolean => p.state === 'Z' || p.state === 'X' || p.state === 'x';

/** Alive: present, not a zombie and, when a start time is given, still that process. */
export function alive(pid: number, start?: string | null): boolean {
  const p = procStat(pid);
  return p !== undefined && !isZombie(p) && (start == null || p.start === start);
}

/** The process seen earlier is still alive: same pid, same start time, not a zombie. */
export const stillAlive = (p: Proc): boolean => alive(p.pid, p.start);

/** The pids of every process in /proc. */
export function listPids(): number[] {
  return readdirSync('/proc').filter((name) => /^\d+$/.test(name)).map(Number);
}

/** One snapshot of every process. */
export function allProcs(): Proc[] {
  const out: Proc[] = [];
  for (const pid of listPids()) {
    const p = procStat(pid);
    if (p) out.push(p);
  }
  return out;
}

/** Live (non-zombie) members of process group `pgid`. */
export const groupMembers = (pgid: number): Proc[] => allProcs().filter((p) => p.pgrp === pgid && !isZombie(p));

/** The environment of a process, one NAME=value a string; empty if it cannot be read. */
export const environ = (pid: number): string[] => readProc(pid, 'environ')?.split('\0') ?? [];

export const environHas = (pid: number, entry: string): boolean => environ(pid).includes(entry);

/** Live processes carrying UWS_JOB_ID=<id> in their environment. */
export const jobEnvProcs = (id: string): Proc[] =>
  allProcs().filter((p) => !isZombie(p) && environHas(p.pid, `UWS_JOB_ID=${id}`));

/** For messages: "pid(comm,state,pgrp N) ...". */
export const describeProcs = (ps: Proc[]): string =>
  ps.map((p) => `${p.pid}(${p.comm},${p.state},pgrp ${p.pgrp})`).join(' ');

/** Signals pending for the process (thread-directed | process-directed), or undefined if gone. */
export function pendingSignals(pid: number): bigint | undefined {
  const text = readProc(pid, 'status');
  if (text === undefined) return undefined;
  const field = (name: string): bigint => BigInt(`0x${new RegExp(`^${name}:\\s*([0-9a-fA-F]+)`, 'm').exec(text)?.[1] ?? '0'}`);
  return field('SigPnd') | field('ShdPnd');
}

/** The bit of signal `signo` in a signal mask of /proc/PID/status. */
export const sigBit = (signo: number): bigint => 1n << BigInt(signo - 1);

/** Sends `signal` (SIGKILL by default) to a pid, or a group if negative; ignores a gone target. */
export function killQuietly(pid: number | undefined, signal: NodeJS.Signals = 'SIGKILL'): void {
  if (pid === undefined) return;
  try {
    process.kill(pid, signal);
  } catch { /* gone */ }
}

/** utime + stime of `pid` in ms (/proc/PID/stat fields 14 and 15, in ticks of 10 ms). */
export function cpuMs(pid: number): number {
  const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}
