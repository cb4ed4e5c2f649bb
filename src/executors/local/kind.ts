// The local executor as every process sees it (ExecutorKind, executors/executor.ts): its
// facts (facts.ts), and abort and hold with the processes on this machine (abort.ts). The
// runner's side (executor.ts, with the launcher) is loaded by the runner only.

import { appendRunnerLog } from '../../run/runner-log.js';
import { readStartMarker } from '../../run/lifecycle.js';
import type { ExecutorKind } from '../executor.js';
import { localFacts } from './facts.js';
import { abortLogLine, awaitLocalAbort, enforceTimeLimits, localAbortStep, localEndedUnrecorded } from './abort.js';

export const localKind: ExecutorKind = {
  ...localFacts,
  runner: async (ctx) => new (await import('./executor.js')).LocalExecutor(ctx),
  endedUnrecorded: localEndedUnrecorded,
  abortStep: localAbortStep,
  awaitAbort: awaitLocalAbort,
  abortRequested: (store, job) => appendRunnerLog(store.layout, abortLogLine(job)),
  enforceTimeLimits,
  holdRefusal: (tx, job) =>
    // A runner started it and died before recording the start: it runs, whatever the
    // record says (its successor adopts it).
    (job.phase === 'QUEUED' && readStartMarker(tx.layout, job.jobId) ? `job ${job.jobId} is QUEUED but already starting (a runner started it): hold is not allowed` : undefined),
};
