// SPEC §8 and §9, statement by statement where no other file checks them: where the HOME is
// (--home, $UWSRUN_HOME, $XDG_STATE_HOME/uwsrun, ~/.local/state/uwsrun; made 0700 by a
// writer, never by a reader), which definitions file is read (-f FILE, $UWSRUN_JOBS,
// HOME/jobs.yaml, for submit, validate and defs alike), several ids (every one acted on, the
// highest exit code), data on stdout and messages on stderr, and a reader that closes stdout
// early (`uwsrun list | head -1`): the command ends quietly, exit 0, not as an internal error.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BIN, ID_RE, Sandbox, submitJob, waitFor } from '../helpers.js';

const YAML = `
defaults:
  destruction: 0
jobs:
  hello:
    command: [echo, hello]
  lines:
    command: [seq, '1', '200000']
`;

const OTHER = `
jobs:
  other:
    command: [echo, other]
`;

const T = { timeout: 60_000 };

test('the HOME: --home, else $UWSRUN_HOME, else $XDG_STATE_HOME/uwsrun, else ~/.local/state/uwsrun; made 0700', T, () => {
  const sb = new Sandbox(YAML);
  try {
    const at = (name: string) => join(sb.dir, name);
    const where = (env: NodeJS.ProcessEnv, args: string[] = []) => {
      const id = submitJob(sb, [...args, 'hello'], env);
      return (dir: string) => existsSync(join(dir, 'records', id));
    };
    const all = { UWSRUN_HOME: at('uwsrun-home'), XDG_STATE_HOME: at('xdg') };
    assert.ok(where(all, ['--home', at('opt-home')])(at('opt-home')), '--home wins over both variables');
    assert.ok(where(all)(at('uwsrun-home')), '$UWSRUN_HOME wins over $XDG_STATE_HOME');
    assert.ok(where({ UWSRUN_HOME: undefined, XDG_STATE_HOME: at('xdg') })(join(at('xdg'), 'uwsrun')), '$XDG_STATE_HOME/uwsrun');
    assert.ok(where({ UWSRUN_HOME: undefined, XDG_STATE_HOME: undefined })(join(sb.dir, '.local', 'state', 'uwsrun')), '~/.local/state/uwsrun');
    for (const home of [at('opt-home'), at('uwsrun-home'), join(at('xdg'), 'uwsrun'), join(sb.dir, '.local', 'state', 'uwsrun')]) {
      assert.equal(statSync(home).mode & 0o777, 0o700, `${home} is made 0700`);
    }
    // An empty $UWSRUN_HOME counts as unset; a relative $XDG_STATE_HOME is ignored (XDG spec).
    assert.ok(where({ UWSRUN_HOME: '', XDG_STATE_HOME: at('xdg') })(join(at('xdg'), 'uwsrun')), 'empty $UWSRUN_HOME');
    assert.ok(where({ UWSRUN_HOME: undefined, XDG_STATE_HOME: 'relative' })(join(sb.dir, '.local', 'state', 'uwsrun')), 'relative $XDG_STATE_HOME');
    // `--home "$H"` with H unset is refused rather than taken as the default HOME.
    const empty = sb.run(['--home', '', 'submit', 'hello']);
    assert.equal(empty.code, 2, empty.stderr);
    assert.match(empty.stderr, /^uwsrun: --home: .*empty/);
  } finally {
    sb.cleanup();
  }
});

test('commands that only read treat a missing HOME as empty and create nothing, wherever the HOME would be', T, () => {
  const sb = new Sandbox(YAML);
  try {
    const homes: [NodeJS.ProcessEnv, string][] = [
      [{}, sb.home],
      [{ UWSRUN_HOME: undefined, XDG_STATE_HOME: join(sb.dir, 'xdg') }, join(sb.dir, 'xdg')],
      [{ UWSRUN_HOME: undefined, XDG_STATE_HOME: undefined }, join(sb.dir, '.local')],
    ];
    const reads: [string[], number][] = [
      [['list'], 0], [['list', '--json'], 0], [['list', '--xml'], 0], [['limit'], 0], [['tick'], 0], [['doctor'], 0],
      [['token', 'list'], 0], [['clean'], 0], [['validate'], 0], [['defs'], 0],
      [['show', 'abcdef'], 3], [['phase', 'abcdef'], 3], [['logs', 'abcdef'], 3], [['results', 'abcdef'], 3],
      [['wait', 'abcdef'], 3], [['run', 'abcdef'], 3], [['abort', 'abcdef'], 3], [['delete', 'abcdef'], 3],
      [['hold', 'abcdef'], 3], [['release', 'abcdef'], 3], [['set', 'abcdef', '--destruction', '0'], 3], [['resubmit', 'abcdef'], 3],
    ];
    for (const [env, made] of homes) {
      for (const [args, code] of reads) {
        const r = sb.run(args, env);
        assert.equal(r.code, code, `${args.join(' ')}: exit ${code} (${r.stderr})`);
        assert.equal(existsSync(made), false, `${args.join(' ')} made ${made}`);
      }
    }
    assert.deepEqual(JSON.parse(sb.run(['list', '--json']).stdout), []);
    assert.equal(sb.run(['tick']).stdout, '', 'tick of a missing HOME prints nothing');
  } finally {
    sb.cleanup();
  }
});

test('the definitions file: -f FILE, else $UWSRUN_JOBS, else HOME/jobs.yaml, for submit, validate and defs', T, () => {
  const sb = new Sandbox(YAML);
  try {
    const other = join(sb.dir, 'other.yaml');
    writeFileSync(other, OTHER);
    mkdirSync(sb.home, { recursive: true, mode: 0o700 });
    writeFileSync(join(sb.home, 'jobs.yaml'), OTHER.replace('other:', 'inhome:'));
    const names = (args: string[], env: NodeJS.ProcessEnv = {}) => JSON.parse(sb.run([...args, '--json'], env).stdout);

    // validate takes the file as FILE and as -f FILE (§9: "-f FILE" for submit/validate/defs).
    assert.deepEqual(names(['validate', other]), { file: other, definitions: ['other'] });
    assert.deepEqual(names(['validate', '-f', other]), { file: other, definitions: ['other'] });
    assert.deepEqual(names(['validate', '--file', other]), { file: other, definitions: ['other'] });
    assert.deepEqual(names(['validate', other, '-f', other]), { file: other, definitions: ['other'] }, 'the same file twice is fine');
    const both = sb.run(['validate', sb.jobsFile, '-f', other]);
    assert.equal(both.code, 2, 'two different files');
    assert.match(both.stderr, /^uwsrun: .*once.*\n$/);
    assert.ok(both.stderr.includes(other) && both.stderr.includes(sb.jobsFile), both.stderr);

    // $UWSRUN_JOBS (the sandbox's) when there is no -f; -f wins over it.
    assert.deepEqual(names(['validate']).definitions, ['hello', 'lines']);
    assert.deepEqual(names(['defs']).map((d: any) => d.name), ['hello', 'lines']);
    assert.deepEqual(names(['defs', '-f', other]).map((d: any) => d.name), ['other']);
    assert.equal(names(['submit', '-f', other, 'other']).definition, 'other');
    // Without either: HOME/jobs.yaml.
    const noVar = { UWSRUN_JOBS: undefined };
    assert.deepEqual(names(['validate'], noVar), { file: join(sb.home, 'jobs.yaml'), definitions: ['inhome'] });
    assert.deepEqual(names(['defs'], noVar).map((d: any) => d.name), ['inhome']);
    assert.equal(names(['submit', 'inhome'], noVar).definition, 'inhome');
    const unknown = sb.run(['submit', 'hello'], noVar);
    assert.equal(unknown.code, 2, 'hello is not in HOME/jobs.yaml');
    assert.match(unknown.stderr, /unknown definition "hello".*inhome/);
  } finally {
    sb.cleanup();
  }
});

test('several ids: every one is acted on, each failure reported on stderr, the highest exit code', T, async () => {
  const sb = new Sandbox(YAML);
  try {
    const done = submitJob(sb, ['hello', '--wait']);
    const pending = submitJob(sb, ['hello']);
    const pending2 = submitJob(sb, ['hello']);
    // abort: COMPLETED (4), unknown (3), PENDING (aborted): exit 4, both failures named.
    const r = sb.run(['abort', done, 'nosuch', pending, '--json']);
    assert.equal(r.code, 4, r.stderr);
    assert.match(r.stderr, new RegExp(`job ${done} is COMPLETED`));
    assert.match(r.stderr, /no such job: nosuch/);
    assert.deepEqual(JSON.parse(r.stdout).map((j: any) => [j.jobId, j.phase]), [[pending, 'ABORTED']]);
    // hold: unknown (3) beside one held: exit 3, the other changed.
    const h = sb.run(['hold', 'nosuch', pending2]);
    assert.equal(h.code, 3, h.stderr);
    assert.equal(sb.job(pending2).phase, 'HELD');
    // A bad id (2) beside an unknown one (3): 3 is the highest.
    const mixed = sb.run(['release', 'a/b', 'nosuch', pending2, '--json']);
    assert.equal(mixed.code, 3, mixed.stderr);
    assert.equal(mixed.stderr.trim().split('\n').filter((l) => l.startsWith('uwsrun: ')).length, 2, mixed.stderr);
    assert.deepEqual(JSON.parse(mixed.stdout).map((j: any) => [j.jobId, j.phase]), [[pending2, 'QUEUED']]);
    await waitFor('the released job COMPLETED', () => sb.job(pending2).phase === 'COMPLETED');
  } finally {
    sb.cleanup();
  }
});

test('data on stdout, messages for people on stderr; -q keeps the data and the errors', T, () => {
  const sb = new Sandbox(YAML);
  try {
    const sub = sb.run(['submit', 'hello']);
    assert.match(sub.stdout, /^[A-Za-z0-9][A-Za-z0-9_-]{5,31}\n$/, 'submit: the id alone on stdout');
    const id = sub.stdout.trim();
    const run = sb.run(['run', id]);
    assert.equal(run.code, 0);
    assert.equal(run.stdout, '', 'run prints no data');
    assert.notEqual(run.stderr, '', 'run says what it did, on stderr');
    const quiet = sb.run(['-q', 'wait', id]);
    assert.equal(quiet.code, 0);
    assert.equal(quiet.stderr, '');
    assert.equal(sb.run(['phase', id, '-q']).stdout, 'COMPLETED\n');
    const lim = sb.run(['limit', '0', '-q']);
    assert.deepEqual([lim.stdout, lim.stderr], ['0\n', ''], 'limit: the limit is data; the pause notice is not');
    assert.notEqual(sb.run(['limit', '0']).stderr, '', 'without -q the pause is explained on stderr');
    const bad = sb.run(['-q', 'show', 'nosuch']);
    assert.deepEqual([bad.code, bad.stdout, bad.stderr], [3, '', 'uwsrun: no such job: nosuch\n'], '-q never hides an error');
    const empty = sb.run(['list', '--phase', 'ERROR']);
    assert.equal(empty.stdout, '', 'an empty list prints no table on stdout');
  } finally {
    sb.cleanup();
  }
});

/**
 * Runs uwsrun with stdout the write end of a pipe whose read end is already closed, as when
 * `| head -1` has exited: every write fails with EPIPE. Python makes the pipe (Node has no
 * pipe(2)); returns uwsrun's exit code and stderr.
 */
function runIntoClosedPipe(sb: Sandbox, args: string[]): { code: number; stderr: string } {
  const script = [
    'import json, os, subprocess, sys',
    'r, w = os.pipe()',
    'os.close(r)',
    'p = subprocess.run(sys.argv[1:], stdout=w, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, timeout=60)',
    'print(json.dumps({"code": p.returncode, "stderr": p.stderr.decode("latin1")}))',
  ].join('\n');
  const r = spawnSync('python3', ['-c', script, BIN, ...args], { env: sb.env, encoding: 'utf8', timeout: 90_000 });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout);
}

test('a reader that closes stdout early ends the command quietly with exit 0, not as an internal error', T, async () => {
  const sb = new Sandbox(YAML);
  try {
    const lines = submitJob(sb, ['lines', '--wait']);
    for (let i = 0; i < 5; i++) submitJob(sb, ['hello']);
    for (const args of [['list'], ['list', '--json'], ['list', '--xml'], ['--help'], ['submit', '--help'], ['show', lines],
      ['logs', lines], ['logs', lines, '--follow'], ['logs', lines, '--tail', '100000'], ['completion', 'bash'], ['defs'], ['phase', lines]]) {
      const r = runIntoClosedPipe(sb, args);
      assert.deepEqual(r, { code: 0, stderr: '' }, `${args.join(' ')}: ${r.stderr}`);
    }
    // What a command changes is done before it prints: the job of a submit whose id nobody
    // read is there.
    const before = sb.json<any[]>(['list']).length;
    assert.deepEqual(runIntoClosedPipe(sb, ['submit', 'hello']), { code: 0, stderr: '' });
    const after = sb.json<any[]>(['list']);
    assert.equal(after.length, before + 1);
    assert.match(after.at(-1).jobId, ID_RE);
  } finally {
    sb.cleanup();
  }
});

test('a HOME that is a regular file: commands exit 5 naming it and the cause in words, doctor reports it (exit 1)', T, () => {
  const sb = new Sandbox(YAML);
  try {
    const file = join(sb.dir, 'not-a-dir');
    writeFileSync(file, 'mine\n');
    for (const args of [['submit', 'hello'], ['list'], ['show', 'abcdef']]) {
      const r = sb.run(['--home', file, ...args]);
      assert.equal(r.code, 5, `${args.join(' ')}: ${r.stderr}`);
      assert.ok(r.stderr.includes(file), `${args.join(' ')} names the HOME: ${r.stderr}`);
      assert.match(r.stderr, /not a directory/, `${args.join(' ')}: the cause in words, not ENOTDIR`);
      assert.doesNotMatch(r.stderr, /ENOTDIR/);
    }
    const doctor = sb.run(['--home', file, 'doctor', '--json']);
    assert.equal(doctor.code, 1, doctor.stderr);
    const report = JSON.parse(doctor.stdout);
    assert.equal(report.problems.length, 1);
    assert.match(report.problems[0], /not a directory/);
    assert.equal(readFileSync(file, 'utf8'), 'mine\n', 'the file is left alone');
  } finally {
    sb.cleanup();
  }
});
