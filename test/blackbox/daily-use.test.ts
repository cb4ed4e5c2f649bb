// Black-box tests of the commands people and cron use every day doing what was asked and
// nothing else (SPEC §9, §4, §3, §6): `set -p` checks parameters like submit, `--unique`
// does not match failed jobs and queues a PENDING match, runId bounds, `--json` on every
// command that prints data and no option silently ignored, list filters, durations with
// units, `limit 0` pauses, an empty `--params-from`, `logs --tail`, and the notice of
// `wait`/`logs --follow` on a PENDING job. Each test has its own HOME; every refused input
// is checked for its exit code and for leaving the HOME exactly as it was.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { BIN, ID_RE, Sandbox, release, submitJob, waitFor } from '../helpers.js';
import { stateOrEmpty } from '../runner-state.js';
import { homeSnapshot, quietHome } from '../home-snapshot.js';

const YAML = `
defaults:
  destruction: 0
jobs:
  hello:
    command: [echo, "Hello, {name}!"]
    parameters:
      name: { type: string, default: world }
      count: { type: integer, default: 1, min: 1 }
  fail:
    command: [sh, -c, 'echo failing >&2; exit 3']
  gate:
    command: [sh, -c, 'while [ ! -e release ]; do sleep 0.05; done']
  lines:
    command: [sh, -c, 'seq 1 "$UWS_PARAM_N"; printf "%s" "$UWS_PARAM_TAIL"']
    parameters:
      n: { type: integer, default: 5 }
      tail: { type: string, default: "" }
  timed:
    command: [echo, timed]
    executionDuration: 1h
    killGrace: 2m
`;

const T = { timeout: 120_000 };

/** Asserts a refusal: the exit code, one line on stderr naming `needle`, nothing on stdout. */
function assertRefused(r: { code: number; stdout: string; stderr: string }, code: number, needle: string, what: string): void {
  assert.equal(r.code, code, `${what}: exit ${code} expected, got ${r.code} (stderr: ${r.stderr})`);
  assert.equal(r.stdout, '', `${what}: nothing on stdout`);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, `${what}: one line on stderr: ${r.stderr}`);
  assert.ok(lines[0]!.includes(needle), `${what}: the message names ${needle}: ${lines[0]}`);
}

/** Runs `args`, asserts the refusal, and that the HOME is exactly as before. */
async function refusedUnchanged(sb: Sandbox, args: string[], code: number, needle: string, input?: string): Promise<void> {
  const before = await quietHome(sb);
  assertRefused(sb.run(args, {}, input), code, needle, args.join(' '));
  assert.deepEqual(homeSnapshot(sb), before, `${args.join(' ')}: nothing changed on disk`);
}

const jobCount = (sb: Sandbox): number => (sb.json(['list']) as unknown[]).length;

test('set -p with an unknown, miscased or repeated name, or a bad value: exit 2, nothing changed; a good one changes the job', T, async () => {
  const sb = new Sandbox(YAML);
  try {
    const id = submitJob(sb, ['hello', '-p', 'name=Ada']);
    await refusedUnchanged(sb, ['set', id, '-p', 'Name=Bob'], 2, '"Name"');
    await refusedUnchanged(sb, ['set', id, '-p', 'colour=red'], 2, '"colour"');
    await refusedUnchanged(sb, ['set', id, '-p', 'count=0'], 2, 'count');
    await refusedUnchanged(sb, ['set', id, '-p', 'count=x'], 2, 'count');
    await refusedUnchanged(sb, ['set', id, '-p', 'name=A', '-p', 'name=B'], 2, 'name');
    // A good change next to a bad one is refused as a whole.
    await refusedUnchanged(sb, ['set', id, '-p', 'name=Bob', '-p', 'NAME=x', '--execution-duration', '5'], 2, '"NAME"');
    assert.deepEqual(sb.job(id).parameters, { name: 'Ada', count: 1 });

    const changed = sb.json(['set', id, '-p', 'count=4']);
    assert.ok(Array.isArray(changed) && changed.length === 1, 'set --json prints the changed job in an array');
    assert.deepEqual(changed[0].parameters, { name: 'Ada', count: 4 }, 'a parameter not given keeps its value');
    assert.deepEqual(sb.job(id).command, ['echo', 'Hello, Ada!']);
  } finally {
    sb.cleanup();
  }
});

test('submit --unique: a COMPLETED or PENDING job matches; ERROR and ABORTED ones do not, so a retry runs again', T, async () => {
  const sb = new Sandbox(YAML);
  try {
    // A failed run: the retry creates and runs a new job.
    const failed = submitJob(sb, ['fail', '--run-id', 'night-1', '--unique', '--run']);
    await waitFor('the first attempt ERROR', () => sb.job(failed).phase === 'ERROR');
    const retry = sb.run(['submit', 'fail', '--run-id', 'night-1', '--unique', '--wait', '--timeout', '60']);
    assert.equal(retry.code, 1, `the retry ran and failed again: ${retry.stderr}`);
    assert.notEqual(retry.stdout.trim(), failed, 'an ERROR job does not match');
    assert.equal(sb.job(retry.stdout.trim()).phase, 'ERROR');

    // An aborted one does not match either.
    const aborted = submitJob(sb, ['hello', '--run-id', 'night-2', '--unique']);
    assert.equal(sb.run(['abort', aborted]).code, 0);
    const again = submitJob(sb, ['hello', '--run-id', 'night-2', '--unique']);
    assert.notEqual(again, aborted, 'an ABORTED job does not match');

    // `again` is PENDING: it matches, and with --wait it is queued and run, not waited on forever.
    const count = jobCount(sb);
    const waited = sb.run(['submit', 'hello', '--run-id', 'night-2', '--unique', '-p', 'name=Other', '--wait', '--timeout', '60']);
    assert.equal(waited.code, 0, `the PENDING match was queued and completed: ${waited.stderr}`);
    assert.equal(waited.stdout.trim(), again, 'the matching job is printed');
    assert.equal(sb.job(again).phase, 'COMPLETED');
    assert.deepEqual(sb.job(again).parameters, { name: 'world', count: 1 }, 'different -p values do not matter');
    assert.equal(jobCount(sb), count, 'nothing was created');

    // A COMPLETED match: its id, nothing created, nothing run again.
    const done = sb.run(['submit', 'hello', '--run-id', 'night-2', '--unique', '--run']);
    assert.equal(done.code, 0, done.stderr);
    assert.equal(done.stdout.trim(), again);
    assert.equal(jobCount(sb), count);

    // A PENDING match with --run is queued (and then runs).
    const pending = submitJob(sb, ['hello', '--run-id', 'night-3', '--unique']);
    assert.equal(submitJob(sb, ['hello', '--run-id', 'night-3', '--unique']), pending, 'without --run it stays PENDING');
    assert.equal(sb.job(pending).phase, 'PENDING');
    assert.equal(submitJob(sb, ['hello', '--run-id', 'night-3', '--unique', '--run']), pending);
    await waitFor('the PENDING match queued and COMPLETED', () => sb.job(pending).phase === 'COMPLETED');
  } finally {
    sb.cleanup();
  }
});

test('runIds: 1 to 256 characters without control characters; anything else exit 2 and nothing on disk', T, async () => {
  const sb = new Sandbox(YAML);
  try {
    for (const [bad, needle] of [['', 'empty'], ['x'.repeat(257), '256'], ['a\u0001b', '\\x01'], ['tab\there', '\\x09'],
      ['del\u007f', '\\x7f'], ['c1\u0085', '\\x85'], ['nl\n', '\\x0a']] as const) {
      for (const cmd of [['submit', 'hello', '--run-id', bad], ['submit', 'hello', '--run', '--unique', '--run-id', bad]]) {
        const r = sb.run(cmd);
        assertRefused(r, 2, needle, `--run-id ${JSON.stringify(bad)}`);
        assert.ok(r.stderr.includes('--run-id'), r.stderr);
        assert.equal(existsSync(sb.home), false, `--run-id ${JSON.stringify(bad)}: the HOME was not created`);
      }
    }
    const longest = 'é'.repeat(256);
    const id = submitJob(sb, ['hello', '--run-id', longest]);
    assert.equal(sb.job(id).runId, longest, '256 characters (not bytes) are accepted and echoed back');
    await refusedUnchanged(sb, ['submit', 'hello', '--run-id', `${longest}x`], 2, '256');
  } finally {
    sb.cleanup();
  }
});

test('--json shape of every command that prints data', T, async () => {
  const sb = new Sandbox(YAML);
  try {
    const id = submitJob(sb, ['hello']);
    assert.deepEqual(sb.json(['phase', id]), { jobId: id, phase: 'PENDING' });
    assert.deepEqual(sb.json(['limit']), { limit: 2 });
    assert.deepEqual(sb.json(['limit', '3']), { limit: 3 });
    assert.deepEqual(sb.json(['validate', sb.jobsFile]), { file: sb.jobsFile, definitions: ['hello', 'fail', 'gate', 'lines', 'timed'] });
    assert.deepEqual(sb.json(['validate']), { file: sb.jobsFile, definitions: ['hello', 'fail', 'gate', 'lines', 'timed'] }, 'UWSRUN_JOBS');
    const defs = sb.json(['defs']);
    assert.ok(Array.isArray(defs) && defs.map((d: any) => d.name).join() === 'hello,fail,gate,lines,timed', JSON.stringify(defs));
    assert.deepEqual(sb.json(['doctor']), { problems: [], repaired: [] });
    assert.deepEqual(sb.json(['tick']), [], 'tick with nothing to do: []');
    const submitted = sb.json(['submit', 'hello']);
    assert.match(submitted.jobId, ID_RE);
    assert.equal(submitted.phase, 'PENDING');
    const ran = sb.json(['run', id]);
    assert.deepEqual(ran.map((j: any) => [j.jobId, j.phase]), [[id, 'QUEUED']]);
    await waitFor('the job COMPLETED', () => sb.job(id).phase === 'COMPLETED');
    const waited = sb.json(['wait', id]);
    assert.equal(waited.jobId, id);
    assert.deepEqual(sb.json(['results', id]), []);
    const aborted = sb.json(['abort', submitted.jobId]);
    assert.deepEqual(aborted.map((j: any) => [j.jobId, j.phase]), [[submitted.jobId, 'ABORTED']]);
    const deleted = sb.json(['delete', submitted.jobId]);
    assert.deepEqual(deleted.map((j: any) => j.jobId), [submitted.jobId]);

    // tick that did something: an array of {jobId, action}.
    const doomed = submitJob(sb, ['hello', '--destruction', '1s']);
    await waitFor('the destruction time to pass', () => Date.now() > Date.parse(sb.job(doomed).destruction) + 50);
    const ticked = sb.json(['tick']);
    assert.ok(ticked.some((e: any) => e.jobId === doomed && /destruction/.test(e.action)), JSON.stringify(ticked));
    for (const e of ticked) assert.deepEqual(Object.keys(e), ['jobId', 'action']);
  } finally {
    sb.cleanup();
  }
});

test('an option a command does not take is exit 2 and changes nothing: --xml outside show/list/results, --json on logs', T, async () => {
  const sb = new Sandbox(YAML);
  try {
    // Before any HOME exists: nothing is created.
    for (const args of [['submit', 'hello', '--xml'], ['submit', 'hello', '--run', '--xml'], ['tick', '--xml'], ['doctor', '--xml'],
      ['validate', '--xml'], ['limit', '--xml'], ['limit', '4', '--xml'], ['defs', '--xml'], ['submit', 'hello', '--json', '--xml']]) {
      assertRefused(sb.run(args), 2, '--xml', args.join(' '));
      assert.equal(existsSync(sb.home), false, `${args.join(' ')}: the HOME was not created`);
    }
    const id = submitJob(sb, ['hello']);
    for (const args of [['phase', id, '--xml'], ['set', id, '-p', 'name=x', '--xml'], ['run', id, '--xml'], ['abort', id, '--xml'],
      ['delete', id, '--xml'], ['wait', id, '--xml'], ['submit', 'hello', '--xml'], ['limit', '0', '--xml'], ['clean', '--xml'],
      ['resubmit', id, '--xml'], ['tick', '--xml']]) {
      await refusedUnchanged(sb, args, 2, '--xml');
    }
    await refusedUnchanged(sb, ['logs', id, '--json'], 2, '--json');
    await refusedUnchanged(sb, ['submit', 'hello', '--bogus'], 2, '--bogus');
    assert.equal(sb.job(id).phase, 'PENDING');
    assert.equal(jobCount(sb), 1);
  } finally {
    sb.cleanup();
  }
});

test('list --definition is a union, --after takes a date (its midnight UTC); bad dates exit 2', T, async () => {
  const sb = new Sandbox(YAML);
  try {
    const a = submitJob(sb, ['hello']);
    const b = submitJob(sb, ['fail']);
    const c = submitJob(sb, ['gate']);
    const ids = (args: string[]) => (sb.json(['list', ...args]) as any[]).map((j) => j.jobId);
    assert.deepEqual(ids(['--definition', 'hello']), [a]);
    assert.deepEqual(ids(['--definition', 'hello', '--definition', 'gate']), [a, c]);
    assert.deepEqual(ids(['--definition', 'nope']), []);
    const created = Date.parse(sb.job(a).creationTime);
    const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);
    assert.deepEqual(ids(['--after', day(created)]), [a, b, c], 'created after today\'s midnight');
    assert.deepEqual(ids(['--after', day(created + 86_400_000)]), [], 'nothing after tomorrow\'s midnight');
    assert.deepEqual(ids(['--after', day(created - 86_400_000), '--definition', 'fail']), [b]);
    for (const bad of ['2026-02-30', '2026-13-01', '2026-1-1', '2026-12-01T00:00']) {
      await refusedUnchanged(sb, ['list', '--after', bad], 2, bad);
    }
  } finally {
    sb.cleanup();
  }
});

test('durations with units everywhere: --execution-duration, --timeout, set, and the definitions file', T, async () => {
  const sb = new Sandbox(YAML);
  try {
    const id = submitJob(sb, ['hello', '--execution-duration', '1h']);
    assert.equal(sb.job(id).executionDuration, 3600);
    assert.equal(sb.json(['set', id, '--execution-duration', '2m'])[0].executionDuration, 120);
    assert.equal(sb.json(['set', id, '--execution-duration', '90'])[0].executionDuration, 90);
    assert.equal(sb.job(submitJob(sb, ['timed'])).executionDuration, 3600, 'executionDuration: 1h in the YAML');
    const t0 = Date.now();
    const timedOut = sb.run(['wait', id, '--timeout', '1s']);
    assert.equal(timedOut.code, 124, timedOut.stderr);
    assert.ok(Date.now() - t0 >= 1000, '--timeout 1s waited a second');
    for (const [args, needle] of [[['submit', 'hello', '--execution-duration', '1x'], '1x'], [['submit', 'hello', '--execution-duration', '2147483648s'], '2147483648s'],
      [['set', id, '--execution-duration', '1.5h'], '1.5h'], [['wait', id, '--timeout', '-1'], '-1'], [['submit', 'hello', '--wait', '--timeout', '5 m'], '5 m']] as const) {
      await refusedUnchanged(sb, [...args], 2, needle);
    }
  } finally {
    sb.cleanup();
  }
});

test('limit 0 pauses the HOME: nothing starts, the running job goes on; limit 1 resumes promptly', T, async () => {
  const sb = new Sandbox(YAML);
  try {
    assert.equal(sb.ok(['limit', '1']), '1');
    const running = submitJob(sb, ['gate', '--run']);
    await waitFor('the gate job EXECUTING', () => sb.job(running).phase === 'EXECUTING');
    const paused = sb.run(['limit', '0']);
    assert.equal(paused.code, 0, paused.stderr);
    assert.equal(paused.stdout, '0\n');
    const queued = submitJob(sb, ['hello', '--run']);
    const pending = submitJob(sb, ['hello']);
    const ran = sb.run(['run', pending]);
    assert.equal(ran.code, 0, ran.stderr);
    assert.ok(ran.stderr.includes('paused (limit 0)'), `run says the HOME is paused: ${ran.stderr}`);
    const waited = sb.run(['wait', queued, '--timeout', '1']);
    assert.equal(waited.code, 124);
    assert.ok(waited.stderr.includes('paused (limit 0)'), `wait says the HOME is paused: ${waited.stderr}`);
    release(sb, running);
    await waitFor('the running job COMPLETED', () => sb.job(running).phase === 'COMPLETED');
    // The runner decides what to start in the transaction that records an end: the slot
    // freed by the gate job was not given to the queued one.
    assert.equal(sb.job(queued).phase, 'QUEUED');
    assert.equal(sb.run(['tick']).code, 0);
    assert.equal(sb.job(queued).phase, 'QUEUED', 'tick starts nothing while paused');
    // Paused with only queued jobs, the runner has nothing to do and exits.
    await waitFor('the runner to exit', () => stateOrEmpty(sb).runner === null);
    assert.equal(sb.job(queued).phase, 'QUEUED');
    assert.equal(sb.ok(['limit']), '0', 'the pause is kept in the state');

    const t0 = Date.now();
    assert.equal(sb.ok(['limit', '1']), '1');
    await waitFor('the queued jobs COMPLETED after resuming', () => sb.job(queued).phase === 'COMPLETED' && sb.job(pending).phase === 'COMPLETED', 20_000);
    assert.ok(Date.now() - t0 < 15_000, 'started promptly after resuming');
    assert.equal(sb.job(running).phase, 'COMPLETED');
  } finally {
    sb.cleanup();
  }
});

test('an empty --params-from creates nothing and prints nothing', T, async () => {
  const sb = new Sandbox(YAML);
  try {
    const empty = join(sb.dir, 'empty.jsonl');
    writeFileSync(empty, '');
    const blank = join(sb.dir, 'blank.jsonl');
    writeFileSync(blank, '\n  \n\n');
    for (const [args, input] of [[['submit', 'hello', '--params-from', empty], undefined], [['submit', 'hello', '--params-from', blank, '--run'], undefined],
      [['submit', 'hello', '--params-from', '-'], ''], [['submit', 'hello', '--params-from', '-', '--wait'], '\n']] as const) {
      const r = sb.run([...args], {}, input);
      assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
      assert.equal(r.stdout, '', `${args.join(' ')}: prints nothing`);
      assert.equal(r.stderr, '', `${args.join(' ')}: says nothing`);
      assert.equal(existsSync(sb.home), false, `${args.join(' ')}: creates nothing, not even the HOME`);
    }
    const json = sb.run(['submit', 'hello', '--params-from', empty, '--json']);
    assert.equal(json.code, 0);
    assert.deepEqual(JSON.parse(json.stdout), [], 'with --json: an empty array');
    // Two submits: the second caches the validated definitions file in the HOME.
    submitJob(sb, ['hello']);
    submitJob(sb, ['hello']);
    const before = await quietHome(sb);
    assert.equal(sb.run(['submit', 'hello', '--params-from', blank]).stdout, '');
    assert.deepEqual(homeSnapshot(sb), before, 'nothing written into an existing HOME either');
  } finally {
    sb.cleanup();
  }
});

test('logs --tail N prints the last N lines, of stdout or stderr, however long the log', T, async () => {
  const sb = new Sandbox(YAML);
  try {
    const short = submitJob(sb, ['lines', '--run']);
    const long = submitJob(sb, ['lines', '--run', '-p', 'n=30000', '-p', 'tail=no newline']);
    const err = submitJob(sb, ['fail', '--run']);
    for (const id of [short, long, err]) await waitFor(`job ${id} final`, () => ['COMPLETED', 'ERROR'].includes(sb.job(id).phase));
    const logs = (args: string[]) => {
      const r = sb.run(['logs', ...args]);
      assert.equal(r.code, 0, r.stderr);
      return r.stdout;
    };
    assert.equal(logs([short, '--tail', '2']), '4\n5\n');
    assert.equal(logs([short, '--tail', '5']), '1\n2\n3\n4\n5\n');
    assert.equal(logs([short, '--tail', '50']), '1\n2\n3\n4\n5\n');
    assert.equal(logs([short, '--tail', '0']), '');
    assert.equal(logs([short]), '1\n2\n3\n4\n5\n', 'without --tail: everything');
    assert.equal(logs([long, '--tail', '3']), '29999\n30000\nno newline', 'a last line without a newline counts (as tail -n does)');
    assert.equal(logs([long, '--tail', '20000']).split('\n')[0], '10002', 'across several 64 KiB chunks (30,001 lines)');
    assert.equal(logs([long, '--tail', '1']), 'no newline');
    assert.equal(logs([err, '--stderr', '--tail', '1']), 'failing\n');
    assert.equal(logs([short, '--follow', '--tail', '1']), '5\n', '--follow --tail on a final job: the last lines, then it returns');
    for (const bad of ['-1', 'x', '1.5']) await refusedUnchanged(sb, ['logs', short, '--tail', bad], 2, bad);
  } finally {
    sb.cleanup();
  }
});

test('wait and logs --follow on a PENDING job say once that nothing will start it (not with -q)', T, async () => {
  const sb = new Sandbox(YAML);
  try {
    const id = submitJob(sb, ['hello']);
    const notice = `job ${id} is PENDING: nothing will start it until \`uwsrun run ${id}\``;
    const waited = sb.run(['wait', id, '--timeout', '1']);
    assert.equal(waited.code, 124);
    assert.equal(waited.stderr.split(notice).length - 1, 1, `the notice once: ${waited.stderr}`);
    const quiet = sb.run(['-q', 'wait', id, '--timeout', '1']);
    assert.equal(quiet.code, 124);
    assert.ok(!quiet.stderr.includes('PENDING'), `-q: no notice: ${quiet.stderr}`);

    // The follower has seen the job PENDING once it said so; then the job is run, and it
    // prints the output and returns.
    const follower = spawn(BIN, ['logs', id, '--follow'], { env: sb.env });
    let out = '';
    let errText = '';
    follower.stdout.on('data', (d) => (out += d));
    follower.stderr.on('data', (d) => (errText += d));
    const followed = new Promise<number>((resolve) => follower.on('close', (code) => resolve(code ?? 128)));
    const quietFollow = sb.start(['logs', id, '--follow', '-q']);
    await waitFor('logs --follow to say the job is PENDING', () => errText.includes(notice));
    assert.equal(sb.run(['run', id]).code, 0);
    const [code, q] = await Promise.all([followed, quietFollow]);
    assert.equal(code, 0, errText);
    assert.equal(out, 'Hello, world!\n');
    assert.equal(errText.split(notice).length - 1, 1, `logs --follow says it once: ${errText}`);
    assert.equal(q.code, 0);
    assert.equal(q.stdout, 'Hello, world!\n');
    assert.ok(!q.stderr.includes('PENDING'), `-q: no notice: ${q.stderr}`);
    // Not for a job that is not PENDING.
    assert.equal(sb.run(['wait', id]).stderr, '');
  } finally {
    sb.cleanup();
  }
});
