// `hold` and `release` of a Slurm job already handed over (SPEC §2, §13: QUEUED -> HELD ->
// QUEUED), told to Slurm before the command's transaction (core/hold.ts):
//   hold     `scontrol uhold ID` (a user hold: reason JobHeldUser, also when uwsrun runs as
//            root, whose plain `hold` would be an admin hold the job's user cannot release
//            in Slurm), then `squeue` to see that Slurm still keeps it PENDING. Slurm accepts
//            a hold of a job that already runs (it only sets its priority to 0), so only
//            that second look tells a hold in time from one that came too late. Too late:
//            the hold is taken back, the job is recorded EXECUTING here if Slurm runs it (its
//            runner would record the same a moment later), and `hold` is refused as for any
//            EXECUTING job (exit 4).
//   release  `scontrol release ID`; the job gets its hot entry back (the runner watches it
//            as after its handover; it is never handed over twice). A Slurm job that ended or
//            was forgotten while held (cancelled outside uwsrun) is released all the same:
//            the runner then records what Slurm says of it (SPEC §11's end rules).
// A HELD job has no hot entry: neither the runner nor `tick` looks at it (it is not lost;
// Slurm keeps it PENDING, reason JobHeldUser, for as long as it is held). A controller
// that does not answer changes nothing (SPEC §11): exit 1 with Slurm's words.
// Loaded only for Slurm jobs' hold and release: it brings Slurm's commands (commands.ts).

import type { JobRecord } from '../../core/job.js';
import { applyTransition } from '../../core/phases.js';
import { EXIT, UserError, noSuchJob } from '../../errors.js';
import type { Store } from '../../store/state.js';
import { appendRunnerLog } from '../../run/runner-log.js';
import type { OutsideStep } from '../executor.js';
import { SLURM_TIMEOUT_MS, runSlurm } from './commands.js';
import { parseSqueue, slurmEnded } from './states.js';
import { recordSlurmStart } from './records.js';
import { OUTAGE_WORDS, outageKind } from './facts.js';

/** Slurm's words for a job it no longer has pending or running. */
export const GONE = /already finished|Invalid job id|already completing or completed/i;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export const outage = (jobId: string, call: string, message: string): UserError =>
  new UserError(`job ${jobId}: ${call} failed: ${OUTAGE_WORDS[outageKind(message)]} (${message}); nothing changed, try again`, EXIT.failed);

/** Holds a handed-over QUEUED job in Slurm; undefined when it is not in Slurm's hands. */
export async function holdInSlurm(store: Store, job: JobRecord): Promise<OutsideStep | undefined> {
  const jobId = job.jobId;
  const slurmJobId = await handedOver(store, jobId);
  if (!slurmJobId) return undefined;
  const call = `scontrol uhold ${slurmJobId}`;
  const held = await runSlurm('scontrol', ['uhold', slurmJobId]);
  if (held.kind === 'outage') throw outage(jobId, call, held.message);
  if (held.kind === 'refused') {
    throw new UserError(`job ${jobId}: Slurm job ${slurmJobId} can no longer be held (${held.message})`, GONE.test(held.message) ? EXIT.notAllowed : EXIT.failed);
  }
  const release = async () => {
    await runSlurm('scontrol', ['release', slurmJobId]);
  };
  const seen = await runSlurm('squeue', ['-h', '-t', 'all', '-j', slurmJobId, '-o', '%i|%T|%r|%S|%e']);
  const state = seen.kind === 'ok' ? parseSqueue(seen.stdout).get(slurmJobId)?.state : undefined;
  if (state === 'PENDING') return { ref: slurmJobId, undo: release };
  // Not known to be held in time: nothing of the hold stays in Slurm.
  await release();
  if (seen.kind === 'outage') throw outage(jobId, `squeue -j ${slurmJobId}`, seen.message);
  // Slurm started it before the hold reached it (or has even ended it already).
  const now = store.update((tx) => {
    const current = tx.getJob(jobId);
    if (current?.phase === 'QUEUED' && tx.state.jobs[jobId]?.slurmJobId === slurmJobId && state !== undefined && !slurmEnded(state)) {
      return recordSlurmStart(tx, current);
    }
    return current;
  });
  if (now?.phase === 'EXECUTING' && job.phase === 'QUEUED') {
    appendRunnerLog(store.layout, `job ${jobId}: running in Slurm (job ${slurmJobId}, ${state}): seen by a hold that came too late`);
  }
  if (!now) throw noSuchJob(jobId);
  if (now.phase !== 'QUEUED') applyTransition(now, 'hold');
  throw new UserError(`job ${jobId} is QUEUED but Slurm has already run job ${slurmJobId} (${state ?? 'forgotten'}): hold is not allowed`, EXIT.notAllowed);
}

/**
 * The job's Slurm id when it is QUEUED in Slurm's hands. A handover under way (sbatch has
 * not answered yet) is waited for, up to Slurm's own timeout: then the job is in Slurm or
 * back in the queue, and either can be held.
 */
export async function handedOver(store: Store, jobId: string): Promise<string | undefined> {
  const deadline = Date.now() + SLURM_TIMEOUT_MS;
  for (;;) {
    const hot = store.readState().jobs[jobId];
    if (!hot || hot.phase !== 'QUEUED' || hot.executor !== 'slurm') return undefined;
    if (hot.slurmJobId) return hot.slurmJobId;
    if (Date.now() >= deadline) {
      throw new UserError(`job ${jobId}: its handover to Slurm is still under way after ${SLURM_TIMEOUT_MS / 1000} s (is Slurm's controller down? see \`uwsrun doctor\`); nothing changed, try again`, EXIT.failed);
    }
    await sleep(50);
  }
}

/** Releases a HELD job in Slurm; undefined when it was never handed over. */
export async function releaseInSlurm(store: Store, job: JobRecord): Promise<OutsideStep | undefined> {
  const slurmJobId = job.phase === 'HELD' ? job.slurmJobId : undefined;
  if (!slurmJobId) return undefined;
  const r = await runSlurm('scontrol', ['release', slurmJobId]);
  if (r.kind === 'outage') throw outage(job.jobId, `scontrol release ${slurmJobId}`, r.message);
  if (r.kind === 'refused' && !GONE.test(r.message)) {
    throw new UserError(`job ${job.jobId}: scontrol release ${slurmJobId} failed: ${r.message}`, EXIT.failed);
  }
  if (r.kind === 'refused') {
    appendRunnerLog(store.layout, `job ${job.jobId}: released, but Slurm no longer has job ${slurmJobId} (${r.message}): its end is Slurm's to tell`);
  }
  return {
    ref: slurmJobId,
    undo: async () => {
      await runSlurm('scontrol', ['uhold', slurmJobId]);
    },
  };
}
