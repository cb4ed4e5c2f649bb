// Black-box tests of what people read (SPEC §4, §9; issue 11): control characters never reach
// the terminal, parameters are shown as the text given, `show` has zones, "never", the quote
// and why a QUEUED job waits, `wait`'s live line and its Ctrl-C hint, abort/delete notices,
// messages in words (missing definitions file, lock holder, doctor), and -q with --wait.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdirSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BIN, Sandbox, hasScript, runOnTty, submitJob, waitFor } from '../helpers.js';
import { killQuietly, procStat } from '../procfs.js';
import { stateText } from '../runner-state.js';

const YAML = `
defaults:
  destruction: 0
jobs:
  echo:
    command: [echo, "{text}"]
    parameters:
      text: { type: string, default: hi }
  typed:
    command: [echo, "{sigma}", "{n}"]
    parameters:
      sigma: { type: float, default: 3.0 }
      n: { type: integer, default: 010 }
  shout:
    command: [sh, -c, 'printf "bad\\033[31m red\\tline\\n" >&2; exit 3']
  quick:
    command: ["true"]
  slow:
    command: [sleep, "300"]
    killGrace: 1
  capped:
    command: [sleep, "300"]
    maxRunning: 1
    killGrace: 1
  brief:
    command: [sleep, "1.5"]
`;

const T = { timeout: 90_000 };
const ESC = '\x1b';

/** Neither stream holds a raw control character other than the newlines between lines. */
function assertNoControls(text: string, what: string): void {
  const bad = [...text].filter((ch) => ch !== '\n' && /[\x00-\x1f\x7f-\x9f]/.test(ch));
  assert.deepEqual(bad, [], `${what} writes no control character: ${JSON.stringify(text)}`);
}

const showOf = (sb: Sandbox, id: string): string => {
  const r = sb.run(['show', id]);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout;
};

/** The value `show` prints after a label. */
function field(show: string, label: string): string | undefined {
  const line = show.split('\n').find((l) => l.startsWith(`${label.padEnd(12)}`));
  return line?.slice(12);
}

async function phaseIs(sb: Sandbox, id: string, phase: string): Promise<void> {
  await waitFor(`job ${id} ${phase}`, () => sb.job(id).phase === phase);
}

test('a run id with ESC and a newline is shown escaped by list and show, or refused with an escaped message', T, () => {
  const sb = new Sandbox(YAML);
  try {
    const runId = `${ESC}[31mred\nnext`;
    const r = sb.run(['submit', 'echo', '--run-id', runId]);
    assertNoControls(r.stderr, 'submit');
    if (r.code === 0) {
      const id = r.stdout.trim();
      const list = sb.run(['list']);
      assert.equal(list.code, 0, list.stderr);
      assertNoControls(list.stdout, 'list');
      const lines = list.stdout.trimEnd().split('\n');
      assert.equal(lines.length, 2, `one header and one row: ${JSON.stringify(list.stdout)}`);
      assert.ok(lines[1]!.includes('\\x1b[31mred\\nnext'), `the run id escaped in the row: ${lines[1]}`);
      const show = showOf(sb, id);
      assertNoControls(show, 'show');
      assert.equal(field(show, 'run id'), '\\x1b[31mred\\nnext');
      // Data stays data: JSON carries the run id exactly.
      assert.equal(sb.job(id).runId, runId);
    } else {
      // SPEC §4 refuses control characters in run ids (exit 2); the refusal must not echo them raw.
      assert.equal(r.code, 2, r.stderr);
      assert.equal(r.stdout, '');
    }
  } finally {
    sb.cleanup();
  }
});

test('parameter values with control characters are escaped in show (parameters and command), exact in --json', T, () => {
  const sb = new Sandbox(YAML);
  try {
    const text = `a${ESC}[2Jb\tc\nd\u202eе`;
    const id = submitJob(sb, ['echo', '-p', `text=${text}`]);
    const show = showOf(sb, id);
    assertNoControls(show, 'show');
    assert.equal(show.includes('\u202e'), false, 'a bidi override is escaped too');
    assert.equal(field(show, 'parameters'), "text='a\\x1b[2Jb\\tc\\nd\\u{202e}е'");
    assert.equal(field(show, 'command'), "echo 'a\\x1b[2Jb\\tc\\nd\\u{202e}е'");
    const job = sb.job(id);
    assert.equal(job.parameters.text, text);
    assert.deepEqual(job.command, ['echo', text]);
    // An error that echoes user input escapes it too.
    const bad = sb.run(['submit', `no${ESC}[31mdef`]);
    assert.equal(bad.code, 2);
    assertNoControls(bad.stderr, 'an unknown definition message');
    assert.match(bad.stderr, /unknown definition/);
  } finally {
    sb.cleanup();
  }
});

test("a job's stderr line with ESC and a tab is escaped in show's error and in wait's failure line", T, () => {
  const sb = new Sandbox(YAML);
  try {
    const id = submitJob(sb, ['shout', '--run']);
    const w = sb.run(['wait', id]);
    assert.equal(w.code, 1, w.stderr);
    assertNoControls(w.stderr, 'wait');
    assert.ok(w.stderr.includes(`uwsrun: job ${id} ended ERROR`), w.stderr);
    assert.ok(w.stderr.includes('bad\\x1b[31m red\\tline'), `the stderr line escaped: ${w.stderr}`);
    const show = showOf(sb, id);
    assertNoControls(show, 'show');
    assert.match(field(show, 'error')!, /^fatal: .*bad\\x1b\[31m red\\tline/);
    assert.ok(sb.job(id).errorSummary.message.includes(`bad${ESC}[31m red\tline`), 'JSON keeps the line as it was');
  } finally {
    sb.cleanup();
  }
});

test('show prints parameters as the text given (-p sigma=2.50, a YAML default 3.0, 010); --json has typed values', T, () => {
  const sb = new Sandbox(YAML);
  try {
    const given = submitJob(sb, ['typed', '-p', 'sigma=2.50']);
    assert.equal(field(showOf(sb, given), 'parameters'), 'sigma=2.50 n=010');
    const defaults = submitJob(sb, ['typed']);
    assert.equal(field(showOf(sb, defaults), 'parameters'), 'sigma=3.0 n=010');
    assert.deepEqual(sb.job(given).parameters, { sigma: 2.5, n: 10 });
    const defs = sb.run(['defs']);
    assert.equal(defs.code, 0, defs.stderr);
    assert.match(defs.stdout, /sigma \(float, default 3\.0\)/);
  } finally {
    sb.cleanup();
  }
});

test('show: times with their zone, destruction "never" or an instant in UTC, and a final job has no quote', T, () => {
  const sb = new Sandbox(YAML);
  try {
    const id = submitJob(sb, ['quick', '--run']);
    assert.equal(sb.run(['wait', id]).code, 0);
    const show = showOf(sb, id);
    const utc = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{3} UTC$/;
    for (const label of ['created', 'started', 'ended']) assert.match(field(show, label)!, utc, `${label}: ${show}`);
    assert.equal(field(show, 'destruction'), 'never');
    assert.equal(field(show, 'quote'), undefined, 'no quote once final');
    const job = sb.job(id);
    assert.equal(field(show, 'created'), `${job.creationTime.replace('T', ' ').replace('Z', '')} UTC`);

    const later = submitJob(sb, ['quick', '--destruction', '2099-01-02T03:04:05Z']);
    assert.equal(field(showOf(sb, later), 'destruction'), '2099-01-02 03:04:05.000 UTC');
    const pending = showOf(sb, later);
    assert.equal(field(pending, 'started'), 'not yet');
    assert.equal(field(pending, 'ended'), 'not yet');
  } finally {
    sb.cleanup();
  }
});

test('show of a QUEUED job says why it waits: the HOME limit, its definition at maxRunning, jobs queued before it; and its quote', T, async () => {
  const sb = new Sandbox(YAML);
  try {
    // A COMPLETED job of `slow`'s sibling gives no history to `slow`: its quote is unknown.
    assert.equal(sb.run(['limit', '1']).code, 0);
    const running = submitJob(sb, ['slow', '--run']);
    await phaseIs(sb, running, 'EXECUTING');
    const first = submitJob(sb, ['slow', '--run']);
    const second = submitJob(sb, ['slow', '--run']);
    const show = showOf(sb, first);
    assert.equal(field(show, 'phase'), 'QUEUED');
    assert.equal(field(show, 'why queued'), "the HOME's limit is reached: 1/1 jobs executing");
    assert.equal(field(show, 'quote'), 'unknown (no COMPLETED job of this definition to learn from)');
    assert.match(field(showOf(sb, running), 'quote')!, /^unknown/);
    assert.equal(field(showOf(sb, second), 'why queued'), "the HOME's limit is reached: 1/1 jobs executing");

    // Room in the HOME, but `capped` allows one at a time.
    assert.equal(sb.run(['limit', '5']).code, 0);
    const cappedRunning = submitJob(sb, ['capped', '--run']);
    await phaseIs(sb, cappedRunning, 'EXECUTING');
    const cappedQueued = submitJob(sb, ['capped', '--run']);
    await phaseIs(sb, second, 'EXECUTING'); // the runner has looked at the queue since
    assert.equal(sb.job(cappedQueued).phase, 'QUEUED');
    assert.equal(field(showOf(sb, cappedQueued), 'why queued'), 'its definition capped is at its maxRunning: 1/1 executing');
    for (const id of [running, first, second, cappedRunning, cappedQueued]) sb.run(['abort', id]);
  } finally {
    sb.cleanup();
  }
});

test('once a definition has a COMPLETED job, the quote of a QUEUED job is an instant in UTC', T, async () => {
  const sb = new Sandbox(YAML);
  try {
    const done = submitJob(sb, ['brief', '--run']);
    assert.equal(sb.run(['wait', done]).code, 0);
    assert.equal(sb.run(['limit', '1']).code, 0);
    const running = submitJob(sb, ['slow', '--run']);
    await phaseIs(sb, running, 'EXECUTING');
    const queued = submitJob(sb, ['brief', '--run']);
    const show = showOf(sb, queued);
    assert.equal(field(show, 'phase'), 'QUEUED');
    assert.match(field(show, 'quote')!, /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{3} UTC \(estimate\)$/);
    assert.equal(sb.run(['abort', running, queued]).code, 0);
  } finally {
    sb.cleanup();
  }
});

test("wait on a terminal shows a live line with the time waited and, with a history, the quote", { ...T, skip: !hasScript() && 'needs util-linux script' }, () => {
  const sb = new Sandbox(YAML);
  try {
    const first = submitJob(sb, ['brief', '--run']);
    assert.equal(sb.run(['wait', first]).code, 0);
    // submit --wait: its first poll comes before the job can have ended, however loaded the machine.
    const out = runOnTty(sb, ['submit', 'brief', '--wait']);
    assert.match(out, /waiting \d+s: 0 done, (1 running, 0 queued|0 running, 1 queued)/);
    assert.match(out, /expected done by \d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} UTC/);
    const id = /^[A-Za-z0-9]{16}/.exec(out)![0];
    assert.equal(sb.job(id).phase, 'COMPLETED');
  } finally {
    sb.cleanup();
  }
});

/** Whether process `pid` holds an inotify instance (wait's watch, set up after its Ctrl-C handler). */
function hasInotify(pid: number): boolean {
  try {
    return readdirSync(`/proc/${pid}/fd`).some((fd) => {
      try {
        return readlinkSync(`/proc/${pid}/fd/${fd}`) === 'anon_inode:inotify';
      } catch {
        return false;
      }
    });
  } catch {
    return false;
  }
}

test('Ctrl-C of wait leaves the job running and says how to wait again (exit 130)', T, async () => {
  const sb = new Sandbox(YAML);
  try {
    const id = submitJob(sb, ['slow', '--run']);
    await phaseIs(sb, id, 'EXECUTING');
    const child = spawn(BIN, ['wait', id], { env: sb.env });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const closed = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    await waitFor('wait to be watching the state', () => hasInotify(child.pid!));
    child.kill('SIGINT');
    assert.equal(await closed, 130, stderr);
    assert.equal(stderr.trim(), `job ${id} goes on; \`uwsrun wait ${id}\` to wait again`);
    assert.equal(sb.job(id).phase, 'EXECUTING', 'the job goes on');
    assert.equal(sb.run(['abort', id]).code, 0);
  } finally {
    sb.cleanup();
  }
});

test('abort of a running job says it waits up to killGrace (not with -q); delete of an active job says it aborts it first', T, async () => {
  const sb = new Sandbox(YAML);
  try {
    const a = submitJob(sb, ['slow', '--run']);
    await waitFor('started', () => sb.job(a).startTime);
    const r = sb.run(['abort', a]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(r.stderr.includes(`job ${a}: waiting up to 1 s (killGrace) for it to stop, then SIGKILL`), r.stderr);
    assert.ok(r.stderr.includes(`job ${a} ABORTED`), r.stderr);

    const q = submitJob(sb, ['slow', '--run']);
    await waitFor('started', () => sb.job(q).startTime);
    const quiet = sb.run(['-q', 'abort', q]);
    assert.equal(quiet.code, 0, quiet.stderr);
    assert.equal(quiet.stderr, '', '-q silences the notice');
    assert.equal(sb.job(q).phase, 'ABORTED');

    const d = submitJob(sb, ['slow', '--run']);
    await waitFor('started', () => sb.job(d).startTime);
    const del = sb.run(['delete', d]);
    assert.equal(del.code, 0, del.stderr);
    assert.ok(del.stderr.includes(`job ${d} is EXECUTING: aborting it first`), del.stderr);
    assert.ok(del.stderr.includes(`job ${d} deleted`), del.stderr);
    const pending = submitJob(sb, ['slow']);
    const delPending = sb.run(['delete', pending]);
    assert.ok(delPending.stderr.includes(`job ${pending} is PENDING: aborting it first`), delPending.stderr);
    assert.equal(delPending.stderr.includes('waiting up to'), false, 'nothing to wait for');
  } finally {
    sb.cleanup();
  }
});

test('-q submit --wait of a job that fails says so on stderr, prints the id and exits 1', T, () => {
  const sb = new Sandbox(YAML);
  try {
    const r = sb.run(['-q', 'submit', 'shout', '--wait']);
    assert.equal(r.code, 1, r.stderr);
    const id = r.stdout.trim();
    assert.ok(id, 'the id is data and is printed');
    assert.match(r.stderr, new RegExp(`^uwsrun: job ${id} ended ERROR: .*exit.*3`));
    const ok = sb.run(['-q', 'submit', 'quick', '--wait']);
    assert.equal(ok.code, 0);
    assert.equal(ok.stderr, '', 'a job that completes prints nothing on stderr with -q');
    const slow = sb.run(['-q', 'submit', 'slow', '--wait', '--timeout', '1']);
    assert.equal(slow.code, 124);
    assert.match(slow.stderr, /^uwsrun: timed out after 1 s; 1 job is not final yet\n$/);
    sb.run(['abort', slow.stdout.trim()]);
  } finally {
    sb.cleanup();
  }
});

test('a missing definitions file is named in words with what to do, not as ENOENT', T, () => {
  const sb = new Sandbox(YAML);
  try {
    const missing = join(sb.dir, 'nowhere.yaml');
    for (const args of [['submit', 'echo'], ['validate'], ['defs']]) {
      const r = sb.run(args, { UWSRUN_JOBS: missing });
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.equal(r.stderr, `uwsrun: cannot read definitions file ${missing}: no such file; give -f FILE or set UWSRUN_JOBS\n`);
    }
    const params = sb.run(['submit', 'echo', '--params-from', missing]);
    assert.equal(params.code, 2);
    assert.equal(params.stderr, `uwsrun: cannot read --params-from ${missing}: no such file\n`);
    // commander's own errors echo what was typed: escaped too.
    const unknown = sb.run([`${ESC}[31mzz`]);
    assert.equal(unknown.code, 2);
    assertNoControls(unknown.stderr, 'an unknown command');
    assert.ok(unknown.stderr.includes('\\x1b[31mzz'), unknown.stderr);
  } finally {
    sb.cleanup();
  }
});

test('a lock held too long names its holder: pid and command line', T, () => {
  const sb = new Sandbox(YAML);
  const holder = spawn('sleep', ['300'], { detached: true, stdio: 'ignore' });
  try {
    submitJob(sb, ['echo']);
    const start = procStat(holder.pid!)!.start;
    const lock = join(sb.home, 'state.lock');
    writeFileSync(lock, `${holder.pid} ${start}`);
    const before = stateText(sb);
    const r = sb.run(['submit', 'echo'], { UWSRUN_LOCK_TIMEOUT_MS: '800' });
    assert.equal(r.code, 5, r.stderr);
    assert.equal(r.stderr, `uwsrun: the state is locked by process ${holder.pid} (sleep 300); gave up waiting after 0.8 s (lock file ${lock})\n`);
    assert.equal(stateText(sb), before);
  } finally {
    killQuietly(holder.pid);
    sb.cleanup();
  }
});

test("doctor's report reads as sentences with correct plurals", T, async () => {
  const sb = new Sandbox(YAML);
  try {
    const id = submitJob(sb, ['slow', '--run']);
    await phaseIs(sb, id, 'EXECUTING');
    const r = sb.run(['doctor']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /^ok: the state file is readable: 1 active job, limit 2\.$/m);
    for (const line of r.stdout.trimEnd().split('\n')) assert.match(line, /^(ok|problem|repaired): .*\.$/, `a sentence: ${line}`);
    assert.equal(sb.run(['abort', id]).code, 0);

    // A damaged state file: doctor says what it can do, not "run `uwsrun doctor`".
    writeFileSync(join(sb.home, 'state.json'), '{ torn');
    const bad = sb.run(['doctor']);
    assert.equal(bad.code, 1);
    assert.equal(bad.stdout.includes('run `uwsrun doctor`'), false, bad.stdout);
    assert.match(bad.stdout, /^problem: .*state file .*\. `uwsrun doctor --repair` fixes this\.$/m);
    const fixed = sb.run(['doctor', '--repair']);
    assert.equal(fixed.code, 0, fixed.stdout);
    assert.match(fixed.stdout, /^repaired: state file .*; it was restored from the last good copy .*\.$/m);
  } finally {
    sb.cleanup();
  }
});
