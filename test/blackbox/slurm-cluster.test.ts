// Black-box: the single-node Slurm cluster the Slurm tests run against (scripts/slurm-cluster.sh).
// Real slurmctld, slurmd and munged; jobs go in with the real sbatch and their end is read
// back from scontrol and from `sacct -c` (jobcomp/filetxt, the accounting this cluster has).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from '../helpers.js';
import { procStat, stillAlive } from '../procfs.js';
import { SLURM_ENDED, cluster, freePortPair, privateCluster, slurm, slurmEnv, slurmJob } from '../slurm.js';

/** Submits with `sbatch --parsable`; returns the job id. */
function sbatch(args: string[], env: NodeJS.ProcessEnv = slurmEnv()): string {
  const r = slurm('sbatch', ['--parsable', ...args], env);
  assert.equal(r.code, 0, `sbatch ${args.join(' ')}: ${r.stderr}`);
  const id = r.stdout.trim().split(';')[0]!;
  assert.match(id, /^\d+$/);
  return id;
}

/** Waits until Slurm reports the job in an end state; returns its scontrol fields. */
function ended(id: string, env: NodeJS.ProcessEnv = slurmEnv(), ms = 30_000): Promise<Record<string, string>> {
  return waitFor(`Slurm job ${id} to end`, () => {
    const job = slurmJob(id, env);
    return job && SLURM_ENDED.test(job.JobState ?? '') ? job : undefined;
  }, ms);
}

/** The `sacct -c` line (JobID|State|ExitCode) of a job, once the jobcomp file has it. */
function sacctLine(id: string): Promise<string> {
  return waitFor(`sacct -c to list job ${id}`, () => {
    const r = slurm('sacct', ['-c', '-j', id, '-n', '-P', '-o', 'JobID,State,ExitCode']);
    return r.code === 0 ? r.stdout.split('\n').find((l) => l.startsWith(`${id}|`)) : undefined;
  });
}

test('the cluster answers: scripts/slurm-cluster.sh status exits 0', () => {
  const r = cluster('status', slurmEnv());
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /^slurm-cluster: up: slurmctld answers, node \S+ is (idle|mixed|allocated)/);
});

test('a batch job that exits 3 is FAILED with exit code 3 in scontrol and in sacct -c', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'uwsrun-slurm-job-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const id = sbatch([`--chdir=${dir}`, `--output=${join(dir, 'out')}`, '--wrap', 'echo ran in $PWD; exit 3']);
  const job = await ended(id);
  assert.equal(job.JobState, 'FAILED');
  assert.equal(job.ExitCode, '3:0');
  assert.equal(readFileSync(join(dir, 'out'), 'utf8'), `ran in ${dir}\n`);
  assert.equal(await sacctLine(id), `${id}|FAILED|3:0`);
});

test('a batch job killed by a signal reports the signal, and exit 0 is COMPLETED', async () => {
  const killed = sbatch(['--output=/dev/null', '--wrap', 'kill -TERM $$']);
  const fine = sbatch(['--output=/dev/null', '--wrap', 'true']);
  const k = await ended(killed);
  assert.equal(k.JobState, 'FAILED');
  assert.equal(k.ExitCode, '0:15');
  assert.equal(await sacctLine(killed), `${killed}|FAILED|0:15`);
  const f = await ended(fine);
  assert.equal(f.JobState, 'COMPLETED');
  assert.equal(await sacctLine(fine), `${fine}|COMPLETED|0:0`);
});

test('the node runs one job per CPU at once (memory is not a consumable resource)', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'uwsrun-slurm-job-'));
  const node = slurm('sinfo', ['-h', '-o', '%c']);
  const cpus = Number(node.stdout.trim());
  assert.ok(cpus >= 1, `sinfo -o %c: ${node.stdout}${node.stderr}`);
  const release = join(dir, 'release');
  const ids = Array.from({ length: cpus }, () =>
    sbatch([`--chdir=${dir}`, '--output=/dev/null', '--wrap', `while [ ! -e ${release} ]; do sleep 0.05; done`]));
  t.after(() => {
    slurm('scancel', ids);
    rmSync(dir, { recursive: true, force: true });
  });
  await waitFor(`${cpus} jobs RUNNING at once`, () => ids.every((id) => slurmJob(id)?.JobState === 'RUNNING'));
  writeFileSync(release, '');
  for (const id of ids) assert.equal((await ended(id)).JobState, 'COMPLETED');
});

test('a controller outage (ctld-stop, ctld-start) keeps running and held jobs; both complete; down leaves no job process', async (t) => {
  // A cluster of its own, so that the outage and `down` touch no other test.
  const own = await privateCluster(t);
  const { dir, script: env, client: slurmOwn } = own;

  const release = join(dir, 'release');
  const running = sbatch(['--output=/dev/null', '--wrap', `while [ ! -e ${release} ]; do sleep 0.05; done; exit 4`], slurmOwn);
  const held = sbatch(['--output=/dev/null', '--hold', '--wrap', 'true'], slurmOwn);
  await waitFor('the first job RUNNING', () => slurmJob(running, slurmOwn)?.JobState === 'RUNNING');

  const stop = cluster('ctld-stop', env);
  assert.equal(stop.code, 0, stop.stderr);
  assert.match(stop.stderr, /stopped slurmctld \(pid \d+\)/);
  const status = cluster('status', env);
  assert.equal(status.code, 1);
  assert.match(status.stderr, /slurmctld of \S+ is not running/);
  // The job ends while the controller is away; slurmd reports it when it is back.
  writeFileSync(release, '');

  const start = cluster('ctld-start', env);
  assert.equal(start.code, 0, start.stderr);
  assert.equal(cluster('status', env).code, 0, 'the cluster answers again once ctld-start returns');
  const r = await ended(running, slurmOwn);
  assert.equal(r.JobState, 'FAILED');
  assert.equal(r.ExitCode, '4:0');
  const h = slurmJob(held, slurmOwn);
  assert.equal(h?.JobState, 'PENDING');
  assert.equal(h?.Reason, 'JobHeldUser');
  assert.equal(slurm('scontrol', ['release', held], slurmOwn).code, 0);
  assert.equal((await ended(held, slurmOwn)).JobState, 'COMPLETED');
  assert.ok(existsSync(join(dir, 'state', 'job_state')), 'the controller saved its state in the cluster directory');

  // A drained node (Slurm drains one whose job step it could not kill) is resumed by `up`.
  const node = spawnSync('hostname', ['-s'], { encoding: 'utf8' }).stdout.trim();
  assert.equal(slurm('scontrol', ['update', `nodename=${node}`, 'state=drain', 'reason=uwsrun-test'], slurmOwn).code, 0);
  const resumed = cluster('up', env);
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.match(resumed.stderr, /node \S+ was 'drain\S*' \(reason: uwsrun-test\): resumed/);
  assert.equal(cluster('status', env).code, 0);

  // `down` with a job that ignores SIGTERM and has a child of its own: nothing of it is left.
  const pidFile = join(dir, 'pids');
  sbatch(['--output=/dev/null', '--wrap', `trap '' TERM; (trap '' TERM; exec sleep 1000) & echo $$ $! >${pidFile}; wait`], slurmOwn);
  const pids = await waitFor('the job to write its pids', () => {
    const text = existsSync(pidFile) ? readFileSync(pidFile, 'utf8') : '';
    return /^\d+ \d+\n$/.test(text) ? text.trim().split(' ').map(Number) : undefined;
  });
  const procs = pids.map((pid) => procStat(pid));
  assert.ok(procs.every((p) => p && stillAlive(p)), 'the job and its child run');
  const down = cluster('down', env);
  own.downDone = true;
  assert.equal(down.code, 0, down.stderr);
  assert.match(down.stderr, /cancelled jobs: \d+/);
  assert.match(down.stderr, /stopped slurmd \(pid \d+\) slurmctld \(pid \d+\)/);
  assert.deepEqual(procs.filter((p) => p && stillAlive(p)).map((p) => p!.pid), [], 'no process of the job outlives down');
  const after = cluster('status', env);
  assert.equal(after.code, 1);
});

test('run CMD brings a cluster up for CMD, passes its exit code, and stops the cluster only if it started it', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'uwsrun-slurm-own-'));
  const env = { UWSRUN_SLURM_DIR: dir, UWSRUN_SLURM_PORT: String(await freePortPair()) };
  t.after(() => {
    cluster('down', env);
    rmSync(dir, { recursive: true, force: true });
  });
  const conf = `${dir}/slurm.conf`;
  const first = cluster('run', env, 'sh', '-c', 'echo "$SLURM_CONF $UWSRUN_SLURM_DIR"; scontrol ping; exit 3');
  assert.equal(first.code, 3, first.stderr);
  assert.match(first.stdout, new RegExp(`^${conf} ${dir}\n.* is UP\n`));
  assert.match(first.stderr, /cluster up in .*\n(.|\n)*cluster down/);
  assert.equal(cluster('status', env).code, 1, 'a cluster that run started is stopped after it');

  assert.equal(cluster('up', env).code, 0);
  const second = cluster('run', env, 'true');
  assert.equal(second.code, 0, second.stderr);
  assert.doesNotMatch(second.stderr, /cluster (up|down)/);
  assert.equal(cluster('status', env).code, 0, 'a cluster that up started stays up after run');
});

const cgroupMemory = readFileSync('/proc/mounts', 'utf8')
  .split('\n')
  .some((l) => l.split(' ')[1] === '/sys/fs/cgroup/memory' && l.split(' ')[2] === 'cgroup');

test('with UWSRUN_SLURM_CGROUP=1 a job over its --mem ends OUT_OF_MEMORY; one within it completes', { skip: !cgroupMemory && 'no cgroup v1 memory controller at /sys/fs/cgroup/memory' }, async (t) => {
  const { client } = await privateCluster(t, { UWSRUN_SLURM_CGROUP: '1' });
  const grow = (mb: number): string => `python3 -c 'x = bytearray(${mb} * 1024 * 1024); x[-1] = 1'`;
  const over = sbatch(['--mem=50M', '--output=/dev/null', '--wrap', grow(300)], client);
  const within = sbatch(['--mem=200M', '--output=/dev/null', '--wrap', grow(20)], client);
  const o = await ended(over, client);
  assert.equal(o.JobState, 'OUT_OF_MEMORY', JSON.stringify(o));
  assert.equal(o.Reason, 'OutOfMemory');
  assert.equal((await ended(within, client)).JobState, 'COMPLETED');
});
