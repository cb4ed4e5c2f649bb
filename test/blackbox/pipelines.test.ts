// Black-box: pipelines (SPEC §13) as a cron script drives them: --after / --after-any chains
// and fan-in, failure running down a chain, dependencies that vanish (deleted, destroyed),
// waiting jobs holding no slot, --not-before, hold / release and their queue order. Jobs
// that must stay in a phase wait on a "release" file the test creates; times are asserted
// from the records (startTime against endTime or notBefore), never from sleeps.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, Sandbox, release, submitJob, waitFor } from '../helpers.js';
import { phaseOf, stateOrEmpty } from '../runner-state.js';

const DEADLINE = 30_000;
const SCHEMA = join(ROOT, 'test', 'fixtures', 'uws', 'UWS-v1.1.xsd');

const JOBS = `
jobs:
  ok:
    command: [sh, -c, 'echo ok']
  fail:
    command: [sh, -c, 'echo "disk full" >&2; exit 3']
  gate:
    description: runs until the test creates $UWS_JOB_DIR/release
    command: [sh, -c, 'while [ ! -e "$UWS_JOB_DIR/release" ]; do sleep 0.05; done']
    killGrace: 1
`;

async function waitPhase(sb: Sandbox, id: string, phases: string | string[]): Promise<any> {
  const want = Array.isArray(phases) ? phases : [phases];
  return waitFor(`job ${id} to be ${want.join(' or ')}`, () => {
    const job = sb.job(id);
    return want.includes(job.phase) ? job : undefined;
  }, DEADLINE);
}

const ms = (iso: string): number => Date.parse(iso);
/** Live (not zombie) runner processes of the sandbox's HOME, found in /proc by their command line. */
const runnerPids = (sb: Sandbox): number[] => readdirSync('/proc').filter((n) => /^\d+$/.test(n)).filter((n) => {
  const argv = readFileIfAny(`/proc/${n}/cmdline`).split('\0');
  return argv.includes('__runner') && argv.includes(sb.home) && !readFileIfAny(`/proc/${n}/stat`).includes(') Z ');
}).map(Number);

const readFileIfAny = (file: string): string => {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
};
const jobCount = (sb: Sandbox): number => (existsSync(join(sb.home, 'records')) ? readdirSync(join(sb.home, 'records')).length : 0);

test('a chain and a fan-in (A -> B, A -> C, B + C -> D) run in dependency order, each after its dependencies ended', async () => {
  const sb = new Sandbox(JOBS);
  try {
    const a = submitJob(sb, ['gate', '--run']);
    const b = submitJob(sb, ['ok', '--after', a, '--run']);
    const c = submitJob(sb, ['ok', '--after', a.slice(0, 6), '--run']); // a prefix will do
    const d = submitJob(sb, ['ok', '--after', b, '--after', c, '--run']);
    await waitPhase(sb, a, 'EXECUTING');
    assert.deepEqual(sb.job(d).after, [{ jobId: b, any: false }, { jobId: c, any: false }], 'after is in the record');
    assert.deepEqual(sb.job(c).after, [{ jobId: a, any: false }], 'a prefix is stored as the full id');
    for (const id of [b, c, d]) assert.equal(sb.job(id).phase, 'QUEUED', 'dependents wait while A runs');
    release(sb, a);
    const jd = await waitPhase(sb, d, 'COMPLETED');
    const [ja, jb, jc] = [sb.job(a), sb.job(b), sb.job(c)];
    for (const j of [ja, jb, jc]) assert.equal(j.phase, 'COMPLETED');
    assert.ok(ms(jb.startTime) >= ms(ja.endTime), 'B started after A ended');
    assert.ok(ms(jc.startTime) >= ms(ja.endTime), 'C started after A ended');
    assert.ok(ms(jd.startTime) >= Math.max(ms(jb.endTime), ms(jc.endTime)), 'D started after B and C ended');
  } finally {
    sb.cleanup();
  }
});

test('a dependency that fails ABORTs its dependents down the chain, naming it; --after-any runs whatever the end', async () => {
  const sb = new Sandbox(JOBS);
  try {
    const a = submitJob(sb, ['fail', '--run']);
    const b = submitJob(sb, ['ok', '--after', a, '--run']);
    const c = submitJob(sb, ['ok', '--after', b, '--run']);
    const any = submitJob(sb, ['ok', '--after-any', a, '--run']);
    const jc = await waitPhase(sb, c, ['ABORTED', 'COMPLETED', 'ERROR']);
    const ja = sb.job(a);
    const jb = sb.job(b);
    assert.equal(ja.phase, 'ERROR');
    assert.equal(jb.phase, 'ABORTED');
    assert.deepEqual(jb.errorSummary, { type: 'transient', message: `dependency ${a} ended ERROR` });
    assert.equal(jb.startTime, null, 'it never started');
    assert.ok(jb.endTime !== null);
    assert.equal(jc.phase, 'ABORTED');
    assert.deepEqual(jc.errorSummary, { type: 'transient', message: `dependency ${b} ended ABORTED` });
    const jany = await waitPhase(sb, any, ['COMPLETED', 'ABORTED', 'ERROR']);
    assert.equal(jany.phase, 'COMPLETED', '--after-any starts once the dependency is final, whatever its phase');
    assert.deepEqual(jany.after, [{ jobId: a, any: true }]);
    assert.ok(ms(jany.startTime) >= ms(ja.endTime));
    // A job whose dependency failed long ago is aborted as soon as it is queued.
    const late = submitJob(sb, ['ok', '--after', a]);
    assert.equal(sb.job(late).phase, 'PENDING', 'a PENDING dependent is left alone');
    sb.ok(['run', late]);
    const jl = await waitPhase(sb, late, ['ABORTED', 'COMPLETED']);
    assert.equal(jl.phase, 'ABORTED');
    assert.equal(jl.errorSummary.message, `dependency ${a} ended ERROR`);
    assert.match(sb.ok(['show', late]), new RegExp(`error\\s+transient: dependency ${a} ended ERROR`));
  } finally {
    sb.cleanup();
  }
});

test('a dependency that vanishes (deleted, or destroyed by tick) ABORTs the dependent: "was deleted"', async () => {
  const sb = new Sandbox(JOBS);
  try {
    const pending = submitJob(sb, ['ok']);
    const dependent = submitJob(sb, ['ok', '--after', pending, '--run']);
    await waitFor('the runner to look at the dependent', () => /waits for job/.test(sb.ok(['show', dependent])));
    assert.match(sb.ok(['show', dependent]), new RegExp(`why queued\\s+it waits for job ${pending} \\(PENDING\\) to be COMPLETED`));
    sb.ok(['delete', pending]);
    const j = await waitPhase(sb, dependent, ['ABORTED', 'COMPLETED']);
    assert.equal(j.phase, 'ABORTED');
    assert.deepEqual(j.errorSummary, { type: 'transient', message: `dependency ${pending} was deleted` });

    // Destroyed: a COMPLETED dependency whose lifetime ended before its dependent was queued
    // (a non-final one is aborted first by its destruction, so its dependents see that end).
    const doomed = submitJob(sb, ['ok', '--destruction', '2s', '--run']);
    await waitPhase(sb, doomed, 'COMPLETED');
    const later = submitJob(sb, ['ok', '--after', doomed]);
    const destruction = ms(sb.job(doomed).destruction);
    await waitFor('tick to destroy the dependency', () => {
      if (Date.now() > destruction) sb.run(['tick']);
      return sb.run(['show', doomed]).code === 3;
    });
    assert.match(sb.ok(['show', later]), new RegExp(`after\\s+${doomed} \\(deleted\\)`));
    sb.ok(['run', later]);
    const k = await waitPhase(sb, later, ['ABORTED', 'COMPLETED']);
    assert.equal(k.phase, 'ABORTED');
    assert.equal(k.errorSummary.message, `dependency ${doomed} was deleted`);
  } finally {
    sb.cleanup();
  }
});

test('unknown or bad dependencies and start times are refused at submit (exit 3 / exit 2) and create nothing', () => {
  const sb = new Sandbox(JOBS);
  try {
    // An empty HOME: not even created.
    const r = sb.run(['submit', 'ok', '--after', 'NoSuchJob1234567', '--run']);
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stderr, /^uwsrun: no such job: NoSuchJob1234567 \(given to --after\)\n$/);
    assert.equal(r.stdout, '');
    assert.equal(existsSync(sb.home), false, 'nothing written');
    const a = submitJob(sb, ['ok']);
    for (const [args, code, message] of [
      [['--after', a, '--after-any', 'Zz9Zz9Zz9Zz9'], 3, /no such job: Zz9Zz9Zz9Zz9 \(given to --after-any\)$/m],
      [['--after', 'a!'], 2, /invalid job id "a!".* \(given to --after\)$/m],
      [['--not-before', 'tomorrow'], 2, /--not-before: "tomorrow" is not an ISO 8601 instant or a duration/],
      [['--not-before', '2026-12-01T03:00:00'], 2, /needs Z or an offset/],
      [['--not-before', '-5m'], 2, /--not-before/],
    ] as const) {
      const bad = sb.run(['submit', 'ok', ...args, '--run']);
      assert.equal(bad.code, code, `${args.join(' ')}: ${bad.stderr}`);
      assert.match(bad.stderr, message);
      assert.equal(bad.stderr.split('\n').filter(Boolean).length, 1, 'one line');
      assert.equal(jobCount(sb), 1, `${args.join(' ')} created nothing`);
    }
    // A prefix shared by two jobs is ambiguous (exit 2), as everywhere ids are taken.
    const env = { UWSRUN_TEST_ID_PREFIX: 'SAME' };
    submitJob(sb, ['ok'], env);
    submitJob(sb, ['ok'], env);
    const amb = sb.run(['submit', 'ok', '--after', 'SAME']);
    assert.equal(amb.code, 2, amb.stderr);
    assert.match(amb.stderr, /ambiguous/);
    assert.equal(jobCount(sb), 3);
  } finally {
    sb.cleanup();
  }
});

test('a job waiting on a dependency holds no slot and does not block the FIFO: a limit-1 HOME runs the job behind it', async () => {
  const sb = new Sandbox(JOBS);
  try {
    sb.ok(['limit', '1']);
    const dep = submitJob(sb, ['ok']); // PENDING: nothing starts it yet
    const waiting = submitJob(sb, ['ok', '--after', dep, '--run']);
    const later = submitJob(sb, ['gate', '--run']);
    const running = await waitPhase(sb, later, 'EXECUTING');
    assert.ok(running.pid > 1);
    assert.equal(sb.job(waiting).phase, 'QUEUED', 'the waiting job, queued first, did not start');
    assert.match(sb.ok(['show', waiting]), new RegExp(`why queued\\s+it waits for job ${dep} \\(PENDING\\)`));
    release(sb, later);
    await waitPhase(sb, later, 'COMPLETED');
    // Its dependency runs (through the one slot), then it.
    sb.ok(['run', dep]);
    const w = await waitPhase(sb, waiting, 'COMPLETED');
    assert.ok(ms(w.startTime) >= ms(sb.job(dep).endTime));
  } finally {
    sb.cleanup();
  }
});

test('--not-before: QUEUED and not started before the instant, started soon after it; notBefore in the record', async () => {
  const sb = new Sandbox(JOBS);
  try {
    const t0 = Date.now();
    // 10 s: the show below must still find it waiting after a submit and a show on a loaded
    // machine (each can take over a second there).
    const soon = submitJob(sb, ['ok', '--not-before', '10s', '--run']);
    const rec = sb.job(soon);
    const notBefore = ms(rec.notBefore);
    assert.ok(notBefore >= t0 + 10_000 && notBefore <= Date.now() + 10_000, `notBefore ${rec.notBefore} is 10 s from submit`);
    assert.match(sb.ok(['show', soon]), /why queued\s+its notBefore: not started before \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC \(in ([0-9]|10)s\)/);
    // An instant (with an offset) works too; one in the past means no wait.
    const instant = new Date(Date.now() + 6000);
    const plus1 = new Date(instant.getTime() + 3600_000).toISOString().replace(/\.\d+Z$/, '+01:00');
    const at = submitJob(sb, ['ok', '--not-before', plus1, '--run']);
    assert.equal(sb.job(at).notBefore, new Date(Math.floor(instant.getTime() / 1000) * 1000).toISOString());
    // Jobs behind a waiting one start at once: behind one that waits an hour (on a loaded
    // machine the commands above can take longer than the seconds of `soon`, so whether they
    // started before its instant proves nothing).
    const far = submitJob(sb, ['ok', '--not-before', '1h', '--run']);
    const past = submitJob(sb, ['ok', '--not-before', '2020-01-01T00:00:00Z', '--run']);
    const free = submitJob(sb, ['ok', '--run']);
    for (const id of [past, free]) await waitPhase(sb, id, 'COMPLETED');
    assert.equal(sb.job(far).phase, 'QUEUED', 'not held up: they ran while a job queued before them waits');
    assert.equal(sb.job(far).startTime, null);
    for (;;) {
      const j = sb.job(soon);
      if (Date.now() < notBefore - 100) {
        assert.equal(j.phase, 'QUEUED', 'not started before notBefore');
        await new Promise((r) => setTimeout(r, 50));
        continue;
      }
      break;
    }
    const done = await waitPhase(sb, soon, 'COMPLETED');
    assert.ok(ms(done.startTime) >= notBefore, `started ${done.startTime}, not before ${rec.notBefore}`);
    assert.ok(ms(done.startTime) - notBefore < 10_000, `started within a few seconds of notBefore (${done.startTime})`);
    const other = await waitPhase(sb, at, 'COMPLETED');
    assert.ok(ms(other.startTime) >= ms(other.notBefore));
  } finally {
    sb.cleanup();
  }
});

test('a waiting job keeps the runner alive until its notBefore; a runner killed meanwhile is replaced by tick', async () => {
  const sb = new Sandbox(JOBS);
  try {
    const alive = (pid: number) => existsSync(`/proc/${pid}`);
    const first = submitJob(sb, ['ok', '--not-before', '3s', '--run']);
    const runner = await waitFor('a runner', () => stateOrEmpty(sb).runner?.pid as number | undefined);
    const notBefore = ms(sb.job(first).notBefore);
    // Its idle exit (UWSRUN_RUNNER_IDLE_MS, 400 ms here) does not apply: it waits with the job.
    await waitFor('the job to run', () => {
      if (phaseOf(sb, first) === 'COMPLETED') return true;
      if (Date.now() < notBefore - 200) assert.ok(alive(runner), 'the runner stays alive while the job waits');
      return false;
    });
    assert.ok(ms(sb.job(first).startTime) >= notBefore);

    const second = submitJob(sb, ['ok', '--not-before', '6s', '--run']);
    const nb = ms(sb.job(second).notBefore);
    // Every runner of this HOME (the first may still be on its way out, a second started
    // beside it): killed, and gone before the notBefore passes.
    const runners = await waitFor('a runner', () => runnerPids(sb).length > 0 && runnerPids(sb));
    for (const pid of runners) process.kill(pid, 'SIGKILL');
    await waitFor('the runners to be gone', () => runnerPids(sb).length === 0);
    assert.equal(phaseOf(sb, second), 'QUEUED', 'killed before the job could start');
    // Only files are read until tick (`show` would start a runner too).
    await waitFor('its notBefore to pass', () => Date.now() > nb);
    assert.equal(phaseOf(sb, second), 'QUEUED', 'no runner, nothing starts it');
    const tick = sb.run(['tick']);
    assert.equal(tick.code, 0, tick.stderr);
    assert.match(tick.stdout, /started a runner for 1 queued or executing job/);
    const done = await waitPhase(sb, second, 'COMPLETED');
    assert.ok(ms(done.startTime) >= nb);
  } finally {
    sb.cleanup();
  }
});

test('--params-from: every job gets the dependencies and the start time', async () => {
  const sb = new Sandbox(JOBS);
  try {
    const a = submitJob(sb, ['gate', '--run']);
    const r = sb.run(['submit', 'ok', '--params-from', '-', '--after', a, '--not-before', '1s', '--run'], {}, '{}\n{}\n{}\n');
    assert.equal(r.code, 0, r.stderr);
    const ids = r.stdout.trim().split('\n');
    assert.equal(ids.length, 3);
    for (const id of ids) {
      const j = sb.job(id);
      assert.deepEqual(j.after, [{ jobId: a, any: false }]);
      assert.ok(j.notBefore);
    }
    release(sb, a);
    for (const id of ids) assert.ok(ms((await waitPhase(sb, id, 'COMPLETED')).startTime) >= ms(sb.job(a).endTime));
  } finally {
    sb.cleanup();
  }
});

test('hold and release: HELD jobs are not started; release puts them back at their old queue place; refusals exit 4', async () => {
  const sb = new Sandbox(JOBS);
  try {
    sb.ok(['limit', '1']);
    const blocker = submitJob(sb, ['gate', '--run']);
    await waitPhase(sb, blocker, 'EXECUTING');
    const q1 = submitJob(sb, ['ok', '--run']);
    const q2 = submitJob(sb, ['ok', '--run']);
    const q3 = submitJob(sb, ['ok', '--run']);
    const p = submitJob(sb, ['ok']);
    const held = sb.json(['hold', q1, p]);
    assert.deepEqual(held.map((j: any) => [j.jobId, j.phase]), [[q1, 'HELD'], [p, 'HELD']], '--json prints the changed jobs');
    const q4 = submitJob(sb, ['ok', '--run']);
    assert.equal(sb.ok(['phase', q1]), 'HELD');
    assert.match(sb.ok(['list']), new RegExp(`${q1}\\s+HELD`));
    assert.deepEqual(sb.json(['list', '--phase', 'HELD']).map((j: any) => j.jobId), [q1, p]);
    assert.match(sb.ok(['show', p]), new RegExp(`why held\\s+held: not started until \`uwsrun release ${p}\``));

    // The UWS XML of a HELD job validates.
    const file = join(sb.dir, 'held.xml');
    writeFileSync(file, sb.ok(['show', q1, '--xml']));
    const x = spawnSync('/usr/bin/xmllint', ['--noout', '--nonet', '--schema', SCHEMA, file], { encoding: 'utf8' });
    assert.equal(x.status, 0, x.stderr);
    assert.match(sb.ok(['show', q1, '--xml']), /<uws:phase>HELD<\/uws:phase>/);

    // Refused, exit 4, one line naming job, phase and action, nothing changed.
    for (const [args, id, phase] of [[['hold', q1], q1, 'HELD'], [['release', q2], q2, 'QUEUED'], [['hold', blocker], blocker, 'EXECUTING'], [['run', q1], q1, 'HELD']] as const) {
      const before = sb.job(id);
      const r = sb.run([...args]);
      assert.equal(r.code, 4, `${args.join(' ')}: ${r.stderr}`);
      assert.equal(r.stderr.trim(), `uwsrun: job ${id} is ${phase}: ${args[0]} is not allowed in that phase`);
      assert.deepEqual(sb.job(id), before);
    }
    const unknown = sb.run(['release', 'NoSuchJob1234567', q1]);
    assert.equal(unknown.code, 3, 'the highest code; the others are still released');
    assert.equal(sb.ok(['phase', q1]), 'QUEUED');
    sb.ok(['release', p]);
    release(sb, blocker);
    const order = [q1, q2, q3, p, q4];
    const jobs = [];
    for (const id of order) jobs.push(await waitPhase(sb, id, 'COMPLETED'));
    const starts = jobs.map((j) => ms(j.startTime));
    assert.deepEqual([...starts].sort((x, y) => x - y), starts, `started in the order ${order.join(' ')}: ${jobs.map((j) => j.startTime).join(' ')}`);

    // abort of a HELD job: ABORTED, no process involved; a COMPLETED one cannot be held.
    const h = submitJob(sb, ['ok']);
    sb.ok(['hold', h]);
    const aborted = sb.json(['abort', h]);
    assert.equal(aborted[0].phase, 'ABORTED');
    assert.equal(aborted[0].startTime, null);
    const done = sb.run(['hold', q4]);
    assert.equal(done.code, 4);
    assert.match(done.stderr, /is COMPLETED: hold is not allowed/);
  } finally {
    sb.cleanup();
  }
});

test("the README's nightly pipeline script works as written, and running it again reruns only what failed", async () => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('\n## Pipelines\n'));
  const script = /```sh\n([\s\S]*?)```/.exec(section)![1]!;
  assert.match(script, /--after "\$cal"/);
  const sb = new Sandbox(`
jobs:
  calibrate:
    command: [sh, -c, 'echo "calibrated {night}"']
    parameters: { night: { type: date, required: true } }
  reduce:
    command: [sh, -c, 'if [ ! -e "$HOME/disk-ok" ]; then echo "disk full" >&2; exit 1; fi']
    parameters: { night: { type: date, required: true } }
  publish:
    command: [sh, -c, 'echo published']
    parameters: { night: { type: date, required: true } }
`);
  try {
    const file = join(sb.dir, 'night.sh');
    writeFileSync(file, script.replaceAll('/srv/pipeline/jobs.yaml', sb.jobsFile));
    const env = { PATH: `${join(ROOT, 'bin')}:${process.env.PATH}` };
    const runScript = () => spawnSync('sh', [file], { env: { ...sb.env, ...env }, encoding: 'utf8' });
    const first = runScript();
    assert.equal(first.status, 0, first.stderr);
    const publish1 = first.stdout.trim();
    let jobs = await waitFor('the first night to settle', () => {
      const all = sb.json(['list']);
      return all.length === 3 && all.every((j: any) => ['COMPLETED', 'ERROR', 'ABORTED'].includes(j.phase)) ? all : undefined;
    });
    assert.deepEqual(jobs.map((j: any) => [j.definition, j.phase]), [['calibrate', 'COMPLETED'], ['reduce', 'ERROR'], ['publish', 'ABORTED']]);
    assert.equal(jobs[2].jobId, publish1);
    assert.deepEqual(jobs[2].after, [{ jobId: jobs[1].jobId, any: false }]);
    assert.ok(jobs[2].notBefore, 'publish has a start time');
    // The disk is fixed; cron runs the script again: calibrate is reused, the rest reruns.
    writeFileSync(join(sb.dir, 'disk-ok'), '');
    const second = runScript();
    assert.equal(second.status, 0, second.stderr);
    jobs = sb.json(['list']);
    assert.equal(jobs.length, 5, 'a new reduce and a new publish, no new calibrate');
    const [reduce2, publish2] = [jobs[3], jobs[4]];
    assert.deepEqual(reduce2.after, [{ jobId: jobs[0].jobId, any: false }], 'the new reduce waits on the COMPLETED calibrate');
    assert.deepEqual(publish2.after, [{ jobId: reduce2.jobId, any: false }]);
    assert.equal((await waitPhase(sb, reduce2.jobId, ['COMPLETED', 'ERROR'])).phase, 'COMPLETED');
    assert.equal(publish2.phase, 'QUEUED', 'publish waits for its start time');
  } finally {
    sb.cleanup();
  }
});
