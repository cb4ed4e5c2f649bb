// `doctor`: checks a HOME and, with repair, fixes what it safely can. Each check reports a
// sentence "ok: ...", "problem: ..." (saying what `doctor --repair` would do, when it can
// fix it) or "repaired: ..."; the caller exits 1 when a problem was left unrepaired.
//
// Strays (processes of this HOME's jobs that no job may own any more) are what --repair
// kills, so they are judged where no job can start meanwhile: under the lock (jobs start
// only inside the runner's transactions). Every non-final job's processes are legitimate,
// whatever its phase (a QUEUED job may have been started by a runner that died); a process
// is a stray only when its job is final or gone, and each is re-checked (same process,
// still of that job) right before its SIGKILL. Without --repair the lock is not taken: the
// processes are listed first and the state read after, so a job that started in between
// is in the state that judges it.

import { existsSync, readFileSync, statSync } from 'node:fs';
import type { Store } from '../store/state.js';
import { parseState } from '../store/state.js';
import { readOwnFile, writeFileDurable } from '../store/durable.js';
import { type ProcStat, isProcessAlive, listProcesses, signalProcess } from './proc.js';
import { removeStaleLock, staleLockContent } from '../store/lock.js';
import { readEntries } from '../store/queue-dir.js';
import { PERL } from '../executors/local/launcher.js';
import { runnerAlive } from './ensure-runner.js';
import { findHalfCreated, recordEndsFromExitFiles, removeHalfCreated, superviseActiveJobs } from './housekeeping.js';
import { describeFailures, describeTemps, findLeftoverTemps, removeLeftoverTemps } from '../store/leftover-temps.js';
import { describeStall, killStalledRunner, runnerStall } from './runner-stall.js';
import { isFinal } from '../core/phases.js';
import { type OutageKind, outageKind } from '../executors/slurm/facts.js';
import type { JobRecord } from '../core/job.js';
import type { StateData } from '../store/state.js';
import type { DamagedRecordError } from '../errors.js';

export interface DoctorReport {
  lines: string[];
  unrepaired: number;
  /** For `doctor --json`: each problem left, and each repaired with what was done. */
  problems: string[];
  repaired: string[];
}

export async function doctor(store: Store, repair: boolean): Promise<DoctorReport> {
  const lines: string[] = [];
  let unrepaired = 0;
  // A problem is a sentence; `fix` does the repair and returns what it did, in words.
  const problems: string[] = [];
  const repaired: string[] = [];
  const problem = (text: string, fix?: () => string) => {
    if (repair && fix) {
      const done = `${text}; ${fix()}.`;
      repaired.push(done);
      lines.push(`repaired: ${done}`);
    } else {
      problems.push(`${text}.`);
      lines.push(`problem: ${text}.${fix ? ' `uwsrun doctor --repair` fixes this.' : ''}`);
      unrepaired++;
    }
  };
  const layout = store.layout;
  if (!layout.exists() && existsSync(layout.dir)) {
    problem(`the HOME ${layout.dir} is not a directory, so no command can use it; move it away or give another --home`);
    return { lines, unrepaired, problems, repaired };
  }
  if (!layout.exists()) {
    return { lines: [`ok: the HOME ${layout.dir} does not exist yet; there is nothing to check.`], unrepaired: 0, problems, repaired };
  }
  try {
    layout.checkOwnership();
    // Writable by others is refused (checkOwnership); readable is allowed, but then not private.
    const mode = statSync(layout.dir).mode & 0o777;
    lines.push((mode & 0o077) === 0
      ? `ok: the HOME ${layout.dir} is yours and private.`
      : `ok: the HOME ${layout.dir} is yours, but others may read it (mode ${mode.toString(8)}): its jobs' parameters, logs and results too; chmod 700 ${layout.dir} keeps them private.`);
  } catch (err) {
    problem((err as Error).message);
  }

  // Every job's wrapper is Perl (wrapper.ts); without it queued jobs cannot start.
  if (!existsSync(PERL)) problem(`${PERL} is missing, so no job can start; install Debian's perl-base`);

  // The lock: its holder's pid and start time tell whether anyone alive holds it.
  const stale = staleLockContent(layout.lockFile);
  if (stale !== undefined) {
    const holder = stale.trim().split(' ')[0];
    problem(`the lock ${layout.lockFile} is stale: ${holder ? `its holder, process ${holder}, is gone` : 'its holder is unknown'}`, () =>
      (removeStaleLock(layout.lockFile) ? 'it was removed' : 'it was left alone: it was released or taken by a live process meanwhile'));
  } else {
    let holder = '';
    try {
      holder = readFileSync(layout.lockFile, 'utf8');
    } catch { /* no lock */ }
    const m = /^(\d+) \d+$/.exec(holder.trim());
    if (m) lines.push(`ok: the lock is held by process ${m[1]}, which is alive.`);
  }

  // The state file.
  let readable = true;
  try {
    const state = store.readState();
    lines.push(`ok: the state file is readable: ${count(Object.keys(state.jobs).length, 'active job', 'active jobs')}, limit ${state.limit}.`);
  } catch (err) {
    readable = false;
    const restore = (): string => {
      const good = parseState(readOwnFile(layout.goodCopy), layout.goodCopy);
      const advanced = advanceRestoredState(store, good);
      writeFileDurable(layout.stateFile, JSON.stringify(good));
      readable = true;
      const ended = recordEndsFromExitFiles(store);
      return `it was restored from the last good copy ${layout.goodCopy}${advanced.map((a) => `; ${a}`).join('')}${ended.length ? `; ${ended.join('; ')}` : ''}`;
    };
    let goodUsable = false;
    try {
      parseState(readOwnFile(layout.goodCopy), layout.goodCopy);
      goodUsable = true;
    } catch { /* no usable copy */ }
    // The store's message tells people to run doctor; here, doctor says what it can do itself.
    problem((err as Error).message.replace(/; left untouched: run `uwsrun doctor`$/, ' (it is left untouched)'), goodUsable ? restore : undefined);
    if (!goodUsable) lines.push(`  There is no usable good copy at ${layout.goodCopy}; move the damaged file aside to start afresh.`);
  }
  if (!readable) return { lines, unrepaired, problems, repaired };

  let state = store.readState();
  // A runner that is alive but no longer beats (stopped, or stuck): queued jobs would wait.
  const stall = runnerStall(layout, state);
  if (stall) {
    const done = repair ? `${await killStalledRunner(stall)}${(await superviseActiveJobs(store)).map((l) => `; ${l}`).join('')}` : '';
    problem(describeStall(stall), () => done);
    state = store.readState();
  }
  const runnerUp = runnerAlive(state);
  if (state.runner && !runnerUp) {
    lines.push(`ok: the recorded runner, process ${state.runner.pid}, is gone; the next command that needs one starts one.`);
  }

  // Slurm's controller not answering (SPEC §11): recorded by the runner, which retries on its own.
  if (state.slurmOutage) {
    const slurmJobs = Object.values(state.jobs).filter((h) => h.executor === 'slurm').length;
    const { since, message } = state.slurmOutage;
    const waits = count(slurmJobs, 'Slurm job waits', 'Slurm jobs wait');
    // PATH and SLURM_CONF are the runner's from when it started: a fixed crontab line helps
    // only a runner started after it.
    const restart = runnerUp ? `; the runner, process ${state.runner!.pid}, keeps the environment it was started with: stop it (\`kill ${state.runner!.pid}\`) and the next uwsrun command starts one with its own` : '';
    const said: Record<OutageKind, [string, string]> = {
      client: ["Slurm's client commands could not be run", `install Slurm's client commands, or put them on the PATH of the command that starts the runner${restart}`],
      config: ["Slurm's configuration could not be read", `give the command that starts the runner the SLURM_CONF the cluster needs, e.g. in the crontab, or install the cluster's slurm.conf${restart}`],
      controller: ["Slurm's controller has not answered", 'check slurmctld with `scontrol ping`'],
    };
    const [what, todo] = said[outageKind(message)];
    problem(`${what} since ${since} (${message}); ${waits} (handovers are retried; ${todo})`);
  }

  // Jobs whose processes are gone while nobody supervises them.
  const orphaned = Object.entries(state.jobs).filter(([, h]) =>
    h.phase === 'EXECUTING' && !runnerUp && h.pid !== null && !isProcessAlive(h.pid, h.pidStart));
  if (orphaned.length > 0) {
    const done = repair ? (await superviseActiveJobs(store)).join('; ') || 'their end was recorded' : '';
    problem(`${count(orphaned.length, 'EXECUTING job has', 'EXECUTING jobs have')} no process left and no runner watching: ${orphaned.map(([id]) => id).join(', ')}`,
      () => done);
  }

  const strayText = (stray: Stray[]) =>
    `${count(stray.length, 'process belongs', 'processes belong')} to jobs that are no longer running: ${stray.map((s) => `${s.pid} (job ${s.jobId})`).join(', ')}`;
  if (repair) {
    const { stray, killed } = store.update((tx) => {
      const found = findStrays(layout.jobsDir, listProcesses(), tx.state, (id) => tx.getJob(id));
      return { stray: found, killed: found.map((f) => killStray(layout.jobsDir, f)) };
    });
    if (stray.length > 0) problem(strayText(stray), () => killed.join(', '));
  } else {
    const procs = listProcesses();
    const stray = findStrays(layout.jobsDir, procs, store.readState(), (id) => store.getJob(id));
    if (stray.length > 0) problem(strayText(stray), () => '');
  }

  // Damaged records: each named, none removed by --repair (the job's outputs may matter;
  // the operator decides, and `uwsrun delete ID` removes it).
  const damaged: DamagedRecordError[] = [];
  store.listJobs(store.readState(), damaged);
  for (const d of damaged) problem(d.line);

  const half = findHalfCreated(store);
  if (half.length > 0) {
    problem(`${count(half.length, 'job directory was', 'job directories were')} left half-created by a submit that did not finish: ${half.join(', ')}`,
      () => removeHalfCreated(store).join('; ') || (half.length === 1 ? 'it was removed' : 'they were removed'));
  }

  // Temp files of writers that were killed, everywhere uwsrun writes through them (tick
  // covers HOME and its cache every minute; the record directories only here).
  const temps = findLeftoverTemps(layout, true);
  if (temps.length > 0) {
    const bytes = temps.reduce((sum, t) => sum + t.bytes, 0);
    let failed = 0;
    problem(`${describeTemps(temps.length, bytes)} left by writers that were killed (their processes are gone)`, () => {
      const done = removeLeftoverTemps(temps);
      failed = done.failed.length;
      if (done.count === temps.length) return temps.length === 1 ? 'it was removed' : 'they were removed';
      const gone = temps.length - done.count - done.failed.length;
      return [`${done.count} removed`,
        ...(done.failed.length > 0 ? [`${done.failed.length} could not be (${describeFailures(done.failed)})`] : []),
        ...(gone > 0 ? [`${gone} gone or changed meanwhile`] : [])].join(', ');
    });
    if (failed > 0) unrepaired++; // what could not be removed is still a problem (exit 1)
  }
  if (unrepaired === 0 && lines.every((l) => l.startsWith('ok'))) lines.push('ok: no problems found.');
  return { lines, unrepaired, problems, repaired };
}

interface Stray {
  pid: number;
  startTime: string;
  jobId: string;
}

/**
 * Processes carrying UWS_JOB_DIR of a job of this HOME that is final or gone. A job with
 * any entry in the state (non-final), or whose record cannot be read, owns its processes.
 */
function findStrays(jobsDir: string, procs: ProcStat[], state: StateData, jobOf: (id: string) => JobRecord | undefined): Stray[] {
  const verdict = new Map<string, boolean>();
  const isStray = (jobId: string): boolean => {
    if (state.jobs[jobId]) return false;
    if (state.finished[jobId]) return true;
    try {
      const job = jobOf(jobId);
      return job ? isFinal(job.phase) : !existsSync(`${jobsDir}/${jobId}`);
    } catch {
      return false; // a damaged record: not ours to judge
    }
  };
  const stray: Stray[] = [];
  for (const p of procs) {
    if (p.state === 'Z') continue;
    const jobId = jobIdOf(p.pid, jobsDir);
    if (!jobId) continue;
    if (!verdict.has(jobId)) verdict.set(jobId, isStray(jobId));
    if (verdict.get(jobId)) stray.push({ pid: p.pid, startTime: p.startTime, jobId });
  }
  return stray;
}

/** SIGKILL to a stray, re-checked first: the same process (start time), still of that job. */
function killStray(jobsDir: string, s: Stray): string {
  if (!isProcessAlive(s.pid, s.startTime) || jobIdOf(s.pid, jobsDir) !== s.jobId) return `${s.pid} gone already`;
  try {
    signalProcess(s.pid, 'SIGKILL');
    return `${s.pid} killed`;
  } catch (err) {
    return `${s.pid} could not be killed (${(err as NodeJS.ErrnoException).code ?? String(err)})`;
  }
}

/** `1 active job`, `2 active jobs`. */
const count = (n: number, one: string, many: string): string => `${n} ${n === 1 ? one : many}`;

/** The job a process belongs to, from UWS_JOB_DIR in its environment, if under jobsDir. */
function jobIdOf(pid: number, jobsDir: string): string | undefined {
  let env: string;
  try {
    env = readFileSync(`/proc/${pid}/environ`, 'latin1');
  } catch {
    return undefined;
  }
  const prefix = `UWS_JOB_DIR=${jobsDir}/`;
  for (const entry of env.split('\0')) {
    if (entry.startsWith(prefix)) return entry.slice(prefix.length);
  }
  return undefined;
}

/**
 * A good copy may be older than the state it replaces (its last write failed, or the file
 * was copied from a backup): what happened since must not be undone by it. Its counters are
 * advanced past what HOME itself shows: seq past every line of HOME/index (a new job must
 * not take the index line, the creation number, of one made after the copy), queueSeq past
 * every queue entry (new queued jobs go behind those queued after the copy, and no batch's
 * queue range covers them). Reservations of submits whose process is gone are dropped: one
 * that completed after the copy made its jobs visible and printed their ids, and `tick`
 * would take them for a dead submit's leftovers and remove them. Returns what changed.
 */
function advanceRestoredState(store: Store, state: StateData): string[] {
  const done: string[] = [];
  const indexed = store.indexedSeqs();
  if (indexed > state.seq) {
    done.push(`its job counter was advanced from ${state.seq} to ${indexed}, past the jobs created since`);
    state.seq = indexed;
  }
  const queued = Math.max(0, ...readEntries(store.layout).map((e) => e.queuedAt));
  if (queued > state.queueSeq) {
    done.push(`its queue counter was advanced from ${state.queueSeq} to ${queued}`);
    state.queueSeq = queued;
  }
  const gone = Object.entries(state.batches).filter(([, b]) => !isProcessAlive(b.pid, b.pidStart));
  for (const [name] of gone) delete state.batches[name];
  if (gone.length > 0) done.push(`${count(gone.length, 'reservation of a submit that has ended was', 'reservations of submits that have ended were')} dropped`);
  return done;
}
