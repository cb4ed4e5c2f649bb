// `set`: changing a job after submit, within the phase rules of SETTABLE (phases.ts).
// Parameters are re-resolved against the definition as it was at submit time, and the
// command line and UWS_PARAM_* environment are rebuilt from them. A new executionDuration
// of a job in a scheduler's hands (a QUEUED Slurm job handed over with --time) is told to
// the scheduler first, outside the lock (changeJob: ExecutorKind.limitOutside), and undone
// there when the transaction refuses the change.

import { type JobRecord } from './job.js';
import { checkSettable } from './phases.js';
import { resolveParameters } from '../definitions/params.js';
import { paramEnvName } from '../definitions/substitute.js';
import type { Store } from '../store/state.js';
import { resolveCommand } from './submit.js';
import { checkExecBounds } from './exec-bounds.js';
import { EXIT, UserError, noSuchJob } from '../errors.js';
import { executorKind } from '../executors/index.js';
import type { OutsideStep } from '../executors/executor.js';

export interface JobChanges {
  executionDuration?: number;
  /** An ISO instant, or null for never. */
  destruction?: string | null;
  params: Array<[string, string]>;
}

/**
 * What `set` asks the job's scheduler first (see the top), before the lock is taken; then
 * `apply` (setJob, for the CLI directly, for the server under its asynchronous lock) with
 * the step; the step is undone when `apply` throws.
 */
export async function changeJob(store: Store, jobId: string, changes: JobChanges, apply: (outside?: OutsideStep) => JobRecord | Promise<JobRecord>): Promise<JobRecord> {
  let outside: OutsideStep | undefined;
  if (changes.executionDuration !== undefined) {
    const job = store.getJob(jobId);
    if (!job) throw noSuchJob(jobId);
    const kind = executorKind(job);
    // Only where the phase allows the change at all: otherwise the transaction says why.
    if (kind.limitOutside && job.phase === 'QUEUED') outside = await kind.limitOutside(store, job, changes.executionDuration);
  }
  try {
    return await apply(outside);
  } catch (err) {
    await outside?.undo();
    throw err;
  }
}

export function setJob(store: Store, jobId: string, changes: JobChanges, outside?: OutsideStep): JobRecord {
  return store.update((tx) => {
    const job = tx.getJob(jobId);
    if (!job) throw noSuchJob(jobId);
    const next: JobRecord = { ...job };
    if (changes.params.length > 0) {
      checkSettable(job, 'parameters');
      const def = job.definitionSnapshot;
      // Checked exactly as by submit (an unknown or miscased name, a bad value: exit 2,
      // nothing changed); parameters not given keep their text.
      const resolved = resolveParameters(def, changes.params, undefined, job.paramText);
      const layout = tx.layout;
      next.parameters = resolved.values;
      next.paramText = resolved.text;
      next.command = resolveCommand(def.command, jobId, layout.jobDir(jobId), layout.resultsDir(jobId), resolved.text);
      const env = Object.fromEntries(Object.entries(job.env).filter(([k]) => !k.startsWith('UWS_PARAM_')));
      for (const [name, text] of Object.entries(resolved.text)) env[paramEnvName(name)] = text;
      next.env = env;
      checkExecBounds(next);
    }
    if (changes.executionDuration !== undefined) {
      checkSettable(job, 'executionDuration');
      const refused = executorKind(job).limitRefusal?.(tx, job, outside);
      if (refused) throw new UserError(refused, EXIT.notAllowed);
      next.executionDuration = changes.executionDuration;
    }
    if (changes.destruction !== undefined) {
      checkSettable(job, 'destruction');
      next.destruction = changes.destruction;
    }
    tx.saveRecord(next);
    return next;
  });
}
