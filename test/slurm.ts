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

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { ROOT, Sandbox, waitFor } from './helpers.js';

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

/** Runs scripts/slurm-cluster.sh COMMAND with `env` added to this process's environment. */
export function cluster(command: string, env: NodeJS.ProcessEnv, ...args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(CLUSTER_SCRIPT, [command, ...args], { env: { ...process.env, ...env }, encoding: 'utf8', timeout: 120_000 });
  if (r.error) throw r.error;
  return { code: r.status ?? 128, stdout: r.stdout, stderr: r.stderr };
}

/**
 * The first port of the kernel's ephemeral range (ip_local_port_range), from which every
 * outgoing connection takes its local port.
 */
function ephemeralLow(): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return Number.isInteger(low) && low > 0 ? low : 32768;
  } catch {
    return 32768;
  }
}

/**
 * A port P with P and P + 1 free just now (the controller's and slurmd's), on every address.
 * It is drawn below the ephemeral range: a port from listen(0) lies inside it, where any
 * outgoing connection may take it as its local port before slurmd binds it (CI saw
 * "Unable to bind listen port (46080): Address already in use").
 */
export async function freePortPair(): Promise<number> {
  const listen = (port: number): Promise<boolean> =>
    new Promise((resolve) => {
      const server = createServer();
      server.once('error', () => resolve(false));
      server.listen(port, () => server.close(() => resolve(true)));
    });
  const high = ephemeralLow() - 2;
  const low = Math.min(10_000, high - 1_000);
  assert.ok(low > 1024, `no room below the ephemeral range (it starts at ${high + 2})`);
  for (let tries = 0; tries < 200; tries++) {
    const port = low + Math.floor(Math.random() * (high - low + 1));
    if ((await listen(port)) && (await listen(port + 1))) return port;
  }
  throw new Error(`no free port pair in ${low}-${high + 1} after 200 tries`);
}

export interface PrivateCluster {
  dir: string;
  /** For scripts/slurm-cluster.sh: UWSRUN_SLURM_DIR, UWSRUN_SLURM_PORT (and more). */
  script: NodeJS.ProcessEnv;
  /** For the Slurm client commands: its SLURM_CONF. */
  client: NodeJS.ProcessEnv;
  /** `down` happened in the test; the clean-up need not do it. */
  downDone: boolean;
}

/** A cluster of its own (directory and ports), brought up by `up`, stopped after the test. */
export async function privateCluster(t: { after: (fn: () => void) => void }, extra: NodeJS.ProcessEnv = {}): Promise<PrivateCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'uwsrun-slurm-own-'));
  const c: PrivateCluster = {
    dir,
    script: { UWSRUN_SLURM_DIR: dir, UWSRUN_SLURM_PORT: String(await freePortPair()), ...extra },
    client: { SLURM_CONF: `${dir}/slurm.conf` },
    downDone: false,
  };
  t.after(() => {
    if (!c.downDone) cluster('down', c.script);
    rmSync(dir, { recursive: true, force: true });
  });
  const up = cluster('up', c.script);
  assert.equal(up.code, 0, up.stderr);
  assert.equal(up.stdout, `export SLURM_CONF=${dir}/slurm.conf\n`);
  assert.match(up.stderr, /probe job \d+ \(sbatch --wrap true\) completed in \d+\.\d\d s/);
  return c;
}

/** A sandbox whose commands reach the test cluster (or the one `client`'s SLURM_CONF names). */
export function slurmSandbox(yaml: string, client: NodeJS.ProcessEnv = slurmEnv()): Sandbox {
  const sb = new Sandbox(yaml);
  sb.env = { ...sb.env, SLURM_CONF: client.SLURM_CONF };
  return sb;
}

/**
 * A copy of the test cluster's slurm.conf in `dir` whose controller port nobody listens on:
 * Slurm's clients given it fail as with a stopped controller ("Unexpected message received"
 * after ~9 s), while the cluster itself runs on. Its path.
 */
export async function controllerDownConf(dir: string): Promise<string> {
  const port = await freePortPair();
  const conf = readFileSync(slurmEnv().SLURM_CONF, 'utf8');
  assert.match(conf, /^SlurmctldPort=\d+$/m);
  const down = join(dir, 'slurm-down.conf');
  writeFileSync(down, conf.replace(/^SlurmctldPort=\d+$/m, `SlurmctldPort=${port}`));
  return down;
}

/** The Slurm id of job `id` once its runner has handed it over. */
export const handedOver = (sb: Sandbox, id: string): Promise<string> =>
  waitFor(`job ${id} handed over`, () => sb.job(id).slurmJobId ?? undefined, 60_000);

/** The Slurm jobs named uwsrun-ID (any state Slurm still remembers): their ids. */
export function slurmIdsOf(jobId: string, client: NodeJS.ProcessEnv = slurmEnv()): string[] {
  const r = slurm('squeue', ['-h', '-t', 'all', `--name=uwsrun-${jobId}`, '-o', '%i'], client);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.split('\n').map((l) => l.trim()).filter((l) => /^\d+$/.test(l));
}

/**
 * Cancels a sandbox's own Slurm jobs (by their names uwsrun-ID; `ids`, else every job
 * directory of its HOME) and removes the sandbox. Best effort: a failure here must not hide
 * the test's own (a finally block's error would).
 */
export function cleanupSlurmSandbox(sb: Sandbox, client: NodeJS.ProcessEnv = slurmEnv(), ids?: string[]): void {
  const dir = join(sb.home, 'jobs');
  const own = (ids ?? (existsSync(dir) ? readdirSync(dir) : [])).flatMap((id) => {
    try {
      return slurmIdsOf(id, client);
    } catch {
      return [];
    }
  });
  if (own.length > 0) slurm('scancel', own, client);
  sb.cleanup();
}
