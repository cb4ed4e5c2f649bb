// Black-box tests of the global options and output channels (SPEC §9): global options before
// or after the command, -q, --json on commands that change jobs, human `show`, colours.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BIN, Sandbox, hasScript, runOnTty, submitOk, waitFor } from '../helpers.js';

const YAML = `
defaults:
  destruction: 0
jobs:
  quick:
    command: [echo, done]
  long:
    command: [sleep, "300"]
    killGrace: 1
`;

const T = { timeout: 60_000 };

test('global options are accepted before and after the command', T, () => {
  const sb = new Sandbox(YAML);
  const elsewhere = mkdtempSync(join(tmpdir(), 'uwsrun-elsewhere-'));
  try {
    const id = submitOk(sb, ['quick']);
    // UWSRUN_HOME points at an empty HOME: only --home can find the job.
    const env = { UWSRUN_HOME: join(elsewhere, 'home') };
    const plain = sb.run(['show', id, '--json'], env);
    assert.equal(plain.code, 3, 'without --home the job is not found');

    const variants = [
      ['--home', sb.home, 'show', id, '--json'],
      ['show', id, '--json', '--home', sb.home],
      ['--json', 'show', id, '--home', sb.home],
      ['--home', sb.home, '--json', 'show', id],
      [`--home=${sb.home}`, 'show', '--json', id],
    ];
    const outputs = variants.map((args) => {
      const r = sb.run(args, env);
      assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
      return r.stdout;
    });
    const job = JSON.parse(outputs[0]!);
    assert.equal(job.jobId, id);
    assert.equal(job.phase, 'PENDING');
    for (const [i, out] of outputs.entries()) assert.equal(out, outputs[0], variants[i]!.join(' '));
    // A read-only command on a missing HOME creates nothing.
    assert.equal(existsSync(join(elsewhere, 'home')), false);
  } finally {
    rmSync(elsewhere, { recursive: true, force: true });
    sb.cleanup();
  }
});

test('a relative --home is taken relative to the working directory, also by the runner', T, async () => {
  const sb = new Sandbox(YAML);
  try {
    // sb.home is DIR/state: from DIR/sub it is ../state. Resolved against anything but the
    // working directory (say the runner's own), it would name another directory.
    const cwd = join(sb.dir, 'sub');
    mkdirSync(cwd);
    const run = (args: string[]) => {
      const r = spawnSync(BIN, args, { cwd, env: sb.env, encoding: 'utf8', timeout: 60_000 });
      return { code: r.status, stdout: r.stdout, stderr: r.stderr };
    };
    const sub = run(['--home', '../state', 'submit', 'quick', '--run']);
    assert.equal(sub.code, 0, sub.stderr);
    const id = sub.stdout.trim();
    // Its record at once (its job directory is made when it starts).
    assert.ok(existsSync(join(sb.home, 'records', id)), 'the job lives under CWD/../state');
    await waitFor('COMPLETED', () => {
      const r = run(['show', id, '--json', '--home', '../state']);
      return r.code === 0 && JSON.parse(r.stdout).phase === 'COMPLETED';
    }, 25_000);
    assert.equal(sb.job(id).phase, 'COMPLETED');
  } finally {
    sb.cleanup();
  }
});

test('-q silences informational messages but not errors, and leaves stdout data alone', T, () => {
  const sb = new Sandbox(YAML);
  try {
    const a = submitOk(sb, ['quick']);
    const loud = sb.run(['run', a]);
    assert.equal(loud.code, 0, loud.stderr);
    assert.notEqual(loud.stderr.trim(), '', '`run` says something without -q (else this test proves nothing)');

    const variants = (id: string) => [['-q', 'run', id], ['run', id, '-q'], ['run', id, '--quiet']];
    for (const make of [0, 1, 2]) {
      const id = submitOk(sb, ['quick']);
      const args = variants(id)[make]!;
      const r = sb.run(args);
      assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
      assert.equal(r.stderr, '', `${args.join(' ')} printed ${JSON.stringify(r.stderr)}`);
      assert.equal(r.stdout, '');
    }

    // abort and delete are quiet too; their data channel stays empty without --json.
    const p = submitOk(sb, ['quick']);
    for (const args of [['abort', p, '-q'], ['-q', 'delete', p]]) {
      const r = sb.run(args);
      assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
      assert.equal(r.stderr, '', `${args.join(' ')} printed ${JSON.stringify(r.stderr)}`);
      assert.equal(r.stdout, '');
    }

    // Errors still come through.
    const again = sb.run(['-q', 'run', a]);
    assert.equal(again.code, 4);
    assert.ok(again.stderr.includes(a), `the refusal is still printed with -q: ${JSON.stringify(again.stderr)}`);
    const unknown = sb.run(['show', 'Zz9unknownJob42', '-q']);
    assert.equal(unknown.code, 3);
    assert.notEqual(unknown.stderr.trim(), '');

    // Data on stdout is unchanged by -q.
    const id = submitOk(sb, ['quick']);
    const quietId = sb.run(['-q', 'submit', 'quick']);
    assert.equal(quietId.code, 0);
    assert.match(quietId.stdout, /^[A-Za-z0-9][A-Za-z0-9_-]{5,31}\n$/);
    assert.equal(sb.run(['show', id, '--json', '-q']).stdout, sb.run(['show', id, '--json']).stdout);
    assert.equal(sb.run(['-q', 'phase', id]).stdout, 'PENDING\n');
  } finally {
    sb.cleanup();
  }
});

test('--json on run and abort prints the changed jobs as an array', T, async () => {
  const sb = new Sandbox(YAML);
  try {
    const a = submitOk(sb, ['long']);
    const b = submitOk(sb, ['long']);
    const ran = sb.run(['run', a, b, '--json']);
    assert.equal(ran.code, 0, ran.stderr);
    const queued = JSON.parse(ran.stdout);
    assert.ok(Array.isArray(queued));
    assert.deepEqual(queued.map((j: any) => j.jobId), [a, b]);
    for (const j of queued) assert.equal(j.phase, 'QUEUED');
    assert.deepEqual(Object.keys(queued[0]), Object.keys(sb.job(a)), 'the same job objects as show --json');

    await waitFor('both EXECUTING with startTime', () => [a, b].every((id) => {
      const j = sb.job(id);
      return j.phase === 'EXECUTING' && j.startTime !== null;
    }), 25_000);
    const aborted = sb.run(['--json', 'abort', a, b]);
    assert.equal(aborted.code, 0, aborted.stderr);
    const list = JSON.parse(aborted.stdout);
    assert.ok(Array.isArray(list));
    assert.deepEqual(list.map((j: any) => j.jobId), [a, b]);
    for (const j of list) {
      assert.equal(j.phase, 'ABORTED');
      assert.notEqual(j.endTime, null);
      assert.deepEqual(j, sb.job(j.jobId), 'the printed object is the job as it ended');
    }

    // Nothing changed: an empty array, and the refusal on stderr.
    const none = sb.run(['abort', a, '--json']);
    assert.equal(none.code, 4);
    assert.deepEqual(JSON.parse(none.stdout), []);
    assert.ok(none.stderr.includes(a));
  } finally {
    sb.cleanup();
  }
});

test('show ID (human) names the job and its phase', T, async () => {
  const sb = new Sandbox(YAML);
  try {
    const pending = submitOk(sb, ['quick']);
    const r = sb.run(['show', pending]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(r.stdout.includes(pending), r.stdout);
    assert.match(r.stdout, /\bPENDING\b/);
    assert.throws(() => JSON.parse(r.stdout), 'human output is not JSON');

    const done = submitOk(sb, ['quick', '--run']);
    await waitFor('COMPLETED', () => sb.job(done).phase === 'COMPLETED', 25_000);
    const d = sb.run(['show', done]);
    assert.equal(d.code, 0, d.stderr);
    assert.ok(d.stdout.includes(done));
    assert.match(d.stdout, /\bCOMPLETED\b/);
    assert.ok(!d.stdout.includes('\x1b'));
  } finally {
    sb.cleanup();
  }
});

test('--no-color and NO_COLOR give no ANSI escapes, even on a terminal', T, async () => {
  const sb = new Sandbox(YAML);
  try {
    const id = submitOk(sb, ['quick', '--run']);
    await waitFor('COMPLETED', () => sb.job(id).phase === 'COMPLETED', 25_000);
    for (const cmd of [['show', id], ['list']]) {
      // Off a terminal: never colours.
      for (const args of [cmd, [...cmd, '--no-color'], ['--no-color', ...cmd]]) {
        const r = sb.run(args, { NO_COLOR: undefined });
        assert.equal(r.code, 0, r.stderr);
        assert.ok(r.stdout.includes(id));
        assert.ok(!r.stdout.includes('\x1b'), `${args.join(' ')}: ${JSON.stringify(r.stdout)}`);
      }
      if (!hasScript()) continue;
      const coloured = runOnTty(sb, cmd, { NO_COLOR: undefined });
      assert.ok(coloured.includes('\x1b['), `${cmd.join(' ')} on a terminal without NO_COLOR is coloured (control): ${JSON.stringify(coloured)}`);
      for (const [args, env] of [
        [[...cmd, '--no-color'], { NO_COLOR: undefined }],
        [['--no-color', ...cmd], { NO_COLOR: undefined }],
        [cmd, { NO_COLOR: '1' }],
      ] as [string[], NodeJS.ProcessEnv][]) {
        const out = runOnTty(sb, args, env);
        assert.ok(out.includes(id), out);
        assert.ok(!out.includes('\x1b'), `${args.join(' ')} ${JSON.stringify(env)}: ${JSON.stringify(out)}`);
      }
    }
  } finally {
    sb.cleanup();
  }
});
