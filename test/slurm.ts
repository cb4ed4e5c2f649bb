// Test helpers for the single-node Slurm cluster of scripts/slurm-cluster.sh: real slurmctld,
// slurmd and munged on this machine, reached with the real client commands.
//
// - `npm test` runs the suites through `scripts/slurm-cluster.sh run`, which brings the
//   cluster up when it does not answer and exports SLURM_CONF and UWSRUN_SLURM_DIR; .ci/run
//   brings it up before `npm test` itself. Both use the one in UWSRUN_SLURM_DIR.
// - A test file run on its own (`node --test build/test/blackbox/slurm-cluster.test.js`)
//   has no SLURM_CONF: then `slurmEnv()` runs `scripts/slurm-cluster.sh up` (idempotent,
//   serialised by the script's lock) and uses the cluster it prints; that cluster stays up
//   until `scripts/slurm-cluster.sh down`.

import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { ROOT } from './helpers.js';

export const CLUSTER_SCRIPT = join(ROOT, 'scripts', 'slurm-cluster.sh');

export interface SlurmEnv extends NodeJS.ProcessEnv {
  SLURM_CONF: string;
  UWSRUN_SLURM_DIR: string;
}

let cached: SlurmEnv | undefined;

/** The environment that points Slurm's client commands at the test cluster. */
export function slurmEnv(): SlurmEnv {
  if (cached) return cached;
  const conf = process.env.SLURM_CONF;
  if (conf) {
    cached = { SLURM_CONF: conf, UWSRUN_SLURM_DIR: process.env.UWSRUN_SLURM_DIR ?? dirname(conf) };
    return cached;
  }
  const r = spawnSync(CLUSTER_SCRIPT, ['up'], { encoding: 'utf8', timeout: 120_000 });
  const m = /^export SLURM_CONF=(.+)$/m.exec(r.stdout ?? '');
  if (r.status !== 0 || !m) throw new Error(`scripts/slurm-cluster.sh up failed (exit ${r.status}): ${r.stderr}`);
  cached = { SLURM_CONF: m[1]!, UWSRUN_SLURM_DIR: dirname(m[1]!) };
  return cached;
}

export interface Slurm {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a Slurm client command (sbatch, squeue, scontrol, sacct...) against the test cluster. */
export function slurm(command: string, args: string[], env: NodeJS.ProcessEnv = slurmEnv()): Slurm {
  const r = spawnSync(command, args, { env: { ...process.env, ...env }, encoding: 'utf8', timeout: 30_000 });
  if (r.error) throw r.error;
  return { code: r.status ?? 128, stdout: r.stdout, stderr: r.stderr };
}

/** `scontrol show job -o ID` as fields (JobState, ExitCode, Reason...); undefined once Slurm forgot it. */
export function slurmJob(id: string, env: NodeJS.ProcessEnv = slurmEnv()): Record<string, string> | undefined {
  const r = slurm('scontrol', ['show', 'job', '-o', id], env);
  if (r.code !== 0) return undefined;
  const fields: Record<string, string> = {};
  for (const word of r.stdout.trim().split(' ')) {
    const eq = word.indexOf('=');
    if (eq > 0) fields[word.slice(0, eq)] = word.slice(eq + 1);
  }
  return fields;
}

/** Slurm's job states after which the job no longer runs. */
export const SLURM_ENDED = /^(COMPLETED|FAILED|CANCELLED|TIMEOUT|OUT_OF_MEMORY|NODE_FAIL|BOOT_FAIL|PREEMPTED|DEADLINE)$/;
