// Notifications (SPEC §13), black-box: a definition's `notify: {command, on}` runs once when
// a job reaches one of the `on` phases, as argv without a shell, with placeholders and the
// job's environment plus UWS_PHASE, UWS_EXIT_CODE and UWS_ERROR_SUMMARY, output appended to
// HOME/notify.log, detached. Notifiers here append one line per run to notify.log (their
// stdout), so "once" is counted in that file. Each test has its own HOME; every wait polls a
// condition with a deadline. "Exactly once" is checked after the runner went idle and after
// `tick`, the two that resend a notification whose sender died. Whoever makes a job final
// sends it: the runner, `abort`, `tick`, and `uwsrun serve` (an abort over HTTP).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Sandbox, release, submitJob, waitFor } from '../helpers.js';
import { alive, allProcs, readProc } from '../procfs.js';
import { assertLogged, runnerLog, state, stateOrEmpty } from '../runner-state.js';
import { ServeProcess, createJob, jobIdOf, postForm } from '../serve-helpers.js';

const NOTE = `[sh, -c, 'echo "note $1 $2"', note, "{jobId}", "{phase}"]`;

const YAML = `
defaults:
  destruction: 0
jobs:
  fails:
    command: [sh, -c, 'echo "it broke" >&2; exit 3']
    notify: { command: ${NOTE} }
  works:
    command: ["true"]
    notify: { command: ${NOTE} }
  works-told:
    command: ["true"]
    notify: { command: ${NOTE}, on: [COMPLETED] }
  fails-untold:
    command: ["false"]
    notify: { command: ${NOTE}, on: [COMPLETED] }
  flaky:
    command: [sh, -c, 'exit 2']
    retries: 2
    notify: { command: ${NOTE} }
  sleeps:
    command: [sleep, "60"]
    notify: { command: ${NOTE} }
  night:
    command: [sh, -c, 'echo "$UWS_PARAM_NIGHT" >&2; exit 5']
    parameters:
      night: { type: string, required: true }
    env: { SITE: paranal }
    notify:
      command: [sh, -c, 'printf "args=[%s][%s][%s][%s]\\n" "$1" "$2" "$3" "$4"; printf "env=[%s][%s][%s][%s][%s][%s]\\n" "$UWS_PHASE" "$UWS_EXIT_CODE" "$UWS_ERROR_SUMMARY" "$UWS_PARAM_NIGHT" "$SITE" "$UWS_JOB_ID"; printf "stdin=%s\\n" "$(readlink /proc/$$/fd/0)"', note, "{jobId}", "{phase}", "night={night}", "{resultsDir}"]
  bad-notifier:
    command: [sh, -c, 'exit 6']
    notify: { command: [sh, -c, 'echo "notifier says no" >&2; exit 7'] }
  missing-notifier:
    command: [sh, -c, 'exit 6']
    notify: { command: [/nonexistent/notifier] }
  hangs:
    command: [sh, -c, 'exit 1']
    notify: { command: [sh, -c, 'echo "hanging for $UWS_JOB_ID"; exec sleep 60'] }
  quick:
    command: [echo, quick]
  gated:
    command: [sh, -c, 'while [ ! -e "$UWS_JOB_DIR/release" ]; do sleep 0.05; done; exit 3']
    notify: { command: ${NOTE} }
  sleeps-where:
    command: [sleep, "60"]
    notify: { command: [sh, -c, 'echo "where $1 $(pwd)"', where, "{jobId}"] }
`;

const T = { timeout: 120_000 };

const notifyLog = (sb: Sandbox): string => {
  const file = join(sb.home, 'notify.log');
  return existsSync(file) ? readFileSync(file, 'utf8') : '';
};

/** The notify.log lines of one job (notifiers here print "note ID PHASE"). */
const notesOf = (sb: Sandbox, id: string): string[] => notifyLog(sb).split('\n').filter((l) => l.startsWith(`note ${id} `));

async function finalJob(sb: Sandbox, id: string, within = 40_000): Promise<any> {
  return waitFor(`job ${id} final`, () => {
    const job = sb.job(id);
    return ['COMPLETED', 'ERROR', 'ABORTED'].includes(job.phase) ? job : undefined;
  }, within);
}

async function runnerGone(sb: Sandbox): Promise<void> {
  await waitFor('the runner to go idle and exit', () => {
    const r = stateOrEmpty(sb).runner;
    return !r || !alive(r.pid, r.startTime);
  }, 30_000);
}

test('a notification runs once per job, for the listed final phases only (not for a failed attempt that is retried), also for an abort from the CLI', T, async () => {
  const sb = new Sandbox(YAML);
  try {
    const fails = submitJob(sb, ['fails', '--run']);
    const works = submitJob(sb, ['works', '--run']);
    const told = submitJob(sb, ['works-told', '--run']);
    const untold = submitJob(sb, ['fails-untold', '--run']);
    const flaky = submitJob(sb, ['flaky', '--run']);
    const pending = submitJob(sb, ['fails']);
    for (const id of [fails, works, told, untold, flaky]) await finalJob(sb, id);
    assert.equal(sb.run(['abort', pending]).code, 0, 'abort of a PENDING job');
    await waitFor('the notifications of the listed phases', () =>
      notesOf(sb, fails).length && notesOf(sb, told).length && notesOf(sb, flaky).length && notesOf(sb, pending).length);
    await runnerGone(sb);
    assert.equal(sb.run(['tick']).code, 0);
    assert.deepEqual(notesOf(sb, fails), [`note ${fails} ERROR`]);
    assert.deepEqual(notesOf(sb, told), [`note ${told} COMPLETED`], 'on: [COMPLETED]');
    assert.deepEqual(notesOf(sb, pending), [`note ${pending} ABORTED`], 'ABORTED by `abort` from the CLI, with no runner involved');
    assert.deepEqual(notesOf(sb, works), [], 'COMPLETED is not in the default on: [ERROR, ABORTED]');
    assert.deepEqual(notesOf(sb, untold), [], 'ERROR is not in on: [COMPLETED]');
    const f = sb.job(flaky);
    assert.equal(f.attempt, 3);
    assert.deepEqual(notesOf(sb, flaky), [`note ${flaky} ERROR`], 'one notification, for the final ERROR: none for the two attempts that were retried');
    assert.match(sb.ok(['show', fails]), /^notified\s+\d{4}-\d\d-\d\d .* \(ERROR; output in notify\.log\)$/m, 'show says when it was notified');
    assert.doesNotMatch(sb.ok(['show', works]), /^notified/m);
    // Notifications change no job.
    assert.equal(sb.job(fails).phase, 'ERROR');
    assert.equal(sb.job(fails).exitCode, 3);
    await assertLogged(sb, new RegExp(`job ${fails}: notification \\(ERROR\\) sent: sh`));
  } finally {
    sb.cleanup();
  }
});

test('placeholders, the job\'s environment, UWS_PHASE, UWS_EXIT_CODE and UWS_ERROR_SUMMARY reach the notifier; argv without a shell; stdin /dev/null', T, async () => {
  const sb = new Sandbox(YAML);
  try {
    const night = `2026-12-01 "a b" $(touch ${sb.dir}/pwned); *`;
    const id = submitJob(sb, ['night', '-p', `night=${night}`, '--run']);
    const job = await finalJob(sb, id);
    assert.equal(job.phase, 'ERROR');
    await waitFor('the notifier\'s output', () => notifyLog(sb).includes('stdin='));
    const out = notifyLog(sb);
    const resultsDir = join(sb.home, 'jobs', id, 'results');
    assert.match(out, new RegExp(`^args=\\[${id}\\]\\[ERROR\\]\\[night=${escapeRe(night)}\\]\\[${escapeRe(resultsDir)}\\]$`, 'm'),
      `each placeholder in its own argument, values passed byte for byte:\n${out}`);
    assert.match(out, new RegExp(`^env=\\[ERROR\\]\\[5\\]\\[exited with status 5: ${escapeRe(night)}\\]\\[${escapeRe(night)}\\]\\[paranal\\]\\[${id}\\]$`, 'm'));
    assert.match(out, /^stdin=\/dev\/null$/m);
    assert.ok(!existsSync(join(sb.dir, 'pwned')), 'no shell ever saw the parameter');
  } finally {
    sb.cleanup();
  }
});

const escapeRe = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

test('a notifier that fails is logged in runner.log and changes nothing about the job', T, async () => {
  const sb = new Sandbox(YAML);
  try {
    const bad = submitJob(sb, ['bad-notifier', '--run']);
    const missing = submitJob(sb, ['missing-notifier', '--run']);
    await waitFor('runner.log lines of both failed notifications', () => {
      const log = runnerLog(sb);
      return log.includes(`job ${bad}: notification (ERROR) failed: sh exited with status 7`)
        && log.includes(`job ${missing}: notification (ERROR) failed: cannot run /nonexistent/notifier`);
    }, 30_000);
    assert.match(notifyLog(sb), /^notifier says no$/m, 'the notifier\'s stderr is in notify.log');
    for (const id of [bad, missing]) {
      const job = sb.job(id);
      assert.equal(job.phase, 'ERROR');
      assert.equal(job.exitCode, 6);
      assert.deepEqual(job.errorSummary, { type: 'fatal', message: 'exited with status 6' });
    }
    await runnerGone(sb);
    assert.equal(sb.run(['tick']).code, 0);
    assert.equal(runnerLog(sb).split('\n').filter((l) => l.includes(`job ${bad}: notification (ERROR) failed`)).length, 1, 'a failed notification is not retried');
  } finally {
    sb.cleanup();
  }
});

test('a notifier that hangs holds nothing up: other jobs finish, the runner goes idle, and it runs on by itself', T, async () => {
  const sb = new Sandbox(YAML);
  try {
    sb.ok(['limit', '1']);
    const hanging = submitJob(sb, ['hangs', '--run']);
    const others = [0, 1, 2].map(() => submitJob(sb, ['quick', '--run']));
    await finalJob(sb, hanging);
    await waitFor('the hanging notifier to run', () => notifyLog(sb).includes(`hanging for ${hanging}`));
    for (const id of others) assert.equal((await finalJob(sb, id, 20_000)).phase, 'COMPLETED');
    // `wait` returns at once for the job whose notifier hangs.
    const w = sb.run(['wait', hanging, '--timeout', '5']);
    assert.equal(w.code, 1, w.stderr);
    await runnerGone(sb);
    const notifier = allProcs().find((p) => (readProc(p.pid, 'cmdline') ?? '').startsWith('sleep\u000060')
      && (readProc(p.pid, 'environ') ?? '').includes(`UWS_JOB_ID=${hanging}`));
    assert.ok(notifier && alive(notifier.pid, notifier.start), 'the notifier still runs, on its own, after the runner left');
  } finally {
    sb.cleanup();
  }
});

test('a sender killed -9 between claiming a notification and spawning it: the notification is sent once, by tick', T, async () => {
  const sb = new Sandbox(YAML);
  try {
    // The runner inherits the test hook: it pauses 30 s between the claim (committed with
    // the job's end) and the spawn. It also stays recorded meanwhile (its idle exit, 400 ms
    // in the tests, would clear state.runner while the notification waits: on a loaded
    // machine before this test had read it). Every command of this part has the hook: a
    // `show` of the QUEUED job that finds no runner recorded yet (the submit's one still
    // starting, under load) starts one itself, and that one must hold the notification too.
    const plain = sb.env;
    sb.env = { ...plain, UWSRUN_TEST_NOTIFY_HOLD_MS: '30000', UWSRUN_RUNNER_IDLE_MS: '60000' };
    const id = submitJob(sb, ['fails', '--run']);
    await finalJob(sb, id);
    const claim = await waitFor(`the claim of job ${id}'s notification`, () => stateOrEmpty(sb).notifying?.[id]);
    const runner = state(sb).runner;
    assert.equal(claim.pid, runner.pid, 'the runner that recorded the end claimed it');
    assert.equal(notesOf(sb, id).length, 0, 'not sent yet');
    assert.ok(runner && alive(runner.pid, runner.startTime), `the recorded runner is alive: ${JSON.stringify(runner)}`);
    // A runner that such a show started and that is still booting (seconds under load) must
    // have seen this one alive and left before the kill: one booting after it would take
    // over and resume the claim itself, leaving tick nothing to say.
    const runnersOfHome = () => allProcs().filter((p) => {
      const argv = (readProc(p.pid, 'cmdline') ?? '').split('\u0000');
      return argv.includes('__runner') && argv.includes(sb.home);
    }).map((p) => p.pid);
    assert.ok(runnersOfHome().includes(runner.pid), 'the recorded runner is found by its command line');
    await waitFor('no other runner of this HOME', () => runnersOfHome().every((pid) => pid === runner.pid), 30_000);
    process.kill(runner.pid, 'SIGKILL');
    await waitFor(`runner ${runner.pid} gone`, () => !alive(runner.pid, runner.startTime), 10_000);
    sb.env = plain;
    const t = sb.run(['tick']);
    assert.equal(t.code, 0, t.stderr);
    assert.match(t.stdout, new RegExp(`job ${id}: the notification claimed by process ${runner.pid} was never sent`));
    await waitFor('the notification sent by tick', () => notesOf(sb, id).length > 0);
    assert.equal(sb.run(['tick']).code, 0);
    assert.equal(sb.ok(['tick']), '', 'nothing left to do');
    assert.deepEqual(notesOf(sb, id), [`note ${id} ERROR`], 'exactly once');
    assert.equal(stateOrEmpty(sb).notifying?.[id], undefined, 'the claim is resolved');
    // A runner killed after the spawn: nothing is sent again.
    const second = submitJob(sb, ['fails', '--run']);
    await waitFor('the second notification', () => notesOf(sb, second).length > 0);
    const r = stateOrEmpty(sb).runner;
    if (r && alive(r.pid, r.startTime)) process.kill(r.pid, 'SIGKILL');
    assert.equal(sb.run(['tick']).code, 0);
    assert.equal(sb.run(['tick']).code, 0);
    assert.deepEqual(notesOf(sb, second), [`note ${second} ERROR`]);
  } finally {
    sb.cleanup();
  }
});

test('jobs that end while their runner is dead (killed -9): the end is recorded by tick or by `abort`, and notified exactly once', T, async () => {
  const sb = new Sandbox(YAML);
  try {
    const ended = submitJob(sb, ['gated', '--run']);
    const aborted = submitJob(sb, ['sleeps', '--run']);
    await waitFor('both jobs executing', () => stateOrEmpty(sb).jobs[ended]?.startTime && stateOrEmpty(sb).jobs[aborted]?.startTime);
    const runner = state(sb).runner;
    assert.ok(runner && alive(runner.pid, runner.startTime), `the recorded runner is alive: ${JSON.stringify(runner)}`);
    process.kill(runner.pid, 'SIGKILL');
    await waitFor(`runner ${runner.pid} gone`, () => !alive(runner.pid, runner.startTime), 10_000);
    release(sb, ended);
    await waitFor(`job ${ended}'s command to have ended`, () => /^exit 3/.test(readFileSync(join(sb.recordDir(ended), 'exit'), 'utf8')));
    // Nothing supervises either job now: `abort` records its own job's end, `tick` the other's.
    assert.equal(sb.run(['abort', aborted]).code, 0);
    const t = sb.run(['tick']);
    assert.equal(t.code, 0, t.stderr);
    await waitFor('both notifications', () => notesOf(sb, ended).length > 0 && notesOf(sb, aborted).length > 0);
    assert.equal(sb.job(ended).phase, 'ERROR');
    await runnerGone(sb);
    assert.equal(sb.run(['tick']).code, 0);
    assert.deepEqual(notesOf(sb, ended), [`note ${ended} ERROR`]);
    assert.deepEqual(notesOf(sb, aborted), [`note ${aborted} ABORTED`]);
  } finally {
    sb.cleanup();
  }
});

test('a job aborted over HTTP (uwsrun serve, PHASE=ABORT) is notified once, by the server', T, async () => {
  const sb = new Sandbox(YAML);
  let sp: ServeProcess | undefined;
  try {
    sp = await ServeProcess.start(sb);
    const url = await createJob(sp, 'fails');
    const id = jobIdOf(url);
    const r = await postForm(`${url}/phase`, { PHASE: 'ABORT' });
    assert.equal(r.status, 303, await r.text());
    assert.equal(sb.job(id).phase, 'ABORTED');
    await waitFor('the notification', () => notesOf(sb, id).length > 0);
    await assertLogged(sb, new RegExp(`job ${id}: notification \\(ABORTED\\) sent: sh`));
    assert.equal(sb.run(['tick']).code, 0);
    assert.deepEqual(notesOf(sb, id), [`note ${id} ABORTED`]);
  } finally {
    await sp?.stop();
    sb.cleanup();
  }
});

test('a job deleted while it runs is notified as ABORTED from the HOME, not from the job directory the delete removes', T, async () => {
  const sb = new Sandbox(YAML);
  try {
    const ids = [1, 2, 3].map(() => submitJob(sb, ['sleeps-where', '--run']));
    for (const id of ids) {
      await waitFor(`job ${id} running`, () => sb.job(id).startTime !== null);
      const d = sb.run(['delete', id]);
      assert.equal(d.code, 0, d.stderr);
    }
    for (const id of ids) {
      const line = await waitFor(`the notification of ${id}`, () => notifyLog(sb).split('\n').find((l) => l.startsWith(`where ${id} `)));
      assert.equal(line, `where ${id} ${sb.home}`, `run in the HOME:\n${notifyLog(sb)}`);
      assert.ok(!existsSync(join(sb.home, 'jobs', id)), 'the job directory is gone');
    }
    assert.doesNotMatch(notifyLog(sb), /getcwd/);
  } finally {
    sb.cleanup();
  }
});
