// Black-box tests of `uwsrun list` (SPEC §9; filters as UWS 1.1 §2.2.2.1): oldest first,
// PHASE is a union, AFTER is strictly after, LAST the N most recently created, ARCHIVED
// only when asked for; bad filters exit 2; the human table has no colours off a terminal.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { FINAL, Sandbox, hasScript, runOnTty, submitOk, waitFor } from '../helpers.js';

const YAML = `
defaults:
  destruction: 0
jobs:
  alpha:
    command: [sh, -c, 'exit "$UWS_PARAM_CODE"']
    parameters:
      code: { type: integer, default: 0 }
  beta:
    command: [sh, -c, 'exit "$UWS_PARAM_CODE"']
    parameters:
      code: { type: integer, default: 0 }
  gamma:
    command: [echo, kept]
    archive: true
`;

const ids = (sb: Sandbox, args: string[]): string[] => {
  const r = sb.run(['list', ...args, '--json']);
  assert.equal(r.code, 0, `list ${args.join(' ')}: ${r.stderr}`);
  return (JSON.parse(r.stdout) as any[]).map((j) => j.jobId);
};

test('list filters on a prepared set of jobs', { timeout: 90_000 }, async (t) => {
  const sb = new Sandbox(YAML);
  try {
    // j[0..6] in creation order; j[7] becomes ARCHIVED.
    const j: string[] = [];
    j.push(submitOk(sb, ['alpha']));                                 // 0 alpha PENDING
    j.push(submitOk(sb, ['alpha', '--run']));                        // 1 alpha COMPLETED
    j.push(submitOk(sb, ['beta', '-p', 'code=3', '--run']));         // 2 beta  ERROR
    j.push(submitOk(sb, ['beta']));                                  // 3 beta  ABORTED
    assert.equal(sb.run(['abort', j[3]!]).code, 0);
    j.push(submitOk(sb, ['beta', '--run']));                         // 4 beta  COMPLETED
    j.push(submitOk(sb, ['alpha', '-p', 'code=1', '--run']));        // 5 alpha ERROR
    j.push(submitOk(sb, ['beta']));                                  // 6 beta  PENDING
    j.push(submitOk(sb, ['gamma', '--run', '--destruction', '1s'])); // 7 gamma ARCHIVED
    const expected = ['PENDING', 'COMPLETED', 'ERROR', 'ABORTED', 'COMPLETED', 'ERROR', 'PENDING'];
    for (const [i, id] of j.entries()) {
      if (i === 7) continue;
      await waitFor(`job ${i} ${expected[i]}`, () => sb.job(id).phase === expected[i], 25_000);
    }
    await waitFor('gamma ARCHIVED (destruction 1 s, then tick)', () => {
      if (FINAL.includes(sb.job(j[7]!).phase) && Date.now() > Date.parse(sb.job(j[7]!).destruction)) {
        sb.run(['tick']);
      }
      return sb.job(j[7]!).phase === 'ARCHIVED';
    }, 25_000);
    const created = j.map((id) => sb.job(id).creationTime as string);
    for (let i = 1; i < created.length; i++) {
      assert.ok(Date.parse(created[i]!) > Date.parse(created[i - 1]!), `creation times strictly increase: ${created.join(' ')}`);
    }
    const pick = (...n: number[]) => n.map((i) => j[i]!);

    await t.test('plain list: every job but ARCHIVED, oldest first', () => {
      assert.deepEqual(ids(sb, []), pick(0, 1, 2, 3, 4, 5, 6));
      const all = sb.json<any[]>(['list']);
      assert.deepEqual(all.map((x) => x.phase), expected);
      assert.deepEqual(all, j.slice(0, 7).map((id) => sb.job(id)), 'list --json holds the same objects as show --json');
    });

    await t.test('--phase ARCHIVED lists the archived job', () => {
      assert.deepEqual(ids(sb, ['--phase', 'ARCHIVED']), pick(7));
    });

    await t.test('--phase is a union', () => {
      assert.deepEqual(ids(sb, ['--phase', 'COMPLETED']), pick(1, 4));
      assert.deepEqual(ids(sb, ['--phase', 'COMPLETED', '--phase', 'ERROR']), pick(1, 2, 4, 5));
      assert.deepEqual(ids(sb, ['--phase', 'PENDING', '--phase', 'ABORTED', '--phase', 'ARCHIVED']), pick(0, 3, 6, 7));
      assert.deepEqual(ids(sb, ['--phase', 'EXECUTING']), []);
    });

    await t.test('--after keeps jobs created strictly after the instant', () => {
      assert.deepEqual(ids(sb, ['--after', created[2]!]), pick(3, 4, 5, 6), 'the job created at that instant is excluded');
      const justBefore = new Date(Date.parse(created[2]!) - 1).toISOString();
      assert.deepEqual(ids(sb, ['--after', justBefore]), pick(2, 3, 4, 5, 6));
      // The same instant written with an offset.
      const ms = Date.parse(created[2]!);
      const plus2 = new Date(ms + 2 * 3600_000).toISOString().replace('Z', '+02:00');
      assert.deepEqual(ids(sb, ['--after', plus2]), pick(3, 4, 5, 6));
      assert.deepEqual(ids(sb, ['--after', created[6]!]), []);
    });

    await t.test('--last N gives the N most recently created, oldest first', () => {
      assert.deepEqual(ids(sb, ['--last', '2']), pick(5, 6));
      assert.deepEqual(ids(sb, ['--last', '1']), pick(6));
      assert.deepEqual(ids(sb, ['--last', '100']), pick(0, 1, 2, 3, 4, 5, 6));
    });

    await t.test('--definition', () => {
      assert.deepEqual(ids(sb, ['--definition', 'beta']), pick(2, 3, 4, 6));
      assert.deepEqual(ids(sb, ['--definition', 'alpha']), pick(0, 1, 5));
      assert.deepEqual(ids(sb, ['--definition', 'nosuchdef']), []);
    });

    await t.test('combinations', () => {
      assert.deepEqual(ids(sb, ['--definition', 'beta', '--phase', 'COMPLETED', '--phase', 'ABORTED']), pick(3, 4));
      assert.deepEqual(ids(sb, ['--phase', 'COMPLETED', '--phase', 'ERROR', '--last', '2']), pick(4, 5));
      assert.deepEqual(ids(sb, ['--definition', 'alpha', '--last', '2']), pick(1, 5));
      assert.deepEqual(ids(sb, ['--after', created[1]!, '--phase', 'COMPLETED']), pick(4));
      assert.deepEqual(ids(sb, ['--after', created[0]!, '--definition', 'alpha', '--phase', 'PENDING']), []);
      assert.deepEqual(ids(sb, ['--after', created[3]!, '--definition', 'beta', '--last', '5']), pick(4, 6));
    });
  } finally {
    sb.cleanup();
  }
});

test('bad filters exit 2 with a message naming the option', { timeout: 30_000 }, () => {
  const sb = new Sandbox(YAML);
  try {
    submitOk(sb, ['alpha']);
    const cases: [string[], RegExp][] = [
      [['--phase', 'nonsense'], /phase/],
      [['--last', '0'], /last/],
      [['--last', 'abc'], /last/],
      [['--last', '-1'], /last/],
      [['--after', 'yesterday'], /after/],
    ];
    for (const [args, option] of cases) {
      for (const json of [[], ['--json']]) {
        const r = sb.run(['list', ...args, ...json]);
        assert.equal(r.code, 2, `list ${args.join(' ')}: exit ${r.code}, ${r.stderr}`);
        assert.equal(r.stdout, '', `list ${args.join(' ')} printed data`);
        assert.match(r.stderr, option, `list ${args.join(' ')}: ${r.stderr}`);
      }
    }
  } finally {
    sb.cleanup();
  }
});

test('human list: a header and one row per job with id and phase, no ANSI escapes', { timeout: 60_000 }, async () => {
  const sb = new Sandbox(YAML);
  try {
    const pending = submitOk(sb, ['alpha']);
    const done = submitOk(sb, ['beta', '--run']);
    await waitFor('COMPLETED', () => sb.job(done).phase === 'COMPLETED', 25_000);

    const check = (out: string, how: string) => {
      assert.ok(!out.includes('\x1b'), `${how}: ANSI escape in ${JSON.stringify(out)}`);
      const lines = out.replace(/\r/g, '').split('\n').filter((l) => l.trim() !== '');
      assert.equal(lines.length, 3, `${how}: header + 2 rows: ${JSON.stringify(out)}`);
      assert.match(lines[0]!, /\bID\b/i, how);
      assert.match(lines[0]!, /\bPHASE\b/i, how);
      assert.ok(lines[1]!.includes(pending) && lines[1]!.includes('PENDING'), `${how}: ${lines[1]}`);
      assert.ok(lines[2]!.includes(done) && lines[2]!.includes('COMPLETED'), `${how}: ${lines[2]}`);
    };

    const r = sb.run(['list']); // NO_COLOR=1 is in the sandbox environment
    assert.equal(r.code, 0, r.stderr);
    check(r.stdout, 'NO_COLOR, not a tty');
    const noEnv = sb.run(['list'], { NO_COLOR: undefined });
    assert.equal(noEnv.code, 0, noEnv.stderr);
    check(noEnv.stdout, 'not a tty, NO_COLOR unset');

    if (hasScript()) {
      // On a terminal colours appear (so the checks above mean something) unless NO_COLOR.
      const coloured = runOnTty(sb, ['list'], { NO_COLOR: undefined });
      assert.ok(coloured.includes('\x1b['), `a terminal without NO_COLOR gets colours: ${JSON.stringify(coloured)}`);
      check(runOnTty(sb, ['list'], { NO_COLOR: '1' }), 'tty with NO_COLOR');
      check(runOnTty(sb, ['list', '--no-color'], { NO_COLOR: undefined }), 'tty with --no-color');
    }
  } finally {
    sb.cleanup();
  }
});

test('list on a HOME that does not exist yet: empty, and nothing is created', { timeout: 30_000 }, () => {
  const sb = new Sandbox(YAML);
  try {
    assert.equal(existsSync(sb.home), false, 'precondition: a fresh sandbox has no HOME yet');
    const r = sb.run(['list', '--json']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), []);
    const human = sb.run(['list']);
    assert.equal(human.code, 0, human.stderr);
    assert.ok(!human.stdout.includes('\x1b'));
    assert.equal(existsSync(sb.home), false, 'a read-only command must not create the HOME');
  } finally {
    sb.cleanup();
  }
});
