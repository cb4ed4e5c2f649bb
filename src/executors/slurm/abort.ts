// Abort of a Slurm job once the abort's transaction is written (SPEC §11), DaCHS's rule with
// Slurm's means: a job not started was marked ABORTED there and its cancel put into the
// state (kind.ts), and is cancelled here (by id, or by name while its id is unknown); a
// started one gets `scancel --signal=INT --full` (without --full the signal never reaches
// the batch shell), a plain scancel after killGrace, and ABORTED once Slurm says the batch
// job ended (recorded by whoever sees it first, this command or the runner). Loaded only
// when a Slurm job is aborted: it brings Slurm's commands (commands.ts).

import { type JobRecord, isoNow } from '../../core/job.js';
import { EXIT, UserError } from '../../errors.js';
import type { Store } from '../../store/state.js';
import { gatherEndFacts } from '../../run/job-files.js';
import { appendRunnerLog } from '../../run/runner-log.js';
import { superviseIfOrphaned } from '../../run/ensure-runner.js';
import { cancelByName, pollOne, slurmSignal } from './executor.js';
import { recordSlurmEnd } from './records.js';

/** How long Slurm may take to end a batch job after the plain scancel (its KillWait and more). */
const SLURM_END_TIMEOUT_MS = 60_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * A Slurm job that had not started: cancelled by id, or by name while its id is unknown. A
 * scancel that fails (the controller does not answer) is no failure of the abort: the job is
 * ABORTED and its cancel is in the state, retried by the runner (started here if none runs)
 * until Slurm confirms the job gone.
 */
export async function cancelSlurmJob(store: Store, jobId: string, slurmJobId: string | null): Promise<void> {
  const failed = slurmJobId ? await slurmSignal(slurmJobId, 'cancel') : await cancelByName(jobId);
  const retried = failed && !/already completing or completed|Invalid job id/i.test(failed);
  appendRunnerLog(store.layout, `job ${jobId}: aborted before it started in Slurm: scancel ${slurmJobId ?? `--name=uwsrun-${jobId}`}${failed ? ` failed: ${failed}` : ''}${retried ? '; the runner retries it until Slurm confirms the job gone' : ''}`);
  await superviseIfOrphaned(store.home, store.readState());
}

/** `scancel --signal=INT --full`: SIGINT to every process of a started Slurm job. */
export async function interruptSlurmJob(store: Store, job: JobRecord): Promise<void> {
  appendRunnerLog(store.layout, `job ${job.jobId}: abort requested (Slurm job ${job.slurmJobId}: scancel --signal=INT --full)`);
  const failed = await slurmSignal(job.slurmJobId!, 'interrupt');
  if (failed && !/already completing or completed|Invalid job id/i.test(failed)) {
    throw new UserError(`job ${job.jobId}: scancel --signal=INT --full ${job.slurmJobId} failed: ${failed}`, EXIT.failed);
  }
}

/**
 * A started Slurm job: SIGINT to every process of the batch job, a plain scancel after
 * killGrace, and ABORTED once Slurm reports the batch job ended (recorded by whoever sees it
 * first, this command or the runner).
 */
export async function abortSlurmJob(store: Store, job: JobRecord): Promise<JobRecord> {
  const jobId = job.jobId;
  const slurmJobId = job.slurmJobId!;
  await interruptSlurmJob(store, job);
  const since = Date.parse(job.abortRequested ?? isoNow());
  let killed = false;
  for (;;) {
    const now = store.getJob(jobId);
    if (!now || now.phase !== 'EXECUTING') return now ?? job;
    const seen = await pollOne(slurmJobId);
    if (seen.ended) {
      const facts = gatherEndFacts(store.layout, jobId);
      const done = store.update((tx) => {
        recordSlurmEnd(tx, jobId, seen.state, facts, true);
        return tx.getJob(jobId);
      });
      if (done && done.phase !== 'EXECUTING') return done;
    }
    const waited = Date.now() - since;
    if (!killed && waited >= job.killGrace * 1000) {
      killed = true;
      appendRunnerLog(store.layout, `job ${jobId}: still running ${job.killGrace} s after the abort: scancel ${slurmJobId}`);
      await slurmSignal(slurmJobId, 'kill');
    }
    if (waited >= job.killGrace * 1000 + SLURM_END_TIMEOUT_MS) {
      throw new UserError(`job ${jobId}: Slurm still runs job ${slurmJobId} ${Math.round(waited / 1000)} s after the abort`, EXIT.failed);
    }
    await sleep(250);
  }
}
