// Finding and signalling every process of a job. The job's process group (led by its
// wrapper, whose pid is the recorded `pid`) holds the job and its children; a process that
// escaped into a new session is still found by ancestry or by its environment (UWS_JOB_ID),
// best effort. Nothing is ever signalled by pid alone. The group is the job's only while
// /proc/PID is our leader (its start time matches the record, zombie or not) or is absent
// (the leader is gone, its children may live on): Linux never gives out a pid that is still
// some group's id, so a pid held by a process with another start time means our group is
// gone and that process, and its group, belong to someone else.
//
// A process the kernel does not let us signal (EPERM: a setuid program of the job) is not an
// error here: signalJob returns it, and the caller reports it like a process that survived
// SIGKILL (SPEC §5).

import { readFileSync } from 'node:fs';
import type { JobRecord } from '../core/job.js';
import {
  type ProcStat, descendantsOf, groupMembers, isProcessAlive, listProcesses, newerProcessesWithEnv, processesByEnvValue,
  processesWithEnv, readProcStat, signalGroup, signalProcess,
} from './proc.js';

type JobIdentity = Pick<JobRecord, 'jobId' | 'pid' | 'pidStart'>;

/**
 * One snapshot of /proc for looking at several jobs: the process list at once, and the
 * UWS_JOB_ID of every process (one read of each environ) on first need.
 */
export class ProcessTable {
  private list: ProcStat[] | undefined;
  private byJobId: Map<string, ProcStat[]> | undefined;

  /** Taken on first use: a cycle that looks at no process costs no /proc scan. */
  get all(): ProcStat[] {
    return (this.list ??= listProcesses());
  }

  withJobId(jobId: string): ProcStat[] {
    this.byJobId ??= processesByEnvValue('UWS_JOB_ID', this.all);
    return this.byJobId.get(jobId) ?? [];
  }

  /**
   * The live processes carrying the job's UWS_JOB_ID that started after its leader (pid
   * `leader`, started at `since`): what a job left outside its wrapper's reach (started for
   * it by a process that is not its descendant). Unless this cycle listed every process
   * anyway, only the pids between the leader's and the kernel's last one have their environ
   * read (newerProcessesWithEnv):
   * the end of every job of a drain costs a look at the few processes started since, not a
   * stat of every process of the machine inside the runner's transaction.
   */
  escapeesSince(jobId: string, leader: number | null, since: string | null, startedAt: string | null): ProcStat[] {
    if (this.byJobId) return this.withJobId(jobId).filter((p) => startedSince(p, since));
    if (this.list) return processesWithEnv('UWS_JOB_ID', jobId, this.list.filter((p) => startedSince(p, since)));
    // Pids wrap at pid_max (32768 on many systems): a job that ran long, or during which the
    // kernel's last pid fell below its leader's, gets the full look (rare: such ends are few).
    // Otherwise what started since its leader has a pid between the leader's and the
    // kernel's last one (read after /proc was listed).
    const short = leader !== null && startedAt !== null && Date.now() - Date.parse(startedAt) < NO_WRAP_MS;
    const range = (): { above: number; upTo: number } => {
      const last = short ? lastPid() : 0;
      return last >= leader! ? { above: leader!, upTo: last } : { above: 0, upTo: Infinity };
    };
    return newerProcessesWithEnv('UWS_JOB_ID', jobId, range).filter((p) => startedSince(p, since));
  }
}

/** A job shorter than this is taken to have seen no pid wrap while lastPid() is above its leader. */
const NO_WRAP_MS = 10_000;

/** The pid the kernel gave out last (/proc/loadavg's fifth field); 0 when unknown. */
function lastPid(): number {
  try {
    return Number(readFileSync('/proc/loadavg', 'utf8').trim().split(' ')[4]) || 0;
  } catch {
    return 0;
  }
}

/** Started at or after the start time `since` (clock ticks since boot; null: any). */
const startedSince = (p: ProcStat, since: string | null): boolean =>
  since === null || !/^\d+$/.test(since) || BigInt(p.startTime) >= BigInt(since);

/** The live members of the job's own process group; none when its pid was reused. */
export function jobGroupMembers(job: JobIdentity, all?: ProcStat[]): ProcStat[] {
  if (job.pid === null) return [];
  const leader = readProcStat(job.pid);
  if (leader && leader.startTime !== job.pidStart) return [];
  return groupMembers(job.pid, all);
}

/**
 * Every live process of the job: its group, plus escapees found by ancestry (descendants of
 * its group's members, whatever session they moved to) or carrying its UWS_JOB_ID.
 */
export function jobProcesses(job: JobIdentity, table = new ProcessTable()): ProcStat[] {
  const found = new Map<number, ProcStat>();
  for (const p of jobGroupMembers(job, table.all)) {
    found.set(p.pid, p);
    for (const d of descendantsOf(p.pid, table.all)) found.set(d.pid, d);
  }
  for (const p of table.withJobId(job.jobId)) found.set(p.pid, p);
  // The table may be some milliseconds old (one per runner cycle): only what is still the
  // same live process counts, so nothing is ever signalled on a stale or reused pid.
  return [...found.values()].filter((p) => isProcessAlive(p.pid, p.startTime));
}

/**
 * Sends `signal` to the job's group and, with `escapees`, to its processes outside it.
 * Returns the processes that may not be signalled (EPERM). SIGKILL also goes to each process
 * of the group by itself: a group signal refused by one member says nothing about which.
 */
export function signalJob(job: JobIdentity, signal: NodeJS.Signals, escapees = false, table?: ProcessTable): ProcStat[] {
  const procs = escapees ? jobProcesses(job, table) : jobGroupMembers(job, table?.all);
  const denied: ProcStat[] = [];
  const inGroup = procs.filter((p) => p.pgrp === job.pid);
  if (job.pid !== null && inGroup.length > 0 && signalGroup(job.pid, signal) === 'not-permitted') denied.push(...inGroup);
  for (const p of procs) {
    if (p.pgrp === job.pid && (signal !== 'SIGKILL' || denied.includes(p))) continue;
    if (signalProcess(p.pid, signal) === 'not-permitted' && !denied.includes(p)) denied.push(p);
  }
  return denied;
}

/** "123 (sleep), 456 (helper)" */
export const describeProcesses = (procs: ProcStat[]): string => procs.map((p) => `${p.pid} (${p.comm})`).join(', ');
