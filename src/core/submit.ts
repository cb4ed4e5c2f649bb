// Creating jobs (see submitJobs). A few jobs (the CLI's usual one, a server's group of
// creations) cost one turn at the lock: their seq numbers and queue places, full records
// (job.json, which is all a PENDING or QUEUED job has), index lines and queue entries are
// written inside it and made durable with the state write that advances state.seq past
// them, which is their commit (store/state.ts submitInOneTurn's files). What does not
// depend on the places is done before the lock (prepareNewRecords): the record
// directories, the records' temp files and the records themselves, so the turn allocates
// no inode for them and builds nothing. Many jobs (--params-from) take three steps instead, so 100,000 of them cost two
// short locks, not one long one: a reservation in state.json, every job's files written
// and made durable outside the lock, then the reservation removed. Either way all or
// nothing, and an id is printed only after the commit: a submit killed before it leaves
// invisible files, which no command shows and `tick` removes. `resubmit` creates its job
// through the same path, from an earlier job instead of the YAML file.
// Each job's own directory (HOME/jobs/ID with an empty stdout.log and stderr.log, 0600, and
// results/, SPEC §2 and §8) is made by the submit too, outside the lock and never synced:
// it is not the record. A one-turn submit makes it first, and that directory reserves the
// job's id until the turn makes its record directory. A crash that loses it is repaired
// when the job starts (the wrapper, or the runner before sbatch, make what is missing),
// and every reader takes a missing one as empty.
// What a big submit costs is the file system's: per job six inodes (records/ID, job.json,
// jobs/ID, results/, two logs) and a queue entry, which is a hard link (store/queue-dir.ts);
// on this machine's ext4 (no journal) an inode costs 60-250 µs of kernel time, since the
// allocator scans past every inode freed in the last minutes. So per job this thread makes
// records/ID and then jobs/ID (two mkdir(2): the second one's EEXIST gives the id back, no
// other look) and the record (a temp file renamed to job.json: a reader never meets a torn
// or empty record, and tick finds a dead batch's jobs by their records' seq), while from
// WORKER_FROM jobs on a worker thread fills each jobs/ID and makes the queue entries
// (store/job-dirs.ts). The commit waits for the worker; its failure fails the submit.

import { closeSync, existsSync, mkdirSync, renameSync, rmSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import { userInfo } from 'node:os';
import type { Definition } from '../definitions/load.js';
import { baseJobEnv, buildJobEnv, substituteCommand } from '../definitions/substitute.js';
import { type Dependency, ID_LENGTH, type JobRecord, type ParamValue, checkRunId, isJobId, newJobId } from './job.js';
import { type Phase, applyTransition } from './phases.js';
import { type PendingFile, discardTemp, fsyncAllAsync, readOwnFile, writeError, writeFileDurable, writeTemp } from '../store/durable.js';
import { type Store, type SubmitBatch, type SubmitTurn, type Transaction, claimant, dieForTest, syncDirsAsync } from '../store/state.js';
import { addEntries, entryName, removeEntry } from '../store/queue-dir.js';
import { JobDirFiller, WORKER_FROM, fillJobDirectory } from '../store/job-dirs.js';
import { processStartTime } from '../run/proc.js';
import { SYNCFS_FROM, syncFileSystemAsync } from '../store/syncfs.js';
import { checkExecBounds } from './exec-bounds.js';
import { fileKey } from '../store/home.js';
import { UserError, noSuchJob } from '../errors.js';
import { resolveParameters } from '../definitions/params.js';
import { type RunnerWake, runnerWakeForQueued, wakeRunner } from '../run/ensure-runner.js';

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
  /**
   * With runId: return the existing job of this definition and run id instead, unless it
   * failed (cron retries); with `run`, a PENDING one is queued.
   */
  unique?: boolean;
  /**
   * `resubmit`: the earlier job whose environment stands for the submitter's (so the new
   * job gets the same variables, with its own UWS_*), and whose killGrace and maxRunning
   * it keeps.
   */
  from?: Pick<JobRecord, 'killGrace' | 'maxRunning' | 'env'>;
  /** Jobs this one starts after (SPEC §13); each must exist when the jobs are created. */
  after?: Dependency[];
  /** Not started before this ISO instant; null or undefined: no start time. */
  notBefore?: string | null;
  /** The job's ownerId; default the OS user (SPEC §4). `uwsrun serve` passes its caller's name. */
  ownerId?: string;
}

let owner: string | undefined;

/** The OS user this process runs as: the owner of jobs submitted from the command line. */
export function ownerName(): string {
  if (owner !== undefined) return owner;
  try {
    owner = userInfo().username;
  } catch {
    owner = process.env.USER ?? `uid${process.getuid?.() ?? ''}`;
  }
  return owner;
}

/** The command line of a job: the definition's template with its placeholders filled in. */
export function resolveCommand(template: string[], jobId: string, jobDir: string, resultsDir: string, paramText: Record<string, string>): string[] {
  return substituteCommand(template, { ...paramText, jobId, jobDir, resultsDir });
}

const PROBE_ID = '0'.repeat(ID_LENGTH);

/**
 * A fresh id for a big submit, reserved by creating its record directory (which outlives
 * the job directory of an archived job) and then its job directory. A job directory that
 * exists already (left without a record by a delete interrupted between its two renames, or
 * another submit's one-turn reservation) gives the id back: the job that starts there must
 * find its own. Two mkdir(2), no other look: the second one's EEXIST is the check.
 */
const newRecordAndJobDirectory = (store: Store): string =>
  reserveId((id) => store.layout.recordDir(id), (id) => mkdirUnlessExists(store.layout.jobDir(id)));

/** mkdir(2) of `dir`: false when it exists already. */
function mkdirUnlessExists(dir: string): boolean {
  try {
    mkdirSync(dir, { mode: 0o700 });
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
}

/**
 * A fresh id whose directory `mine` this call created and for which `claimOther` said yes
 * (the other directory does not exist, or was just made); otherwise `mine` goes again.
 */
function reserveId(mine: (id: string) => string, claimOther: (id: string) => boolean): string {
  for (;;) {
    const jobId = newJobId();
    if (!mkdirUnlessExists(mine(jobId))) continue;
    let claimed: boolean;
    try {
      claimed = claimOther(jobId);
    } catch (err) {
      rmdirSync(mine(jobId));
      throw err;
    }
    if (claimed) return jobId;
    rmdirSync(mine(jobId));
  }
}

/** A job's own directory, which reserveId made: results/ and empty logs, not synced (store/job-dirs.ts). */
function makeJobDirectory(store: Store, jobId: string): void {
  fillJobDirectory(store.layout.jobDir(jobId));
}

/**
 * Fresh ids for a one-turn submit, each reserved by its job directory, made (with its
 * logs and results/) before the lock is taken. An id that already has a record directory
 * (an archived job keeps its record alone) is not used. Invisible until the turn writes
 * the records; a submit that dies first leaves them for `tick` (half-created directories).
 */
function newJobDirectories(store: Store, n: number): string[] {
  const ids: string[] = [];
  try {
    while (ids.length < n) {
      const jobId = reserveId((id) => store.layout.jobDir(id), (id) => !existsSync(store.layout.recordDir(id)));
      ids.push(jobId);
      makeJobDirectory(store, jobId);
    }
  } catch (err) {
    removeJobDirectories(store, ids);
    throw err;
  }
  return ids;
}

const removeJobDirectories = (store: Store, ids: string[]): void => {
  for (const id of ids) rmSync(store.layout.jobDir(id), { recursive: true, force: true });
};

/**
 * The submitter's environment as a plain object: a resubmitted job's own, else this
 * process's, copied once per process. Every read of process.env goes through the C
 * library's environ, and walking it again for each of 100,000 jobs of a --params-from cost
 * more than all their JSON; `uwsrun serve` copied it twice per request and, for each fresh
 * object, computed baseJobEnv again (baseEnvs below is keyed by it). No uwsrun process
 * changes its environment once it may submit (the runner's one deletion comes before).
 * Read only.
 */
let processEnvCopy: NodeJS.ProcessEnv | undefined;

const submitterEnvOf = (opts: SubmitOptions): NodeJS.ProcessEnv => opts.from?.env ?? (processEnvCopy ??= { ...process.env });

/**
 * A new job gets its places: its seq number and, when queued (`run`), its queue place,
 * from the places its submit took (in its one turn, a reservation, or a server's block).
 */
function placeRecord(job: JobRecord, place: ReservedPlace, run: boolean): JobRecord {
  job.seq = place.seq;
  if (run) {
    job.phase = applyTransition(job, 'run').to;
    job.queuedAt = place.queuedAt;
  }
  return job;
}

/** The i-th place of a range a submit took (its one turn, or its reservation). */
const placeInRange = (range: { seqFrom: number; queueFrom: number }, i: number): ReservedPlace =>
  ({ seq: range.seqFrom + i, queuedAt: range.queueFrom + i });

/** The base environment (baseJobEnv) of each submit's definition, kept with its submitterEnv. */
const baseEnvs = new WeakMap<NodeJS.ProcessEnv, { def: Definition; env: Record<string, string> }>();

function baseEnvFor(def: Definition, submitterEnv: NodeJS.ProcessEnv): Record<string, string> {
  const known = baseEnvs.get(submitterEnv);
  if (known?.def === def) return known.env;
  const env = baseJobEnv(def, submitterEnv);
  baseEnvs.set(submitterEnv, { def, env });
  return env;
}

function buildRecord(store: Store, jobId: string, def: Definition, params: ResolvedParameters, opts: SubmitOptions, now: Date, submitterEnv: NodeJS.ProcessEnv): JobRecord {
  const jobDir = store.layout.jobDir(jobId);
  const resultsDir = store.layout.resultsDir(jobId);
  const lifetime = def.destruction;
  const destruction = opts.destruction !== undefined
    ? opts.destruction
    : lifetime > 0 ? new Date(now.getTime() + lifetime * 1000).toISOString() : null;
  return {
    jobId,
    runId: opts.runId,
    ownerId: opts.ownerId ?? ownerName(),
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
    attempt: 1,
    attempts: [],
    // A snapshot taken before executors existed has none: local.
    executor: def.executor ?? 'local',
    slurmJobId: null,
    seq: 0,
    definitionSnapshot: def,
    paramText: params.text,
    env: buildJobEnv({ def, submitterEnv, jobId, jobDir, resultsDir, paramText: params.text }, baseEnvFor(def, submitterEnv)),
    cwd: def.cwd ?? jobDir,
    killGrace: opts.from?.killGrace ?? def.killGrace,
    maxRunning: opts.from ? opts.from.maxRunning : def.maxRunning,
    archive: def.archive,
    pidStart: null,
    abortRequested: null,
    holdStart: Number(process.env.UWSRUN_TEST_HOLD_START) || 0,
    queuedAt: null,
    after: opts.after ?? [],
    notBefore: opts.notBefore ?? null,
    retryAfter: null,
  };
}

/**
 * The run-id index: HOME/runids/<hash(definition, runId)> holds the id of the latest job
 * submitted with that definition and run id, so `--unique` is O(1) however many jobs exist.
 */
const runIdKey = (definition: string, runId: string): string => fileKey(`${definition}\0${runId}`);

/** The phases in which a job counts as "this run" for --unique: all but the failed ones. */
const UNIQUE_MATCH: readonly Phase[] = ['PENDING', 'QUEUED', 'HELD', 'EXECUTING', 'COMPLETED'];

function existingUniqueJob(tx: Transaction, definition: string, runId: string): JobRecord | undefined {
  let jobId: string;
  try {
    jobId = readOwnFile(join(tx.layout.runIdsDir, runIdKey(definition, runId))).trim();
  } catch {
    return undefined;
  }
  if (!isJobId(jobId)) return undefined;
  const job = tx.getJob(jobId);
  return job && UNIQUE_MATCH.includes(job.phase) && job.runId === runId && job.definition === definition ? job : undefined;
}

/** The record of a job that is still invisible (its batch is reserved). */
function writeJobFiles(store: Store, job: JobRecord): void {
  // Through a temp file and rename all the same: a submit killed mid-write leaves no torn
  // record for `list` or `tick` to stumble over.
  const file = writeTemp(store.layout.jobFile(job.jobId), JSON.stringify(job, null, 1));
  try {
    closeSync(file.fd);
    renameSync(file.tmp, file.path);
  } catch (err) {
    discardTemp(file);
    throw err;
  }
}

/**
 * Makes the jobs' files durable: a few file by file (each record and its directory, the
 * index, the records and the queue directories), many with one syncfs(2) (store/syncfs.ts).
 * File by file, all at once on the thread pool: the file system commits its journal for
 * several of them together, and `uwsrun serve` reads other requests meanwhile. Only the
 * transaction that follows makes the jobs visible, so the order among them does not matter.
 */
async function syncJobFiles(store: Store, jobs: JobRecord[], queued: boolean): Promise<void> {
  if (jobs.length >= SYNCFS_FROM) {
    if (await syncFileSystemAsync(store.layout.indexFile)) return;
  }
  const { layout } = store;
  const paths = jobs.flatMap((job) => [layout.jobFile(job.jobId), layout.recordDir(job.jobId)]);
  paths.push(layout.indexFile, layout.recordsDir);
  if (queued) paths.push(layout.queueDir);
  // Every one settled before an error is passed on: the caller then removes the files.
  await fsyncAllAsync(paths);
}

/**
 * Up to this many jobs are created in one turn at the lock (fewer than SYNCFS_FROM, so
 * their files are synced one by one, never with a syncfs(2) of the whole file system
 * inside the lock); more take the three steps of submitInSteps.
 */
export const ONE_TURN_MAX = SYNCFS_FROM - 1;

/**
 * Creates one job per parameter set, all or nothing. Returns them in order (or, with
 * --unique, the one job found instead). See the top comment for the two ways.
 */
export async function submitJobs(store: Store, def: Definition, paramSets: ResolvedParameters[], opts: SubmitOptions): Promise<JobRecord[]> {
  if (opts.runId !== null) checkRunId(opts.runId);
  // Nothing to submit (an empty --params-from) creates nothing, not even the HOME.
  if (paramSets.length === 0) return [];
  const now = new Date();
  // Bounds first (exit 2), before anything is written; the probe id has a real id's length.
  const submitterEnv = submitterEnvOf(opts);
  for (const params of paramSets) checkExecBounds(buildRecord(store, PROBE_ID, def, params, opts, now, submitterEnv));
  store.layout.ensure();
  if (paramSets.length > ONE_TURN_MAX) return submitInSteps(store, def, paramSets, opts, now, submitterEnv);
  let ids: string[];
  try {
    ids = newJobDirectories(store, paramSets.length);
  } catch (err) {
    throw writeError(err, store.home, 'a new job');
  }
  const turn: OneTurn = { created: [], ids, ready: [], temps: new Map() };
  let jobs: JobRecord[];
  try {
    prepareNewRecords(store, def, paramSets, opts, now, submitterEnv, turn);
    jobs = submitInOneTurn(store, def, paramSets, opts, turn);
  } catch (err) {
    removeNewRecords(store, turn);
    removeJobDirectories(store, ids);
    if (turn.places) await dropFailedTurn(store, turn.places, turn.created, opts.run);
    throw err instanceof UserError ? err : writeError(err, store.home, 'a new job');
  }
  // --unique found its job instead: the directories made for new ones go.
  if (jobs[0]?.jobId !== ids[0]) {
    removeNewRecords(store, turn);
    removeJobDirectories(store, ids);
  }
  // The commit's directories (records/, each record's, HOME), synced at once on the thread
  // pool after the lock is released, before any id is reported. The jobs exist by now: a
  // failure here is an error (exit 5), but their files stay.
  if (turn.tx) await syncDirsAsync(turn.tx);
  if (turn.wake) await wakeRunner(store.home, turn.wake);
  return jobs;
}

/** What a one-turn submit got as far as: its places, the jobs it wrote, the runner to wake. */
interface OneTurn {
  /** Their ids, reserved by their job directories (newJobDirectories). */
  ids: string[];
  /** Their records, built before the lock without their places (prepareNewRecords). */
  ready: JobRecord[];
  /** Their records' temp files, made before the lock; the commit takes those it writes. */
  temps: Map<string, PendingFile>;
  tx?: Transaction;
  places?: SubmitTurn;
  created: JobRecord[];
  wake?: RunnerWake;
}

/**
 * The work of a one-turn submit that does not depend on its places, done before it takes
 * the lock, where it delays nobody: each job's record directory, an empty temp file for its
 * job.json (the turn writes the record into it: no inode is allocated inside the lock,
 * and on this machine's ext4 one costs 60 µs to several ms), and its record without seq
 * and queue place (placeRecord gives them in the turn). The directory with nothing but that
 * temp file is invisible: no command counts it as a job, nor as a job that lost its record
 * (Store.recordMissing); a submit killed before its commit leaves it for `tick` as
 * half-created, beside the job directory.
 */
function prepareNewRecords(
  store: Store, def: Definition, paramSets: ResolvedParameters[], opts: SubmitOptions, now: Date, submitterEnv: NodeJS.ProcessEnv, turn: OneTurn,
): void {
  // Its identity, which the turn file names, read from /proc now rather than in the turn.
  claimant();
  for (let i = 0; i < paramSets.length; i++) {
    const jobId = turn.ids[i]!;
    mkdirSync(store.layout.recordDir(jobId), { mode: 0o700 });
    turn.temps.set(jobId, writeTemp(store.layout.jobFile(jobId), ''));
  }
  turn.ready = paramSets.map((params, i) => buildRecord(store, turn.ids[i]!, def, params, opts, now, submitterEnv));
}

/** The record directories prepareNewRecords made and the temp files the commit did not take. */
function removeNewRecords(store: Store, turn: OneTurn): void {
  for (const temp of turn.temps.values()) discardTemp(temp);
  turn.temps.clear();
  for (const id of turn.ids) rmSync(store.layout.recordDir(id), { recursive: true, force: true });
}

/**
 * After a failed one-turn submit: its files go, outside the lock (the jobs were never
 * visible), then under it the turn file, or the reservation another holder made of it
 * meanwhile (adoptLeftTurn): either way the reservation named after the turn.
 */
async function dropFailedTurn(store: Store, places: SubmitTurn, created: JobRecord[], queued: boolean): Promise<void> {
  removeJobFiles(store, created, queued);
  await dropReservation(store, places.name);
}

/** Removes a failed submit's reservation `name` from the state, if the lock is to be had. */
async function dropReservation(store: Store, name: string): Promise<void> {
  try {
    // In the server, with the lock taken without blocking (serve/writes.ts), as every
    // transaction after an await.
    await store.lockAhead();
    store.update((tx) => {
      delete tx.state.batches[name];
    });
  } catch { /* its submitter is gone then (or the lock was not to be had): tick drops the reservation */ }
}

/** A dependency deleted since the command line named it: nothing is created (exit 3). */
function checkDependencies(tx: Transaction, opts: SubmitOptions): void {
  for (const dep of opts.after ?? []) {
    if (!tx.getJob(dep.jobId)) throw noSuchJob(dep.jobId);
  }
}

/**
 * With --unique, the job that already has this runId (and is not ended badly), instead of a
 * new one; asked to run it, a PENDING match is queued (nothing else would ever start it),
 * and `wake` says how to tell the runner.
 */
function uniqueMatch(tx: Transaction, def: Definition, opts: SubmitOptions): { job: JobRecord; wake?: RunnerWake } | undefined {
  if (!opts.unique || opts.runId === null) return undefined;
  const found = existingUniqueJob(tx, def.name, opts.runId);
  if (!found) return undefined;
  if (!opts.run || found.phase !== 'PENDING') return { job: found };
  const queued = { ...found, phase: applyTransition(found, 'run').to };
  tx.putHot(queued, { queuedAt: ++tx.state.queueSeq });
  return { job: queued, wake: runnerWakeForQueued(tx) };
}

/** The runId's entry in HOME/runids, naming the newest job created with it. */
function recordRunId(tx: Transaction, def: Definition, opts: SubmitOptions, jobId: string): void {
  if (opts.runId === null) return;
  mkdirSync(tx.layout.runIdsDir, { recursive: true, mode: 0o700 });
  writeFileDurable(join(tx.layout.runIdsDir, runIdKey(def.name, opts.runId)), jobId);
}

/** Removes the files of jobs that never became visible (a failed or refused submit). */
function removeJobFiles(store: Store, jobs: JobRecord[], queued: boolean): void {
  for (const job of jobs) {
    rmSync(store.layout.recordDir(job.jobId), { recursive: true, force: true });
    rmSync(store.layout.jobDir(job.jobId), { recursive: true, force: true });
    if (queued) removeEntry(store.layout, entryName(job));
  }
}

/**
 * One transaction: the checks against existing jobs (dependencies, --unique) first, then
 * the turn's places (Transaction.startSubmitTurn, HOME/state.turn), given to the records
 * built before the lock (prepareNewRecords), and each job's index line; the records (into
 * the temp files made before the lock) and queue entries are written at commit and
 * synced together with the index and the state (Store.commitHeld): one state write. The
 * commit is the state's rename; killed before it, the jobs' seq numbers are beyond
 * state.seq (invisible) and the turn file names them for the next holder of the lock.
 * A failure (a full disk) removes what was written, outside the lock (the jobs were
 * never visible), and then, under it, the turn file or the reservation it became.
 */
function submitInOneTurn(store: Store, def: Definition, paramSets: ResolvedParameters[], opts: SubmitOptions, turn: OneTurn): JobRecord[] {
  const { created } = turn;
  return store.update((tx): JobRecord[] => {
    checkDependencies(tx, opts);
    const match = uniqueMatch(tx, def, opts);
    if (match) {
      turn.wake = match.wake;
      return [match.job];
    }
    const places = tx.startSubmitTurn(paramSets.length, opts.run);
    turn.places = places;
    tx.deferDirSyncs = true;
    turn.tx = tx;
    dieForTest('UWSRUN_TEST_KILL_IN_TURN');
    try {
      for (let i = 0; i < paramSets.length; i++) created.push(placeRecord(turn.ready[i]!, placeInRange(places, i), opts.run));
      store.writeIndex(places.seqFrom, created.map((j) => j.jobId), false);
    } catch (err) {
      throw writeError(err, store.home, 'a new job');
    }
    tx.addNewJobs(created, turn.temps);
    recordRunId(tx, def, opts, created.at(-1)!.jobId);
    if (opts.run) turn.wake = runnerWakeForQueued(tx);
    return created;
  }, true);
}

/**
 * The three steps of a big submit, so that 100,000 jobs cost two short locks, not one long one:
 *   1. under the lock: reserve the seq numbers (and queue places) as a batch in state.json;
 *   2. without it: write every job's record directory, record, index line and queue entry, and
 *      make them durable (jobs of a reserved batch are invisible to everyone);
 *   3. under the lock: remove the reservation. From this write on the jobs exist.
 * A submit killed before step 3 leaves only invisible files, which `tick` removes.
 */
async function submitInSteps(
  store: Store, def: Definition, paramSets: ResolvedParameters[], opts: SubmitOptions, now: Date, submitterEnv: NodeJS.ProcessEnv,
): Promise<JobRecord[]> {
  const n = paramSets.length;
  const me = { pid: process.pid, pidStart: processStartTime(process.pid) ?? '' };
  const [token, batch] = store.update((tx): [string, SubmitBatch] => {
    let name = `${me.pid}-${Date.now().toString(36)}`;
    while (tx.state.batches[name]) name += 'x';
    // Above every seq HOME/index has a line for, too: a state restored from an older good
    // copy must not give a newer job's line to another (see indexedSeqs).
    tx.state.seq = Math.max(tx.state.seq, store.indexedSeqs());
    const b: SubmitBatch = {
      ...me,
      seqFrom: tx.state.seq + 1,
      seqTo: tx.state.seq + n,
      queueFrom: opts.run ? tx.state.queueSeq + 1 : 1,
      queueTo: opts.run ? tx.state.queueSeq + n : 0,
    };
    tx.state.seq += n;
    if (opts.run) tx.state.queueSeq += n;
    tx.state.batches[name] = b;
    return [name, b];
  }, true);
  const created: JobRecord[] = [];
  let wake: RunnerWake | undefined;
  const removeCreated = () => removeJobFiles(store, created, opts.run);
  // The jobs' directories are filled on a worker thread (store/job-dirs.ts); one that cannot
  // be started leaves the work to this thread.
  const filler = n >= WORKER_FROM ? await JobDirFiller.start().catch(() => undefined) : undefined;
  try {
    try {
      if (filler && opts.run) store.layout.ensureQueueDir();
      for (let i = 0; i < n; i++) {
        const jobId = newRecordAndJobDirectory(store);
        const job = placeRecord(buildRecord(store, jobId, def, paramSets[i]!, opts, now, submitterEnv), placeInRange(batch, i), opts.run);
        created.push(job);
        writeJobFiles(store, job);
        if (!filler) {
          makeJobDirectory(store, jobId);
          continue;
        }
        // Its queue entry too: the worker has the time, and the entries of jobs of a
        // reserved batch are invisible whenever they are made.
        filler.add(store.layout.jobDir(jobId), opts.run ? join(store.layout.queueDir, entryName(job)) : undefined);
        if (filler.failed) break; // its error comes from finish()
      }
      await filler?.finish();
      if (created.length < n) throw new Error(`only ${created.length} of ${n} jobs were written`);
      store.writeIndex(batch.seqFrom, created.map((j) => j.jobId), false);
      if (opts.run && !filler) addEntries(store.layout, created, false);
      await syncJobFiles(store, created, opts.run);
    } catch (err) {
      throw writeError(err, store.home, 'a new job');
    }
    await store.lockAhead();
    const existing = store.update((tx) => {
      checkDependencies(tx, opts); // the catch below removes them
      const match = uniqueMatch(tx, def, opts);
      if (match) {
        // Gone before the reservation is: they never become visible.
        removeCreated();
        created.length = 0;
        delete tx.state.batches[token];
        wake = match.wake;
        return match.job;
      }
      recordRunId(tx, def, opts, created.at(-1)!.jobId);
      delete tx.state.batches[token];
      if (opts.run) wake = runnerWakeForQueued(tx);
      return undefined;
    });
    if (existing) {
      if (wake) await wakeRunner(store.home, wake);
      return [existing];
    }
  } catch (err) {
    // The worker first: it must not fill a directory while it is being removed.
    await filler?.stop();
    removeCreated();
    await dropReservation(store, token);
    throw err;
  }
  if (wake) await wakeRunner(store.home, wake);
  return created;
}

/** A job's places from a reservation its process holds (serve/places.ts): seq, and queue place when queued. */
export interface ReservedPlace {
  seq: number;
  queuedAt: number | null;
}

/**
 * What submitJobs checks before anything is written, for one job: its run id and that it
 * stays within the system's bounds (exit 2). The caller of writeReservedJobs checks each
 * job with it first, so bad input refuses only its own creation.
 */
export function checkSubmission(store: Store, def: Definition, params: ResolvedParameters, opts: SubmitOptions): void {
  if (opts.runId !== null) checkRunId(opts.runId);
  checkExecBounds(buildRecord(store, PROBE_ID, def, params, opts, new Date(), submitterEnvOf(opts)));
}

/**
 * The files of jobs whose places come from a reservation this process holds in
 * state.batches (`uwsrun serve`, serve/places.ts), all written and made durable WITHOUT the
 * lock: job directories (which reserve the ids), record directories, job.json, index lines
 * and queue entries, synced file by file on the thread pool. The jobs stay invisible (their
 * seq numbers and queue places are inside the reservation) until commitReservedJobs' caller
 * shrinks the reservation past them: that state write is their commit, the only work left
 * for the lock. Killed before it, the process leaves a reservation of a dead process, whose
 * files `tick` removes (dropDeadBatches). On failure the files written so far are removed.
 * No --unique and no dependencies: both are judged under the lock (submitJobs).
 */
export async function writeReservedJobs(
  store: Store, def: Definition, paramSets: ResolvedParameters[], opts: SubmitOptions, places: ReservedPlace[],
): Promise<JobRecord[]> {
  const now = new Date();
  const submitterEnv = submitterEnvOf(opts);
  const created: JobRecord[] = [];
  let ids: string[] = [];
  try {
    store.layout.ensure();
    ids = newJobDirectories(store, paramSets.length);
    for (let i = 0; i < paramSets.length; i++) {
      const jobId = ids[i]!;
      mkdirSync(store.layout.recordDir(jobId), { mode: 0o700 });
      const job = placeRecord(buildRecord(store, jobId, def, paramSets[i]!, opts, now, submitterEnv), places[i]!, opts.run);
      created.push(job);
      writeJobFiles(store, job);
    }
    // One run of index lines per run of consecutive seq numbers (a flush gives them in order).
    for (let from = 0; from < created.length;) {
      let to = from + 1;
      while (to < created.length && created[to]!.seq === created[to - 1]!.seq + 1) to++;
      store.writeIndex(created[from]!.seq, created.slice(from, to).map((j) => j.jobId), false);
      from = to;
    }
    if (opts.run) addEntries(store.layout, created, false);
    await syncJobFiles(store, created, opts.run);
  } catch (err) {
    removeJobFiles(store, created, opts.run);
    removeJobDirectories(store, ids);
    throw writeError(err, store.home, 'a new job');
  }
  return created;
}

/** Files of reserved jobs whose commit failed (still invisible: the reservation covers them). */
export const removeReservedJobs = (store: Store, jobs: JobRecord[], queued: boolean): void => removeJobFiles(store, jobs, queued);

/**
 * Inside the transaction that commits reserved jobs (shrinks the reservation past them):
 * the run id's entry for later --unique submits, as submitJobs writes it.
 */
export function commitReservedJobs(tx: Transaction, def: Definition, opts: SubmitOptions, jobs: JobRecord[]): void {
  if (jobs.length > 0) recordRunId(tx, def, opts, jobs.at(-1)!.jobId);
}

/**
 * `resubmit`: a new job from an earlier one (in any phase, ARCHIVED too): its definition as
 * it was at submit time (command template, env, cwd), its environment, its parameters with
 * `params` applied (checked exactly as by submit), its runId, executionDuration, killGrace
 * and maxRunning. The YAML file is not read: editing it never changes a resubmitted job.
 */
export async function resubmitJob(store: Store, jobId: string, params: Array<[string, string]>, run: boolean): Promise<JobRecord> {
  const old = store.getJob(jobId);
  if (!old) throw noSuchJob(jobId);
  const def = old.definitionSnapshot;
  const resolved = resolveParameters(def, params, undefined, old.paramText);
  const [job] = await submitJobs(store, def, [resolved], {
    runId: old.runId,
    executionDuration: old.executionDuration,
    run,
    from: old,
  });
  return job!;
}
