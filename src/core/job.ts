// The job record: what `show --json` prints (SPEC §4) plus the internal fields uwsrun needs
// to start, supervise and re-resolve a job. Where a job's truth is:
//   PENDING, QUEUED   records/ID/job.json alone (phase and queuedAt included), so the file every
//                     command reads does not grow with the queue;
//   EXECUTING         job.json plus a small "hot" entry in state.json with the fields that
//                     change while it runs; the merged view is hot fields over the file;
//   final             state.json's finished records for a while, then job.json alone.

import { closeSync, openSync, readSync } from 'node:fs';
import type { Phase } from './phases.js';
import type { Definition, ExecutorName } from '../definitions/schema.js';
import { usageError } from '../errors.js';

export interface ErrorSummary {
  type: 'fatal' | 'transient';
  message: string;
}

export interface ResultFile {
  id: string;
  path: string;
  size: number;
  mimeType: string;
}

export type ParamValue = string | number | boolean;

/** One dependency (SPEC §13): the job must be COMPLETED, or with `any` merely final. */
export interface Dependency {
  jobId: string;
  any: boolean;
}

/** An earlier attempt of a job that failed and was run again (SPEC §4, §13). */
export interface Attempt {
  attempt: number;
  startTime: string | null;
  endTime: string | null;
  exitCode: number | null;
  signal: string | null;
  errorSummary: ErrorSummary | null;
}

/** Fields of SPEC §4, in its order. */
export interface PublicJob {
  jobId: string;
  runId: string | null;
  ownerId: string;
  definition: string;
  phase: Phase;
  creationTime: string;
  startTime: string | null;
  endTime: string | null;
  quote: string | null;
  executionDuration: number;
  destruction: string | null;
  parameters: Record<string, ParamValue>;
  command: string[];
  pid: number | null;
  exitCode: number | null;
  signal: string | null;
  errorSummary: ErrorSummary | null;
  results: ResultFile[];
  /** Who runs it (SPEC §11); records written before executors existed lack it: local. */
  executor?: ExecutorName;
  /** The Slurm job id once handed over; null (or absent) otherwise. */
  slurmJobId?: string | null;
  after: Dependency[];
  notBefore: string | null;
  /** 1 for the first attempt, counted up by each retry (SPEC §13). */
  attempt: number;
  /** Earlier attempts that failed and were retried, oldest first. */
  attempts: Attempt[];
}

export interface JobRecord extends Omit<PublicJob, 'after' | 'notBefore' | 'attempt' | 'attempts'> {
  /** Dependencies and start time (SPEC §13); records written before they existed lack them. */
  after?: Dependency[];
  notBefore?: string | null;
  /** Retries (SPEC §13); records written before they existed lack them (attempt 1, none). */
  attempt?: number;
  attempts?: Attempt[];
  /** Creation order within the HOME; breaks ties between equal creationTimes. */
  seq: number;
  /** The definition as it was at submit time, and each parameter's text as written: what
   * `set -p` re-resolves against, so editing the YAML never changes a submitted job. */
  definitionSnapshot: Definition;
  paramText: Record<string, string>;
  env: Record<string, string>;
  cwd: string;
  killGrace: number;
  maxRunning: number | null;
  archive: boolean;
  /** Field 22 of /proc/PID/stat for `pid`: guards against pid reuse. */
  pidStart: string | null;
  /**
   * Tests only: seconds the wrapper waits in the starting window before the command runs,
   * taken from UWSRUN_TEST_HOLD_START of the submitter, so the SIGTERM path of abort can
   * be tested for real.
   */
  holdStart: number;
  /** When an abort (or a time limit) was asked for while the child was in control. */
  abortRequested: string | null;
  /** Place in the queue (FIFO) once queued; null while PENDING. Older records lack it. */
  queuedAt?: number | null;
  /**
   * A retried job is not started before this instant (its retryDelay after the failed
   * attempt ended): data in the record, so a runner that dies during the delay loses
   * nothing. Null (or absent, in older records) otherwise.
   */
  retryAfter?: string | null;
  /**
   * When the job's notification (SPEC §13) was claimed: set in the transaction that made
   * the job final, so it is claimed exactly once (run/notify.ts). Absent when none is due.
   */
  notified?: string | null;
}

/** The fields of a job that change while it is active; kept in state.json. */
export interface HotEntry {
  seq: number;
  phase: Phase;
  definition: string;
  maxRunning: number | null;
  /** Order in which jobs were queued (FIFO); null while PENDING. */
  queuedAt: number | null;
  pid: number | null;
  pidStart: string | null;
  startTime: string | null;
  abortRequested: string | null;
  /** The transient errorSummary to record when an abort was caused by a time limit. */
  abortReason: string | null;
  /**
   * The attempt this entry is about (SPEC §13). A job.json that already counts a later
   * attempt recorded this one's retry: the entry is left over from a writer that died
   * between the two writes (see staleHot). Absent in entries written before retries.
   */
  attempt?: number;
  /**
   * When the job's leader had ended and what was left of its processes got SIGTERM (SIGKILL
   * follows killGrace later; SPEC §5). Absent in entries written before it existed.
   */
  leftoverSince?: string | null;
  /** Set for jobs of the slurm executor only (local entries stay as they were). */
  executor?: 'slurm';
  slurmJobId?: string | null;
  /**
   * When the runner decided to hand this QUEUED job to Slurm: from then on it may be in
   * Slurm's queue even without a slurmJobId (the runner died between sbatch and recording),
   * so nobody hands it over again before looking for it there (SPEC §11).
   */
  handoverAt?: string | null;
}

/**
 * Whether a hot entry is older than its job.json: the job's attempt ended and was retried
 * (job.json QUEUED with the next attempt, written first), and the state write that drops
 * the entry was lost. The record is the truth then.
 */
export const staleHot = (record: JobRecord, hot: HotEntry): boolean =>
  record.phase === 'QUEUED' && (record.attempt ?? 1) > (hot.attempt ?? 1);
/** The job's executor: `local` unless its record says otherwise. */
export const executorOf = (job: { executor?: ExecutorName }): ExecutorName => job.executor ?? 'local';

export function mergeHot(record: JobRecord, hot: HotEntry | undefined): JobRecord {
  if (!hot || staleHot(record, hot)) return record;
  return {
    ...record, seq: hot.seq, phase: hot.phase, queuedAt: hot.queuedAt, pid: hot.pid, pidStart: hot.pidStart, startTime: hot.startTime,
    abortRequested: hot.abortRequested,
    ...(hot.executor === 'slurm' ? { slurmJobId: hot.slurmJobId ?? null } : {}),
  };
}

export function toPublic(job: JobRecord): PublicJob {
  return {
    jobId: job.jobId,
    runId: job.runId,
    ownerId: job.ownerId,
    definition: job.definition,
    phase: job.phase,
    creationTime: job.creationTime,
    startTime: job.startTime,
    endTime: job.endTime,
    quote: job.quote,
    executionDuration: job.executionDuration,
    destruction: job.destruction,
    parameters: job.parameters,
    command: job.command,
    pid: job.pid,
    exitCode: job.exitCode,
    signal: job.signal,
    errorSummary: job.errorSummary,
    results: job.results,
    executor: executorOf(job),
    slurmJobId: job.slurmJobId ?? null,
    after: job.after ?? [],
    notBefore: job.notBefore ?? null,
    attempt: job.attempt ?? 1,
    attempts: job.attempts ?? [],
  };
}

const ID_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
export const ID_LENGTH = 16;
const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]{5,31}$/;

/**
 * Bytes from the kernel's CSPRNG. Read from /dev/urandom rather than through node:crypto,
 * whose loading alone costs a few milliseconds of every command's start.
 */
export function randomBytes(n: number): Buffer {
  const buf = Buffer.alloc(n);
  const fd = openSync('/dev/urandom', 'r');
  try {
    let got = 0;
    while (got < n) got += readSync(fd, buf, got, n - got, null);
  } finally {
    closeSync(fd);
  }
  return buf;
}

/** Random bytes read ahead, so that 100,000 ids cost a few reads of /dev/urandom, not 100,000. */
let pool: Buffer = Buffer.alloc(0);
let poolAt = 0;

function randomByte(): number {
  if (poolAt >= pool.length) {
    pool = randomBytes(4096);
    poolAt = 0;
  }
  return pool[poolAt++]!;
}

/**
 * Tests only: UWSRUN_TEST_ID_PREFIX (1-8 letters or digits) starts every new id, so tests
 * of ambiguous id prefixes (SPEC §9) can make two ids share one for real.
 */
function testIdPrefix(): string {
  const prefix = process.env.UWSRUN_TEST_ID_PREFIX;
  return prefix && /^[A-Za-z0-9]{1,8}$/.test(prefix) ? prefix : '';
}

/**
 * Tests only: UWSRUN_TEST_IDS (ids, comma-separated) are handed out first, in order, so
 * tests can make a new id meet a directory that exists already.
 */
let testIds: string[] | undefined;

/** 16 characters from 62: about 95 bits from the system's CSPRNG, so ids cannot be guessed. */
export function newJobId(): string {
  testIds ??= (process.env.UWSRUN_TEST_IDS ?? '').split(',').filter((id) => ID_PATTERN.test(id));
  if (testIds.length > 0) return testIds.shift()!;
  let id = testIdPrefix();
  while (id.length < ID_LENGTH) {
    const byte = randomByte();
    if (byte >= 248) continue; // 248 = 4 * 62: keeps the draw uniform
    id += ID_ALPHABET[byte % 62];
  }
  return id;
}

export const isJobId = (text: string): boolean => ID_PATTERN.test(text);

/** Checks an id from the command line before it is used in any path (no `../`). */
export function checkJobId(text: string): string {
  if (!ID_PATTERN.test(text)) {
    throw usageError(`invalid job id ${JSON.stringify(text)}: expected 6-32 characters [A-Za-z0-9_-], starting with a letter or digit`);
  }
  return text;
}

export const MAX_RUN_ID = 256;

/** A runId (SPEC §4): 1 to 256 characters, none of them a control character. */
export function checkRunId(text: string): string {
  const length = [...text].length;
  if (length === 0) throw usageError('--run-id: a run id must not be empty');
  if (length > MAX_RUN_ID) throw usageError(`--run-id: a run id is at most ${MAX_RUN_ID} characters, got ${length}`);
  const control = /\p{Cc}/u.exec(text);
  if (control) {
    const code = control[0].codePointAt(0)!.toString(16).padStart(2, '0');
    throw usageError(`--run-id: a run id must not contain control characters (found \\x${code} at character ${[...text.slice(0, control.index)].length + 1})`);
  }
  return text;
}

export const isoNow = (): string => new Date().toISOString();
