// Finding and signalling every process of a job. The job's process group (led by its
// wrapper, whose pid is the recorded `pid`) holds the job and its children; a process that
// escaped into a new session is still found by its environment (UWS_JOB_ID), best effort.
// Nothing is ever signalled by pid alone: the leader's start time must match the record.

import type { JobRecord } from '../core/job.js';
import {
  type ProcStat, groupMembers, isProcessAlive, listProcesses, processesWithEnv, signalGroup, signalProcess,
} from './proc.js';

type JobIdentity = Pick<JobRecord, 'jobId' | 'pid' | 'pidStart'>;

/** Every live process of the job: its group, plus escapees carrying its UWS_JOB_ID. */
export function jobProcesses(job: JobIdentity): ProcStat[] {
  const all = listProcesses();
  const found = new Map<number, ProcStat>();
  if (job.pid !== null) for (const p of groupMembers(job.pid, all)) found.set(p.pid, p);
  for (const p of processesWithEnv('UWS_JOB_ID', job.jobId, all)) found.set(p.pid, p);
  return [...found.values()];
}

/**
 * Sends `signal` to the job's group, and, with `escapees`, to the job's processes outside it.
 * The group is signalled only while its leader is the process we started (pid + start time)
 * or, once the leader is gone, while the group still has members (a group id cannot be
 * reused while any member lives).
 */
export function signalJob(job: JobIdentity, signal: NodeJS.Signals, escapees = false): void {
  const all = escapees ? listProcesses() : undefined;
  if (job.pid !== null) {
    const leaderOurs = isProcessAlive(job.pid, job.pidStart);
    if (leaderOurs || groupMembers(job.pid, all).length > 0) signalGroup(job.pid, signal);
  }
  if (escapees) {
    for (const p of processesWithEnv('UWS_JOB_ID', job.jobId, all)) {
      if (p.pgrp !== job.pid) signalProcess(p.pid, signal);
    }
  }
}
