// Black-box: SPEC §11 (executors) where no other suite checks it, against the real
// single-node cluster of scripts/slurm-cluster.sh (shared with other tests: everything is
// filtered by this test's own job names, uwsrun-JOBID, and only those are cancelled):
// - the HOME-wide limit counts local jobs only, both ways: a local job starts beside a
//   running Slurm job under `limit 1`, and a Slurm job is handed over while the one local
//   slot is taken;
// - slurm.partition, slurm.account and slurm.options reach sbatch, executionDuration 0
//   gives no --time (scontrol shows the partition's UNLIMITED), and --chdir is the
//   definition's cwd (a relative one resolved against the definitions file's directory);
// - hold of a slurm job not yet handed over is HELD, its release hands it over; hold of a
//   running one is refused (exit 4, unchanged);
// - delete of a job pending in Slurm and of a running one leaves no Slurm job behind;
// - a Slurm job that ends while no runner is alive is recorded once `tick` runs;
// - an abort that arrives while sbatch is under way (a private controller stopped with
//   SIGSTOP, so sbatch hangs) is ABORTED at once and applied once sbatch's outcome is
//   known: whatever batch job that sbatch made is cancelled, and the command never runs;
// - a node that fails under a running job (a private cluster's node set DOWN) is Slurm's
//   NODE_FAIL: ERROR, transient, naming the state; as a failed attempt it is retried, and
//   the retry runs once the node is back;
// - a batch job that Slurm forgets (a private controller restarted without its saved state
//   and with an empty jobcomp file, so neither squeue nor sacct knows it) and that left no
//   exit status is ERROR "lost", transient;
// - Slurm's own TIMEOUT (here from slurm.options --time=1, uwsrun's executionDuration being
//   0) is ABORTED with a transient errorSummary naming the limit, whatever the wrapper wrote
//   (its command died of Slurm's SIGTERM), and is never retried; nor is a refused handover;
// - a Slurm job's notification runs once, with UWS_PHASE, UWS_EXIT_CODE, UWS_ERROR_SUMMARY.

import { test } from 'node:test';
import { spawnSync } from 'node:child_process';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FINAL, Sandbox, release, submitJob, waitFor } from '../helpers.js';
import { SLURM_ENDED, cleanupSlurmSandbox, cluster, privateCluster, slurm, slurmIdsOf, slurmJob, slurmSandbox } from '../slurm.js';
import { assertLogged, phaseOf, state, stateOrEmpty } from '../runner-state.js';
import { alive } from '../procfs.js';

const T = { timeout: 300_000 };

const YAML = `
defaults:
  executor: slurm
  destruction: 0
jobs:
  gate:
    description: runs in Slurm until the test creates $UWS_JOB_DIR/release
    command: [sh, -c, 'while [ ! -e "$UWS_JOB_DIR/release" ]; do sleep 0.1; done']
    killGrace: 1
    slurm:
      partition: debug
      account: astro
      options: [--comment=uwsrun-spec-slurm, --nice=7]
  quick:
    description: runs in the definition's cwd, a relative one being the definitions file's directory
    command: [sh, -c, 'pwd > "$UWS_RESULTS_DIR/pwd"']
    cwd: .
  local-gate:
    executor: local
    command: [sh, -c, 'while [ ! -e "$UWS_JOB_DIR/release" ]; do sleep 0.05; done']
    killGrace: 1
  local-quick:
    executor: local
    command: [sh, -c, 'echo local']
  pending:
    description: held in Slurm by sbatch --hold, QUEUED with a slurmJobId until cancelled
    command: ["true"]
    slurm: { options: [--hold] }
  nowhere:
    description: refused by sbatch (no such partition); retries never apply to that
    command: ["true"]
    retries: 2
    slurm: { partition: nosuchpartition }
  badoption:
    description: refused by sbatch (an option it does not know)
    command: ["true"]
    retries: 1
    slurm: { options: [--no-such-sbatch-option=1] }
  marks:
    command: [sh, -c, 'touch "$UWS_JOB_DIR/ran"']
  node-fails-once:
    description: runs until its node is set DOWN the first time; the retry completes
    command: [sh, -c, 'if [ -e "$UWS_JOB_DIR/tried" ]; then echo second; exit 0; fi; touch "$UWS_JOB_DIR/tried"; while :; do sleep 0.1; done']
    retries: 1
  notified:
    description: fails in Slurm; its notification runs once, on this machine
    command: [sh, -c, 'echo "broke in $SLURM_JOB_ID" >&2; exit 4']
    notify:
      command: [sh, -c, 'echo "note $1 $2 [$UWS_PHASE] [$UWS_EXIT_CODE] [$UWS_ERROR_SUMMARY]"', note, "{jobId}", "{phase}"]
  overtime:
    description: over Slurm's --time of one minute; uwsrun's own limit is 0
    command: [sleep, '600']
    retries: 1
    slurm: { options: [--time=1] }
`;

async function final(sb: Sandbox, id: string, ms = 90_000): Promise<any> {
  return waitFor(`job ${id} to end`, () => {
    const job = sb.job(id);
    return FINAL.includes(job.phase) ? job : undefined;
  }, ms);
}

const up = (sb: Sandbox, id: string): Promise<any> => waitFor(`job ${id} to be up`, () => {
  const j = sb.job(id);
  return j.phase === 'EXECUTING' && j.startTime ? j : undefined;
}, 90_000);

test('the HOME-wide limit counts local jobs only; slurm.partition, account and options reach sbatch; executionDuration 0 gives no --time', T, async () => {
  const sb = slurmSandbox(YAML);
  try {
    assert.equal(sb.ok(['limit', '1']), '1');
    const inSlurm = submitJob(sb, ['gate', '--run']);
    const s = await up(sb, inSlurm);
    assert.equal(s.pid, null, 'a Slurm job has no pid');
    const fields = slurmJob(s.slurmJobId);
    assert.ok(fields, `scontrol knows Slurm job ${s.slurmJobId}`);
    assert.equal(fields.Partition, 'debug');
    assert.equal(fields.Account, 'astro');
    assert.equal(fields.Comment, 'uwsrun-spec-slurm', 'slurm.options reach sbatch');
    assert.equal(fields.Nice, '7');
    assert.equal(fields.TimeLimit, 'UNLIMITED', `executionDuration 0: no --time: ${JSON.stringify(fields)}`);

    // One slot, and the running Slurm job does not take it.
    const local = submitJob(sb, ['local-gate', '--run']);
    await up(sb, local);
    const behind = submitJob(sb, ['local-quick', '--run']);
    // The local slot is taken now, and a Slurm job is handed over and runs all the same.
    const quick = submitJob(sb, ['quick', '--run']);
    const q = await final(sb, quick);
    assert.equal(q.phase, 'COMPLETED', JSON.stringify(q.errorSummary));
    assert.match(q.slurmJobId, /^\d+$/);
    assert.equal(readFileSync(join(sb.jobDir(quick), 'results', 'pwd'), 'utf8'), `${sb.dir}\n`, '--chdir is the definition\'s cwd');
    assert.equal(sb.job(behind).phase, 'QUEUED', 'the second local job waits for the one local slot');
    release(sb, local);
    assert.equal((await final(sb, behind)).phase, 'COMPLETED');
    release(sb, inSlurm);
    assert.equal((await final(sb, inSlurm)).phase, 'COMPLETED');
  } finally {
    cleanupSlurmSandbox(sb);
  }
});

test('hold of a slurm job not yet handed over: HELD, nothing in Slurm; release hands it over; hold of a running one exits 4', T, async () => {
  const sb = slurmSandbox(YAML);
  try {
    assert.equal(sb.ok(['limit', '0']), '0');
    const id = submitJob(sb, ['gate', '--run']);
    assert.equal(sb.json(['hold', id])[0].phase, 'HELD');
    assert.equal(sb.ok(['limit', '2']), '2');
    // Nothing may happen, so there is nothing to wait for: the runner gets a few cycles.
    await new Promise((r) => setTimeout(r, 2000));
    const held = sb.job(id);
    assert.equal(held.phase, 'HELD');
    assert.equal(held.slurmJobId, null);
    assert.deepEqual(slurmIdsOf(id), [], 'a HELD job is not handed over');
    sb.ok(['release', id]);
    const s = await up(sb, id);
    const before = sb.job(id);
    const r = sb.run(['hold', id]);
    assert.equal(r.code, 4, r.stderr);
    assert.equal(r.stderr.trim(), `uwsrun: job ${id} is EXECUTING: hold is not allowed in that phase`);
    assert.deepEqual(sb.job(id), before, 'unchanged');
    release(sb, id);
    const f = await final(sb, id);
    assert.equal(f.phase, 'COMPLETED');
    assert.equal(f.slurmJobId, s.slurmJobId);
    assert.deepEqual(slurmIdsOf(id), [s.slurmJobId], 'handed over once');
  } finally {
    cleanupSlurmSandbox(sb);
  }
});

test('Slurm\'s TIMEOUT is ABORTED with a transient errorSummary naming the limit, whatever the wrapper wrote, and is never retried', T, async () => {
  const sb = slurmSandbox(YAML);
  try {
    const id = submitJob(sb, ['overtime', '--run']);
    const s = await up(sb, id);
    assert.equal(slurmJob(s.slurmJobId)?.TimeLimit, '00:01:00');
    // Slurm looks at time limits every 30 s or so, then SIGTERM, KillWait 5 s.
    const j = await final(sb, id, 200_000);
    assert.equal(j.phase, 'ABORTED', JSON.stringify(j.errorSummary));
    assert.equal(j.errorSummary?.type, 'transient');
    assert.match(j.errorSummary?.message, /TIMEOUT/);
    assert.match(j.errorSummary?.message, /time limit/);
    assert.equal(j.attempt, 1, 'a time limit is never retried');
    assert.deepEqual(j.attempts, []);
    assert.deepEqual(slurmIdsOf(id), [s.slurmJobId], 'one batch job, no second attempt');
    assert.ok(Date.parse(j.endTime) - Date.parse(j.startTime) >= 55_000, 'it ran until Slurm\'s limit');
  } finally {
    cleanupSlurmSandbox(sb);
  }
});

/** Slurm's state of a batch job (squeue -t all), or undefined once Slurm forgot it. */
function slurmState(slurmJobId: string): string | undefined {
  const r = slurm('squeue', ['-h', '-t', 'all', '-j', slurmJobId, '-o', '%T']);
  return r.code === 0 ? r.stdout.trim() || undefined : undefined;
}

test('delete of a job pending in Slurm and of a running one: both gone, and Slurm runs or holds neither batch job', T, async () => {
  const sb = slurmSandbox(YAML);
  try {
    const pending = submitJob(sb, ['pending', '--run']);
    const running = submitJob(sb, ['gate', '--run']);
    const p = await waitFor('the held job handed over', () => sb.job(pending).slurmJobId ?? undefined, 90_000);
    assert.equal(sb.job(pending).phase, 'QUEUED');
    const r = (await up(sb, running)).slurmJobId;
    for (const id of [pending, running]) {
      const d = sb.run(['delete', id]);
      assert.equal(d.code, 0, d.stderr);
      assert.equal(sb.run(['show', id]).code, 3, `${id} is gone`);
      assert.equal(existsSync(sb.jobDir(id)), false);
    }
    for (const s of [p, r]) {
      await waitFor(`Slurm job ${s} to end`, () => {
        const st = slurmState(s);
        return st === undefined || SLURM_ENDED.test(st);
      }, 60_000);
    }
  } finally {
    cleanupSlurmSandbox(sb);
  }
});

test('a Slurm job that ends while no runner is alive is recorded by tick', T, async () => {
  const sb = slurmSandbox(YAML);
  try {
    const id = submitJob(sb, ['gate', '--run']);
    const s = (await up(sb, id)).slurmJobId;
    const runner = stateOrEmpty(sb).runner;
    assert.ok(runner && alive(runner.pid, runner.startTime), 'a runner watches the job');
    process.kill(runner.pid, 'SIGKILL');
    await waitFor('the runner to be gone', () => !alive(runner.pid, runner.startTime), 10_000);
    // From here until tick, no uwsrun command runs (show of an active job would start a
    // runner itself): the phase is read from the files.
    release(sb, id);
    await waitFor(`Slurm job ${s} to end`, () => {
      const st = slurmState(s);
      return st === undefined || SLURM_ENDED.test(st);
    }, 60_000);
    assert.equal(phaseOf(sb, id), 'EXECUTING', 'nothing recorded the end yet');
    assert.equal(stateOrEmpty(sb).runner?.pid ?? runner.pid, runner.pid, 'no other runner was started');
    const t = sb.run(['tick']);
    assert.equal(t.code, 0, t.stderr);
    const j = await final(sb, id);
    assert.equal(j.phase, 'COMPLETED', JSON.stringify(j.errorSummary));
    assert.equal(j.exitCode, 0);
  } finally {
    cleanupSlurmSandbox(sb);
  }
});

test('a handover sbatch refuses (no such partition, an unknown option) is ERROR (fatal, sbatch\'s words) and is never retried, whatever retries says', T, async () => {
  const sb = slurmSandbox(YAML);
  try {
    const ids = [submitJob(sb, ['nowhere', '--run']), submitJob(sb, ['badoption', '--run'])];
    for (const [id, words] of [[ids[0]!, /[Pp]artition/], [ids[1]!, /no-such-sbatch-option/]] as const) {
      const j = await final(sb, id);
      assert.equal(j.phase, 'ERROR');
      assert.equal(j.errorSummary.type, 'fatal');
      assert.match(j.errorSummary.message, /^sbatch refused the job: /);
      assert.match(j.errorSummary.message, words);
      assert.equal(j.attempt, 1, 'no retry');
      assert.deepEqual(j.attempts, []);
      assert.equal(j.slurmJobId, null);
      assert.deepEqual(slurmIdsOf(id), []);
    }
    assert.equal(sb.run(['doctor']).code, 0, 'a refusal is no outage');
  } finally {
    cleanupSlurmSandbox(sb);
  }
});

test('an abort while sbatch is under way: ABORTED at once; whatever batch job sbatch made is cancelled, and its command never runs', { timeout: 300_000 }, async (t) => {
  const own = await privateCluster(t);
  const ctld = Number(readFileSync(join(own.dir, 'run', 'slurmctld.pid'), 'utf8').trim());
  assert.ok(ctld > 0);
  const sb = new Sandbox(YAML);
  sb.env = { ...sb.env, SLURM_CONF: own.client.SLURM_CONF };
  let stopped = false;
  const resume = (): void => {
    if (stopped) process.kill(ctld, 'SIGCONT');
    stopped = false;
  };
  t.after(resume);
  try {
    process.kill(ctld, 'SIGSTOP');
    stopped = true;
    const id = submitJob(sb, ['marks', '--run']);
    await waitFor('the handover to be under way', () => state(sb).jobs?.[id]?.handoverAt ?? undefined, 30_000);
    const a = sb.run(['abort', id]);
    assert.equal(a.code, 0, a.stderr);
    const j = sb.job(id);
    assert.equal(j.phase, 'ABORTED');
    assert.equal(j.startTime, null);
    assert.ok(state(sb).slurmCancels?.[id], 'the state keeps the cancel of a handover under way');
    resume();
    await waitFor('the runner to see the cancel done', () => (state(sb).slurmCancels?.[id] ? undefined : true), 180_000);
    // Should the controller make the batch job only after that (it handles RPCs in threads),
    // its script finds the job cancelled and runs nothing: it ends by itself.
    await waitFor('no batch job of the aborted job pending or running', () => {
      const left = slurm('squeue', ['-h', '-t', 'PENDING,RUNNING,CONFIGURING,SUSPENDED', `--name=uwsrun-${id}`, '-o', '%i %T'], own.client);
      return left.code === 0 && left.stdout.trim() === '';
    }, 60_000);
    assert.equal(existsSync(join(sb.jobDir(id), 'ran')), false, 'the command never ran');
    assert.equal(sb.job(id).phase, 'ABORTED');
    await assertLogged(sb, new RegExp(`job ${id}: Slurm no longer runs or holds .*: its cancel is done`));
  } finally {
    resume();
    sb.cleanup();
  }
});

test('a node that fails under a running job is NODE_FAIL: a transient ERROR naming the state, retried once the node is back', { timeout: 300_000 }, async (t) => {
  const own = await privateCluster(t);
  const node = spawnSync('hostname', ['-s'], { encoding: 'utf8' }).stdout.trim();
  const setNode = (...how: string[]): void => {
    const r = slurm('scontrol', ['update', `nodename=${node}`, ...how], own.client);
    assert.equal(r.code, 0, r.stderr);
  };
  let down = false;
  t.after(() => {
    if (down) slurm('scontrol', ['update', `nodename=${node}`, 'state=resume'], own.client);
  });
  const sb = new Sandbox(YAML);
  sb.env = { ...sb.env, SLURM_CONF: own.client.SLURM_CONF };
  try {
    const id = submitJob(sb, ['node-fails-once', '--run']);
    const first = (await up(sb, id)).slurmJobId;
    setNode('state=down', 'reason=uwsrun-spec-test');
    down = true;
    const retried = await waitFor('the failed attempt to be kept and the job queued again', () => {
      const j = sb.job(id);
      return j.attempts.length === 1 ? j : undefined;
    }, 120_000);
    const a = retried.attempts[0];
    assert.equal(a.errorSummary.type, 'transient', JSON.stringify(a));
    assert.match(a.errorSummary.message, /NODE_FAIL/);
    assert.equal(retried.attempt, 2);
    // The node may be back by itself (slurmd registers again: ReturnToService); resume
    // applies only to a node still down.
    const nodeState = (): string => slurm('sinfo', ['-h', '-n', node, '-o', '%T'], own.client).stdout.trim();
    if (/down|drain/.test(nodeState())) {
      const r = slurm('scontrol', ['update', `nodename=${node}`, 'state=resume'], own.client);
      assert.ok(r.code === 0 || !/down|drain/.test(nodeState()), `the node is resumed: ${r.stderr}`);
    }
    down = false;
    const j = await final(sb, id, 120_000);
    assert.equal(j.phase, 'COMPLETED', JSON.stringify(j.errorSummary));
    assert.notEqual(j.slurmJobId, first, 'the retry is a new batch job');
    assert.equal(readFileSync(join(sb.jobDir(id), 'stdout.log'), 'utf8'), 'second\n');
  } finally {
    sb.cleanup();
  }
});

test('a batch job Slurm forgets (its controller restarted without saved state or accounting) that left no exit status is ERROR "lost", transient', { timeout: 300_000 }, async (t) => {
  const own = await privateCluster(t);
  const sb = new Sandbox(YAML);
  sb.env = { ...sb.env, SLURM_CONF: own.client.SLURM_CONF };
  try {
    const id = submitJob(sb, ['pending', '--run']);
    const s = await waitFor('the held job handed over', () => sb.job(id).slurmJobId ?? undefined, 90_000);
    assert.equal(slurmJob(s, own.client)?.JobState, 'PENDING');
    const stop = cluster('ctld-stop', own.script);
    assert.equal(stop.code, 0, stop.stderr);
    rmSync(join(own.dir, 'state'), { recursive: true, force: true });
    writeFileSync(join(own.dir, 'jobcomp.log'), '');
    const start = cluster('ctld-start', own.script);
    assert.equal(start.code, 0, start.stderr);
    assert.equal(slurmJob(s, own.client), undefined, `Slurm no longer knows job ${s}`);
    const j = await final(sb, id, 120_000);
    assert.equal(j.phase, 'ERROR');
    assert.deepEqual(j.errorSummary, { type: 'transient', message: `the job was lost: Slurm no longer knows job ${s} and it left no exit status` });
    assert.equal(j.exitCode, null);
  } finally {
    sb.cleanup();
  }
});

test('a failed Slurm job is notified once, with its phase, exit code and errorSummary', T, async () => {
  const sb = slurmSandbox(YAML);
  try {
    const id = submitJob(sb, ['notified', '--run']);
    const j = await final(sb, id);
    assert.equal(j.phase, 'ERROR');
    assert.equal(j.exitCode, 4);
    const log = join(sb.home, 'notify.log');
    const lines = await waitFor('the notification', () => {
      const l = existsSync(log) ? readFileSync(log, 'utf8').split('\n').filter((x) => x.startsWith(`note ${id} `)) : [];
      return l.length > 0 ? l : undefined;
    }, 30_000);
    assert.deepEqual(lines, [`note ${id} ERROR [ERROR] [4] [exited with status 4: broke in ${j.slurmJobId}]`]);
    // Once: also after tick, which sends a notification whose sender died.
    assert.equal(sb.run(['tick']).code, 0);
    assert.equal(readFileSync(log, 'utf8').split('\n').filter((x) => x.startsWith(`note ${id} `)).length, 1);
  } finally {
    cleanupSlurmSandbox(sb);
  }
});
