// Black-box: hold and release of Slurm jobs already handed over (SPEC §2, §13 with §11),
// against the real single-node cluster of scripts/slurm-cluster.sh (shared with other tests:
// everything is filtered by this test's own job names, uwsrun-JOBID, and only those are
// cancelled):
// - hold of a job pending in Slurm: HELD here, held in Slurm (JobHeldUser, priority 0), no hot
//   entry (neither tick nor doctor takes it for lost); release: QUEUED in Slurm's hands again,
//   the same Slurm job, no longer held there; abort of a HELD one cancels it in Slurm;
// - release of a job held since its handover (sbatch --hold): it runs, once, and completes;
// - a hold that comes too late (Slurm started the job before the hold reached it; the runner,
//   stopped with SIGSTOP, has not seen it yet): exit 4 as for an EXECUTING job, the job
//   recorded EXECUTING, nothing of the hold left in Slurm, and it completes;
// - a controller that does not answer (the hold's own SLURM_CONF names a port nobody listens
//   on: Slurm's client fails as with a stopped controller): exit 1 naming the call and Slurm's
//   words, nothing changed here or in Slurm; likewise release.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { FINAL, Sandbox, release, submitJob, waitFor } from '../helpers.js';
import { alive } from '../procfs.js';
import { assertLogged, phaseOf, state } from '../runner-state.js';
import { cleanupSlurmSandbox, controllerDownConf, handedOver, slurm, slurmEnv, slurmIdsOf, slurmJob, slurmSandbox } from '../slurm.js';

const T = { timeout: 240_000 };

const YAML = `
defaults:
  executor: slurm
  destruction: 0
jobs:
  pending:
    description: pending in Slurm for an hour (its begin time)
    command: [sh, -c, 'touch "$UWS_RESULTS_DIR/ran"']
    slurm: { options: [--begin=now+3600] }
  held:
    description: held in Slurm from its handover (sbatch --hold)
    command: [sh, -c, 'touch "$UWS_RESULTS_DIR/ran"']
    slurm: { options: [--hold] }
  gate:
    description: held in Slurm from its handover; runs until the test creates $UWS_JOB_DIR/release
    command: [sh, -c, 'while [ ! -e "$UWS_JOB_DIR/release" ]; do sleep 0.1; done']
    slurm: { options: [--hold] }
`;

async function final(sb: Sandbox, id: string, ms = 90_000): Promise<any> {
  return waitFor(`job ${id} to end`, () => {
    const job = sb.job(id);
    return FINAL.includes(job.phase) ? job : undefined;
  }, ms);
}

test('hold of a job pending in Slurm: HELD, held in Slurm, not watched (tick, doctor); release: QUEUED in Slurm\'s hands, the same Slurm job; abort of a HELD one cancels it', T, async () => {
  const sb = slurmSandbox(YAML);
  const ids: string[] = [];
  try {
    const id = submitJob(sb, ['pending', '--run']);
    ids.push(id);
    const s = await handedOver(sb, id);
    // Pending for its begin time (or for resources, on a shared cluster), not held.
    assert.equal(slurmJob(s)?.JobState, 'PENDING');
    assert.notEqual(slurmJob(s)?.Reason, 'JobHeldUser');

    const [held] = sb.json(['hold', id]);
    assert.equal(held.phase, 'HELD');
    assert.equal(held.slurmJobId, s);
    const inSlurm = slurmJob(s)!;
    assert.equal(inSlurm.JobState, 'PENDING');
    assert.equal(inSlurm.Reason, 'JobHeldUser');
    assert.equal(inSlurm.Priority, '0');
    assert.equal(state(sb).jobs[id], undefined, 'a HELD job has no hot entry: nobody watches it');
    assert.deepEqual(sb.json(['tick']).filter((a: { jobId: string }) => a.jobId === id), [], 'tick leaves a HELD job be');
    const d = sb.run(['doctor']);
    assert.equal(d.code, 0, d.stdout + d.stderr);
    assert.equal(sb.job(id).phase, 'HELD');
    const again = sb.run(['hold', id]);
    assert.equal(again.code, 4);
    assert.equal(again.stderr.trim(), `uwsrun: job ${id} is HELD: hold is not allowed in that phase`);

    const [back] = sb.json(['release', id]);
    assert.equal(back.phase, 'QUEUED');
    assert.equal(back.slurmJobId, s);
    assert.equal(state(sb).jobs[id]?.slurmJobId, s, 'in Slurm\'s hands again: the runner watches it');
    const released = slurmJob(s)!;
    assert.equal(released.JobState, 'PENDING');
    // Slurm says None until its scheduler looks at the job again (then BeginTime).
    assert.notEqual(released.Reason, 'JobHeldUser', 'no longer held in Slurm');
    assert.notEqual(released.Priority, '0');

    assert.equal(sb.json(['hold', id])[0].phase, 'HELD');
    const a = sb.run(['abort', id]);
    assert.equal(a.code, 0, a.stderr);
    const aborted = sb.job(id);
    assert.equal(aborted.phase, 'ABORTED');
    assert.equal(aborted.startTime, null);
    await waitFor('Slurm to cancel the HELD job', () => {
      const f = slurmJob(s);
      return !f || f.JobState === 'CANCELLED' || undefined;
    });
    await waitFor('the cancel confirmed', () => state(sb).slurmCancels === undefined || undefined, 60_000);
    assert.deepEqual(slurmIdsOf(id), [s], 'handed over once');
    assert.equal(existsSync(join(sb.jobDir(id), 'results', 'ran')), false, 'its command never ran');
  } finally {
    cleanupSlurmSandbox(sb, slurmEnv(), ids);
  }
});

test('release of a job held in Slurm since its handover: it runs once and completes', T, async () => {
  const sb = slurmSandbox(YAML);
  const ids: string[] = [];
  try {
    const id = submitJob(sb, ['held', '--run']);
    ids.push(id);
    const s = await handedOver(sb, id);
    assert.equal(sb.json(['hold', id])[0].phase, 'HELD');
    assert.equal(slurmJob(s)?.Reason, 'JobHeldUser');
    assert.equal(sb.json(['release', id])[0].phase, 'QUEUED');
    const f = await final(sb, id);
    assert.equal(f.phase, 'COMPLETED', JSON.stringify(f.errorSummary));
    assert.equal(f.slurmJobId, s);
    assert.notEqual(f.startTime, null);
    assert.ok(existsSync(join(sb.jobDir(id), 'results', 'ran')));
    assert.deepEqual(slurmIdsOf(id), [s], 'handed over once');
  } finally {
    cleanupSlurmSandbox(sb, slurmEnv(), ids);
  }
});

test('a hold that comes too late (Slurm started the job, the runner has not seen it): exit 4 as for EXECUTING, recorded EXECUTING, no hold left in Slurm; it completes', T, async () => {
  const sb = slurmSandbox(YAML);
  const ids: string[] = [];
  let runner: number | undefined;
  try {
    const id = submitJob(sb, ['gate', '--run']);
    ids.push(id);
    const s = await handedOver(sb, id);
    runner = state(sb).runner.pid as number;
    process.kill(runner, 'SIGSTOP');
    // Slurm starts it while nobody in uwsrun looks (sbatch --hold kept it until now).
    const r = slurm('scontrol', ['release', s]);
    assert.equal(r.code, 0, r.stderr);
    await waitFor('the batch job to run', () => existsSync(join(sb.recordDir(id), 'batch')) || undefined, 60_000);
    assert.equal(phaseOf(sb, id), 'QUEUED', 'the stopped runner has not recorded its start');

    const h = sb.run(['hold', id]);
    assert.equal(h.code, 4, h.stderr);
    assert.equal(h.stderr.trim(), `uwsrun: job ${id} is EXECUTING: hold is not allowed in that phase`);
    assert.equal(phaseOf(sb, id), 'EXECUTING');
    const inSlurm = slurmJob(s)!;
    assert.equal(inSlurm.JobState, 'RUNNING');
    assert.notEqual(inSlurm.Priority, '0', 'the hold was taken back');
    await assertLogged(sb, new RegExp(`job ${id}: running in Slurm \\(job ${s}, RUNNING\\): seen by a hold that came too late`));

    // The stopped runner may have been killed by a command that met it holding the lock.
    if (alive(runner)) process.kill(runner, 'SIGCONT');
    runner = undefined;
    release(sb, id);
    const f = await final(sb, id);
    assert.equal(f.phase, 'COMPLETED', JSON.stringify(f.errorSummary));
    assert.notEqual(f.startTime, null);
    assert.deepEqual(slurmIdsOf(id), [s], 'handed over once');
  } finally {
    if (runner !== undefined && alive(runner)) process.kill(runner, 'SIGCONT');
    cleanupSlurmSandbox(sb, slurmEnv(), ids);
  }
});

test('a controller that does not answer: hold and release exit 1 naming the call and Slurm\'s words; nothing changes, here or in Slurm', T, async () => {
  const sb = slurmSandbox(YAML);
  const ids: string[] = [];
  try {
    const down = await controllerDownConf(sb.dir);

    const id = submitJob(sb, ['pending', '--run']);
    ids.push(id);
    const s = await handedOver(sb, id);
    const before = sb.job(id);
    const h = sb.run(['hold', id], { SLURM_CONF: down });
    assert.equal(h.code, 1, h.stderr);
    assert.match(h.stderr.trim(), new RegExp(`^uwsrun: job ${id}: scontrol uhold ${s} failed: Slurm's controller does not answer \\(.+\\); nothing changed, try again$`));
    assert.deepEqual(sb.job(id), before, 'unchanged');
    assert.notEqual(slurmJob(s)?.Reason, 'JobHeldUser', 'not held in Slurm');
    assert.notEqual(slurmJob(s)?.Priority, '0');

    assert.equal(sb.json(['hold', id])[0].phase, 'HELD');
    const heldRecord = sb.job(id);
    const r = sb.run(['release', id], { SLURM_CONF: down });
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr.trim(), new RegExp(`^uwsrun: job ${id}: scontrol release ${s} failed: Slurm's controller does not answer \\(.+\\); nothing changed, try again$`));
    assert.deepEqual(sb.job(id), heldRecord, 'still HELD');
    assert.equal(slurmJob(s)?.Reason, 'JobHeldUser', 'still held in Slurm');
    assert.equal(sb.run(['abort', id]).code, 0);
  } finally {
    cleanupSlurmSandbox(sb, slurmEnv(), ids);
  }
});
