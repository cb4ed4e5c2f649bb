// Black-box: a HOME with a Slurm definition on a machine (or a PATH) without Slurm's client
// commands. The handover cannot even be tried: the job stays QUEUED and is retried, and
// runner.log and `doctor` say that the client commands could not be run (not that the
// controller does not answer, and not "check slurmctld"); likewise for a configuration the
// clients cannot use. No cluster is needed: the submit,
// and so the runner, get a PATH that holds node and nothing else.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
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
    assert.match(d.stdout, /^problem: Slurm's client commands could not be run since \S+ \(cannot run sbatch: [^)]*\); 1 Slurm job waits \(handovers are retried; install Slurm's client commands, or put them on the PATH of the command that starts the runner; the runner, process \d+, keeps the environment it was started with: stop it \(`kill \d+`\) and the next uwsrun command starts one with its own\)\.$/m);
    assert.doesNotMatch(d.stdout, /scontrol ping/);
  } finally {
    sb.cleanup();
  }
});

// The client commands are there, but the configuration they are given is not usable (a
// runner started from cron without the SLURM_CONF of the operator's shell, or a broken
// file): sbatch exits 1 with "fatal: Unable to process configuration file". That is no
// refusal of the job: it waits QUEUED, and runner.log and doctor name the configuration.
test('a Slurm configuration the clients cannot use: the job waits QUEUED (not ERROR), runner.log and doctor say the configuration cannot be read', { timeout: 60_000 }, async () => {
  const sb = new Sandbox(YAML);
  try {
    const conf = join(sb.dir, 'slurm.conf');
    writeFileSync(conf, 'this is not a slurm.conf\n');
    const id = submitJob(sb, ['there', '--run'], { SLURM_CONF: conf });
    const line = await waitFor('runner.log to say so', () => /Slurm's configuration cannot be read \(sbatch found no usable Slurm configuration \(SLURM_CONF is [^)]*slurm\.conf\): [^\n]*Unable to process configuration file\): handovers wait and are retried[^\n]*/.exec(runnerLog(sb))?.[0]);
    assert.doesNotMatch(runnerLog(sb), /controller does not answer|refused/, line);
    const job = sb.job(id);
    assert.equal(job.phase, 'QUEUED', JSON.stringify(job));
    assert.equal(job.slurmJobId ?? null, null);
    assert.equal(job.errorSummary ?? null, null);
    const d = sb.run(['doctor']);
    assert.equal(d.code, 1, d.stdout + d.stderr);
    assert.match(d.stdout, /^problem: Slurm's configuration could not be read since \S+ \(sbatch found no usable Slurm configuration [^\n]*\); 1 Slurm job waits \(handovers are retried; give the command that starts the runner the SLURM_CONF the cluster needs[^\n]*; the runner, process \d+, keeps the environment it was started with: stop it \(`kill \d+`\)[^\n]*\)\.$/m);
    assert.doesNotMatch(d.stdout, /scontrol ping|install Slurm's client commands/);
  } finally {
    sb.cleanup();
  }
});
