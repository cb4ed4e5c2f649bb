// `set`: changing a job after submit, within the phase rules of SETTABLE (phases.ts).
// Parameters are re-resolved against the definition as it was at submit time, and the
// command line and UWS_PARAM_* environment are rebuilt from them.

import { type JobRecord } from './job.js';
import { checkSettable } from './phases.js';
import { noSuchJob } from '../errors.js';
import { resolveParameters } from '../definitions/params.js';
import { paramEnvName } from '../definitions/substitute.js';
import type { Store } from '../store/state.js';
import { resolveCommand } from './submit.js';
import { checkExecBounds } from './exec-bounds.js';

export interface JobChanges {
  executionDuration?: number;
  /** An ISO instant, or null for never. */
  destruction?: string | null;
  params: Array<[string, string]>;
}

export function setJob(store: Store, jobId: string, changes: JobChanges): JobRecord {
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
