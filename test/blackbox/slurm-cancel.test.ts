// Black-box: an abort while Slurm's controller does not answer (SPEC §11: no Slurm job is left
// behind by an aborted uwsrun job). The job is ABORTED at once, as for any job Slurm has not
// started; its cancel belongs to the state (state.slurmCancels) and the runner sends scancel
// again until Slurm confirms the batch job gone; should the batch job start before that, its
// script runs nothing. On a private cluster whose controller the test stops and starts.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Sandbox, submitJob, waitFor } from '../helpers.js';
import { assertLogged, state } from '../runner-state.js';
import { cluster, privateCluster, slurmJob } from '../slurm.js';

const YAML = `
defaults:
  executor: slurm
  destruction: 0
jobs:
  later:
    command: [sh, -c, 'touch "$UWS_JOB_DIR/ran"']
    slurm: { options: [--begin=now+20] }
`;


test('abort while the controller is down: ABORTED at once; the state keeps the cancel and the runner sends scancel until Slurm confirms the job gone; the command never runs', { timeout: 300_000 }, async (t) => {
  const own = await privateCluster(t);
  const sb = new Sandbox(YAML);
  sb.env = { ...sb.env, SLURM_CONF: own.client.SLURM_CONF };
  try {
    const t0 = Date.now();
    const id = submitJob(sb, ['later', '--run']);
    const s = await waitFor('the job handed over', () => sb.job(id).slurmJobId ?? undefined, 60_000);
    assert.equal(slurmJob(s, own.client)?.JobState, 'PENDING');

    const stop = cluster('ctld-stop', own.script);
    assert.equal(stop.code, 0, stop.stderr);
    const a = sb.run(['abort', id]);
    assert.equal(a.code, 0, `the job is ABORTED; its cancel is retried: ${a.stderr}`);
    const j = sb.job(id);
    assert.equal(j.phase, 'ABORTED');
    assert.equal(j.startTime, null);
    assert.deepEqual(state(sb).slurmCancels?.[id]?.slurmJobId, s, 'the state owns the cancel');
    await assertLogged(sb, new RegExp(`job ${id}: aborted before it started in Slurm: scancel ${s} failed: .*the runner retries it`));

    // Past its begin time Slurm may start it the moment the controller is back, before the
    // runner's scancel: it must run nothing then.
    await waitFor('the job\'s begin time to pass', () => Date.now() > t0 + 22_000 || undefined, 30_000);
    const start = cluster('ctld-start', own.script);
    assert.equal(start.code, 0, start.stderr);
    await waitFor('Slurm to confirm the cancel', () => (state(sb).slurmCancels?.[id] ? undefined : true), 180_000);
    const f = slurmJob(s, own.client);
    assert.ok(!f || /^(CANCELLED|COMPLETED)$/.test(f.JobState ?? ''), `Slurm no longer runs or holds it: ${f?.JobState}`);
    assert.equal(existsSync(join(sb.jobDir(id), 'ran')), false, 'the command of the aborted job never ran');
    assert.equal(sb.job(id).phase, 'ABORTED');
    await assertLogged(sb, new RegExp(`job ${id}: Slurm no longer runs or holds job ${s}: its cancel is done`));
    assert.equal(sb.run(['doctor']).code, 0, 'nothing left to report');
  } finally {
    // The private cluster's own clean-up (`down`) cancels whatever is left of it.
    sb.cleanup();
  }
});
