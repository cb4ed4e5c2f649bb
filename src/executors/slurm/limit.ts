// `set --execution-duration` of a QUEUED job already in Slurm's hands (SPEC §9: settable
// while QUEUED; §11: `--time` is the executionDuration rounded up to minutes). Its handover
// gave sbatch the old limit, so Slurm is told first, outside the lock (core/set.ts):
// `scontrol update JobId=N TimeLimit=M` (UNLIMITED for 0, "none" as at a handover). A
// refusal changes nothing here: Slurm lets only an operator or root raise a job's limit,
// so a plain user may lower it but not raise it (exit 1 with Slurm's words); a job Slurm
// no longer has pending is past QUEUED (exit 4); a controller that does not answer is an
// outage (exit 1: try again). Undone (the old limit) when the transaction does not make
// the change after all. Loaded only for Slurm jobs: it brings Slurm's commands.

import type { JobRecord } from '../../core/job.js';
import { EXIT, UserError } from '../../errors.js';
import type { Store } from '../../store/state.js';
import type { OutsideStep } from '../executor.js';
import { runSlurm } from './commands.js';
import { slurmMinutes } from './handover.js';
import { GONE, handedOver, outage } from './hold.js';

const timeLimit = (seconds: number): string => (seconds > 0 ? String(slurmMinutes(seconds)) : 'UNLIMITED');

/** Sets the Slurm time limit of a handed-over QUEUED job; undefined when it is not in Slurm's hands. */
export async function limitInSlurm(store: Store, job: JobRecord, seconds: number): Promise<OutsideStep | undefined> {
  const jobId = job.jobId;
  const slurmJobId = await handedOver(store, jobId);
  if (!slurmJobId) return undefined;
  const set = (limit: string) => runSlurm('scontrol', ['update', `JobId=${slurmJobId}`, `TimeLimit=${limit}`]);
  const to = timeLimit(seconds);
  const r = await set(to);
  if (r.kind === 'outage') throw outage(jobId, `scontrol update JobId=${slurmJobId} TimeLimit=${to}`, r.message);
  if (r.kind === 'refused') {
    if (GONE.test(r.message)) throw new UserError(`job ${jobId}: Slurm no longer has job ${slurmJobId} pending (${r.message}): executionDuration is not allowed now`, EXIT.notAllowed);
    throw new UserError(`job ${jobId}: Slurm refused the time limit ${to} for job ${slurmJobId} (${r.message}); nothing changed`, EXIT.failed);
  }
  const back = timeLimit(job.executionDuration);
  return {
    ref: slurmJobId,
    undo: async () => {
      await set(back);
    },
  };
}
