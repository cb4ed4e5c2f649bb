// Retries (SPEC §13) of jobs of the slurm executor, black-box, against the real single-node
// cluster of scripts/slurm-cluster.sh: a failed attempt is handed over again as a new batch
// job, after its retryDelay; a time limit is never retried. Everything is filtered by this
// test's own job names (uwsrun-JOBID); only those are ever cancelled.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FINAL, submitJob, waitFor } from '../helpers.js';
import { cleanupSlurmSandbox, slurmSandbox } from '../slurm.js';

const T = { timeout: 240_000 };

const YAML = `
defaults:
  executor: slurm
  destruction: 0
jobs:
  second-time:
    command: [sh, -c, 'echo "$UWS_JOB_ID" >> "$HOME/ran"; echo "attempt $SLURM_JOB_ID"; if [ -e "$UWS_JOB_DIR/tried" ]; then exit 0; fi; touch "$UWS_JOB_DIR/tried"; exit 5']
    retries: 2
    retryDelay: 2
`;

test('a Slurm job that fails is handed over again as a new batch job after its retryDelay, and its success on the 2nd attempt is COMPLETED', T, async () => {
  const sb = slurmSandbox(YAML);
  try {
    const id = submitJob(sb, ['second-time', '--run']);
    const job = await waitFor(`job ${id} to end`, () => {
      const j = sb.job(id);
      return FINAL.includes(j.phase) ? j : undefined;
    }, 180_000);
    assert.equal(job.phase, 'COMPLETED', JSON.stringify(job.attempts));
    assert.equal(job.attempt, 2);
    assert.equal(job.attempts.length, 1);
    assert.equal(job.attempts[0].exitCode, 5);
    assert.equal(job.attempts[0].errorSummary.type, 'fatal');
    const gap = Date.parse(job.startTime) - Date.parse(job.attempts[0].endTime);
    assert.ok(gap >= 2000, `the retry started ${gap} ms after the failure: not before the 2 s retryDelay`);
    const ran = readFileSync(join(sb.dir, 'ran'), 'utf8').trim().split('\n');
    assert.equal(ran.length, 2, 'two attempts ran');
    // Two batch jobs: each attempt printed its own SLURM_JOB_ID into its own log.
    const first = /attempt (\d+)/.exec(readFileSync(join(sb.jobDir(id), 'stdout.1.log'), 'utf8'))?.[1];
    const second = /attempt (\d+)/.exec(readFileSync(join(sb.jobDir(id), 'stdout.log'), 'utf8'))?.[1];
    assert.ok(first && second && first !== second, `a new batch job for the retry: ${first} then ${second}`);
    assert.equal(job.slurmJobId, second, 'the record names the last attempt\'s batch job');
  } finally {
    cleanupSlurmSandbox(sb);
  }
});
