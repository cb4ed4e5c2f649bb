// Housekeeping: what `tick` does every minute from cron, and what `doctor --repair` reuses.
// Each step is idempotent and runs in its own short transaction, so tick is safe beside
// anything else (the runner, users, another tick):
//   - a runner that stopped making progress (runner-stall.ts) is killed and replaced;
//   - jobs that ended while nothing supervised them are recorded (from their `exit` file,
//     or ERROR "lost" when there is none), once what their leader left running is
//     terminated (SIGTERM, then SIGKILL on a later tick after killGrace);
//   - the SIGKILL of an abort whose grace period passed, when the command that asked died;
//   - executionDuration is enforced (abort as by `abort`, errorSummary names the limit);
//   - jobs whose destruction time has passed are aborted if active, then deleted or, with
//     archive: true, kept as ARCHIVED without their directory; each step re-checks, under
//     the lock, that the job is still due (a `set --destruction` meanwhile wins), and a job
//     that is gone already (another tick, a user's delete) is done, not an error;
//   - queued jobs get a runner; EXECUTING jobs without a live runner get one to adopt them;
//   - the jobs of a submit that died half-way are removed with its reservation, and other
//     directories no job owns (older than a minute) too;
//   - temp files that killed writers left in HOME and HOME/cache/ (older than a minute, their
//     process gone) are removed; those in each job's record directory are doctor's, since
//     tick must not list 100,000 directories every minute (store/leftover-temps.ts).
// Each returns one line per thing it did; nothing when it did nothing.

import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { type JobRecord, isJobId } from '../core/job.js';
import { applyTransition, isFinal } from '../core/phases.js';
import { DamagedRecordError, UserError, EXIT } from '../errors.js';
import type { StateData, Store } from '../store/state.js';
import { readEntries, removeEntry } from '../store/queue-dir.js';
import { abortJob, enforceTimeLimits } from './abort.js';
import { readExitFile, recordEnd } from './lifecycle.js';
import { resumeNotifications } from './notify.js';
import { appendRunnerLog } from './runner-log.js';
import { isProcessAlive } from './proc.js';
import { type EndFacts, gatherEndFacts } from './job-files.js';
import { describeStall, killStalledRunner, runnerStall } from './runner-stall.js';
import { type RunnerWake, jobsNeedingRunner, runnerAlive, runnerWakeFor, wakeRunner } from './ensure-runner.js';
import { deleteJob } from '../core/actions.js';
import { markDeleting } from '../core/deleting.js';
import { describeFailures, describeTemps, findLeftoverTemps, removeLeftoverTemps } from '../store/leftover-temps.js';

const HALF_CREATED_AGE_MS = 60_000;

/** Lost jobs, time limits, kill after grace, and a runner for whatever needs one. */
export async function superviseActiveJobs(store: Store, now = Date.now()): Promise<string[]> {
  const lines: string[] = [];
  let wake: RunnerWake | undefined;
  // The files of jobs that look ended are read before the lock is taken (job-files.ts); a
  // job that ends between this look and the transaction is left for the runner started
  // below (or the next tick).
  const facts = new Map<string, EndFacts>();
  const seen = store.readState();
  if (!runnerAlive(seen)) {
    for (const [id, hot] of Object.entries(seen.jobs)) {
      if (hot.phase === 'EXECUTING' && hot.pid !== null && !isProcessAlive(hot.pid, hot.pidStart)) {
        facts.set(id, gatherEndFacts(store.layout, id));
      }
    }
  }
  store.update((tx) => {
    const supervised = runnerAlive(tx.state);

    for (const id of tx.activeJobIds()) {
      const job = tx.getJob(id);
      if (!job) {
        delete tx.state.jobs[id];
        lines.push(`job ${id}: removed a state entry without a job record`);
        continue;
      }
      if (job.phase !== 'EXECUTING') continue;
      const say = (line: string) => lines.push(line);
      if (!supervised && job.pid !== null && !isProcessAlive(job.pid, job.pidStart)) {
        const known = facts.get(id);
        if (known && recordEnd(tx, id, undefined, known, { say, now })) continue;
        if (tx.state.jobs[id]?.leftoverSince) continue;
        // Ended after the look above: recorded by the runner woken below, never aborted here.
        if (!known && !job.abortRequested) continue;
      }
      const did = enforceTimeLimits(tx, job, now);
      if (did) lines.push(did);
    }
    lines.push(...resumeNotifications(tx));
    // Jobs retried here (run/retry.ts) are queued by this transaction: their entries are not written yet.
    const needy = jobsNeedingRunner(tx.state, tx.layout) + (tx.requeued ? 1 : 0);
    if (needy > 0) {
      wake = runnerWakeFor(tx);
      if ('spawn' in wake) lines.push(`started a runner for ${needy} queued or executing job${needy === 1 ? '' : 's'}`);
    }
  });
  // What tick did to jobs is part of the night's story too.
  for (const line of lines) appendRunnerLog(store.layout, `tick: ${line}`);
  if (wake) await wakeRunner(store.home, wake);
  return lines;
}

/**
 * Removes a final job's files but keeps its record, as ARCHIVED, if it is still `due`. Under
 * the lock the files are only moved aside (one rename each, as `delete` does); removing them,
 * which may take long, happens after the lock is released.
 */
function archiveJob(store: Store, jobId: string, due: (job: JobRecord) => boolean): boolean {
  const aside = join(store.layout.trashDir, `${jobId}.archived.${process.pid}.${Date.now()}`);
  const archived = store.update((tx) => {
    const job = tx.getJob(jobId);
    if (!job || !due(job) || !isFinal(job.phase) || job.phase === 'ARCHIVED') return false;
    const record: JobRecord = { ...job, phase: applyTransition(job, 'archive').to, results: [] };
    tx.finish(record);
    // Its record lives on in records/ID; the job's directory goes entirely: moved aside here
    // (one rename), removed after the lock is released.
    mkdirSync(tx.layout.trashDir, { recursive: true, mode: 0o700 });
    try {
      renameSync(tx.layout.jobDir(jobId), aside);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    return true;
  });
  rmSync(aside, { recursive: true, force: true });
  return archived;
}

export async function destroyExpiredJobs(store: Store, now = Date.now()): Promise<string[]> {
  const lines: string[] = [];
  // Judged from a listing, then again by every step under the lock: a job whose destruction
  // was moved meanwhile is left alone, one already gone is done.
  const due = (job: JobRecord): boolean => job.destruction !== null && Date.parse(job.destruction) <= now && job.phase !== 'ARCHIVED';
  for (const seen of store.listJobs()) {
    if (!due(seen)) continue;
    // Deleted after its abort: its waiters are told so (core/deleting.ts); the marker goes
    // with the record, or is removed here when the job is left alone after all.
    const unmark = !isFinal(seen.phase) && !seen.archive ? markDeleting(store.layout, seen.jobId) : () => {};
    try {
      if (!isFinal(seen.phase)) await abortJob(store, seen.jobId, due);
      if (seen.archive) {
        if (archiveJob(store, seen.jobId, due)) lines.push(`job ${seen.jobId}: destruction time passed: archived`);
      } else if (await deleteJob(store, seen.jobId, due)) {
        lines.push(`job ${seen.jobId}: destruction time passed: deleted`);
      } else {
        unmark();
      }
    } catch (err) {
      unmark();
      if (err instanceof UserError && err.exitCode === EXIT.noSuchJob) continue; // destroyed by someone else
      if (!(err instanceof UserError && err.exitCode === EXIT.notAllowed)) throw err;
    }
  }
  return lines;
}

function everRan(store: Store, id: string): boolean {
  const size = (file: string) => {
    try {
      return statSync(file).size;
    } catch {
      return 0;
    }
  };
  return existsSync(store.layout.startMarker(id)) || size(store.layout.stdoutLog(id)) > 0 || size(store.layout.stderrLog(id)) > 0
    || readdirSafe(store.layout.resultsDir(id)).length > 0;
}

/** A directory's mtime; 0 when it is not there. */
const mtimeMs = (path: string): number => {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return 0;
  }
};

const readdirSafe = (dir: string): string[] => {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
};

/**
 * After a state file was restored from an older copy: a job it shows as PENDING, QUEUED or
 * EXECUTING whose wrapper already wrote how it ended is recorded as ended, never run again.
 */
export function recordEndsFromExitFiles(store: Store): string[] {
  const lines: string[] = [];
  const facts = new Map<string, EndFacts>();
  const ids = [...Object.keys(store.readState().jobs), ...readEntries(store.layout).map((e) => e.jobId)];
  for (const id of ids) {
    if (readExitFile(store.layout, id)) facts.set(id, gatherEndFacts(store.layout, id));
  }
  store.update((tx) => {
    const queued = readEntries(tx.layout).map((e) => e.jobId).filter((id) => !tx.state.jobs[id]);
    for (const id of [...tx.activeJobIds(), ...queued]) {
      const known = facts.get(id);
      const job = tx.getJob(id);
      if (!job || !known || isFinal(job.phase) || !readExitFile(tx.layout, id)) continue;
      if (job.phase !== 'EXECUTING') tx.putHot({ ...job, phase: applyTransition({ ...job, phase: 'QUEUED' }, 'start').to });
      recordEnd(tx, id, undefined, known);
      lines.push(`job ${id}: had already ended: ${tx.getJob(id)?.phase ?? 'gone'}`);
    }
  });
  return lines;
}

/** Job directories that no job owns: a submit killed half-way, or a delete interrupted. */
export function findHalfCreated(store: Store, now = Date.now()): string[] {
  const state = store.readState();
  // A submit creates records/ID first, then jobs/ID: either may be there alone.
  const names = new Set([...readdirSafe(store.layout.recordsDir), ...readdirSafe(store.layout.jobsDir)]);
  return [...names].filter((id) => {
    if (!isJobId(id) || state.jobs[id] || state.finished[id]) return false;
    let rec;
    try {
      rec = store.readJobFile(id);
    } catch (err) {
      // A damaged record is the operator's to judge (doctor names it; delete removes it).
      if (err instanceof DamagedRecordError) return false;
      throw err;
    }
    if (rec && isFinal(rec.phase)) return false;
    // A PENDING or QUEUED job (its record is all it has), or one of a submit still writing.
    if (rec && store.jobFrom(state, id)) return false;
    if (rec && liveBatchOf(state, rec.seq)) return false;
    // A directory in which a job ran is never taken for a half-created one, whatever the
    // state says: its output is somebody's data.
    if (everRan(store, id)) return false;
    try {
      return now - Math.max(mtimeMs(store.layout.recordDir(id)), mtimeMs(store.layout.jobDir(id))) > HALF_CREATED_AGE_MS;
    } catch {
      return false;
    }
  });
}

/** Whether `seq` belongs to a submit in progress whose process is still alive. */
function liveBatchOf(state: StateData, seq: number): boolean {
  return Object.values(state.batches).some((b) => seq >= b.seqFrom && seq <= b.seqTo && isProcessAlive(b.pid, b.pidStart));
}

/**
 * Reservations of submits that died half-way (see core/submit.ts): their jobs are removed
 * (found by their records' seq, outside the lock; moved to trash under it), then their
 * queue entries, and only then the reservation, which would otherwise make them visible.
 */
export function dropDeadBatches(store: Store): string[] {
  // A submit that died inside its one turn left its places in the turn file: the next
  // transaction makes them a reservation (Transaction.adoptLeftTurn), which is dropped here.
  if (existsSync(store.layout.turnFile)) store.update(() => undefined);
  const dead = Object.entries(store.readState().batches).filter(([, b]) => !isProcessAlive(b.pid, b.pidStart));
  if (dead.length === 0) return [];
  const ids = new Map<string, string[]>(dead.map(([name]) => [name, []]));
  for (const id of readdirSafe(store.layout.recordsDir)) {
    if (!isJobId(id)) continue;
    let rec;
    try {
      rec = store.readJobFile(id);
    } catch {
      continue;
    }
    const hit = rec && dead.find(([, b]) => rec.seq >= b.seqFrom && rec.seq <= b.seqTo);
    if (hit) ids.get(hit[0])!.push(id);
  }
  const lines: string[] = [];
  const trash: string[] = [];
  store.update((tx) => {
    for (const [name, b] of dead) {
      const now = tx.state.batches[name];
      if (!now || now.pid !== b.pid || isProcessAlive(b.pid, b.pidStart)) continue;
      mkdirSync(tx.layout.trashDir, { recursive: true, mode: 0o700 });
      for (const id of ids.get(name)!) {
        const to = join(tx.layout.trashDir, `${id}.${process.pid}.${Date.now()}`);
        // Both its directories: the job's own and uwsrun's record of it.
        let moved = false;
        for (const [from, name] of [[tx.layout.jobDir(id), 'job'], [tx.layout.recordDir(id), 'record']] as const) {
          try {
            mkdirSync(to, { recursive: true, mode: 0o700 });
            renameSync(from, join(to, name));
            moved = true;
          } catch { /* gone already */ }
        }
        if (moved) {
          trash.push(to);
          lines.push(`removed half-created job directory ${id} (of a submit that died half-way)`);
        }
      }
      for (const e of readEntries(tx.layout)) {
        if (e.queuedAt >= b.queueFrom && e.queuedAt <= b.queueTo) removeEntry(tx.layout, e.name);
      }
      delete tx.state.batches[name];
      lines.push(`dropped the reservation of a submit that died half-way (pid ${b.pid})`);
    }
  });
  for (const dir of trash) rmSync(dir, { recursive: true, force: true });
  return lines;
}

export function removeHalfCreated(store: Store, now = Date.now()): string[] {
  const lines: string[] = dropDeadBatches(store);
  for (const id of findHalfCreated(store, now)) {
    // Checked again under the lock: a submit may have finished meanwhile.
    const removed = store.update((tx) => {
      if (tx.state.jobs[id] || tx.getJob(id)) return false;
      rmSync(tx.layout.jobDir(id), { recursive: true, force: true });
      rmSync(tx.layout.recordDir(id), { recursive: true, force: true });
      return true;
    });
    if (removed) lines.push(`removed half-created job directory ${id}`);
  }
  try {
    for (const name of readdirSync(store.layout.trashDir)) {
      // Named ID[.archived].PID.MS: a delete or archive still at work removes its own.
      if (now - Number(name.split('.').at(-1)) < HALF_CREATED_AGE_MS) continue;
      rmSync(join(store.layout.trashDir, name), { recursive: true, force: true });
      lines.push(`removed the remains of deleted job ${name.split('.')[0]}`);
    }
  } catch { /* no trash */ }
  return lines;
}

/** A runner that is alive but no longer beats is killed; the next step starts another. */
export async function replaceStalledRunner(store: Store): Promise<string[]> {
  const stall = runnerStall(store.layout, store.readState());
  if (!stall) return [];
  const did = await killStalledRunner(stall);
  return [`${describeStall(stall)}: ${did}; replaced by a new runner, which adopts its jobs`];
}

/**
 * Temp files of writers that were killed, in the directories tick looks at (HOME and its
 * cache), removed without the lock (store/leftover-temps.ts says why that is safe).
 */
export function removeKilledWritersTemps(store: Store, now = Date.now()): string[] {
  const found = findLeftoverTemps(store.layout, false, now);
  if (found.length === 0) return [];
  const done = removeLeftoverTemps(found, now);
  const lines: string[] = [];
  if (done.count > 0) lines.push(`removed ${describeTemps(done.count, done.bytes)} left by writers that were killed`);
  if (done.failed.length > 0) {
    lines.push(`could not remove ${done.failed.length} temp file${done.failed.length === 1 ? '' : 's'} left by killed writers (${describeFailures(done.failed)})`);
  }
  return lines;
}

export async function tick(store: Store): Promise<string[]> {
  if (!store.layout.exists()) return [];
  return [
    ...(await replaceStalledRunner(store)),
    ...(await superviseActiveJobs(store)),
    ...(await destroyExpiredJobs(store)),
    ...removeHalfCreated(store),
    ...removeKilledWritersTemps(store),
  ];
}
