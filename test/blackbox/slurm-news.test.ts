// Black-box: how the runner learns a Slurm job's news (SPEC §11, executors/slurm/executor.ts):
// from the files its batch script writes (batch, up, exit, signalled), asking Slurm only when
// its word is needed, against the real single-node cluster of scripts/slurm-cluster.sh.
//   - a command that exits 0 by itself and was not signalled is COMPLETED from its exit file
//     (runner.log: "Slurm not asked");
//   - a command killed by a signal, or one that exits after Slurm signalled it, gets Slurm's
//     verdict: a job cancelled from outside that traps SIGTERM and exits 0 is ERROR
//     "CANCELLED, not by uwsrun", never COMPLETED;
//   - a job Slurm cancels while it is pending (its batch script never runs, nothing is
//     written) is found by the backstop poll and ends ERROR;
//   - with the backstop a minute away, the batch job's files (inotify) still bring its start
//     and "up" within seconds, and its executionDuration is enforced at its deadline (the
//     runner cycles for a deadline, not only every second or at the backstop).
// Only this test's own Slurm jobs (named uwsrun-JOBID) are ever cancelled.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FINAL, Sandbox, submitJob, waitFor } from '../helpers.js';
import { cleanupSlurmSandbox, slurm, slurmSandbox } from '../slurm.js';

const T = { timeout: 240_000 };

const YAML = `
defaults:
  executor: slurm
  destruction: 0
jobs:
  fine:
    command: [sh, -c, 'echo done']
  killed:
    command: [sh, -c, 'kill -USR1 $$']
  shrugs:
    command: [sh, -c, 'trap "echo got TERM; exit 0" TERM; touch "$UWS_JOB_DIR/ready"; while :; do sleep 0.1; done']
  held:
    command: ["true"]
    slurm: { options: [--hold] }
  limited:
    command: [sleep, "30"]
    executionDuration: 2
`;

async function final(sb: Sandbox, id: string, ms = 90_000): Promise<any> {
  return waitFor(`job ${id} to end`, () => {
    const job = sb.job(id);
    return FINAL.includes(job.phase) ? job : undefined;
  }, ms);
}

const endLine = (sb: Sandbox, id: string): string =>
  readFileSync(join(sb.home, 'runner.log'), 'utf8').split('\n').find((l) => l.includes(`job ${id}: ended `)) ?? '';

test('exit 0 unsignalled is COMPLETED from the exit file without asking Slurm; a signal death gets Slurm\'s verdict', T, async () => {
  const sb = slurmSandbox(YAML);
  try {
    // One after the other: the squeue asked for the killed job's verdict covers every active
    // Slurm job, so a fine job ending meanwhile would get Slurm's word too (seen at load 7).
    const fine = submitJob(sb, ['fine', '--run']);
    const a = await final(sb, fine);
    const killed = submitJob(sb, ['killed', '--run']);
    const b = await final(sb, killed);
    assert.equal(a.phase, 'COMPLETED');
    assert.equal(a.exitCode, 0);
    assert.match(a.slurmJobId, /^\d+$/);
    assert.match(endLine(sb, fine), /ended COMPLETED \(exit code 0; Slurm not asked/);
    assert.equal(b.phase, 'ERROR');
    assert.equal(b.signal, 'SIGUSR1');
    // Slurm was asked: its end state is in the line (FAILED for a batch job that died so).
    assert.match(endLine(sb, killed), /ended ERROR \(signal SIGUSR1; Slurm: [A-Z_]+\)/);
    assert.ok(!existsSync(join(sb.home, 'records', fine, 'signalled')), 'nobody signalled the batch job');
  } finally {
    cleanupSlurmSandbox(sb);
  }
});

test('a running job cancelled from outside that traps SIGTERM and exits 0 is ERROR (CANCELLED, not by uwsrun), not COMPLETED', T, async () => {
  const sb = slurmSandbox(YAML);
  try {
    const id = submitJob(sb, ['shrugs', '--run']);
    await waitFor('the command to run', () => existsSync(join(sb.home, 'jobs', id, 'ready')), 90_000);
    const slurmJobId = await waitFor('the Slurm id', () => sb.job(id).slurmJobId ?? undefined, 30_000);
    const r = slurm('scancel', [slurmJobId]);
    assert.equal(r.code, 0, r.stderr);
    const job = await final(sb, id);
    assert.equal(job.phase, 'ERROR');
    assert.equal(job.errorSummary?.type, 'fatal');
    assert.match(job.errorSummary?.message ?? '', /CANCELLED, not by uwsrun/);
    // The command did trap it and exit 0: the wrapper's word, overruled by Slurm's.
    assert.equal(job.exitCode, 0);
    assert.match(readFileSync(join(sb.home, 'jobs', id, 'stdout.log'), 'utf8'), /got TERM/);
    assert.match(readFileSync(join(sb.home, 'records', id, 'signalled'), 'utf8'), /^TERM$/m);
  } finally {
    cleanupSlurmSandbox(sb);
  }
});

test('a job Slurm cancels while pending (nothing written by it) ends ERROR through the backstop poll', T, async () => {
  const sb = slurmSandbox(YAML);
  try {
    const id = submitJob(sb, ['held', '--run']);
    const slurmJobId = await waitFor('the Slurm id', () => sb.job(id).slurmJobId ?? undefined, 30_000);
    assert.equal(sb.job(id).phase, 'QUEUED');
    const r = slurm('scancel', [slurmJobId]);
    assert.equal(r.code, 0, r.stderr);
    const job = await final(sb, id, 60_000);
    assert.equal(job.phase, 'ERROR');
    assert.match(job.errorSummary?.message ?? '', /CANCELLED, not by uwsrun/);
    assert.equal(job.startTime, null);
    assert.ok(!existsSync(join(sb.home, 'records', id, 'batch')), 'its batch script never ran');
  } finally {
    cleanupSlurmSandbox(sb);
  }
});

test('with the backstop a minute away, inotify brings a job\'s start and up, and executionDuration is enforced at its deadline', T, async () => {
  const sb = slurmSandbox(YAML);
  sb.env = { ...sb.env, UWSRUN_SLURM_BACKSTOP_MS: '60000' };
  try {
    const id = submitJob(sb, ['limited', '--run']);
    await waitFor('the command to be up', () => existsSync(join(sb.home, 'records', id, 'up')) || undefined, 60_000);
    // Without the wake from its `up` file the runner would look again only at the backstop.
    const started = await waitFor('startTime recorded', () => sb.job(id).startTime ?? undefined, 15_000);
    assert.equal(sb.job(id).phase === 'EXECUTING' || FINAL.includes(sb.job(id).phase), true);
    const job = await final(sb, id, 30_000);
    assert.equal(job.phase, 'ABORTED');
    assert.deepEqual(job.errorSummary, { type: 'transient', message: 'executionDuration of 2 s exceeded' });
    const ran = (Date.parse(job.endTime) - Date.parse(started)) / 1000;
    assert.ok(ran >= 2 && ran < 12, `ran ${ran} s (its deadline was 2 s; the backstop 60 s)`);
  } finally {
    cleanupSlurmSandbox(sb);
  }
});
