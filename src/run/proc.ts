// Process facts read straight from /proc (Linux), synchronously, never through `ps`.
// - /proc/PID/stat is "pid (comm) state ppid pgrp session ... starttime ...". comm is free
//   text (it may hold spaces and ')'), so the line is split at the LAST ')'; the fields after
//   it are space-separated numbers, field 22 being the start time in clock ticks since boot.
// - A pid alone proves nothing: pids are reused. A process is "alive" only if its stat can be
//   read, it is not a zombie (Z, or X = dead), and its start time is the one recorded when it
//   was started. Zombies count as gone because PID 1 here may never reap orphans.
// - Scans (group members, descendants, processes carrying an environment variable) take one
//   snapshot of every /proc entry and filter it; a process that vanishes mid-scan is simply
//   left out (ENOENT/ESRCH mean "gone", never an error).
// - Signalling never throws for a process that is gone (ESRCH) or that we may not signal
//   (EPERM): both are outcomes the caller reports, not failures of uwsrun.
// - Signalling refuses pid/pgid <= 1 outright: kill(0, …) would hit our own group and
//   kill(-1, …) every process we may signal.

import { readFileSync, readdirSync } from 'node:fs';

export interface ProcStat {
  pid: number;
  comm: string;
  state: string;
  ppid: number;
  pgrp: number;
  session: number;
  /** Field 22 of /proc/PID/stat (clock ticks since boot), kept as text: compare, never add. */
  startTime: string;
}

/** Errors that mean the process (or its /proc entry) no longer exists. */
function isGone(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return code === 'ENOENT' || code === 'ESRCH';
}

/** Parses the text of /proc/PID/stat; undefined if it is not in the expected shape. */
export function parseProcStat(text: string): ProcStat | undefined {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) return undefined;
  const pid = Number(text.slice(0, open).trim());
  // After ')': state(3) ppid(4) pgrp(5) session(6) ... starttime(22); rest[0] is field 3.
  const rest = text.slice(close + 1).trim().split(/\s+/);
  if (rest.length < 20) return undefined;
  const [state, ppid, pgrp, session, startTime] = [rest[0]!, rest[1]!, rest[2]!, rest[3]!, rest[19]!];
  const numbers = [pid, Number(ppid), Number(pgrp), Number(session)];
  if (!numbers.every(Number.isInteger) || !/^\d+$/.test(startTime)) return undefined;
  return {
    pid,
    comm: text.slice(open + 1, close),
    state,
    ppid: Number(ppid),
    pgrp: Number(pgrp),
    session: Number(session),
    startTime,
  };
}

export function readProcStat(pid: number): ProcStat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch (err) {
    if (isGone(err)) return undefined;
    throw err;
  }
  return parseProcStat(text);
}

export function processStartTime(pid: number): string | undefined {
  return readProcStat(pid)?.startTime;
}

function isZombie(stat: ProcStat): boolean {
  return stat.state === 'Z' || stat.state === 'X' || stat.state === 'x';
}

/**
 * A marker file holding "PID STARTTIME" (the start time may be empty), as the launcher's
 * start marker and a deleter's mark do; undefined when it is missing or holds anything else.
 */
export function readPidMark(file: string): { pid: number; pidStart: string } | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  const m = /^(\d+) (\d*)$/.exec(text.trim());
  return m ? { pid: Number(m[1]), pidStart: m[2]! } : undefined;
}

/**
 * True if `pid` exists, is not a zombie and (unless `startTime` is null) still has the start
 * time recorded for it; a different start time means the pid was reused by another process.
 */
export function isProcessAlive(pid: number, startTime: string | null): boolean {
  const stat = readProcStat(pid);
  if (stat === undefined || isZombie(stat)) return false;
  return startTime === null || stat.startTime === startTime;
}

/** Every process visible in /proc (zombies included), as one snapshot. */
export function listProcesses(): ProcStat[] {
  const all: ProcStat[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const stat = readProcStat(Number(name));
    if (stat !== undefined) all.push(stat);
  }
  return all;
}

/** Live (non-zombie) members of process group `pgid`. */
export function groupMembers(pgid: number, all: ProcStat[] = listProcesses()): ProcStat[] {
  return all.filter((p) => p.pgrp === pgid && !isZombie(p));
}

/**
 * Live processes descending from `pid` by parent links (children, grandchildren, ...), in
 * any session or group; `pid` itself is not included. An orphan re-parented to PID 1 (or a
 * subreaper) is no longer a descendant: find those by environment instead.
 */
export function descendantsOf(pid: number, all: ProcStat[] = listProcesses()): ProcStat[] {
  const childrenOf = new Map<number, ProcStat[]>();
  for (const p of all) {
    const siblings = childrenOf.get(p.ppid);
    if (siblings) siblings.push(p);
    else childrenOf.set(p.ppid, [p]);
  }
  const found: ProcStat[] = [];
  const seen = new Set<number>([pid]); // a snapshot torn by pid reuse could hold a cycle
  const pending = [pid];
  while (pending.length > 0) {
    for (const child of childrenOf.get(pending.pop()!) ?? []) {
      if (seen.has(child.pid)) continue;
      seen.add(child.pid);
      pending.push(child.pid);
      if (!isZombie(child)) found.push(child);
    }
  }
  return found;
}

/**
 * Every live process's value of the environment variable `name`, read in one pass over
 * /proc (each environ once), for callers that look up many values (every job ending in a
 * runner cycle). Processes whose environ cannot be read are left out, as in processesWithEnv.
 */
export function processesByEnvValue(name: string, all: ProcStat[] = listProcesses()): Map<string, ProcStat[]> {
  const key = Buffer.from(`${name}=`, 'utf8');
  const index = new Map<string, ProcStat[]>();
  for (const p of all) {
    if (isZombie(p)) continue;
    let environ: Buffer;
    try {
      environ = readFileSync(`/proc/${p.pid}/environ`);
    } catch {
      continue;
    }
    for (let at = environ.indexOf(key); at >= 0; at = environ.indexOf(key, at + 1)) {
      if (at !== 0 && environ[at - 1] !== 0) continue;
      const end = environ.indexOf(0, at);
      const value = environ.toString('utf8', at + key.length, end < 0 ? environ.length : end);
      const list = index.get(value);
      if (list) list.push(p);
      else index.set(value, [p]);
      break;
    }
  }
  return index;
}

/** True if the NUL-separated environment block holds exactly the entry `entry`. */
function environHas(environ: Buffer, entry: Buffer): boolean {
  for (let at = environ.indexOf(entry); at >= 0; at = environ.indexOf(entry, at + 1)) {
    const end = at + entry.length;
    if ((at === 0 || environ[at - 1] === 0) && (end === environ.length || environ[end] === 0)) {
      return true;
    }
  }
  return false;
}

/**
 * Live processes whose environment holds NAME=VALUE exactly. This is the environment the
 * process was started with (/proc/PID/environ); processes whose environ cannot be read
 * (another user's, or vanished) are skipped. The caller is not excluded.
 */
export function processesWithEnv(
  name: string,
  value: string,
  all: ProcStat[] = listProcesses(),
): ProcStat[] {
  const entry = Buffer.from(`${name}=${value}`, 'utf8');
  return all.filter((p) => {
    if (isZombie(p)) return false;
    try {
      return environHas(readFileSync(`/proc/${p.pid}/environ`), entry);
    } catch {
      return false; // ENOENT/ESRCH (gone), EACCES (not ours): nothing we can act on
    }
  });
}

/**
 * Live processes with a pid in the range `range()` gives (above `above`, at most `upTo`)
 * whose environment holds NAME=VALUE: for one look at the processes started after a given
 * one without reading the stat of every process (pids are given out in increasing order
 * until they wrap at pid_max, so a process started after a wrap is missed: best effort, as
 * every escapee search). The range is asked for after /proc was listed, so every pid listed
 * was given out by then: a process whose pid is above the kernel's last pid is older than
 * the wrap before it, not one started since (on a busy machine most of the pids above a
 * job's leader are such old processes). Only the environ of the pids in the range is read,
 * and the stat of those that match.
 */
export function newerProcessesWithEnv(name: string, value: string, range: () => { above: number; upTo: number }): ProcStat[] {
  const entry = Buffer.from(`${name}=${value}`, 'utf8');
  const found: ProcStat[] = [];
  const listed = readdirSync('/proc');
  const { above, upTo } = range();
  for (const dir of listed) {
    if (!/^\d+$/.test(dir)) continue;
    const pid = Number(dir);
    if (pid <= above || pid > upTo) continue;
    let environ: Buffer;
    try {
      environ = readFileSync(`/proc/${dir}/environ`);
    } catch {
      continue; // gone, or not ours to read
    }
    if (!environHas(environ, entry)) continue;
    const stat = readProcStat(pid);
    if (stat && !isZombie(stat)) found.push(stat);
  }
  return found;
}

/**
 * What became of a signal: sent, or the target is gone, or the kernel refused (EPERM: a
 * process uwsrun may not signal, such as a setuid program a job ran; SPEC §5 "cannot signal").
 */
export type SignalOutcome = 'sent' | 'gone' | 'not-permitted';

function sendSignal(target: number, signal: NodeJS.Signals): SignalOutcome {
  try {
    process.kill(target, signal);
    return 'sent';
  } catch (err) {
    if (isGone(err)) return 'gone';
    if ((err as NodeJS.ErrnoException).code === 'EPERM') return 'not-permitted';
    throw err;
  }
}

/**
 * Signals every process in group `pgid`. 'not-permitted' only when no member could be
 * signalled (kill(2) succeeds when at least one could).
 */
export function signalGroup(pgid: number, signal: NodeJS.Signals): SignalOutcome {
  if (!Number.isInteger(pgid) || pgid <= 1) throw new RangeError(`refusing to signal process group ${pgid}`);
  return sendSignal(-pgid, signal);
}

/** Signals one process. */
export function signalProcess(pid: number, signal: NodeJS.Signals): SignalOutcome {
  if (!Number.isInteger(pid) || pid <= 1) throw new RangeError(`refusing to signal process ${pid}`);
  return sendSignal(pid, signal);
}
