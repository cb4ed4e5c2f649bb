// Finding and signalling every process of a job. The job's process group (led by its
// wrapper, whose pid is the recorded `pid`) holds the job and its children; a process that
// escaped into a new session is still found by its environment (UWS_JOB_ID), best effort.
// Nothing is ever signalled by pid alone. The group is the job's only while /proc/PID is our
// leader (its start time matches the record, zombie or not) or is absent (the leader is
// gone, its children may live on): Linux never gives out a pid that is still some group's
// id, so a pid held by a process with another start time means our group is gone and that
// process, and its group, belong to someone else.

import type { JobRecord } from '../core/job.js';
import {
  type ProcStat, descendantsOf, groupMembers, listProcesses, processesWithEnv, readProcStat, signalGroup, signalProcess,
} from './proc.js';

type JobIdentity = Pick<JobRecord, 'jobId' | 'pid' | 'pidStart'>;

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
export function jobProcesses(job: JobIdentity): ProcStat[] {
  const all = listProcesses();
  const found = new Map<number, ProcStat>();
  for (const p of jobGroupMembers(job, all)) {
    found.set(p.pid, p);
    for (const d of descendantsOf(p.pid, all)) found.set(d.pid, d);
  }
  for (const p of processesWithEnv('UWS_JOB_ID', job.jobId, all)) found.set(p.pid, p);
  return [...found.values()];
}

/** Sends `signal` to the job's group and, with `escapees`, to its processes outside it. */
export function signalJob(job: JobIdentity, signal: NodeJS.Signals, escapees = false): void {
  if (!escapees) {
    if (job.pid !== null && jobGroupMembers(job).length > 0) signalGroup(job.pid, signal);
    return;
  }
  const procs = jobProcesses(job);
  if (job.pid !== null && procs.some((p) => p.pgrp === job.pid)) signalGroup(job.pid, signal);
  for (const p of procs) if (p.pgrp !== job.pid) signalProcess(p.pid, signal);
}
