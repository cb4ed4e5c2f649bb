// Black-box: the slurm executor (SPEC §11) against the real single-node cluster of
// scripts/slurm-cluster.sh: bin/uwsrun hands jobs over with the real sbatch and watches them
// with the real squeue; Slurm's side is checked with scontrol and squeue. The shared cluster
// may run other tests' jobs at the same time: everything here is filtered by the names
// (uwsrun-JOBID) of this test's own jobs, and only those are ever cancelled. The outage test
// stops and starts a controller of its own (privateCluster), never the shared one.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FINAL, Sandbox, submitJob, waitFor } from '../helpers.js';
import { alive } from '../procfs.js';
import { assertLogged, state, stateOrEmpty } from '../runner-state.js';
import { cleanupSlurmSandbox, cluster, privateCluster, slurmIdsOf, slurmJob, slurmSandbox } from '../slurm.js';

const T = { timeout: 240_000 };

async function final(sb: Sandbox, id: string, ms = 60_000): Promise<any> {
  return waitFor(`job ${id} to end`, () => {
    const job = sb.job(id);
    return FINAL.includes(job.phase) ? job : undefined;
  }, ms);
}

const runnerLog = (sb: Sandbox): string => (existsSync(join(sb.home, 'runner.log')) ? readFileSync(join(sb.home, 'runner.log'), 'utf8') : '');

const YAML = `
defaults:
  executor: slurm
  destruction: 0
jobs:
  exits:
    command: [sh, -c, 'echo "to stderr $1" >&2; exit "$1"', sh, "{code}"]
    parameters: { code: { type: integer, default: 3 } }
  signalled:
    command: [sh, -c, 'kill -USR1 $$']
  shows:
    command: [sh, -c, 'printf "%s" "$1" > "$UWS_RESULTS_DIR/arg"; env > "$UWS_RESULTS_DIR/env"; echo out', sh, "{word}"]
    parameters: { word: { type: string, required: true } }
    executionDuration: 61
  nowhere:
    command: ["true"]
    slurm: { partition: nosuchpartition }
  held:
    command: ["true"]
    slurm: { options: [--hold] }
  traps:
    command: [sh, -c, 'trap "echo trapped > \\"$UWS_RESULTS_DIR/trap\\"; exit 7" INT; touch "$UWS_JOB_DIR/ready"; while :; do sleep 0.1; done']
  stubborn:
    killGrace: 1
    command: [sh, -c, 'trap "" INT TERM; touch "$UWS_JOB_DIR/ready"; while :; do sleep 0.1; done']
  limited:
    executionDuration: 2
    command: [sleep, "60"]
  capped:
    maxRunning: 1
    command: [sleep, "1"]
  quick:
    command: [sh, -c, 'sleep 0.5']
`;

test('slurm jobs: exact exit code and signal, a shell-syntax parameter as one word, only the job\'s environment, sbatch settings', T, async () => {
  const sb = slurmSandbox(YAML);
  try {
    const word = `a b; $(touch /tmp/pwned-$$) 'q' "d" \`x\` *`;
    const exits = submitJob(sb, ['exits', '-p', 'code=3', '--run']);
    const signalled = submitJob(sb, ['signalled', '--run']);
    // A secret of the submitter's environment must not reach the job.
    const shows = submitJob(sb, ['shows', '-p', `word=${word}`, '--run'], { UWSRUN_TEST_SECRET: 'hunter2', SECRET_TOKEN: 'hunter2' });
    const s = await waitFor('the job handed over', () => sb.job(shows).slurmJobId ?? undefined);
    assert.match(s, /^\d+$/);
    const fields = slurmJob(s);
    if (fields) {
      assert.equal(fields.JobName, `uwsrun-${shows}`);
      assert.equal(fields.TimeLimit, '00:02:00', 'executionDuration 61 s is --time 2 minutes');
      assert.equal(fields.Requeue, '0', '--no-requeue');
      assert.equal(fields.WorkDir, sb.jobDir(shows));
      assert.equal(fields.StdOut, join(sb.jobDir(shows), 'stdout.log'));
      assert.equal(fields.StdErr, join(sb.jobDir(shows), 'stderr.log'));
    }

    const e = await final(sb, exits);
    assert.equal(e.phase, 'ERROR');
    assert.equal(e.exitCode, 3);
    assert.equal(e.signal, null);
    assert.deepEqual(e.errorSummary, { type: 'fatal', message: 'exited with status 3: to stderr 3' });
    assert.equal(e.executor, 'slurm');
    assert.equal(e.pid, null);
    assert.match(e.slurmJobId, /^\d+$/);
    assert.ok(e.startTime && e.endTime && e.startTime <= e.endTime);

    const g = await final(sb, signalled);
    assert.equal(g.phase, 'ERROR');
    assert.equal(g.signal, 'SIGUSR1');
    assert.equal(g.exitCode, null);

    const j = await final(sb, shows);
    assert.equal(j.phase, 'COMPLETED', JSON.stringify(j.errorSummary));
    assert.equal(j.exitCode, 0);
    assert.equal(readFileSync(join(sb.jobDir(shows), 'results', 'arg'), 'utf8'), word);
    assert.equal(readFileSync(join(sb.jobDir(shows), 'stdout.log'), 'utf8'), 'out\n');
    const env = Object.fromEntries(readFileSync(join(sb.jobDir(shows), 'results', 'env'), 'utf8').trim().split('\n').map((l) => {
      const eq = l.indexOf('=');
      return [l.slice(0, eq), l.slice(eq + 1)];
    }));
    assert.equal(env.UWS_JOB_ID, shows);
    assert.equal(env.UWS_PARAM_WORD, word);
    assert.equal(env.SLURM_JOB_ID, j.slurmJobId);
    assert.equal(env.SECRET_TOKEN, undefined, 'the submitter\'s secret did not reach the job');
    assert.equal(env.UWSRUN_TEST_SECRET, undefined);
    const allowed = /^(PATH|HOME|USER|LOGNAME|SHELL|LANG|LC_\w+|TZ|TMPDIR|PWD|SHLVL|_|OLDPWD|UWS_\w+|SLURM_\w+)$/;
    assert.deepEqual(Object.keys(env).filter((k) => !allowed.test(k)), [], 'nothing beyond the job\'s environment and SLURM_*');
    assert.deepEqual(j.results.map((r: any) => r.id).sort(), ['arg', 'env']);

    const show = sb.ok(['show', shows]);
    assert.match(show, /^executor\s+slurm$/m);
    assert.match(show, new RegExp(`^slurm job\\s+${j.slurmJobId}$`, 'm'));
    const log = runnerLog(sb);
    assert.match(log, new RegExp(`job ${shows}: handed over to Slurm \\(job ${j.slurmJobId}\\): shows`));
    assert.match(log, new RegExp(`job ${exits}: ended ERROR \\(exit code 3; Slurm: FAILED\\)`));
    for (const id of [exits, signalled, shows]) assert.equal(slurmIdsOf(id).length, 1, `job ${id} was handed over once`);
  } finally {
    cleanupSlurmSandbox(sb);
  }
});

test('a refused handover (unknown partition) is ERROR with sbatch\'s message', T, async () => {
  const sb = slurmSandbox(YAML);
  try {
    const id = submitJob(sb, ['nowhere', '--run']);
    const j = await final(sb, id);
    assert.equal(j.phase, 'ERROR');
    assert.equal(j.slurmJobId, null);
    assert.equal(j.errorSummary.type, 'fatal');
    assert.match(j.errorSummary.message, /^sbatch refused the job: .*[Ii]nvalid partition/);
    assert.equal(j.startTime, null);
    await assertLogged(sb, new RegExp(`job ${id}: ended ERROR \\(sbatch refused it: `));
  } finally {
    cleanupSlurmSandbox(sb);
  }
});

test('abort: a job pending (and HELD) in Slurm is cancelled and ABORTED at once; a started one that traps SIGINT runs its trap', T, async () => {
  const sb = slurmSandbox(YAML);
  try {
    const pending = submitJob(sb, ['held', '--run']);
    const traps = submitJob(sb, ['traps', '--run']);
    const s = await waitFor('the held job handed over', () => sb.job(pending).slurmJobId ?? undefined);
    assert.equal(sb.job(pending).phase, 'QUEUED');
    assert.equal(slurmJob(s)?.JobState, 'PENDING');
    // Held in Slurm as well (slurm-hold.test.ts has the rest): its abort is a cancel in Slurm too.
    assert.equal(sb.json(['hold', pending])[0].phase, 'HELD');
    const a = sb.run(['abort', pending]);
    assert.equal(a.code, 0, a.stderr);
    const p = sb.job(pending);
    assert.equal(p.phase, 'ABORTED');
    assert.equal(p.startTime, null);
    await waitFor('Slurm to cancel the pending job', () => {
      const f = slurmJob(s);
      return !f || f.JobState === 'CANCELLED';
    });

    await waitFor('the trapping job to run', () => existsSync(join(sb.jobDir(traps), 'ready')), 60_000);
    await waitFor('its startTime', () => sb.job(traps).startTime);
    const b = sb.run(['abort', traps]);
    assert.equal(b.code, 0, b.stderr);
    const t = sb.job(traps);
    assert.equal(t.phase, 'ABORTED');
    assert.equal(t.errorSummary, null);
    assert.equal(readFileSync(join(sb.jobDir(traps), 'results', 'trap'), 'utf8'), 'trapped\n', 'SIGINT reached the command and its trap ran');
    const f = slurmJob(t.slurmJobId);
    assert.ok(!f || /^(COMPLETED|FAILED|CANCELLED)$/.test(f.JobState ?? ''), `Slurm no longer runs it: ${f?.JobState}`);
    const again = sb.run(['abort', traps]);
    assert.equal(again.code, 4, 'an ABORTED job cannot be aborted again');
  } finally {
    cleanupSlurmSandbox(sb);
  }
});

test('abort of a Slurm job ignoring INT and TERM: plain scancel after killGrace; ABORTED once Slurm ended it', T, async () => {
  const sb = slurmSandbox(YAML);
  try {
    const id = submitJob(sb, ['stubborn', '--run']);
    await waitFor('the job to run', () => existsSync(join(sb.jobDir(id), 'ready')), 60_000);
    await waitFor('its startTime', () => sb.job(id).startTime);
    const t0 = Date.now();
    const a = sb.run(['abort', id]);
    assert.equal(a.code, 0, a.stderr);
    assert.ok(Date.now() - t0 >= 1000, 'abort waited at least killGrace');
    const j = sb.job(id);
    assert.equal(j.phase, 'ABORTED');
    const f = slurmJob(j.slurmJobId);
    assert.ok(!f || f.JobState === 'CANCELLED', `Slurm cancelled it: ${f?.JobState}`);
    await assertLogged(sb, new RegExp(`job ${id}: still running 1 s after the abort: scancel ${j.slurmJobId}`));
  } finally {
    cleanupSlurmSandbox(sb);
  }
});

test('executionDuration is enforced by uwsrun to the second (Slurm\'s --time is a minute backstop)', T, async () => {
  const sb = slurmSandbox(YAML);
  try {
    const id = submitJob(sb, ['limited', '--run']);
    const j = await final(sb, id, 90_000);
    assert.equal(j.phase, 'ABORTED');
    assert.deepEqual(j.errorSummary, { type: 'transient', message: 'executionDuration of 2 s exceeded' });
    const ran = (Date.parse(j.endTime) - Date.parse(j.startTime)) / 1000;
    assert.ok(ran >= 2 && ran < 30, `ran ${ran} s`);
  } finally {
    cleanupSlurmSandbox(sb);
  }
});

test('maxRunning caps a slurm definition\'s jobs handed over at once; limit 0 stops handovers; the HOME limit does not count Slurm jobs', T, async () => {
  const sb = slurmSandbox(YAML);
  try {
    assert.equal(sb.run(['limit', '1']).code, 0);
    const ids = [1, 2, 3].map(() => submitJob(sb, ['capped', '--run']));
    const quick = submitJob(sb, ['quick', '--run']);
    let most = 0;
    await waitFor('every capped job to end', () => {
      const jobs = stateOrEmpty(sb).jobs as Record<string, any>;
      const handed = Object.values(jobs).filter((h) => h.definition === 'capped' && h.executor === 'slurm').length;
      most = Math.max(most, handed);
      return ids.every((id) => FINAL.includes(sb.job(id).phase));
    }, 120_000);
    assert.equal(most, 1, 'at most one capped job in Slurm\'s hands at a time');
    for (const id of ids) assert.equal(sb.job(id).phase, 'COMPLETED');
    assert.equal((await final(sb, quick)).phase, 'COMPLETED', 'another slurm definition went on beside them, limit 1 notwithstanding');

    assert.equal(sb.run(['limit', '0']).code, 0);
    const paused = submitJob(sb, ['quick', '--run']);
    await new Promise((r) => setTimeout(r, 3000)); // nothing may happen: nothing to wait for
    const p = sb.job(paused);
    assert.equal(p.phase, 'QUEUED');
    assert.equal(p.slurmJobId, null);
    assert.deepEqual(slurmIdsOf(paused), [], 'not handed over while the HOME is paused');
    assert.equal(sb.run(['limit', '2']).code, 0);
    assert.equal((await final(sb, paused)).phase, 'COMPLETED');
  } finally {
    cleanupSlurmSandbox(sb);
  }
});

test('the runner killed -9 again and again during handovers: every job handed over exactly once, none lost', T, async () => {
  const sb = slurmSandbox(YAML);
  try {
    const ids: string[] = [];
    const kills = new Set<number>();
    const killRunner = (): void => {
      const runner = stateOrEmpty(sb).runner;
      if (!runner || kills.has(runner.pid)) return;
      // The recorded runner may have idled out and its pid gone to another process (a CI
      // run was once killed this way): only that very process (pid and start time) is killed.
      if (!alive(runner.pid, runner.startTime) || !readFileSync(`/proc/${runner.pid}/cmdline`, 'utf8').includes('__runner')) return;
      try {
        process.kill(runner.pid, 'SIGKILL');
        kills.add(runner.pid);
      } catch { /* gone already */ }
    };
    // Rounds of: queue a few jobs (their runner starts handing them over), kill the runner
    // somewhere in its handovers, and let a command find the jobs unsupervised (as cron's
    // tick would) and start a successor, which must look before it hands anything over.
    for (let round = 0; round < 5; round++) {
      for (let i = 0; i < 3; i++) ids.push(submitJob(sb, ['quick', '--run']));
      // Not the record of the one killed in the round before, which stays until its successor
      // records itself.
      await waitFor('a live runner not killed yet', () => {
        const r = stateOrEmpty(sb).runner;
        return r && !kills.has(r.pid) && alive(r.pid, r.startTime) ? r : undefined;
      }, 10_000);
      await new Promise((r) => setTimeout(r, Math.random() * 150));
      killRunner();
      sb.run(['tick']);
    }
    assert.ok(kills.size >= 3, `killed ${kills.size} runner(s)`);
    for (const id of ids) {
      const j = await final(sb, id, 120_000);
      assert.equal(j.phase, 'COMPLETED', `${id}: ${JSON.stringify(j.errorSummary)}`);
    }
    for (const id of ids) assert.equal(slurmIdsOf(id).length, 1, `job ${id} was handed over exactly once`);
  } finally {
    cleanupSlurmSandbox(sb);
  }
});

test('the controller stopped and started again: the job waits QUEUED, doctor reports the outage, runner.log says so once, then it completes', { timeout: 300_000 }, async (t) => {
  const own = await privateCluster(t);
  const sb = slurmSandbox(YAML, own.client);
  try {
    const stop = cluster('ctld-stop', own.script);
    assert.equal(stop.code, 0, stop.stderr);
    const id = submitJob(sb, ['quick', '--run']);
    await waitFor('runner.log to report the outage', () => /Slurm's controller does not answer/.test(runnerLog(sb)), 90_000);
    // The line is written in the runner's transaction, the outage is in state.json once that
    // commits: doctor reads the state.
    await waitFor('the outage recorded in state.json', () => state(sb).slurmOutage ?? undefined, 30_000);
    const d = sb.run(['doctor']);
    assert.equal(d.code, 1, d.stdout + d.stderr);
    assert.match(d.stdout + d.stderr, /Slurm's controller has not answered since/);
    const during = sb.job(id);
    assert.equal(during.phase, 'QUEUED');
    assert.equal(during.slurmJobId, null);
    // Several retries happen meanwhile; runner.log says it once.
    await new Promise((r) => setTimeout(r, 4000));
    const start = cluster('ctld-start', own.script);
    assert.equal(start.code, 0, start.stderr);
    const j = await final(sb, id, 180_000);
    assert.equal(j.phase, 'COMPLETED', JSON.stringify(j.errorSummary));
    // Said once when it starts and once when it ends, not on every retry. A loaded machine
    // may make the restarted controller miss a later call too (a second, short outage): that
    // one is said once and ended once in its turn.
    const log = runnerLog(sb);
    const said = [...log.matchAll(/Slurm's controller (does not answer|answers again)/g)].map((m) => m[1]);
    assert.ok(said.length >= 2 && said.length % 2 === 0, log);
    said.forEach((what, i) => assert.equal(what, i % 2 === 0 ? 'does not answer' : 'answers again', log));
    assert.equal(slurmIdsOf(id, own.client).length, 1);
    assert.equal(state(sb).slurmOutage ?? null, null);
    assert.equal(sb.run(['doctor']).code, 0);
  } finally {
    // Before the private cluster's own clean-up stops it.
    cleanupSlurmSandbox(sb, own.client);
  }
});

test('Slurm\'s commands (node:child_process) are loaded only where Slurm is used: not by a local submit, list or show; by the abort of a Slurm job', T, async () => {
  const sb = slurmSandbox(`${YAML}\n  here:\n    executor: local\n    command: ["true"]\n`);
  try {
    // Which built-in modules a command requires. Slurm's client commands run through
    // node:child_process (executors/slurm/commands.ts); a command that starts no runner
    // and no Slurm command never loads it (~3 ms of every cron call).
    const probe = join(sb.dir, 'probe.cjs');
    writeFileSync(probe, `const M = require('module'); const orig = M.prototype.require; const seen = new Set();
M.prototype.require = function (id) { seen.add(id); return orig.apply(this, arguments); };
process.on('exit', () => require('fs').writeFileSync(process.env.PROBE_OUT, [...seen].join('\\n')));\n`);
    const loaded = (args: string[]): string[] => {
      const out = join(sb.dir, 'probe.out');
      const r = sb.run(args, { NODE_OPTIONS: `--require ${probe}`, PROBE_OUT: out });
      assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
      return readFileSync(out, 'utf8').split('\n');
    };
    const SLURM_ONLY = ['node:child_process'];
    const local = loaded(['submit', 'here']);
    assert.ok(local.includes('node:fs'), 'the probe sees what the bundle requires');
    const shown = sb.ok(['submit', 'here']);
    for (const args of [['submit', 'here'], ['list'], ['show', shown]]) {
      assert.deepEqual(loaded(args).filter((m) => SLURM_ONLY.includes(m)), [], `uwsrun ${args.join(' ')} loads no node:child_process`);
    }
    const held = submitJob(sb, ['held', '--run']);
    await waitFor('the held job handed over', () => sb.job(held).slurmJobId);
    assert.deepEqual(loaded(['abort', held]).filter((m) => SLURM_ONLY.includes(m)), SLURM_ONLY, 'abort of a Slurm job loads node:child_process');
    assert.equal(sb.job(held).phase, 'ABORTED');
  } finally {
    cleanupSlurmSandbox(sb);
  }
});
