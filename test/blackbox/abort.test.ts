// Black-box tests of `uwsrun abort` (SPEC §2 abort rows, §5 process groups and escapees,
// §9 several ids / --json). Every wait polls a condition with a deadline; processes are
// checked in /proc with their start time (field 22), so a reused pid never counts as alive,
// and a zombie counts as gone (PID 1 here may never reap orphans).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Sandbox, submitJob, waitFor } from '../helpers.js';
import {
  describeProcs, environHas, groupMembers, isZombie, killQuietly, pendingSignals, procStat, sigBit, stillAlive,
} from '../procfs.js';

const YAML = `
defaults:
  destruction: 0
jobs:
  record:
    description: would leave traces if it ever ran
    command: [sh, -c, 'echo ran; echo ran > "$UWS_RESULTS_DIR/ran"']
  holdme:
    description: like record, with a grace long enough to look at a stopped group
    command: [sh, -c, 'echo ran; echo ran > "$UWS_RESULTS_DIR/ran"']
    killGrace: 10
  quick:
    command: [echo, done]
  fail:
    command: [sh, -c, 'echo boom >&2; exit 3']
  blocker:
    command: [sh, -c, 'echo ready > "$UWS_RESULTS_DIR/ready"; exec sleep 300']
    killGrace: 1
  intjob:
    command: [sh, -c, 'trap "echo got INT >> $UWS_RESULTS_DIR/sig; exit 0" INT; echo ready > $UWS_RESULTS_DIR/ready; while :; do sleep 0.05; done']
  grand:
    command: [sh, -c, 'sleep 300 & sleep 300 & sh -c "sleep 300" & wait']
    killGrace: 1
  stubborn:
    command: [sh, -c, 'trap "" INT TERM; echo ready > $UWS_RESULTS_DIR/ready; while :; do sleep 0.1; done']
    killGrace: 1
  patient:
    description: notes every SIGINT but keeps running; ignores SIGTERM; a grace period long enough for a command started during it to run on a loaded machine
    command: [sh, -c, 'trap "echo INT >> $UWS_RESULTS_DIR/sig" INT; trap "" TERM; echo ready > $UWS_RESULTS_DIR/ready; while :; do sleep 0.1; done']
    killGrace: 8
  lingering:
    description: its shell dies of SIGINT at once, its background children ignore SIGINT and SIGTERM; a grace period long enough for a command started during it to run on a loaded machine
    command: [sh, -c, 'trap "" TERM; sleep 300 & sh -c "sleep 300" & trap - TERM; wait']
    killGrace: 8
  gated:
    description: exits with status CODE once the test creates the file go
    command: [sh, -c, 'echo started; while [ ! -e "$UWS_JOB_DIR/go" ]; do sleep 0.05; done; exit "$UWS_PARAM_CODE"']
    parameters:
      code: { type: integer, default: 0 }
  escape:
    command: [sh, -c, 'setsid -f sh -c ''echo $$ > "$UWS_RESULTS_DIR/escaped.tmp"; mv "$UWS_RESULTS_DIR/escaped.tmp" "$UWS_RESULTS_DIR/escaped"; exec sleep 300''; while :; do sleep 0.1; done']
    killGrace: 1
`;

const T = { timeout: 90_000 };

// ---- uwsrun ------------------------------------------------------------------------------

const waitJob = (sb: Sandbox, id: string, what: string, ok: (j: any) => boolean, ms = 25_000): Promise<any> =>
  waitFor(`job ${id}: ${what}`, () => {
    const j = sb.job(id);
    return ok(j) ? j : undefined;
  }, ms);

/** Submits with --run and waits until the command has started and written results/ready. */
async function startReady(sb: Sandbox, def: string): Promise<{ id: string; job: any }> {
  const id = submitJob(sb, [def, '--run']);
  await waitFor(`${def} ready`, () => existsSync(join(sb.jobDir(id), 'results', 'ready')), 25_000);
  const job = await waitJob(sb, id, 'EXECUTING with pid and startTime', (j) => j.phase === 'EXECUTING' && j.pid !== null && j.startTime !== null);
  return { id, job };
}

/** A job's stdout.log; '' when it has none (its directory is made only when it starts). */
function stdoutOf(sb: Sandbox, id: string): string {
  const file = join(sb.jobDir(id), 'stdout.log');
  return existsSync(file) ? readFileSync(file, 'utf8') : '';
}

function assertNeverRan(sb: Sandbox, id: string): void {
  const dir = sb.jobDir(id);
  assert.equal(stdoutOf(sb, id), '', 'stdout.log must be empty: the command never ran');
  assert.equal(existsSync(join(dir, 'exit')), false, 'no exit file: no wrapper ever finished a command');
  assert.equal(existsSync(join(dir, 'results', 'ran')), false, 'the command never ran');
}

function assertAbortedRecord(job: any): void {
  assert.equal(job.phase, 'ABORTED');
  assert.match(String(job.endTime), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  assert.equal(job.pid, null);
}

// ---- tests -------------------------------------------------------------------------------

test('abort of a PENDING job: ABORTED with endTime, no pid, nothing ever ran, exit 0', T, () => {
  const sb = new Sandbox(YAML);
  try {
    const id = submitJob(sb, ['record']);
    assert.equal(sb.job(id).phase, 'PENDING');
    const r = sb.run(['abort', id]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, '', 'no data on stdout without --json');
    const job = sb.job(id);
    assertAbortedRecord(job);
    assert.equal(job.startTime, null);
    assert.ok(Date.parse(job.endTime) >= Date.parse(job.creationTime));
    assertNeverRan(sb, id);
    // It can never be run afterwards.
    assert.equal(sb.run(['run', id]).code, 4);
    assertNeverRan(sb, id);
  } finally {
    sb.cleanup();
  }
});

test('abort of a QUEUED job (held by limit 1): ABORTED, never started even when the slot frees', T, async () => {
  const sb = new Sandbox(YAML);
  try {
    assert.equal(sb.run(['limit', '1']).code, 0);
    const blocker = await startReady(sb, 'blocker');
    const id = submitJob(sb, ['record', '--run']);
    assert.equal(sb.job(id).phase, 'QUEUED');
    const r = sb.run(['abort', id]);
    assert.equal(r.code, 0, r.stderr);
    const job = sb.job(id);
    assertAbortedRecord(job);
    assert.equal(job.startTime, null);
    // Free the slot and prove the queue moved on without the aborted job.
    assert.equal(sb.run(['abort', blocker.id]).code, 0);
    const next = submitJob(sb, ['quick', '--run']);
    await waitJob(sb, next, 'COMPLETED', (j) => j.phase === 'COMPLETED');
    assert.equal(sb.job(id).phase, 'ABORTED');
    assertNeverRan(sb, id);
  } finally {
    sb.cleanup();
  }
});

test('abort in the starting window: exit 0 at once, ABORTED with startTime null, the command never runs', T, async () => {
  const sb = new Sandbox(YAML);
  try {
    const id = submitJob(sb, ['record', '--run'], { UWSRUN_TEST_HOLD_START: '30' });
    const starting = await waitJob(sb, id, 'EXECUTING, pid set, startTime null',
      (j) => j.phase === 'EXECUTING' && j.pid !== null && j.startTime === null);
    const wrapper = procStat(starting.pid);
    assert.ok(wrapper && !isZombie(wrapper), `wrapper ${starting.pid} should be running`);
    const members = groupMembers(starting.pid);
    assert.ok(members.some((p) => p.pid === starting.pid), 'the pid leads its own process group');

    const t0 = Date.now();
    const r = sb.run(['abort', id]);
    const took = Date.now() - t0;
    assert.equal(r.code, 0, r.stderr);
    assert.ok(took < 15_000, `abort took ${took} ms; the hold is 30 s`);

    const job = sb.job(id);
    assertAbortedRecord(job);
    assert.equal(job.startTime, null, 'the job never got out of its starting window');
    assert.ok(!stillAlive(wrapper), `wrapper ${wrapper.pid} must be gone (or a zombie)`);
    const left = [...members, ...groupMembers(starting.pid)].filter(stillAlive);
    assert.deepEqual(left, [], `processes of the job still alive: ${describeProcs(left)}`);
    assert.equal(stdoutOf(sb, id), '', 'the command must never run');
    assert.equal(existsSync(join(sb.jobDir(id), 'results', 'ran')), false, 'the command must never run');
    // Housekeeping afterwards does not change a final job.
    assert.equal(sb.run(['tick']).code, 0);
    const later = sb.job(id);
    assert.equal(later.phase, 'ABORTED');
    assert.equal(later.startTime, null);
  } finally {
    sb.cleanup();
  }
});

test('abort in the starting window signals the group with SIGTERM, not SIGINT', T, async () => {
  const sb = new Sandbox(YAML);
  let stopped: number | undefined;
  try {
    const id = submitJob(sb, ['holdme', '--run'], { UWSRUN_TEST_HOLD_START: '30' }); // killGrace: 10
    const starting = await waitJob(sb, id, 'EXECUTING, pid set, startTime null',
      (j) => j.phase === 'EXECUTING' && j.pid !== null && j.startTime === null);
    const pid: number = starting.pid;
    const members = groupMembers(pid);
    assert.ok(members.some((p) => p.pid === pid), 'the pid leads its own process group');
    // Stop the whole group: a signal sent to a stopped process (other than SIGKILL and
    // SIGCONT) stays pending, visible in /proc/PID/status, whatever the wrapper is made of.
    process.kill(-pid, 'SIGSTOP');
    stopped = pid;
    await waitFor('the group to stop', () => members.every((p) => ['T', 't'].includes(procStat(p.pid)?.state ?? '')));
    assert.equal(pendingSignals(pid), 0n, 'nothing pending before the abort');

    const t0 = Date.now();
    const abort = sb.start(['abort', id]);
    const mask = await waitFor('a signal to be pending in the stopped wrapper', () => {
      const m = pendingSignals(pid);
      if (m === undefined || !stillAlive(members.find((p) => p.pid === pid)!)) {
        throw new Error('the stopped wrapper vanished before its pending signals could be read');
      }
      return m !== 0n ? m : undefined;
    });
    assert.notEqual(mask & sigBit(15), 0n, `SIGTERM must be pending (mask 0x${mask.toString(16)})`);
    assert.equal(mask & sigBit(2), 0n, `SIGINT must not be sent in the starting window (mask 0x${mask.toString(16)})`);
    // Let it receive the SIGTERM.
    process.kill(-pid, 'SIGCONT');
    stopped = undefined;

    const r = await abort;
    const took = Date.now() - t0;
    assert.equal(r.code, 0, r.stderr);
    assert.ok(took < 15_000, `abort took ${took} ms`);
    const job = sb.job(id);
    assertAbortedRecord(job);
    assert.equal(job.startTime, null);
    const left = members.filter(stillAlive);
    assert.deepEqual(left, [], `still alive: ${describeProcs(left)}`);
    assert.equal(stdoutOf(sb, id), '', 'the command must never run');
    assert.equal(existsSync(join(sb.jobDir(id), 'results', 'ran')), false, 'the command must never run');
  } finally {
    if (stopped !== undefined) killQuietly(-stopped, 'SIGCONT');
    sb.cleanup();
  }
});

test('abort of a started job sends SIGINT to it; ABORTED with endTime', T, async () => {
  const sb = new Sandbox(YAML);
  try {
    const { id } = await startReady(sb, 'intjob');
    const r = sb.run(['abort', id]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(readFileSync(join(sb.jobDir(id), 'results', 'sig'), 'utf8'), /got INT/);
    const job = sb.job(id);
    assertAbortedRecord(job);
    assert.notEqual(job.startTime, null);
    assert.ok(Date.parse(job.endTime) >= Date.parse(job.startTime));
  } finally {
    sb.cleanup();
  }
});

test('abort kills the whole process group, grandchildren included (SIGKILL after killGrace)', T, async () => {
  const sb = new Sandbox(YAML);
  try {
    const id = submitJob(sb, ['grand', '--run']);
    const job = await waitJob(sb, id, 'started', (j) => j.phase === 'EXECUTING' && j.pid !== null && j.startTime !== null);
    const members = await waitFor('three sleeps in the group', () => {
      const g = groupMembers(job.pid);
      return g.filter((p) => p.comm === 'sleep').length >= 3 ? g : undefined;
    });
    assert.ok(members.length >= 5, `wrapper, sh and three sleeps: ${describeProcs(members)}`);
    assert.ok(members.some((p) => p.pid === job.pid), 'the wrapper leads the group');

    const r = sb.run(['abort', id]);
    assert.equal(r.code, 0, r.stderr);
    const left = members.filter(stillAlive);
    assert.deepEqual(left, [], `still alive after abort returned: ${describeProcs(left)}`);
    assert.deepEqual(groupMembers(job.pid), [], 'the group is empty');
    assertAbortedRecord(sb.job(id));
  } finally {
    sb.cleanup();
  }
});

test('a job ignoring SIGINT and SIGTERM is SIGKILLed after killGrace', T, async () => {
  const sb = new Sandbox(YAML);
  try {
    const { id, job } = await startReady(sb, 'stubborn');
    const members = groupMembers(job.pid);
    assert.ok(members.length >= 2, describeProcs(members));
    const t0 = Date.now();
    const r = sb.run(['abort', id]);
    const took = Date.now() - t0;
    assert.equal(r.code, 0, r.stderr);
    assert.ok(took >= 900, `abort returned after ${took} ms, before the 1 s grace`);
    assert.ok(took < 20_000, `abort took ${took} ms`);
    const left = [...members, ...groupMembers(job.pid)].filter(stillAlive);
    assert.deepEqual(left, [], `still alive: ${describeProcs(left)}`);
    assertAbortedRecord(sb.job(id));
  } finally {
    sb.cleanup();
  }
});

test('during the grace period the phase stays EXECUTING; ABORTED once the group is gone', T, async () => {
  const sb = new Sandbox(YAML);
  try {
    // killGrace 8 s: `phase`, a new process started once SIGINT has reached the job, must
    // read the state inside the grace period even when starting a command takes seconds.
    const { id, job } = await startReady(sb, 'patient');
    const sig = join(sb.jobDir(id), 'results', 'sig');
    const t0 = Date.now();
    let abortDone = false;
    const abort = sb.start(['abort', id]).then((r) => {
      abortDone = true;
      return r;
    });
    await waitFor('SIGINT to reach the job', () => existsSync(sig));
    const during = sb.run(['phase', id]);
    const sampledAt = Date.now() - t0;
    assert.equal(during.code, 0);
    assert.ok(!abortDone, 'abort must still be waiting during the grace period');
    assert.equal(during.stdout.trim(), 'EXECUTING', `phase ${sampledAt} ms into an 8 s grace period`);
    assert.ok(groupMembers(job.pid).length > 0, 'the group is still there');

    const r = await abort;
    const took = Date.now() - t0;
    assert.equal(r.code, 0, r.stderr);
    assert.ok(took >= 7_500, `abort returned after ${took} ms, before the 8 s grace`);
    assert.equal(sb.run(['phase', id]).stdout.trim(), 'ABORTED');
    assert.deepEqual(groupMembers(job.pid), []);
    assertAbortedRecord(sb.job(id));
  } finally {
    sb.cleanup();
  }
});

test('a second abort during the grace period waits like the first and exits 0', T, async () => {
  const sb = new Sandbox(YAML);
  try {
    // killGrace 8 s: the second abort, a new process started once SIGINT has reached the job,
    // must arrive inside the grace period even when starting a command takes seconds.
    const { id, job } = await startReady(sb, 'patient');
    const sig = join(sb.jobDir(id), 'results', 'sig');
    const phaseNow = () => sb.run(['phase', id]).stdout.trim();
    const t0 = Date.now();
    const first = sb.start(['abort', id]).then((r) => ({ r, phase: phaseNow(), at: Date.now() - t0 }));
    await waitFor('SIGINT to reach the job', () => existsSync(sig));
    const second = sb.start(['abort', id]).then((r) => ({ r, phase: phaseNow(), at: Date.now() - t0 }));
    const [a, b] = await Promise.all([first, second]);
    assert.equal(a.r.code, 0, `first abort: ${a.r.stderr}`);
    assert.equal(b.r.code, 0, `second abort: ${b.r.stderr}`);
    assert.equal(a.phase, 'ABORTED', 'the first abort returned before the job was ABORTED');
    assert.equal(b.phase, 'ABORTED', 'the second abort returned before the job was ABORTED');
    assert.ok(b.at >= 7_500, `second abort returned after ${b.at} ms, inside the 8 s grace`);
    assert.deepEqual(groupMembers(job.pid), []);
    assertAbortedRecord(sb.job(id));
  } finally {
    sb.cleanup();
  }
});

test('abort of a final job (COMPLETED, ERROR, ABORTED) exits 4 and changes nothing', T, async () => {
  const sb = new Sandbox(YAML);
  try {
    const completed = submitJob(sb, ['quick', '--run']);
    const failed = submitJob(sb, ['fail', '--run']);
    const aborted = submitJob(sb, ['record']);
    assert.equal(sb.run(['abort', aborted]).code, 0);
    await waitJob(sb, completed, 'COMPLETED', (j) => j.phase === 'COMPLETED');
    await waitJob(sb, failed, 'ERROR', (j) => j.phase === 'ERROR');

    for (const [id, phase] of [[completed, 'COMPLETED'], [failed, 'ERROR'], [aborted, 'ABORTED']] as const) {
      const before = sb.run(['show', id, '--json']);
      assert.equal(before.code, 0);
      const r = sb.run(['abort', id]);
      assert.equal(r.code, 4, `abort of a ${phase} job: ${r.stderr}`);
      assert.equal(r.stdout, '');
      const lines = r.stderr.trim().split('\n');
      assert.equal(lines.length, 1, `one line: ${r.stderr}`);
      assert.ok(lines[0]!.includes(id), `names the job: ${r.stderr}`);
      assert.ok(lines[0]!.includes(phase), `names the phase: ${r.stderr}`);
      assert.match(lines[0]!, /abort/i, `names the action: ${r.stderr}`);
      const after = sb.run(['show', id, '--json']);
      assert.equal(after.stdout, before.stdout, `${phase} job changed by a refused abort`);
    }
  } finally {
    sb.cleanup();
  }
});

test('abort of several ids: acts on each, reports each failure, exits with the highest code; --json lists the changed only', T, async () => {
  const sb = new Sandbox(YAML);
  try {
    const pending = submitJob(sb, ['record']);
    const completed = submitJob(sb, ['quick', '--run']);
    await waitJob(sb, completed, 'COMPLETED', (j) => j.phase === 'COMPLETED');
    const unknown = 'Zz9unknownJob42';
    const completedBefore = sb.run(['show', completed, '--json']).stdout;

    const r = sb.run(['abort', pending, unknown, completed, '--json']);
    assert.equal(r.code, 4, `highest of 3 (no such job) and 4 (not allowed): ${r.stderr}`);
    const printed = JSON.parse(r.stdout);
    assert.ok(Array.isArray(printed));
    assert.equal(printed.length, 1, r.stdout);
    assert.equal(printed[0].jobId, pending);
    assert.equal(printed[0].phase, 'ABORTED');
    assert.ok(r.stderr.includes(unknown), `reports the unknown id: ${r.stderr}`);
    assert.ok(r.stderr.includes(completed), `reports the COMPLETED job: ${r.stderr}`);
    assert.ok(!r.stderr.includes(`uwsrun: job ${pending}`), `no error about the aborted job: ${r.stderr}`);

    assertAbortedRecord(sb.job(pending));
    assert.equal(sb.run(['show', completed, '--json']).stdout, completedBefore);
    // Unknown only: exit 3.
    assert.equal(sb.run(['abort', unknown]).code, 3);
  } finally {
    sb.cleanup();
  }
});

test('abort also kills a process that escaped into a new session (found by UWS_JOB_ID)', T, async () => {
  const sb = new Sandbox(YAML);
  try {
    const id = submitJob(sb, ['escape', '--run']);
    const job = await waitJob(sb, id, 'started', (j) => j.phase === 'EXECUTING' && j.pid !== null && j.startTime !== null);
    const escapedFile = join(sb.jobDir(id), 'results', 'escaped');
    const text = await waitFor('the escapee to write its pid', () => {
      const t = existsSync(escapedFile) ? readFileSync(escapedFile, 'utf8') : '';
      return /^\d+\n$/.test(t) ? t : undefined;
    });
    const escPid = Number(text.trim());
    const esc = await waitFor('the escapee to exec sleep', () => {
      const p = procStat(escPid);
      return p && p.comm === 'sleep' ? p : undefined;
    });
    assert.ok(!isZombie(esc));
    assert.notEqual(esc.pgrp, job.pid, 'the escapee left the job group');
    assert.notEqual(esc.session, procStat(job.pid)?.session, 'the escapee is in another session');
    assert.ok(environHas(escPid, `UWS_JOB_ID=${id}`), 'the escapee carries UWS_JOB_ID');
    const members = groupMembers(job.pid);

    const r = sb.run(['abort', id]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(!stillAlive(esc), `escaped process ${escPid} survived the abort`);
    const left = members.filter(stillAlive);
    assert.deepEqual(left, [], describeProcs(left));
    assertAbortedRecord(sb.job(id));
  } finally {
    sb.cleanup();
  }
});

test('while the leader is gone but its group lives on, the phase stays EXECUTING', T, async () => {
  const sb = new Sandbox(YAML);
  try {
    const id = submitJob(sb, ['lingering', '--run']); // killGrace: 8
    const job = await waitJob(sb, id, 'started', (j) => j.phase === 'EXECUTING' && j.pid !== null && j.startTime !== null);
    const members = await waitFor('two sleeps in the group', () => {
      const g = groupMembers(job.pid);
      return g.filter((p) => p.comm === 'sleep').length >= 2 ? g : undefined;
    });
    const leader = members.find((p) => p.pid === job.pid);
    assert.ok(leader, 'the wrapper leads the group');
    const t0 = Date.now();
    let abortDone = false;
    const abort = sb.start(['abort', id]).then((r) => {
      abortDone = true;
      return r;
    });
    // SIGINT ends the job's shell; the background sleeps ignore SIGINT. The wrapper would
    // stay to terminate them (SPEC §5): SIGKILL it, so its group lives on without a leader.
    await waitFor('the abort to have been asked', () => existsSync(join(sb.home, 'runner.log'))
      && readFileSync(join(sb.home, 'runner.log'), 'utf8').includes(`job ${id}: abort requested`));
    process.kill(leader.pid, 'SIGKILL');
    await waitFor('the leader to end', () => !stillAlive(leader));
    const during = sb.run(['phase', id]).stdout.trim();
    const stillThere = members.filter((p) => p.pid !== job.pid && stillAlive(p));
    assert.ok(!abortDone && stillThere.length > 0, `precondition: within the 8 s grace (${Date.now() - t0} ms)`);
    assert.equal(during, 'EXECUTING', 'the group is not gone yet: the phase must stay EXECUTING');

    const r = await abort;
    assert.equal(r.code, 0, r.stderr);
    const left = members.filter(stillAlive);
    assert.deepEqual(left, [], describeProcs(left));
    assertAbortedRecord(sb.job(id));
  } finally {
    sb.cleanup();
  }
});

test('abort of a job that ended a moment before (end not yet recorded) exits 4; the job keeps its own end', T, async () => {
  const sb = new Sandbox(YAML);
  let supervisor: number | undefined;
  try {
    const ok = submitJob(sb, ['gated', '--run']);
    const bad = submitJob(sb, ['gated', '--run', '-p', 'code=3']);
    const jobs = await Promise.all([ok, bad].map((id) =>
      waitJob(sb, id, 'started', (j) => j.phase === 'EXECUTING' && j.pid !== null && j.startTime !== null)));
    // SPEC §5: pid is a direct child of whatever supervises the job. Freeze that supervisor so
    // the jobs end without anybody recording it yet (a busy runner on a loaded machine).
    const parents = jobs.map((j) => procStat(j.pid)!.ppid);
    assert.equal(parents[0], parents[1], 'one supervisor for both');
    supervisor = parents[0]!;
    assert.ok(supervisor > 1);
    process.kill(supervisor, 'SIGSTOP');
    const groups = jobs.map((j) => groupMembers(j.pid));
    for (const id of [ok, bad]) writeFileSync(join(sb.jobDir(id), 'go'), '');
    await waitFor('both jobs to end', () => groups.every((g) => g.every((p) => !stillAlive(p))));
    for (const [id, phase] of [[ok, 'COMPLETED'], [bad, 'ERROR']] as const) {
      // Normally still EXECUTING here: nobody has recorded the end yet.
      const recorded = sb.run(['phase', id]).stdout.trim();
      const r = sb.run(['abort', id]);
      assert.equal(r.code, 4, `abort of a job that already ended (${phase}; recorded as ${recorded} before the abort) ` +
        `must be refused: exit ${r.code}, stderr ${JSON.stringify(r.stderr)}, job now ${sb.job(id).phase}`);
      assert.ok(r.stderr.includes(id), r.stderr);
    }
    process.kill(supervisor, 'SIGCONT');
    supervisor = undefined;
    const [a, b] = await Promise.all([ok, bad].map((id) =>
      waitJob(sb, id, 'final', (j) => ['COMPLETED', 'ERROR', 'ABORTED'].includes(j.phase))));
    assert.equal(a.phase, 'COMPLETED', 'the job exited 0 before the abort arrived');
    assert.equal(a.exitCode, 0);
    assert.equal(b.phase, 'ERROR', 'the job exited 3 before the abort arrived');
    assert.equal(b.exitCode, 3);
  } finally {
    if (supervisor !== undefined) killQuietly(supervisor, 'SIGCONT');
    sb.cleanup();
  }
});
