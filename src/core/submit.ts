// Creating jobs. Each job's directory and full record (job.json) are written durably first,
// outside the lock; then one state transaction adds the hot entries of all of them at once
// (all or nothing). Only then is an id printed: a submit killed before that leaves a
// directory without a hot entry, which no command shows and `tick` removes.

import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { userInfo } from 'node:os';
import type { Definition } from '../definitions/load.js';
import { buildJobEnv, substituteCommand } from '../definitions/substitute.js';
import { type JobRecord, type ParamValue, isJobId, newJobId } from './job.js';
import { applyTransition } from './phases.js';
import { fsyncDir, writeFileDurable } from '../store/durable.js';
import type { Store, Transaction } from '../store/state.js';
import { fileKey } from '../store/home.js';
import { storeError } from '../errors.js';
import { type RunnerWake, runnerWakeFor, wakeRunner } from '../run/ensure-runner.js';

export interface ResolvedParameters {
  values: Record<string, ParamValue>;
  text: Record<string, string>;
}

export interface SubmitOptions {
  runId: string | null;
  /** Overrides the definition's; undefined keeps it. */
  executionDuration?: number;
  /** An ISO instant, null for never; undefined keeps the definition's lifetime. */
  destruction?: string | null;
  run: boolean;
  /** With runId: return the existing job of this definition and run id instead (cron retries). */
  unique?: boolean;
}

function ownerName(): string {
  try {
    return userInfo().username;
  } catch {
    return process.env.USER ?? `uid${process.getuid?.() ?? ''}`;
  }
}

/** The command line of a job: the definition's template with its placeholders filled in. */
export function resolveCommand(template: string[], jobId: string, jobDir: string, resultsDir: string, paramText: Record<string, string>): string[] {
  return substituteCommand(template, { ...paramText, jobId, jobDir, resultsDir });
}

function newJobDirectory(store: Store): string {
  for (;;) {
    const jobId = newJobId();
    try {
      mkdirSync(store.layout.jobDir(jobId), { mode: 0o700 });
      return jobId;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
}

function buildRecord(store: Store, jobId: string, def: Definition, params: ResolvedParameters, opts: SubmitOptions, now: Date): JobRecord {
  const jobDir = store.layout.jobDir(jobId);
  const resultsDir = store.layout.resultsDir(jobId);
  const lifetime = def.destruction;
  const destruction = opts.destruction !== undefined
    ? opts.destruction
    : lifetime > 0 ? new Date(now.getTime() + lifetime * 1000).toISOString() : null;
  return {
    jobId,
    runId: opts.runId,
    ownerId: ownerName(),
    definition: def.name,
    phase: 'PENDING',
    creationTime: now.toISOString(),
    startTime: null,
    endTime: null,
    quote: null,
    executionDuration: opts.executionDuration ?? def.executionDuration,
    destruction,
    parameters: params.values,
    command: resolveCommand(def.command, jobId, jobDir, resultsDir, params.text),
    pid: null,
    exitCode: null,
    signal: null,
    errorSummary: null,
    results: [],
    seq: 0,
    definitionSnapshot: def,
    paramText: params.text,
    env: buildJobEnv({ def, submitterEnv: process.env, jobId, jobDir, resultsDir, paramText: params.text }),
    cwd: def.cwd ?? jobDir,
    killGrace: def.killGrace,
    maxRunning: def.maxRunning,
    archive: def.archive,
    pidStart: null,
    abortRequested: null,
    holdStart: Number(process.env.UWSRUN_TEST_HOLD_START) || 0,
  };
}

/**
 * The run-id index: HOME/runids/<hash(definition, runId)> holds the id of the latest job
 * submitted with that definition and run id, so `--unique` is O(1) however many jobs exist.
 */
const runIdKey = (definition: string, runId: string): string => fileKey(`${definition}\0${runId}`);

function existingUniqueJob(tx: Transaction, definition: string, runId: string): JobRecord | undefined {
  let jobId: string;
  try {
    jobId = readFileSync(join(tx.layout.runIdsDir, runIdKey(definition, runId)), 'utf8').trim();
  } catch {
    return undefined;
  }
  if (!isJobId(jobId)) return undefined;
  const job = tx.getJob(jobId);
  return job && job.phase !== 'ARCHIVED' && job.runId === runId && job.definition === definition ? job : undefined;
}

/** Creates one job per parameter set, all or nothing. Returns them in order. */
export async function submitJobs(store: Store, def: Definition, paramSets: ResolvedParameters[], opts: SubmitOptions): Promise<JobRecord[]> {
  store.layout.ensure();
  const now = new Date();
  const created: JobRecord[] = [];
  let wake: RunnerWake | undefined;
  const removeCreated = () => {
    for (const job of created) rmSync(store.layout.jobDir(job.jobId), { recursive: true, force: true });
  };
  try {
    try {
      for (const params of paramSets) {
        const jobId = newJobDirectory(store);
        const job = buildRecord(store, jobId, def, params, opts, now);
        created.push(job);
        mkdirSync(store.layout.resultsDir(jobId), { mode: 0o700 });
        writeFileSync(store.layout.stdoutLog(jobId), '', { mode: 0o600 });
        writeFileSync(store.layout.stderrLog(jobId), '', { mode: 0o600 });
        store.writeJobFile(job);
      }
      if (created.length > 0) fsyncDir(store.layout.jobsDir);
    } catch (err) {
      throw storeError(`cannot create a job in ${store.home}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
    }
    // The hot entry carries the creation sequence number; job.json gets it when final.
    const existing = store.update((tx) => {
      if (opts.unique && opts.runId !== null) {
        const found = existingUniqueJob(tx, def.name, opts.runId);
        if (found) return found;
      }
      if (opts.runId !== null) {
        mkdirSync(tx.layout.runIdsDir, { recursive: true, mode: 0o700 });
        writeFileDurable(join(tx.layout.runIdsDir, runIdKey(def.name, opts.runId)), created.at(-1)!.jobId);
      }
      for (const job of created) {
        job.seq = ++tx.state.seq;
        if (opts.run) job.phase = applyTransition(job, 'run').to;
        tx.putHot(job, { queuedAt: opts.run ? ++tx.state.queueSeq : null });
      }
      if (opts.run) wake = runnerWakeFor(tx);
      return undefined;
    }, true);
    if (existing) {
      removeCreated();
      return [existing];
    }
  } catch (err) {
    removeCreated();
    throw err;
  }
  if (wake) await wakeRunner(store.home, wake);
  return created;
}
