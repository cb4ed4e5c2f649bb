// Black-box: a HOME with a Slurm definition on a machine (or a PATH) without Slurm's client
// commands. The handover cannot even be tried: the job stays QUEUED and is retried, and
// runner.log and `doctor` say that the client commands could not be run (not that the
// controller does not answer, and not "check slurmctld"). No cluster is needed: the submit,
// and so the runner, get a PATH that holds node and nothing else.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { Sandbox, submitJob, waitFor } from '../helpers.js';
import { runnerLog } from '../runner-state.js';

const YAML = `
jobs:
  there:
    executor: slurm
    command: ["true"]
`;

test('no Slurm client on the PATH: the job waits QUEUED, runner.log and doctor say the client commands cannot be run', { timeout: 60_000 }, async () => {
  const sb = new Sandbox(YAML);
  try {
    // node only (bin/uwsrun starts with `#!/usr/bin/env node`): no sbatch, squeue, scancel.
    const bin = join(sb.dir, 'node-only');
    mkdirSync(bin);
    symlinkSync(process.execPath, join(bin, 'node'));
    const id = submitJob(sb, ['there', '--run'], { PATH: bin });
    const line = await waitFor('runner.log to say so', () => /Slurm's client commands cannot be run \(cannot run sbatch: [^)]*ENOENT\)/.exec(runnerLog(sb))?.[0]);
    assert.doesNotMatch(runnerLog(sb), /controller does not answer/, line);
    const job = sb.job(id);
    assert.equal(job.phase, 'QUEUED');
    assert.equal(job.slurmJobId ?? null, null);
    const d = sb.run(['doctor']);
    assert.equal(d.code, 1, d.stdout + d.stderr);
    assert.match(d.stdout, /^problem: Slurm's client commands could not be run since \S+ \(cannot run sbatch: [^)]*\); 1 Slurm job waits \(handovers are retried; install Slurm's client commands, or put them on the PATH of the command that starts the runner\)\.$/m);
    assert.doesNotMatch(d.stdout, /scontrol ping/);
  } finally {
    sb.cleanup();
  }
});
