// The slurm executor on the runner's side (SPEC §11): hands QUEUED jobs over, watches every
// active Slurm job of the HOME with ONE squeue call per poll (at most one a second), and
// enforces executionDuration to the second. Slurm's commands are slow (tens of ms; ~9 s to
// fail when the controller is down), so none runs inside the runner's transaction:
//   - in the transaction (apply), the runner's cycle records what the last calls found
//     (handed over, refused, running, up, ended) and marks jobs to hand over (handOver: the
//     hot entry's handoverAt, written before any sbatch, so a successor looks before it
//     hands a job over again);
//   - after the commit (afterCommit), the calls run asynchronously; their outcomes wait in
//     memory for the next cycle, which the runner is woken for.
// A controller that does not answer changes no job: handovers are retried with backoff
// (1 s doubling to 60 s), polls go on once a second, and the outage is recorded in
// state.json (for `doctor`) and said once in runner.log when it starts and once when it ends.

import type { JobRecord } from '../../core/job.js';
import { isoNow } from '../../core/job.js';
import type { Transaction } from '../../store/state.js';
import type { HomeLayout } from '../../store/home.js';
import { type EndFacts, gatherEndFactsAsync } from '../../run/job-files.js';
import { readExitFile } from '../../run/lifecycle.js';
import { type Handover, handOver, slurmJobName } from './handover.js';
import { describeSlurmCalls, runSlurm } from './commands.js';
import { type SlurmJobState, parseSacct, parseSqueue, slurmEnded } from './states.js';
import { recordHandover, recordRefused, recordSlurmEnd, recordSlurmStart, recordSlurmUp, upTime } from './records.js';
import type { Executor } from '../executor.js';

const POLL_MS = 1_000;
const RETRY_FIRST_MS = 1_000;
const RETRY_MAX_MS = 60_000;

interface Ended {
  slurm: SlurmJobState | undefined;
  facts: EndFacts;
}

export class SlurmExecutor implements Executor {
  readonly name = 'slurm' as const;
  readonly countsAgainstHomeLimit = false;
  /** Marked in the transaction being held: handed over once it is committed. */
  private readonly toHandOver = new Map<string, { job: JobRecord; lookFirst: boolean }>();
  private readonly inFlight = new Set<string>();
  private readonly outcomes = new Map<string, Handover>();
  private readonly retryAt = new Map<string, number>();
  private readonly backoff = new Map<string, number>();
  /** The last poll's view (for start and up), and the ends it found (with their files read). */
  private polled: Map<string, SlurmJobState> | undefined;
  private readonly ended = new Map<string, Ended>();
  private polling = false;
  private lastPoll = 0;
  /** Slurm ids uwsrun cancelled or signalled itself (CANCELLED is then no surprise). */
  private readonly ours = new Set<string>();
  private readonly killed = new Set<string>();
  private outage: { since: string; message: string } | undefined;
  private outageSaid: boolean | undefined;

  constructor(
    private readonly layout: HomeLayout,
    private readonly log: (line: string) => void,
    private readonly wake: () => void,
  ) {}

  /** In the runner's transaction: a QUEUED job the queue chose is to be handed over. */
  start(tx: Transaction, job: JobRecord): void {
    tx.putHot(job, { handoverAt: isoNow() });
    this.toHandOver.set(job.jobId, { job, lookFirst: false });
  }

  /** The transaction was given up: its marks were never written. */
  abandoned(): void {
    this.toHandOver.clear();
  }

  /** In every cycle's transaction: what the Slurm calls found, then time limits. */
  watch(tx: Transaction, now: number): void {
    for (const [id, outcome] of this.outcomes) {
      this.outcomes.delete(id);
      this.applyOutcome(tx, id, outcome, now);
    }
    for (const [id, end] of this.ended) {
      this.ended.delete(id);
      const line = recordSlurmEnd(tx, id, end.slurm, end.facts, end.slurm ? this.ours.has(end.slurm.slurmJobId) : false);
      if (line) this.log(line);
    }
    const polled = this.polled;
    this.polled = undefined;
    for (const [id, hot] of Object.entries(tx.state.jobs)) {
      if (hot.executor !== 'slurm') continue;
      if (!hot.slurmJobId) {
        // Marked, not handed over: by a runner that died, or a retry after an outage.
        if (hot.phase === 'QUEUED' && !this.inFlight.has(id) && !this.toHandOver.has(id) && now >= (this.retryAt.get(id) ?? 0)) {
          const job = tx.getJob(id);
          if (job) this.toHandOver.set(id, { job, lookFirst: true });
        }
        continue;
      }
      const job = tx.getJob(id);
      if (!job) continue;
      this.perJob(id, () => this.watchJob(tx, job, polled?.get(hot.slurmJobId!), now));
    }
    this.saveOutage(tx);
  }

  private watchJob(tx: Transaction, job: JobRecord, seen: SlurmJobState | undefined, now: number): void {
    const id = job.jobId;
    const up = job.startTime === null ? upTime(this.layout, id) : undefined;
    if (job.phase === 'QUEUED' && (up || (seen && !/^(PENDING|CONFIGURING|REQUEUED)/.test(seen.state) && !slurmEnded(seen.state)))) {
      job = recordSlurmStart(tx, job);
      this.log(`job ${id}: running in Slurm (job ${job.slurmJobId})`);
    }
    if (job.phase === 'EXECUTING' && job.startTime === null && up) {
      recordSlurmUp(tx, job, up);
      job = tx.getJob(id) ?? job;
    }
    if (job.phase !== 'EXECUTING' || !job.slurmJobId) return;
    // executionDuration to the second: Slurm's --time has minute resolution and fires late.
    if (!job.abortRequested && job.startTime && job.executionDuration > 0 && now - Date.parse(job.startTime) > job.executionDuration * 1000) {
      tx.putHot({ ...job, abortRequested: isoNow() }, { abortReason: `executionDuration of ${job.executionDuration} s exceeded` });
      this.signal(job.slurmJobId, 'interrupt');
      this.log(`job ${id}: executionDuration of ${job.executionDuration} s exceeded: aborting (scancel --signal=INT --full ${job.slurmJobId})`);
    } else if (job.abortRequested && !this.killed.has(job.slurmJobId) && now - Date.parse(job.abortRequested) > job.killGrace * 1000) {
      this.killed.add(job.slurmJobId);
      this.signal(job.slurmJobId, 'kill');
      this.log(`job ${id}: still running ${job.killGrace} s after the abort: scancel ${job.slurmJobId}`);
    }
  }

  private applyOutcome(tx: Transaction, id: string, outcome: Handover, now: number): void {
    const job = tx.getJob(id);
    if (outcome.kind === 'ok') {
      this.noteAnswer();
      this.backoff.delete(id);
      this.retryAt.delete(id);
      if (!job || job.phase !== 'QUEUED' || tx.state.jobs[id]?.executor !== 'slurm') {
        // Aborted or deleted while sbatch ran: no Slurm job is left behind (SPEC §11).
        this.signal(outcome.slurmJobId, 'cancel');
        this.log(`job ${id}: ${job ? `is ${job.phase}` : 'is gone'} by the time sbatch answered: scancel ${outcome.slurmJobId}`);
        return;
      }
      recordHandover(tx, job, outcome.slurmJobId);
      this.log(outcome.found
        ? `job ${id}: found in Slurm as job ${outcome.slurmJobId} (handed over by a runner that died): adopted`
        : `job ${id}: handed over to Slurm (job ${outcome.slurmJobId}): ${job.definition}`);
    } else if (outcome.kind === 'refused') {
      this.noteAnswer();
      if (!job || job.phase !== 'QUEUED') return;
      recordRefused(tx, job, outcome.message);
      this.log(`job ${id}: ended ERROR (sbatch refused it: ${outcome.message})`);
    } else {
      this.noteOutage(outcome.message);
      const wait = Math.min(RETRY_MAX_MS, (this.backoff.get(id) ?? RETRY_FIRST_MS / 2) * 2);
      this.backoff.set(id, wait);
      this.retryAt.set(id, now + wait);
    }
  }

  private perJob(id: string, body: () => void): void {
    try {
      body();
    } catch (err) {
      this.log(`job ${id}: supervision failed: ${(err as Error).message}`);
    }
  }

  /** After the commit: the handovers marked, and the poll when one is due. */
  afterCommit(state: { jobs: Transaction['state']['jobs'] }): void {
    for (const [id, { job, lookFirst }] of this.toHandOver) {
      this.toHandOver.delete(id);
      if (this.inFlight.has(id)) continue;
      this.inFlight.add(id);
      void this.handOverJob(job, lookFirst);
    }
    const active = Object.values(state.jobs).filter((h) => h.executor === 'slurm' && h.slurmJobId);
    if (active.length > 0 && !this.polling && Date.now() - this.lastPoll >= POLL_MS) {
      this.polling = true;
      this.lastPoll = Date.now();
      const ids = new Map(Object.entries(state.jobs).filter(([, h]) => h.executor === 'slurm' && h.slurmJobId).map(([id, h]) => [h.slurmJobId!, id]));
      void this.poll(ids).finally(() => {
        this.polling = false;
        this.wake();
      });
    }
  }

  /** What the runner says of Slurm when it goes idle: the commands it ran (one line). */
  summary(): string {
    return `Slurm commands run: ${describeSlurmCalls() || 'none'}`;
  }

  /** Whether the runner must come back within a second (a poll or a retry will be due). */
  get busy(): boolean {
    return this.inFlight.size > 0 || this.polling || this.outcomes.size > 0 || this.ended.size > 0;
  }

  /** `job`: the record as the committed transaction holds it (command, environment, limits). */
  private async handOverJob(job: JobRecord, lookFirst: boolean): Promise<void> {
    const id = job.jobId;
    try {
      this.outcomes.set(id, await handOver(this.layout, job, lookFirst));
    } catch (err) {
      this.outcomes.set(id, { kind: 'outage', message: (err as Error).message });
    } finally {
      this.inFlight.delete(id);
      this.wake();
    }
  }

  /** One squeue call for every active Slurm job of the HOME; sacct for those it forgot. */
  private async poll(ids: Map<string, string>): Promise<void> {
    const r = await runSlurm('squeue', ['-h', '-t', 'all', '-j', [...ids.keys()].join(','), '-o', '%i|%T|%r|%S|%e']);
    if (r.kind === 'outage') {
      this.noteOutage(r.message);
      return;
    }
    // Every id unknown: squeue says "Invalid job id specified" (exit 1).
    if (r.kind === 'refused' && !/Invalid job id/i.test(r.message)) {
      this.noteOutage(`squeue: ${r.message}`);
      return;
    }
    this.noteAnswer();
    const states = r.kind === 'ok' ? parseSqueue(r.stdout) : new Map<string, SlurmJobState>();
    this.polled = states;
    const done: [string, SlurmJobState | undefined][] = [];
    const forgotten: string[] = [];
    for (const [slurmId, jobId] of ids) {
      const s = states.get(slurmId);
      if (s && slurmEnded(s.state)) done.push([jobId, s]);
      else if (!s) {
        if (readExitFile(this.layout, jobId)) done.push([jobId, undefined]);
        else forgotten.push(slurmId);
      }
    }
    if (forgotten.length > 0) {
      const known = await this.sacct(forgotten);
      for (const slurmId of forgotten) done.push([ids.get(slurmId)!, known.get(slurmId)]);
    }
    await Promise.all(done.map(async ([jobId, s]) => {
      const facts = await gatherEndFactsAsync(this.layout, jobId).catch((): EndFacts => ({ stderrLine: '', results: [] }));
      this.ended.set(jobId, { slurm: s, facts });
    }));
  }

  /** Slurm's accounting, where it exists (the database, else the jobcomp file with -c). */
  private async sacct(slurmIds: string[]): Promise<Map<string, SlurmJobState>> {
    const args = ['-X', '-n', '-P', '-j', slurmIds.join(','), '-o', 'JobIDRaw,State,ExitCode,Reason'];
    for (const extra of [[], ['-c']]) {
      const r = await runSlurm('sacct', [...extra, ...args]);
      if (r.kind === 'ok') {
        const found = parseSacct(r.stdout);
        if (found.size > 0 || extra.length > 0) return found;
      }
    }
    return new Map();
  }

  /** Fire and forget: scancel in its three forms (SPEC §11). */
  signal(slurmJobId: string, how: 'interrupt' | 'kill' | 'cancel'): void {
    this.ours.add(slurmJobId);
    void slurmSignal(slurmJobId, how).then((r) => {
      if (r) this.log(`scancel ${slurmJobId}: ${r}`);
    });
  }

  private noteOutage(message: string): void {
    if (!this.outage) this.outage = { since: isoNow(), message };
    if (this.outageSaid !== true) {
      this.outageSaid = true;
      this.log(`Slurm's controller does not answer (${message}): handovers wait and are retried; no job changes meanwhile`);
    }
  }

  private noteAnswer(): void {
    if (this.outage && this.outageSaid) this.log(`Slurm's controller answers again (it did not since ${this.outage.since})`);
    this.outage = undefined;
    this.outageSaid = false;
  }

  /** The outage as doctor reads it from state.json. */
  saveOutage(tx: Transaction): void {
    const now = this.outage ?? null;
    if (JSON.stringify(tx.state.slurmOutage ?? null) !== JSON.stringify(now)) tx.state.slurmOutage = now;
  }
}

/**
 * scancel for abort (SPEC §11): `interrupt` = SIGINT to every process of the batch job
 * (`--full`: without it the signal never reaches the batch shell), `kill` = plain scancel
 * (Slurm's SIGTERM, SIGKILL after its KillWait), `cancel` = a job that has not started.
 * Returns Slurm's complaint, or undefined when it did it.
 */
export async function slurmSignal(slurmJobId: string, how: 'interrupt' | 'kill' | 'cancel'): Promise<string | undefined> {
  const args = how === 'interrupt' ? ['--signal=INT', '--full', slurmJobId] : [slurmJobId];
  const r = await runSlurm('scancel', args);
  return r.kind === 'ok' ? undefined : r.message;
}

/**
 * One job's state, for `abort` waiting on it: ended (Slurm says so, or no longer knows it),
 * with Slurm's last word where there is one. A controller that does not answer is "not ended".
 */
export async function pollOne(slurmJobId: string): Promise<{ ended: boolean; state: SlurmJobState | undefined }> {
  const r = await runSlurm('squeue', ['-h', '-t', 'all', '-j', slurmJobId, '-o', '%i|%T|%r|%S|%e']);
  if (r.kind === 'outage' || (r.kind === 'refused' && !/Invalid job id/i.test(r.message))) return { ended: false, state: undefined };
  const s = r.kind === 'ok' ? parseSqueue(r.stdout).get(slurmJobId) : undefined;
  return s ? { ended: slurmEnded(s.state), state: s } : { ended: true, state: undefined };
}

/** Cancels whatever Slurm has under the job's name (a handover whose id was never recorded). */
export async function cancelByName(jobId: string): Promise<string | undefined> {
  const r = await runSlurm('scancel', [`--name=${slurmJobName(jobId)}`]);
  return r.kind === 'ok' ? undefined : r.message;
}
