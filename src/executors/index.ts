// The registry of executors: a job's executor name (its record's `executor`, absent for
// local) -> its ExecutorKind (executors/executor.ts); its facts alone (plain data, for the
// queue) are in facts.ts. Everything outside src/executors/ that depends on where a job
// runs asks through here, so a third executor is one new folder plus a line below and one
// in facts.ts. The kinds are cheap to load; each one's heavy parts (the runner's side,
// Slurm's commands and node:child_process) are imported only when used.

import type { ExecutorName } from '../definitions/schema.js';
import type { ExecutorKind } from './executor.js';
import { localKind } from './local/kind.js';
import { slurmKind } from './slurm/kind.js';

let kinds: Record<ExecutorName, ExecutorKind> | undefined;

/** Every executor, by name (made on first use: no module of the registry is used while it loads). */
export function executorKinds(): Record<ExecutorName, ExecutorKind> {
  return (kinds ??= { local: localKind, slurm: slurmKind });
}

/** The executor of a job, a hot entry or a definition (absent: local). */
export const executorKind = (of: { executor?: ExecutorName | undefined }): ExecutorKind => executorKinds()[of.executor ?? 'local'];
