// Black-box: a runner whose only jobs are Slurm jobs pending without news leaves the lock and
// state.json alone (README "How the runner learns a job's news"): its looks once a second
// stat() the jobs' files and state.json and take no lock while nothing changed; at least
// every 5 s it makes one full cycle under the lock anyway. News still comes at once: a job
// released in Slurm behind uwsrun's back runs and completes, and a job submitted meanwhile is
// handed over. Against the real single-node cluster of scripts/slurm-cluster.sh (only this
// test's own jobs, by their names uwsrun-JOBID, are cancelled).
// The runner's lock takes are counted from UWSRUN_LOCK_WAIT_LOG (store/lock.ts: one line
// "WAITED_MS NOW_MS PID" per acquisition), which the runner inherits from the submit.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { FINAL, quietWindow, submitJob, waitFor } from '../helpers.js';
import { state } from '../runner-state.js';
import { cleanupSlurmSandbox, slurm, slurmSandbox } from '../slurm.js';

const T = { timeout: 240_000 };

const YAML = `
defaults:
  executor: slurm
  destruction: 0
jobs:
  held:
    description: held in Slurm from its handover (sbatch --hold)
    command: ["true"]
    slurm: { options: [--hold] }
`;

test('a runner with only pending Slurm jobs and no news takes the lock at most every 5 s, not every second; news still comes at once', T, async () => {
  const sb = slurmSandbox(YAML);
  const log = join(sb.dir, 'locks.log');
  const env = { UWSRUN_LOCK_WAIT_LOG: log };
  try {
    const ids = [0, 1, 2].map(() => submitJob(sb, ['held', '--run'], env));
    const slurmIds = await waitFor('all three handed over', () => {
      const got = ids.map((id) => sb.job(id).slurmJobId as string | null);
      return got.every((s) => s) ? got as string[] : undefined;
    }, 60_000);
    const runner: number = state(sb).runner.pid;
    // Settled: the last handover recorded, so whatever the runner does next is its quiet looks.
    const { takes, cpu, window } = await quietWindow(log, runner, 1500);
    // Its looks once a second (a stat() per job), the beat, a poll every 5 s: a few ms a
    // second (2-3 measured). A look rescheduled on a stale deadline spun at ~120 ms a second.
    assert.ok(cpu <= 400, `the runner used ${cpu} ms of CPU in ${window} ms with nothing to record`);
    // Before quiet looks: one a second and a second one after each backstop poll (10 in 8 s
    // measured). Now one full cycle per 5 s (1-2 in 8 s), 3 allowing for a poll with news.
    assert.ok(takes >= 1, `the runner made its full cycle at least every 5 s (${takes} lock takes in ${window} ms)`);
    assert.ok(takes <= 3, `the runner took the lock ${takes} times in ${window} ms with nothing to record`);
    assert.equal(state(sb).runner.pid, runner, 'the same runner throughout');

    // Released in Slurm directly (not through uwsrun): the job runs, and the runner records it.
    const r = slurm('scontrol', ['release', slurmIds[0]!]);
    assert.equal(r.code, 0, r.stderr);
    const done = await waitFor(`job ${ids[0]} to end`, () => {
      const job = sb.job(ids[0]!);
      return FINAL.includes(job.phase) ? job : undefined;
    }, 90_000);
    assert.equal(done.phase, 'COMPLETED', JSON.stringify(done.errorSummary));
    // A job submitted meanwhile is handed over by the same runner.
    const later = submitJob(sb, ['held', '--run'], env);
    await waitFor(`job ${later} handed over`, () => sb.job(later).slurmJobId ?? undefined, 60_000);
    for (const id of [ids[1]!, ids[2]!, later]) assert.equal(sb.job(id).phase, 'QUEUED');
  } finally {
    cleanupSlurmSandbox(sb);
  }
});
