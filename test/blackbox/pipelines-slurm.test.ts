// Black-box: dependencies across executors (SPEC §13 "works across executors"): the gate
// judges a dependency by its phase alone, so a local job waits on a Slurm job and a Slurm
// job on a local one, against the real single-node cluster of scripts/slurm-cluster.sh.
// Only this test's own Slurm jobs (named uwsrun-JOBID) are ever cancelled.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { FINAL, Sandbox, submitJob, waitFor } from '../helpers.js';
import { slurm, slurmEnv } from '../slurm.js';

const T = { timeout: 240_000 };

const YAML = `
defaults:
  destruction: 0
jobs:
  onslurm:
    executor: slurm
    command: ["true"]
  failsonslurm:
    executor: slurm
    command: [sh, -c, 'echo "no calibration frames" >&2; exit 2']
  local:
    command: ["true"]
`;

function cleanup(sb: Sandbox): void {
  const dir = join(sb.home, 'jobs');
  const ids = existsSync(dir) ? readdirSync(dir) : [];
  const own = ids.flatMap((id) => {
    const r = slurm('squeue', ['-h', '-t', 'all', `--name=uwsrun-${id}`, '-o', '%i']);
    return r.stdout.split('\n').filter((l) => /^\d+$/.test(l.trim()));
  });
  if (own.length > 0) slurm('scancel', own);
  sb.cleanup();
}

const final = (sb: Sandbox, id: string): Promise<any> =>
  waitFor(`job ${id} to end`, () => {
    const job = sb.job(id);
    return FINAL.includes(job.phase) ? job : undefined;
  }, 120_000);

test('a local job after a Slurm job and a Slurm job after a local one; a failed Slurm job aborts its local dependent', T, async () => {
  const sb = new Sandbox(YAML);
  sb.env = { ...sb.env, SLURM_CONF: slurmEnv().SLURM_CONF };
  try {
    const first = submitJob(sb, ['onslurm', '--run']);
    const middle = submitJob(sb, ['local', '--after', first, '--run']);
    const last = submitJob(sb, ['onslurm', '--after', middle, '--run']);
    const failing = submitJob(sb, ['failsonslurm', '--run']);
    const doomed = submitJob(sb, ['local', '--after', failing, '--run']);
    const jl = await final(sb, last);
    const [jf, jm] = [sb.job(first), sb.job(middle)];
    for (const j of [jf, jm, jl]) assert.equal(j.phase, 'COMPLETED', `${j.definition}: ${JSON.stringify(j.errorSummary)}`);
    assert.equal(jf.executor, 'slurm');
    assert.equal(jm.executor, 'local');
    assert.ok(Date.parse(jm.startTime) >= Date.parse(jf.endTime), 'the local job started after the Slurm job ended');
    assert.ok(Date.parse(jl.startTime) >= Date.parse(jm.endTime), 'the Slurm job started after the local job ended');
    assert.equal(jl.slurmJobId !== null, true, 'handed over only once its dependency was done');
    const jd = await final(sb, doomed);
    assert.equal(sb.job(failing).phase, 'ERROR');
    assert.equal(jd.phase, 'ABORTED');
    assert.deepEqual(jd.errorSummary, { type: 'transient', message: `dependency ${failing} ended ERROR` });
  } finally {
    cleanup(sb);
  }
});
