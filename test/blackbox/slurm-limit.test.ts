// Black-box: `set --execution-duration` (and POST {job}/executionduration) of a QUEUED job
// already handed over to Slurm, against the real single-node cluster (src/executors/slurm/
// limit.ts). Its sbatch got the old limit as --time, so Slurm is told first (scontrol
// update TimeLimit, rounded up to minutes, UNLIMITED for 0); the new limit is the one
// uwsrun enforces once it runs; a controller that does not answer changes nothing.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FINAL, submitJob, waitFor } from '../helpers.js';
import { cleanupSlurmSandbox, controllerDownConf, handedOver, slurm, slurmEnv, slurmJob, slurmSandbox } from '../slurm.js';
import { form, http, startServer } from '../serve-process.js';

const T = { timeout: 240_000 };

const YAML = `
defaults:
  executor: slurm
  destruction: 0
jobs:
  held:
    description: held in Slurm from its handover (sbatch --hold), then sleeps
    command: [sleep, "100"]
    executionDuration: 30
    slurm: { options: [--hold] }
`;

const timeLimit = (s: string): string | undefined => slurmJob(s)?.TimeLimit;

test('set --execution-duration of a job pending in Slurm changes Slurm\'s TimeLimit too (minutes rounded up, UNLIMITED for 0), and the new limit is the one enforced', T, async () => {
  const sb = slurmSandbox(YAML);
  const ids: string[] = [];
  try {
    const id = submitJob(sb, ['held', '--run']);
    ids.push(id);
    const s = await handedOver(sb, id);
    assert.equal(timeLimit(s), '00:01:00', '--time from executionDuration 30 s');
    for (const [seconds, limit] of [['600', '00:10:00'], ['0', 'UNLIMITED'], ['61', '00:02:00'], ['2', '00:01:00']] as const) {
      const r = sb.run(['set', id, '--execution-duration', seconds]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(sb.job(id).executionDuration, Number(seconds));
      assert.equal(timeLimit(s), limit, `after set ${seconds}`);
    }
    assert.equal(sb.job(id).phase, 'QUEUED');
    // Let Slurm run it: uwsrun's own limit of 2 s ends it, long before Slurm's minute.
    assert.equal(slurm('scontrol', ['release', s]).code, 0);
    const done = await waitFor(`job ${id} to end`, () => {
      const job = sb.job(id);
      return FINAL.includes(job.phase) ? job : undefined;
    }, 90_000);
    assert.equal(done.phase, 'ABORTED');
    assert.match(done.errorSummary?.message ?? '', /executionDuration of 2 s exceeded/);
    assert.ok(Date.parse(done.endTime) - Date.parse(done.startTime) < 30_000, `ran ${done.startTime} to ${done.endTime}`);
  } finally {
    cleanupSlurmSandbox(sb, slurmEnv(), ids);
  }
});

test('POST {job}/executionduration of a job pending in Slurm changes its TimeLimit; with the controller not answering, set exits 1 and nothing changes', T, async () => {
  const sb = slurmSandbox(YAML);
  const ids: string[] = [];
  const server = await startServer(sb, ['--no-auth'], { UWSRUN_SERVE_TICK_MS: '0' });
  try {
    const created = await http(`${server.url}/held`, { method: 'POST', ...form({ PHASE: 'RUN' }) });
    assert.equal(created.status, 303, created.body);
    const url = String(created.headers.location);
    const id = url.slice(url.lastIndexOf('/') + 1);
    ids.push(id);
    const s = await handedOver(sb, id);
    const posted = await http(`${url}/executionduration`, { method: 'POST', ...form({ EXECUTIONDURATION: '3600' }) });
    assert.equal(posted.status, 303, posted.body);
    assert.equal(sb.job(id).executionDuration, 3600);
    assert.equal(timeLimit(s), '01:00:00');

    const down = await controllerDownConf(sb.dir);
    const before = sb.job(id);
    const r = sb.run(['set', id, '--execution-duration', '120'], { SLURM_CONF: down });
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr.trim(), new RegExp(`^uwsrun: job ${id}: scontrol update JobId=${s} TimeLimit=2 failed: Slurm's controller does not answer \\(.+\\); nothing changed, try again$`));
    assert.deepEqual(sb.job(id), before, 'unchanged');
    assert.equal(timeLimit(s), '01:00:00');
    assert.equal(sb.run(['abort', id]).code, 0);
  } finally {
    await server.stop();
    cleanupSlurmSandbox(sb, slurmEnv(), ids);
  }
});
