// Black-box: SPEC §6 (queue management), statement by statement, where no other suite
// checks it: `limit` at its bounds and refusing bad values in a HOME that has jobs without
// changing a byte of it; FIFO skipping only jobs that may not start yet (a start time, a
// retry delay, a definition at its maxRunning), none of which holds a slot; HELD, PENDING
// and waiting jobs not counted against the HOME-wide limit; lowering the limit below the
// number running stops none of them; a paused HOME starting no runner for what is queued
// into it; `tick` silent when it did nothing and idempotent when it did something. Jobs that
// must stay EXECUTING wait for a `release` file the test creates; times come from the
// records, never from sleeps.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Sandbox, release, submitJob, waitFor } from '../helpers.js';
import { homeSnapshot, quietHome, runnerProcessAlive } from '../home-snapshot.js';

const T = { timeout: 120_000 };
const DEADLINE = 30_000;

const JOBS = `
jobs:
  ok:
    command: [sh, -c, 'echo ok']
  gate:
    description: runs until the test creates $UWS_JOB_DIR/release
    command: [sh, -c, 'while [ ! -e "$UWS_JOB_DIR/release" ]; do sleep 0.05; done']
    killGrace: 1
  solo:
    description: at most one at a time, runs until released
    command: [sh, -c, 'while [ ! -e "$UWS_JOB_DIR/release" ]; do sleep 0.05; done']
    maxRunning: 1
    killGrace: 1
  flaky:
    description: fails at once, retried an hour later
    command: [sh, -c, 'exit 3']
    retries: 1
    retryDelay: 1h
`;

async function waitPhase(sb: Sandbox, id: string, phase: string): Promise<any> {
  return waitFor(`job ${id} to be ${phase}`, () => {
    const job = sb.job(id);
    return job.phase === phase ? job : undefined;
  }, DEADLINE);
}

test('limit: 0 and 10000 are accepted and kept; bad values exit 2 naming the value and change nothing in a HOME with jobs', T, async () => {
  const sb = new Sandbox(JOBS);
  try {
    const pending = submitJob(sb, ['ok']);
    const done = submitJob(sb, ['ok', '--wait']);
    assert.equal(sb.job(done).phase, 'COMPLETED');
    assert.equal(sb.ok(['limit', '10000']), '10000', 'the upper bound is accepted');
    assert.deepEqual(sb.json(['limit']), { limit: 10000 });
    assert.equal(sb.ok(['limit', '0']), '0', 'the lower bound (pause) is accepted');
    assert.equal(sb.ok(['limit', '3']), '3');
    const before = await quietHome(sb);
    for (const bad of ['-1', 'abc', '10001', '1.5', '', '0x2', '1e3', ' 2', '+1']) {
      const r = sb.run(['limit', bad]);
      assert.equal(r.code, 2, `limit ${JSON.stringify(bad)}: ${r.stderr}`);
      assert.equal(r.stdout, '');
      const lines = r.stderr.trim().split('\n');
      assert.equal(lines.length, 1, `one line: ${r.stderr}`);
      assert.ok(lines[0]!.startsWith('uwsrun: ') && lines[0]!.includes(`"${bad}"`), `the message names the value: ${lines[0]}`);
      assert.deepEqual(homeSnapshot(sb), before, `limit ${JSON.stringify(bad)} changed nothing on disk`);
    }
    const two = sb.run(['limit', '1', '2']);
    assert.equal(two.code, 2, 'two values: usage error');
    assert.deepEqual(homeSnapshot(sb), before);
    assert.equal(sb.ok(['limit']), '3', 'the limit set before is still in force');
    assert.equal(sb.job(pending).phase, 'PENDING');
  } finally {
    sb.cleanup();
  }
});

test('FIFO skips only jobs that may not start yet (notBefore, retryDelay, maxRunning); they hold no slot and the job behind them starts', T, async () => {
  const sb = new Sandbox(JOBS);
  try {
    assert.equal(sb.ok(['limit', '2']), '2');
    // One solo runs (its definition at maxRunning 1 from now on) and holds one of the two slots.
    const solo1 = submitJob(sb, ['solo', '--run']);
    await waitPhase(sb, solo1, 'EXECUTING');
    // A failed attempt waiting an hour for its retry, a job not to start for an hour, and a
    // second solo: all QUEUED before `last`, none of them may start.
    const flaky = submitJob(sb, ['flaky', '--run']);
    await waitFor('the first attempt of flaky to fail and wait for its retry', () => {
      const j = sb.job(flaky);
      return j.phase === 'QUEUED' && j.attempt === 2 && j.attempts.length === 1 ? j : undefined;
    }, DEADLINE);
    const later = submitJob(sb, ['ok', '--run', '--not-before', '1h']);
    const solo2 = submitJob(sb, ['solo', '--run']);
    const last = submitJob(sb, ['gate', '--run']);
    await waitPhase(sb, last, 'EXECUTING'); // the job queued last got the free slot
    for (const [id, why] of [[flaky, /retry delay until/], [later, /not started before/], [solo2, /maxRunning|at its limit|solo/]] as const) {
      const j = sb.job(id);
      assert.equal(j.phase, 'QUEUED', `${id} still waits`);
      assert.equal(j.startTime, null);
      assert.match(sb.ok(['show', id]), why, `show says why ${id} waits`);
    }
    // Both slots are taken now (solo1, last): a new job waits for a slot, not for the waiting ones.
    const third = submitJob(sb, ['ok', '--run']);
    assert.match(sb.ok(['show', third]), /2\/2 jobs executing/);
    release(sb, last);
    await waitPhase(sb, third, 'COMPLETED');
    assert.equal(sb.job(solo2).phase, 'QUEUED', 'solo2 still waits for solo1, limit or not');
    release(sb, solo1);
    const s2 = await waitFor('solo2 to be up', () => {
      const j = sb.job(solo2);
      return j.phase === 'EXECUTING' && j.startTime ? j : undefined;
    }, DEADLINE);
    const s1 = sb.job(solo1);
    assert.ok(Date.parse(s2.startTime) >= Date.parse(s1.endTime), `solo2 started after solo1 ended: ${JSON.stringify([s1.startTime, s1.endTime, s2.startTime, s2.creationTime])} ${sb.ok(['show', solo2])}`);
    release(sb, solo2);
    await waitPhase(sb, solo2, 'COMPLETED');
    for (const id of [flaky, later]) assert.equal(sb.job(id).phase, 'QUEUED');
  } finally {
    sb.cleanup();
  }
});

test('the HOME-wide limit counts EXECUTING jobs only: PENDING, HELD and waiting jobs take no slot', T, async () => {
  const sb = new Sandbox(JOBS);
  try {
    // Paused while the jobs are set up, so the one to hold cannot start before it is held.
    assert.equal(sb.ok(['limit', '0']), '0');
    const pending = submitJob(sb, ['gate']);
    const held = submitJob(sb, ['gate', '--run']);
    sb.ok(['hold', held]);
    const blocker = submitJob(sb, ['gate', '--run']);
    const waiting = submitJob(sb, ['ok', '--run', '--after', blocker]);
    const free = submitJob(sb, ['ok', '--run']);
    assert.equal(sb.job(free).phase, 'QUEUED', 'paused: nothing started');
    assert.equal(sb.ok(['limit', '1']), '1');
    await waitPhase(sb, blocker, 'EXECUTING');
    assert.equal(sb.job(free).phase, 'QUEUED', 'the one slot is the blocker\'s');
    release(sb, blocker);
    await waitPhase(sb, waiting, 'COMPLETED');
    await waitPhase(sb, free, 'COMPLETED');
    assert.equal(sb.job(pending).phase, 'PENDING');
    assert.equal(sb.job(held).phase, 'HELD');
    // The only EXECUTING job is what the limit of 1 counts: with nothing else running the
    // released job starts, although a PENDING one exists.
    sb.ok(['release', held]);
    await waitPhase(sb, held, 'EXECUTING');
    release(sb, held);
    await waitPhase(sb, held, 'COMPLETED');
  } finally {
    sb.cleanup();
  }
});

test('a paused HOME starts no runner for the jobs queued into it; `limit 1` starts one and they run', T, async () => {
  const sb = new Sandbox(JOBS);
  try {
    assert.equal(sb.ok(['limit', '0']), '0');
    // A runner is spawned (and so in /proc) before the command that wants it exits: looked
    // for right after each command, one would be found.
    const ids = [submitJob(sb, ['ok', '--run']), submitJob(sb, ['ok', '--run'])];
    assert.equal(runnerProcessAlive(sb), false, 'submit --run into a paused HOME started no runner');
    const pending = submitJob(sb, ['ok']);
    sb.ok(['run', pending]);
    assert.equal(runnerProcessAlive(sb), false, 'run of a PENDING job in a paused HOME started no runner');
    ids.push(pending);
    for (const id of ids) assert.equal(sb.job(id).phase, 'QUEUED');
    assert.equal(sb.ok(['limit', '1']), '1');
    for (const id of ids) await waitPhase(sb, id, 'COMPLETED');
  } finally {
    sb.cleanup();
  }
});

test('lowering the limit below the number running stops no job; the next starts only once fewer than the new limit run', T, async () => {
  const sb = new Sandbox(JOBS);
  try {
    assert.equal(sb.ok(['limit', '3']), '3');
    const a = submitJob(sb, ['gate', '--run']);
    const b = submitJob(sb, ['gate', '--run']);
    const c = submitJob(sb, ['gate', '--run']);
    for (const id of [a, b, c]) await waitFor(`${id} up`, () => sb.job(id).startTime, DEADLINE);
    assert.equal(sb.ok(['limit', '1']), '1');
    const next = submitJob(sb, ['ok', '--run']);
    release(sb, a);
    await waitPhase(sb, a, 'COMPLETED');
    release(sb, b);
    await waitPhase(sb, b, 'COMPLETED');
    assert.equal(sb.job(c).phase, 'EXECUTING', 'the running job goes on');
    assert.equal(sb.job(next).phase, 'QUEUED', 'one job runs: the limit of 1 is reached');
    release(sb, c);
    const n = await waitPhase(sb, next, 'COMPLETED');
    assert.ok(Date.parse(n.startTime) >= Date.parse(sb.job(c).endTime), 'it started after the last of the three ended');
  } finally {
    sb.cleanup();
  }
});

test('tick prints nothing, on stdout or stderr, when it did nothing; a second tick after work done is silent again', T, async () => {
  const sb = new Sandbox(JOBS);
  try {
    const quiet = sb.run(['tick']);
    assert.deepEqual(quiet, { code: 0, stdout: '', stderr: '' }, 'a fresh HOME: nothing to do, nothing said');
    const id = submitJob(sb, ['ok', '--destruction', '1s']);
    await waitFor('the destruction time to pass', () => Date.now() > Date.parse(sb.job(id).destruction) + 50, DEADLINE);
    const first = sb.run(['tick']);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, new RegExp(id), 'tick says what it did');
    assert.equal(sb.run(['show', id]).code, 3, 'the expired job was destroyed');
    await quietHome(sb);
    for (const args of [['tick'], ['-q', 'tick']]) {
      const again = sb.run(args);
      assert.deepEqual(again, { code: 0, stdout: '', stderr: '' }, `${args.join(' ')} with nothing left to do`);
    }
    assert.deepEqual(sb.json(['tick']), []);
  } finally {
    sb.cleanup();
  }
});
