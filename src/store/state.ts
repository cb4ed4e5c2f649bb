// The state store. state.json (lowdb, through DurableJsonAdapter) holds only what changes
// often and stays small however many jobs wait: the HOME-wide limit, the runner's identity,
// the counters, the submits in progress, one small "hot" entry per EXECUTING job, and the
// final records of at most a few dozen jobs that ended recently. Each job's full record is
// records/ID/job.json; a PENDING, QUEUED or HELD job's phase and queue place are in it too (putHot
// writes them there), and a QUEUED job also has an entry in HOME/queue/ (queue-dir.ts), so
// 100,000 queued jobs cost every command nothing. A job that ends gets its final record
// in `finished` (one state write, which its end needed anyway); records are moved from
// there into their job.json in batches (migrateFinished: write all, fsync all, then drop
// them from state), so a queue of short jobs costs one durable write per batch of endings.
// HOME/index lists job ids in creation order (fixed-width lines, line N-1 = seq N), so
// `list --last N` reads its tail only.
//
// Reading needs no lock (every file is replaced by rename, so a reader sees a whole file);
// every read-modify-write runs in update() under the inter-process lock.
// A job exists when state.json has a hot entry or a finished record for it, or when its
// job.json is final, or PENDING/QUEUED with a seq given out (at most state.seq) and outside
// every submit still in progress (`batches`: a big submit reserves its seq range there
// first, writes its jobs, and removes the reservation as its commit; a small one writes its
// jobs inside its one turn at the lock, and the state write that advances state.seq past
// them is its commit). Writers keep that true by ordering: job.json is durable before a hot
// entry is added, a final job.json is durable before the finished record is dropped, and a
// queue entry is durable before job.json says QUEUED. A job.json that is not final and not
// visible is a submit that died half-way: invisible, and removed by `tick`. A submit that
// died inside its turn left HOME/state.turn (its seq and queue places): the next holder of
// the lock turns it into a reservation of a dead submit (Transaction.adoptLeftTurn), so
// those places are never given again and `tick` removes what it wrote.

import {
  closeSync, constants, existsSync, fdatasyncSync, fstatSync, openSync, readSync, readdirSync, statSync, unlinkSync, writeFileSync,
  writeSync,
} from 'node:fs';
import { dirname } from 'node:path';
import { LowSync, type SyncAdapter } from 'lowdb';
import { DamagedRecordError, MissingRecordError, UserError, fsProblem, storeError } from '../errors.js';
import { type HotEntry, type JobRecord, isJobId, mergeHot, staleHot } from '../core/job.js';
import { isFinal } from '../core/phases.js';
import {
  type PendingFile, commitTemp, describeFsError, discardTemp, dropKeptVersions, fsyncAllAsync, fsyncDir, fsyncDirAsync, readOwnFile,
  replaceKeepingOld, writeAll, writeFileDurable, writeFileDurableAsync, writeTemp,
} from './durable.js';
import { HomeLayout } from './home.js';
import { acquireLock } from './lock.js';
import { type QueueEntry, addEntries, entryName, fsyncPath, removeEntry } from './queue-dir.js';
import { SYNCFS_FROM, syncFileSystem } from './syncfs.js';
import { isProcessAlive, processStartTime } from '../run/proc.js';

export const DEFAULT_LIMIT = 2;

export interface RunnerIdentity {
  pid: number;
  startTime: string;
}

/** A submit in progress: its jobs stay invisible until it removes this reservation. */
export interface SubmitBatch {
  pid: number;
  pidStart: string;
  /** Its jobs' seq numbers, and queue places (queueFrom > queueTo: none). */
  seqFrom: number;
  seqTo: number;
  queueFrom: number;
  queueTo: number;
}

export interface StateData {
  version: 1;
  /** 2: PENDING/QUEUED jobs in job.json, HOME/queue/ and HOME/index; 1: all in here (upgraded by begin()). */
  layout: 1 | 2;
  limit: number;
  /** Last creation sequence number given out. */
  seq: number;
  /** Last queue sequence number given out (FIFO order of `run`). */
  queueSeq: number;
  /**
   * Counts the writes that took a job out of state.json's view without a trace in it: final
   * records moved into job.json, jobs deleted. A watcher re-reads the job.json of a job it
   * does not find in state.json only when this (or queueSeq) changed (core/watch.ts).
   */
  moved: number;
  runner: RunnerIdentity | null;
  /** Submits in progress, by a name of their own (see the top comment). */
  batches: Record<string, SubmitBatch>;
  /** Hot entries of EXECUTING jobs, and of QUEUED ones handed over to Slurm. */
  jobs: Record<string, HotEntry>;
  /**
   * Since when the Slurm controller has not answered (a command failing to reach it, or
   * over 10 s), and Slurm's words; absent or null while it answers (SPEC §11: doctor).
   */
  slurmOutage?: { since: string; message: string } | null;
  /**
   * Slurm jobs of uwsrun jobs that ended ABORTED (or were deleted) before Slurm confirmed them
   * gone, by uwsrun job id: written in the transaction that made the job final, removed once
   * Slurm no longer runs or holds the job; meanwhile the runner (or the one `tick` starts)
   * sends scancel again (SPEC §11: no Slurm job is left behind). slurmJobId null: the id was
   * never learnt (aborted during its handover), cancelled by the name uwsrun-ID.
   */
  slurmCancels?: Record<string, { slurmJobId: string | null; since: string }>;
  /** Final records not yet moved into their job.json (see migrateFinished). */
  finished: Record<string, JobRecord>;
  /**
   * Notifications claimed and perhaps not yet spawned, by job id: who claimed it (run/notify.ts).
   * Absent in states written before notifications.
   */
  notifying?: Record<string, NotifyClaim>;
}

/** A notification claimed by a process (the runner, `abort`, `tick`), in the transaction that made its job final. */
export interface NotifyClaim {
  pid: number;
  pidStart: string;
  at: string;
}

const emptyState = (): StateData => ({
  version: 1, layout: 2, limit: DEFAULT_LIMIT, seq: 0, queueSeq: 0, moved: 0, runner: null, batches: {}, jobs: {}, finished: {},
});

/** Spawns a job's notifier once the lock is released (run/notify.ts registers it). */
export type Notifier = (layout: HomeLayout, job: JobRecord) => void;
let notifier: Notifier | undefined;
export const setNotifier = (fn: Notifier): void => {
  notifier = fn;
};

let ownIdentity: { pid: number; pidStart: string } | undefined;
/** This process as a claimant: pid and process start time (field 22 of /proc/PID/stat). */
export const claimant = (): { pid: number; pidStart: string } =>
  (ownIdentity ??= { pid: process.pid, pidStart: processStartTime(process.pid) ?? '' });

/** Bytes per line of HOME/index: a job id (at most 32 characters) padded, and a newline. */
const INDEX_LINE = 33;

/** PENDING, QUEUED and HELD jobs: their job.json is all they have (see the top comment). */
const waitsInRecord = (job: Pick<JobRecord, 'phase'>): boolean => job.phase === 'PENDING' || job.phase === 'QUEUED' || job.phase === 'HELD';

/**
 * Whether a job with this seq belongs to a submit still in progress (invisible): a reserved
 * range, or one beyond state.seq (a submit inside its one turn, or one that died there).
 */
export const inBatch = (state: StateData, seq: number): boolean =>
  seq > state.seq || Object.values(state.batches).some((b) => seq >= b.seqFrom && seq <= b.seqTo);

/** Whether a queue entry belongs to a submit still in progress (not to be started yet). */
export const entryInBatch = (state: StateData, e: QueueEntry): boolean =>
  e.queuedAt > state.queueSeq || Object.values(state.batches).some((b) => e.queuedAt >= b.queueFrom && e.queuedAt <= b.queueTo);

/** HOME/state.turn: a submit's places, written inside its turn before any of its files. */
export interface SubmitTurn extends SubmitBatch {
  /** Its name among `batches` should it die in the turn. */
  name: string;
}

/**
 * The turn file left by a holder of the lock that died inside its turn (only the holder
 * writes it, and removes it before it releases the lock); null when the file is there but
 * torn (its writer died writing it, before anything else); undefined when there is none.
 */
function readTurnFile(layout: HomeLayout): SubmitTurn | null | undefined {
  let text: string;
  try {
    text = readOwnFile(layout.turnFile);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  try {
    const t = JSON.parse(text) as SubmitTurn;
    return typeof t.name === 'string' && Number.isInteger(t.seqTo) && Number.isInteger(t.queueTo) ? t : null;
  } catch {
    return null;
  }
}

/** Changes whenever a transaction may have added queue entries (see QueueListing). */
export const queueRevision = (state: StateData): string => `${state.queueSeq}/${Object.keys(state.batches).join(',')}`;

/** More finished records than this in state.json are moved out by the next writer. */
export const FINISHED_BATCH = 64;
/**
 * The runner's threshold while commands wait for the lock (state.lock.want): every holder
 * reads, parses, serialises and writes state.json, and 64 final records of a draining
 * queue made it ~100 KiB, a third of a storm's CPU per hold (bench/p9-lock-storm.mjs).
 */
export const FINISHED_BATCH_CONTENDED = 16;

// The cause in words (SPEC §9: not only an errno), e.g. ENOTDIR for a HOME that is a file.
const errnoOf = (err: unknown): string => fsProblem(err);

/**
 * lowdb adapter: refuses to hand out a state it cannot parse, and writes durably. It
 * remembers the version it last read or wrote (text, object): a process that reads an
 * unchanged file again (the runner between its own writes, `wait` polling) skips the parse,
 * and a transaction learns whether it changed anything by comparing one serialisation with
 * the text it started from. "Unchanged" is judged by the text itself, never by inode, size
 * and times: ext4 reuses inode numbers at once and its timestamps are coarse (a few ms), so
 * two versions written in a burst can look alike to stat.
 */
class DurableJsonAdapter implements SyncAdapter<StateData> {
  constructor(private readonly layout: HomeLayout) {}

  private data: StateData | undefined;
  /** The text of the version read or written last ('' when none). */
  text = '';

  read(): StateData | null {
    let text: string;
    try {
      text = readOwnFile(this.layout.stateFile);
    } catch (err) {
      this.forget();
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw storeError(`cannot read state file ${this.layout.stateFile}: ${ownFileProblem(err)}`);
    }
    if (this.data && text === this.text) return this.data;
    const data = parseState(text, this.layout.stateFile);
    this.remember(text, data);
    return data;
  }

  /** After a transaction that failed half-way: the object in hand may be half-changed. */
  forget(): void {
    this.data = undefined;
    this.text = '';
  }

  private remember(text: string, data: StateData): void {
    this.text = text;
    this.data = data;
  }

  write(data: StateData): void {
    const next = this.prepare(JSON.stringify(data));
    this.commitPrepared(next, data, false);
    fsyncDir(dirname(this.layout.stateFile));
    dropKeptVersions();
  }

  /**
   * The first half of a write: the temp files of the good copy and of the state, written,
   * not synced (the caller syncs the state's with whatever else it writes, or lets
   * commitPrepared do it).
   *
   * The last good copy for `doctor --repair` is the text in hand, never a copy of the file
   * on disk (which another process may have changed since), through its own temp file and
   * rename. Its temp file is written before state.json is replaced, so a disk too full for
   * both fails the write with nothing changed, and the good copy always holds the last
   * committed state. It is not fsynced: a crash may lose its newest version, but then
   * state.json itself is whole.
   */
  prepare(text: string): PreparedState {
    this.forget();
    const good = writeTemp(this.layout.goodCopy, text);
    try {
      return { text, good, state: writeTemp(this.layout.stateFile, text) };
    } catch (err) {
      discardTemp(good);
      throw err;
    }
  }

  /**
   * The second half: renames the state's temp file over state.json (fdatasync first unless
   * `synced`; the old version is kept until the lock is released, see replaceKeepingOld),
   * then the good copy's over the good copy. The caller fsyncs HOME.
   */
  commitPrepared(next: PreparedState, data: StateData, synced: boolean): void {
    try {
      commitTemp(next.state, !synced, true);
    } catch (err) {
      discardTemp(next.good);
      throw err;
    }
    this.remember(next.text, data);
    try {
      commitTemp(next.good, false);
    } catch { /* the state is committed; the previous good copy stays whole */ }
  }
}

/** A state write between its two halves (DurableJsonAdapter.prepare). */
interface PreparedState {
  text: string;
  good: PendingFile;
  state: PendingFile;
}

const discardPrepared = (next: PreparedState): void => {
  discardTemp(next.good);
  discardTemp(next.state);
};

/**
 * The PENDING, QUEUED and HELD records a transaction changed, on their way to disk
 * (Transaction.prepareRecords): their queue entries created and each record written to a
 * temp file; then sync() makes all of it durable (with the state's temp file: one journal
 * commit for everything a transaction writes), rename() puts the records in place, and
 * syncDirs() makes the renames durable, normally after the lock is released (commitHeld).
 * Many records cost a syncfs(2) each time instead of a few fsyncs each (when the command
 * prepared it, see store/syncfs.ts).
 */
class RecordFiles {
  readonly pending: PendingFile[] = [];
  private readonly dirs = new Set<string>();

  constructor(
    private readonly layout: HomeLayout,
    private readonly many: boolean,
    private readonly queued: boolean,
    /** Files synced with them (Transaction.addNewJobs). */
    private readonly files: string[] = [],
    dirsAfter: string[] = [],
  ) {
    for (const dir of dirsAfter) this.dirs.add(dir);
  }

  /** Syncs the queue entries (before any record says QUEUED) and the temp files, `also` too. */
  sync(also: PendingFile | undefined): void {
    if (this.many && syncFileSystem(this.layout.dir)) return;
    if (this.queued) fsyncDir(this.layout.queueDir);
    for (const path of this.files) fsyncPath(path);
    for (const p of this.pending) fdatasyncSync(p.fd);
    if (also) fdatasyncSync(also.fd);
  }

  rename(): void {
    while (this.pending.length > 0) {
      const p = this.pending.shift()!;
      closeSync(p.fd);
      // A PENDING or QUEUED job's record replaced (set, run, a move in the queue): its old
      // version is freed once the lock is released.
      replaceKeepingOld(p.tmp, p.path);
      this.dirs.add(dirname(p.path));
    }
  }

  /**
   * The directories syncDirs would sync, for the caller to sync on the thread pool (see
   * Transaction.deferDirSyncs); none left when a syncfs(2) did it.
   */
  takeDirs(): string[] {
    if (this.many && syncFileSystem(this.layout.dir)) return [];
    const dirs = [...this.dirs];
    this.dirs.clear();
    return dirs;
  }

  syncDirs(): void {
    if (this.dirs.size === 0 || (this.many && syncFileSystem(this.layout.dir))) return;
    for (const dir of this.dirs) fsyncDir(dir);
    this.dirs.clear();
  }

  discard(): void {
    for (const p of this.pending.splice(0)) discardTemp(p);
  }
}

/** Why one of uwsrun's own files could not be read, in words. */
export function ownFileProblem(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ELOOP') return 'it is a symbolic link, and uwsrun never reads or writes through one (replace the link by the file itself)';
  if (code === 'ENOTREG') return 'it is not a regular file';
  return errnoOf(err);
}

export function parseState(text: string, file: string): StateData {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    throw storeError(`state file ${file} is not valid JSON; left untouched: run \`uwsrun doctor\``);
  }
  const d = data as Partial<StateData> | null;
  if (!d || typeof d !== 'object' || d.version !== 1 || typeof d.jobs !== 'object' || d.jobs === null
    || typeof d.limit !== 'number' || typeof d.seq !== 'number') {
    throw storeError(`state file ${file} does not hold a uwsrun state; left untouched: run \`uwsrun doctor\``);
  }
  // A state without `layout` was written by a uwsrun that kept PENDING and QUEUED jobs in it.
  return { ...emptyState(), layout: 1, ...d } as StateData;
}

export class Store {
  readonly layout: HomeLayout;
  private readonly db: LowSync<StateData>;
  private readonly adapter: DurableJsonAdapter;
  /**
   * A transaction that leaves more finished records than this moves them out itself, under
   * the lock: only a backstop. Two fsyncs per record (2 x 64 and more) inside the lock kept
   * every other command waiting for seconds on a busy disk; normally the runner moves them
   * in the background (Runner.migrateIfDue), or a command without a runner after its own
   * commit, outside the lock (migrateOutsideLock).
   */
  migrateAbove = 4 * FINISHED_BATCH;
  /** Whether update() moves final records out after its commit (the runner does it itself). */
  migrateAfterCommit = true;
  private migratingOutside = false;

  constructor(home: string) {
    this.layout = new HomeLayout(home);
    this.layout.upgradeIfOld();
    this.adapter = new DurableJsonAdapter(this.layout);
    this.db = new LowSync<StateData>(this.adapter, emptyState());
  }

  get home(): string {
    return this.layout.dir;
  }

  /** A snapshot of state.json, without the lock; a missing HOME reads as empty. */
  readState(): StateData {
    this.db.data = emptyState();
    this.db.read();
    return this.db.data;
  }

  /**
   * Runs body on a fresh state under the lock; writes state.json if body changed it.
   * Without `create`, a missing HOME is not created: body sees an empty state (every job
   * is unknown) and nothing is written, so a command on a bad id leaves no trace on disk.
   */
  update<T>(body: (tx: Transaction) => T, create = false): T {
    if (!create && !this.layout.exists()) return body(new Transaction(this, emptyState()));
    const held = this.begin();
    let result: T;
    try {
      result = storeErrors(this.home, () => body(held.tx));
    } catch (err) {
      held.abandon();
      throw err;
    }
    held.commit();
    if (this.migrateAfterCommit) this.migrateOutsideLock(held.tx.state);
    return result;
  }

  /**
   * Moves the final records of `state` (as just committed) into their job.json when more
   * than FINISHED_BATCH have gathered and no live runner does it: written and synced
   * without the lock, then dropped from state.json in a short transaction of their own
   * (dropMigrated keeps a record that changed meanwhile). The caller's own transaction is
   * committed by then, so a failure here changes nothing it did: it is left to the next
   * writer, and the synchronous backstop (migrateAbove) bounds state.json meanwhile.
   */
  private migrateOutsideLock(state: StateData): void {
    const finished = Object.values(state.finished);
    if (finished.length <= FINISHED_BATCH || this.migratingOutside) return;
    const runner = state.runner;
    if (runner && isProcessAlive(runner.pid, runner.startTime)) return;
    this.migratingOutside = true;
    try {
      const written = new Map<string, string | null>();
      for (const job of finished) {
        const text = JSON.stringify(job, null, 1);
        try {
          writeFileDurable(this.layout.jobFile(job.jobId), text);
          written.set(job.jobId, text);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
          written.set(job.jobId, null);
        }
      }
      this.update((tx) => tx.dropMigrated(written));
    } catch { /* see above: the next writer tries again */ } finally {
      this.migratingOutside = false;
    }
  }

  /**
   * The two halves of update(), for a caller that keeps the lock across several turns of
   * its event loop (the runner): takes the lock and reads the state (creating HOME).
   */
  begin(): HeldTransaction {
    return storeErrors(this.home, () => {
      this.layout.ensure();
      const release = this.takeHandedLock() ?? acquireLock(this.layout.lockFile);
      try {
        const state = this.readState();
        const tx = new Transaction(this, state);
        if (state.layout !== 2) tx.upgradeLayout();
        const left = readTurnFile(this.layout);
        if (left !== undefined) tx.adoptLeftTurn(left);
        return new HeldTransaction(tx, this.adapter.text, release);
      } catch (err) {
        this.adapter.forget();
        release();
        throw err;
      }
    });
  }

  private handedLock: (() => void) | undefined;

  /**
   * A lock taken beforehand without blocking (lock.ts acquireLockAsync, by `uwsrun serve`)
   * for the next transaction to use instead of waiting for its own. Returns the function
   * that releases it if no transaction took it: call that before the next await.
   */
  handOverLock(release: () => void): () => void {
    this.handedLock = release;
    return () => {
      const unused = this.takeHandedLock();
      unused?.();
    };
  }

  /**
   * Set by a process that must never sleep on the lock (`uwsrun serve`): how to take it
   * without blocking. Core functions that make a transaction after an await (submit's
   * commit, delete after its abort, abort's wait) call lockAhead() right before it, so
   * that transaction, too, finds its lock ready instead of waiting synchronously.
   */
  takeLockAsync: (() => Promise<() => void>) | undefined;

  /**
   * See takeLockAsync; for the CLI, which may sleep on the lock, nothing. Undefined (not a
   * promise) when there is nothing to wait for, so a caller whose lock was handed over can
   * go on without awaiting: an await would let the server release the unused lock first.
   */
  lockAhead(): Promise<void> | undefined {
    if (!this.takeLockAsync || this.handedLock) return undefined;
    return this.takeLockAsync().then((release) => {
      if (this.handedLock) release();
      else this.handedLock = release;
    });
  }

  private takeHandedLock(): (() => void) | undefined {
    const release = this.handedLock;
    this.handedLock = undefined;
    return release;
  }

  /**
   * Writes what `held` changed and releases the lock: its records (Transaction.
   * prepareRecords) and state.json, with one sync for the data of all of them, then the
   * renames; and only after the lock is released the fsyncs of the directories that make
   * the renames durable. Every sync under the lock is a journal commit that every waiter
   * waits for, and on a loaded machine each of them costs the holder its turn on the CPU
   * as well: a transaction that wrote a record and the state had made three of them inside
   * the lock, now one. This is safe because nothing is reported before commitHeld returns,
   * and the directory fsyncs make durable whatever the directories hold by then: ours, or
   * a later writer's, which read ours under the lock and so contains it. A transaction
   * whose state stops naming a job whose record takes over (Transaction.recordsFirst)
   * syncs its records' directories under the lock. afterCommit steps (they must follow a
   * durable commit: a queue entry goes only once the state that took its job out of the
   * queue is on disk) run after the lock is released, once the directory fsyncs are done
   * (on this thread then, also for a caller that defers them): every start of the runner
   * has one, and the fsync of HOME they waited for had been a second journal commit inside
   * every such hold. Meanwhile others may see the queue entry of a job that left the queue,
   * as after a crash: every reader takes an entry whose job is not QUEUED at that place for
   * stale (a job queued again gets a new place, so never the same entry name).
   */
  commitHeld(held: HeldTransaction): void {
    let written = false;
    let committed = false;
    let records: RecordFiles | undefined;
    let next: PreparedState | undefined;
    try {
      storeErrors(this.home, () => {
        const { tx } = held;
        const state = tx.state;
        if (Object.keys(state.finished).length > this.migrateAbove) tx.migrateFinished();
        const after = JSON.stringify(state);
        records = tx.prepareRecords();
        if (after !== held.before) next = this.adapter.prepare(after);
        records?.sync(next?.state);
        records?.rename();
        if (tx.recordsFirst) records?.syncDirs();
        if (next) {
          if (tx.turnFileDone) dieForTest('UWSRUN_TEST_KILL_BEFORE_COMMIT');
          this.db.data = state;
          const committing = next;
          next = undefined;
          this.adapter.commitPrepared(committing, state, records !== undefined);
          written = true;
        }
        // Before the lock is released: the next holder must not take it for a dead one's.
        if (tx.turnFileDone) removeTurnFile(this.layout);
        committed = true;
      });
    } catch (err) {
      records?.discard();
      if (next) discardPrepared(next);
      this.adapter.forget();
      throw err;
    } finally {
      // Still under the lock: state.json is now the version this transaction read or wrote
      // (the adapter's text; a reader without the lock may replace that later, hence a copy).
      this.textAtRelease = committed ? this.adapter.text : '';
      held.release();
      dropKeptVersions();
    }
    storeErrors(this.home, () => {
      const { tx } = held;
      const steps = tx.afterCommit.splice(0);
      if (tx.deferDirSyncs && steps.length === 0) {
        tx.deferDirSyncs = records?.takeDirs() ?? [];
        if (written) tx.deferDirSyncs.push(this.layout.dir);
        return;
      }
      records?.syncDirs();
      if (written) fsyncDir(this.layout.dir);
      if (tx.deferDirSyncs) tx.deferDirSyncs = [];
      for (const step of steps) step();
    });
    for (const step of held.tx.afterUnlock.splice(0)) {
      try {
        step();
      } catch { /* clean-ups only: what they leave, tick removes */ }
    }
  }

  /** Releases the lock without writing; the state in hand may be half-changed: forgotten. */
  abandonHeld(held: HeldTransaction): void {
    this.textAtRelease = '';
    this.adapter.forget();
    held.release();
  }

  /** The text of state.json as the last commitHeld left it (taken under the lock); '': unknown. */
  private textAtRelease = '';

  /**
   * Whether state.json is still the version the last commitHeld of this process read or
   * wrote: nobody has committed since. Judged by the text, as DurableJsonAdapter judges
   * "unchanged" (inode, size and times can look alike for two versions written in a burst);
   * read without the lock, one read of the file and no parse. False when unknown or unreadable.
   */
  unchangedSinceRelease(): boolean {
    if (this.textAtRelease === '') return false;
    try {
      return readOwnFile(this.layout.stateFile) === this.textAtRelease;
    } catch {
      return false;
    }
  }

  /**
   * The first half of migrateFinished, off the caller's thread (the runner's): the records
   * given, a snapshot of `finished`, are written and synced in parallel on the thread pool.
   * Returns what was written, for Transaction.dropMigrated; null for a job deleted meanwhile.
   */
  async writeFinishedRecords(records: JobRecord[]): Promise<Map<string, string | null>> {
    const written = new Map<string, string | null>();
    await Promise.all(records.map(async (job) => {
      const text = JSON.stringify(job, null, 1);
      try {
        await writeFileDurableAsync(this.layout.jobFile(job.jobId), text);
        await fsyncDirAsync(this.layout.recordDir(job.jobId));
        written.set(job.jobId, text);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
        written.set(job.jobId, null);
      }
    }));
    return written;
  }

  readJobFile(jobId: string): JobRecord | undefined {
    let text: string;
    try {
      text = readOwnFile(this.layout.jobFile(jobId));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return undefined;
      throw storeError(`cannot read job record ${this.layout.jobFile(jobId)}: ${ownFileProblem(err)}`);
    }
    try {
      return JSON.parse(text) as JobRecord;
    } catch {
      throw new DamagedRecordError(jobId, this.layout.jobFile(jobId));
    }
  }

  writeJobFile(job: JobRecord): void {
    writeFileDurable(this.layout.jobFile(job.jobId), JSON.stringify(job, null, 1));
  }

  /** The merged view of one job, or undefined when it does not exist (see the top comment). */
  jobFrom(state: StateData, jobId: string): JobRecord | undefined {
    const done = state.finished[jobId];
    if (done) return done;
    const hot = state.jobs[jobId];
    const file = this.readJobFile(jobId);
    if (!file) return undefined;
    if (isFinal(file.phase)) return file;
    if (hot) return mergeHot(file, hot);
    return waitsInRecord(file) && file.seq > 0 && !inBatch(state, file.seq) ? file : undefined;
  }

  getJob(jobId: string): JobRecord | undefined {
    return this.jobFrom(this.readState(), jobId);
  }

  /**
   * Writes the index lines of jobs seq `from`, from + 1, ... (a reserved range: no other
   * process writes there), synced unless the caller syncs the file system.
   */
  writeIndex(from: number, jobIds: string[], sync: boolean): void {
    if (jobIds.length === 0) return;
    const text = jobIds.map((id) => `${id.padEnd(INDEX_LINE - 1)}\n`).join('');
    // Positioned writes: no O_APPEND.
    const out = openSync(this.layout.indexFile, constants.O_WRONLY | constants.O_CREAT | constants.O_NOFOLLOW, 0o600);
    try {
      const buf = Buffer.from(text, 'latin1');
      let done = 0;
      while (done < buf.length) done += writeSync(out, buf, done, buf.length - done, (from - 1) * INDEX_LINE + done);
      if (sync) fdatasyncSync(out);
    } finally {
      closeSync(out);
    }
  }

  /**
   * How many seq numbers HOME/index has lines for: every seq ever reserved whose submit got
   * as far as writing its jobs. Never less than state.seq in a sound HOME, but more after a
   * state restored from an older good copy (`doctor --repair`): new seq numbers start above
   * both, so no index line (no job's place in `list --last`) is ever given twice.
   */
  indexedSeqs(): number {
    try {
      return Math.floor(statSync(this.layout.indexFile).size / INDEX_LINE);
    } catch {
      return 0;
    }
  }

  /**
   * The last `n` existing jobs that `accept` keeps, oldest first, read from the tail of
   * HOME/index: O(n + jobs skipped), not O(all jobs). Undefined when HOME has no index
   * (made by an older uwsrun): the caller lists every job instead.
   */
  lastJobs(n: number, accept: (job: JobRecord) => boolean, state: StateData = this.readState(), damaged: DamagedRecordError[] = []): JobRecord[] | undefined {
    let fd: number;
    try {
      fd = openSync(this.layout.indexFile, 'r');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return state.seq === 0 ? [] : undefined;
      throw storeError(`cannot read ${this.layout.indexFile}: ${errnoOf(err)}`);
    }
    const found: JobRecord[] = [];
    try {
      // The whole file, not up to state.seq: lines of submits in progress are invisible
      // anyway (jobFrom), and a state restored from an older copy must not hide newer jobs.
      let end = Math.floor(fstatSync(fd).size / INDEX_LINE);
      const chunk = Buffer.alloc(INDEX_LINE * 256);
      while (end > 0 && found.length < n) {
        const start = Math.max(0, end - 256);
        const len = (end - start) * INDEX_LINE;
        let got = 0;
        while (got < len) {
          const r = readSync(fd, chunk, got, len - got, start * INDEX_LINE + got);
          if (r === 0) break;
          got += r;
        }
        for (let line = end - start - 1; line >= 0 && found.length < n; line--) {
          const id = chunk.toString('latin1', line * INDEX_LINE, (line + 1) * INDEX_LINE - 1).trim();
          if (!isJobId(id)) continue;
          const job = this.jobOrDamaged(state, id, damaged);
          if (job && accept(job)) found.push(job);
        }
        end = start;
      }
    } finally {
      closeSync(fd);
    }
    return found.reverse();
  }

  /**
   * Whether the record directory of `id` has lost its job.json: not while a submit is in
   * progress, which creates the directory first and writes job.json after. Judged on a fresh
   * read of state.json taken after the directory was seen without it: a submit that began
   * after the caller's snapshot shows there, and one that has ended has written job.json (or
   * removed the directory) by then. Rare, so the extra read costs a listing nothing.
   */
  private recordMissing(id: string): boolean {
    if (existsSync(this.layout.jobFile(id)) || !existsSync(this.layout.recordDir(id))) return false;
    // Nothing there but temp files of its job.json: a one-turn submit made it before the
    // lock (core/submit.ts prepareNewRecords) and has not committed, or died before it
    // (tick removes such a directory as half-created). Never a job that existed.
    if (onlyRecordTemps(this.layout.recordDir(id))) return false;
    let fresh: StateData;
    try {
      fresh = parseState(readOwnFile(this.layout.stateFile), this.layout.stateFile);
    } catch {
      return false; // an unreadable state is reported by itself
    }
    return Object.keys(fresh.batches).length === 0 && !existsSync(this.layout.turnFile) && !existsSync(this.layout.jobFile(id))
      && existsSync(this.layout.recordDir(id));
  }

  /**
   * Every existing job, oldest first. O(number of job records). A job whose record is
   * damaged is left out (and added to `damaged`, for the caller to name): one bad record
   * must not stop a command about all jobs (SPEC §8).
   */
  listJobs(state: StateData = this.readState(), damaged: DamagedRecordError[] = []): JobRecord[] {
    let ids: string[];
    try {
      ids = readdirSync(this.layout.recordsDir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw storeError(`cannot read ${this.layout.recordsDir}: ${errnoOf(err)}`);
    }
    const jobs: JobRecord[] = [];
    for (const id of ids) {
      if (!isJobId(id)) continue;
      const job = this.jobOrDamaged(state, id, damaged);
      if (job) jobs.push(job);
    }
    return jobs.sort((a, b) => a.seq - b.seq);
  }

  private jobOrDamaged(state: StateData, id: string, damaged: DamagedRecordError[]): JobRecord | undefined {
    try {
      const job = this.jobFrom(state, id);
      if (!job && this.recordMissing(id)) damaged.push(new MissingRecordError(id, this.layout.jobFile(id)));
      return job;
    } catch (err) {
      if (!(err instanceof DamagedRecordError)) throw err;
      damaged.push(err);
      return undefined;
    }
  }
}

/** Whether `dir` holds temp files of a job.json (durable.ts tempName) and nothing else. */
function onlyRecordTemps(dir: string): boolean {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return false;
  }
  return names.length > 0 && names.every((name) => name.startsWith('.job.json.') && name.endsWith('.tmp'));
}

/** The directories a commit left to its caller (Transaction.deferDirSyncs), synced at once on the thread pool. */
export async function syncDirsAsync(tx: Transaction): Promise<void> {
  const dirs = Array.isArray(tx.deferDirSyncs) ? tx.deferDirSyncs : [];
  tx.deferDirSyncs = false;
  try {
    await fsyncAllAsync(dirs);
  } catch (err) {
    throw storeError(describeFsError(err, tx.store.home));
  }
}

const removeTurnFile = (layout: HomeLayout): void => {
  try {
    unlinkSync(layout.turnFile);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
};

/**
 * Tests only: the process SIGKILLs itself at a named point when the environment variable
 * `name` is set (a real kill -9 at a moment a random delay rarely hits).
 */
export function dieForTest(name: string): void {
  if (process.env[name]) process.kill(process.pid, 'SIGKILL');
}

/** Store errors with an errno become exit 5 naming HOME, in words; UserErrors pass as they are. */
function storeErrors<T>(home: string, body: () => T): T {
  try {
    return body();
  } catch (err) {
    if (err instanceof UserError) throw err;
    if ((err as NodeJS.ErrnoException).code) throw storeError(describeFsError(err, home));
    throw err;
  }
}

/** A transaction whose lock is held until commit() or abandon(). */
export class HeldTransaction {
  private done = false;

  constructor(
    readonly tx: Transaction,
    /** The state's text when it was read: commit writes only when it changed. */
    readonly before: string,
    private readonly releaseLock: () => void,
  ) {}

  release(): void {
    if (this.done) return;
    this.done = true;
    this.releaseLock();
  }

  commit(): void {
    this.tx.store.commitHeld(this);
  }

  abandon(): void {
    this.tx.store.abandonHeld(this);
  }
}

/** One read-modify-write: the state as read under the lock, and the job files it touches. */
export class Transaction {
  /** What may only happen once the state is written: removing queue entries. */
  readonly afterCommit: (() => void)[] = [];
  /** What is done once the lock is released (slow clean-ups, spawning notifiers). */
  readonly afterUnlock: (() => void)[] = [];
  /** A job went back to the queue (a retry, run/retry.ts): its new queue entry is written at commit. */
  requeued = false;
  /**
   * The state written by this transaction stops naming a job (its hot entry) whose record,
   * written by it too, takes over: the record's rename is made durable before the state's,
   * so no crash can leave a job named nowhere (see commitHeld).
   */
  recordsFirst = false;
  /** PENDING and QUEUED records changed by this transaction, written at commit (prepareRecords). */
  private readonly records = new Map<string, JobRecord>();
  /** Records among them whose queue entry stays as it is (saveRecord): none to create. */
  private readonly entryKept = new Set<string>();
  /**
   * Set true by a caller that syncs the directories of the commit itself (a submit, with
   * syncDirsAsync, before it reports anything): commitHeld leaves them here instead of
   * syncing them one after the other on this thread once the lock is released, where
   * `uwsrun serve` could answer nobody meanwhile.
   */
  deferDirSyncs: boolean | string[] = false;
  /** HOME/state.turn is removed at commit: this turn wrote it, or adopted a dead holder's. */
  turnFileDone = false;
  /** Files synced with the records before the state (a submit's index lines). */
  private readonly syncFirst: string[] = [];
  /** Directories synced with the records' after the commit (records/, for new record directories). */
  private readonly dirsAfter: string[] = [];
  /** Temp files made ahead for new records (addNewJobs). */
  private newTemps: Map<string, PendingFile> | undefined;

  constructor(
    readonly store: Store,
    readonly state: StateData,
  ) {}

  get layout(): HomeLayout {
    return this.store.layout;
  }

  getJob(jobId: string): JobRecord | undefined {
    const own = this.records.get(jobId);
    if (own) return own;
    const job = this.store.jobFrom(this.state, jobId);
    const hot = this.state.jobs[jobId];
    if (job && hot && (isFinal(job.phase) || staleHot(job, hot))) {
      // A final job.json beside a hot entry, or one that queued the job's next attempt
      // (staleHot): a writer died between the two steps. (A QUEUED job handed to Slurm has
      // a hot entry of its own, which is not stale.)
      delete this.state.jobs[jobId];
    }
    return job;
  }

  /**
   * A HOME last written by a uwsrun that kept PENDING and QUEUED jobs in state.json and had
   * no index: the index is written from every job's record, and each such job's hot fields
   * go into its job.json (and queue entry) at commit, so none is stuck in the old place.
   */
  upgradeLayout(): void {
    for (const job of this.store.listJobs(this.state)) this.store.writeIndex(job.seq, [job.jobId], false);
    if (this.state.seq > 0) fsyncPath(this.layout.indexFile);
    let queued = false;
    for (const [id, hot] of Object.entries(this.state.jobs)) {
      if (hot.phase === 'EXECUTING') continue;
      const file = this.store.readJobFile(id);
      delete this.state.jobs[id];
      this.recordsFirst = true;
      if (file && !isFinal(file.phase)) this.putHot(mergeHot(file, hot));
      queued ||= hot.phase === 'QUEUED';
    }
    // A new queue revision: a runner lists HOME/queue/ again (see QueueListing).
    if (queued) this.state.queueSeq++;
    this.state.layout = 2;
  }

  /** The jobs with a hot entry: the EXECUTING ones (queued ones are in HOME/queue/). */
  activeJobIds(): string[] {
    return Object.keys(this.state.jobs);
  }

  /**
   * Records a final job in state.json's finished records; its job.json follows later. A
   * job reaching a phase its definition's notify lists gets its notification claimed here,
   * in the same write (`notified` in the record, the claim in `notifying`), and spawned by
   * this process once the lock is released (run/notify.ts).
   */
  finish(job: JobRecord): void {
    const wasHot = this.state.jobs[job.jobId] !== undefined;
    this.records.delete(job.jobId);
    const on: readonly string[] = job.definitionSnapshot?.notify?.on ?? [];
    if (!job.notified && on.includes(job.phase)) {
      const at = new Date().toISOString();
      job = { ...job, notified: at };
      this.claimNotification(job, at);
    }
    this.state.finished[job.jobId] = { ...job, pid: null, pidStart: null, abortRequested: null };
    delete this.state.jobs[job.jobId];
    if (!wasHot) this.leaveQueue(job);
  }

  /** This process claims the job's notification: it spawns it once the lock is released. */
  claimNotification(job: JobRecord, at = new Date().toISOString()): void {
    (this.state.notifying ??= {})[job.jobId] = { ...claimant(), at };
    this.afterUnlock.push(() => notifier?.(this.layout, job));
  }

  /** A job that was QUEUED (or may have been) left the queue: its entry goes once committed. */
  private leaveQueue(job: JobRecord): void {
    if (job.queuedAt === null || job.queuedAt === undefined) return;
    const name = entryName(job);
    this.afterCommit.push(() => removeEntry(this.layout, name));
  }

  /**
   * Saves a changed record where the truth about it is: finished records or job.json. A
   * final job already moved into its job.json goes back into the finished records, to be
   * moved out again in a batch: the state write costs the transaction nothing more, where
   * a job.json of its own would be two more syncs inside the lock.
   */
  saveRecord(job: JobRecord): void {
    if (this.state.finished[job.jobId] || isFinal(job.phase)) this.state.finished[job.jobId] = job;
    else if (this.records.has(job.jobId)) this.records.set(job.jobId, job);
    else if (waitsInRecord(job) && !this.state.jobs[job.jobId]) {
      // Written at commit with the state (prepareRecords); its queue place is unchanged.
      this.records.set(job.jobId, job);
      this.entryKept.add(job.jobId);
    } else this.store.writeJobFile(job);
  }

  /**
   * A submit's places for `n` new jobs in this turn (core/submit.ts), written to
   * HOME/state.turn before any of their files: seq numbers above every index line too (a
   * state restored from an older good copy must not give a newer job's line to another, see
   * indexedSeqs), and queue places when `queued`. The counters advance in this state, whose
   * write makes the jobs visible (inBatch); should the process die first, the next holder
   * finds the turn file (adoptLeftTurn).
   */
  startSubmitTurn(n: number, queued: boolean): SubmitTurn {
    const me = claimant();
    const seqFrom = Math.max(this.state.seq, this.store.indexedSeqs()) + 1;
    const turn: SubmitTurn = {
      name: `${me.pid}-${Date.now().toString(36)}-turn`,
      ...me,
      seqFrom,
      seqTo: seqFrom + n - 1,
      queueFrom: queued ? this.state.queueSeq + 1 : 1,
      queueTo: queued ? this.state.queueSeq + n : 0,
    };
    while (this.state.batches[turn.name]) turn.name += 'x';
    // Not synced: a crash of the machine loses it only together with the files written
    // after it (the file system commits its metadata in order), and those without it are
    // invisible (beyond state.seq) until tick removes them as half-created.
    writeFileSync(this.layout.turnFile, JSON.stringify(turn), { mode: 0o600, flag: 'w' });
    this.turnFileDone = true;
    this.state.seq = turn.seqTo;
    if (queued) this.state.queueSeq = turn.queueTo;
    return turn;
  }

  /**
   * New jobs of this turn (their record directories made): records, and queue entries of
   * QUEUED ones, written at commit (prepareRecords) and synced with the index lines already
   * written and the state, in one go; records/ is synced after the commit with the records'
   * own directories. `temps`: their records' temp files, created empty before the lock
   * (no inode is allocated inside it); prepareRecords takes each one it writes out of the
   * map, and the caller discards what is left in it.
   *
   * A caller that syncs the commit's directories itself before it reports anything
   * (deferDirSyncs: a submit) gets the index file among them, outside the lock: only the
   * jobs' ids wait for it, and a crash before it can cost only jobs nobody was told of their
   * line in `list --last` (never a seq: new ones start above the index and state.seq alike,
   * indexedSeqs). One fsync fewer in every submit's hold, 2 ms on a quiet disk. The queue
   * entries stay synced under the lock: a job.json that says QUEUED never outlives its entry.
   */
  addNewJobs(jobs: JobRecord[], temps?: Map<string, PendingFile>): void {
    for (const job of jobs) this.records.set(job.jobId, job);
    this.newTemps = temps;
    (this.deferDirSyncs ? this.dirsAfter : this.syncFirst).push(this.layout.indexFile);
    this.dirsAfter.push(this.layout.recordsDir);
  }

  /**
   * The turn file of a holder that died inside its turn (the lock is ours, so it is not
   * alive there): its places become a reservation in `batches`, with the counters past
   * them, so they are never given again and `tick` removes its files (dropDeadBatches) as
   * of any submit that died half-way. The file goes once this state is written. A torn one
   * (its writer died writing it) had nothing written after it: just removed.
   */
  adoptLeftTurn(left: SubmitTurn | null): void {
    this.turnFileDone = true;
    if (!left) return;
    const { name, ...batch } = left;
    this.state.batches[name] ??= batch;
    this.state.seq = Math.max(this.state.seq, batch.seqTo);
    this.state.queueSeq = Math.max(this.state.queueSeq, batch.queueTo);
  }

  /** Forgets a job entirely (delete): its hot entry and finished record. */
  forget(jobId: string): void {
    delete this.state.jobs[jobId];
    delete this.state.finished[jobId];
    if (this.state.notifying) {
      delete this.state.notifying[jobId];
      if (Object.keys(this.state.notifying).length === 0) delete this.state.notifying;
    }
    this.records.delete(jobId);
    this.state.moved++;
  }

  /**
   * Moves finished records into their job.json files: all written to temp files first,
   * then each synced and renamed, then their directories synced, and only then dropped from
   * state.json by the caller's write. A job whose directory is gone (deleted meanwhile) is
   * just dropped.
   */
  migrateFinished(): void {
    const pending: { id: string; file: PendingFile }[] = [];
    try {
      for (const [id, job] of Object.entries(this.state.finished)) {
        try {
          pending.push({ id, file: writeTemp(this.layout.jobFile(id), JSON.stringify(job, null, 1)) });
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
          delete this.state.finished[id];
        }
      }
      while (pending.length > 0) {
        commitTemp(pending[0]!.file);
        const { id } = pending.shift()!;
        fsyncDir(this.layout.recordDir(id));
        delete this.state.finished[id];
        this.state.moved++;
      }
    } finally {
      for (const p of pending) discardTemp(p.file);
    }
  }

  /**
   * The first step of writing the PENDING and QUEUED records this transaction changed,
   * before the state write that goes with them: their queue entries are created and every
   * record is written to a temp file; Store.commitHeld syncs, renames and syncs their
   * directories (RecordFiles).
   */
  prepareRecords(): RecordFiles | undefined {
    const records = [...this.records.values()];
    this.records.clear();
    if (records.length === 0) return undefined;
    const queued = records.filter((r) => r.phase === 'QUEUED' && !this.entryKept.has(r.jobId));
    this.entryKept.clear();
    addEntries(this.layout, queued, false);
    const files = new RecordFiles(this.layout, records.length >= SYNCFS_FROM, queued.length > 0, this.syncFirst.splice(0), this.dirsAfter.splice(0));
    try {
      for (const r of records) {
        const text = JSON.stringify(r, null, 1);
        const ahead = this.newTemps?.get(r.jobId);
        if (!ahead) {
          files.pending.push(writeTemp(this.layout.jobFile(r.jobId), text));
          continue;
        }
        this.newTemps!.delete(r.jobId);
        files.pending.push(ahead);
        writeAll(ahead.fd, Buffer.from(text, 'utf8'), ahead.tmp);
      }
    } catch (err) {
      files.discard();
      throw err;
    }
    return files;
  }

  /**
   * The second half of the runner's migrateFinished: drops the finished records whose
   * job.json is now durable, each only if it did not change meanwhile (`set` on a final
   * job), and those of jobs deleted meanwhile.
   */
  dropMigrated(written: Map<string, string | null>): void {
    for (const [id, text] of written) {
      const now = this.state.finished[id];
      if (!now) continue;
      if (text === null ? !existsSync(this.layout.recordDir(id)) : JSON.stringify(now, null, 1) === text) {
        delete this.state.finished[id];
        this.state.moved++;
      }
    }
  }

  /**
   * Saves the hot fields of an active job's merged record: a PENDING or QUEUED job's into
   * its job.json (a QUEUED one's queue entry first), an EXECUTING job's into state.json.
   */
  putHot(job: JobRecord, extra: Partial<HotEntry> = {}): void {
    const prev = this.state.jobs[job.jobId];
    const queuedAt = extra.queuedAt !== undefined ? extra.queuedAt : prev?.queuedAt ?? job.queuedAt ?? null;
    // A QUEUED job being (or handed) over to Slurm is active: it has a hot entry (SPEC §11).
    // (extra.handoverAt null: handed back, as by a retry, run/retry.ts.)
    const handoverAt = extra.handoverAt !== undefined ? extra.handoverAt : prev?.handoverAt ?? null;
    const handedOver = job.phase === 'QUEUED' && handoverAt !== null;
    if (waitsInRecord(job) && !handedOver) {
      if (prev) this.recordsFirst = true;
      this.entryKept.delete(job.jobId);
      this.records.set(job.jobId, { ...job, queuedAt });
      delete this.state.jobs[job.jobId];
      return;
    }
    this.records.delete(job.jobId);
    if (!prev) this.leaveQueue({ ...job, queuedAt });
    this.state.jobs[job.jobId] = {
      seq: job.seq,
      phase: job.phase,
      definition: job.definition,
      maxRunning: job.maxRunning,
      pid: job.pid,
      pidStart: job.pidStart,
      startTime: job.startTime,
      abortRequested: job.abortRequested,
      abortReason: prev?.abortReason ?? null,
      attempt: job.attempt ?? 1,
      // Only while it matters (state.json stays small with many active jobs).
      ...(prev?.leftoverSince ? { leftoverSince: prev.leftoverSince } : {}),
      ...(job.executor === 'slurm' ? { executor: 'slurm' as const, slurmJobId: job.slurmJobId ?? null, handoverAt: prev?.handoverAt ?? null } : {}),
      ...extra,
      queuedAt,
    };
  }
}
