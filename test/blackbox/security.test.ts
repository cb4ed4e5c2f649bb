// Security, black-box: a HOME and its files are private to their owner; a HOME that others
// may write (or that another user owns) is refused; job ids from the command line never
// reach a path (no `../`); result listings never follow a symlink out of results/; a job's
// environment carries neither uwsrun's own settings nor the submitter's other variables;
// job ids are distinct and of the SPEC's shape.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BIN, ID_RE, Sandbox, submitJob, type Run } from '../helpers.js';

const YAML = `
defaults:
  destruction: 0
jobs:
  hello:
    command: [echo, "Hello, {name}!"]
    parameters:
      name: { type: string, default: world }
  links:
    description: results with symlinks out of the results directory
    command:
      - sh
      - -c
      - |
        set -e
        cd "$UWS_RESULTS_DIR"
        echo ok > ok.txt
        mkdir sub
        echo in > sub/inner.txt
        ln -s /etc/passwd pw
        ln -s /etc etcdir
        ln -s ok.txt alias.txt
        ln -s /etc sub/deeper
        mkfifo fifo
  swapped:
    description: replaces its results directory by a symlink to /etc
    command: [sh, -c, 'rm -rf "$UWS_RESULTS_DIR" && ln -s /etc "$UWS_RESULTS_DIR"']
  envdump:
    command: [sh, -c, 'env > "$UWS_RESULTS_DIR/env.txt"']
    env: { FROM_DEFINITION: "yes" }
  envinherit:
    command: [sh, -c, 'env > "$UWS_RESULTS_DIR/env.txt"']
    inheritEnv: true
`;

const T = { timeout: 60_000 };
function runDone(sb: Sandbox, def: string, env: NodeJS.ProcessEnv = {}): string {
  const id = submitJob(sb, [def, '--run'], env);
  const w = sb.run(['wait', id, '--timeout', '30']);
  assert.equal(w.code, 0, `job ${def} ${id}: ${w.stderr}`);
  return id;
}

const mode = (path: string): number => statSync(path).mode & 0o7777;
const octal = (m: number): string => m.toString(8).padStart(4, '0');

/** uwsrun under a given umask (the helper's run() inherits the test's). */
function runUmask(sb: Sandbox, umask: string, args: string[]): Run {
  const r = spawnSync('sh', ['-c', `umask ${umask}; exec "$0" "$@"`, BIN, ...args], { env: sb.env, encoding: 'utf8', timeout: 60_000 });
  return { code: r.status ?? 128, stdout: r.stdout, stderr: r.stderr };
}

// ---- modes -------------------------------------------------------------------------------

/** Runs a job to the end and a second submit with a run id, under `umask`. */
function populate(sb: Sandbox, umask: string): string {
  const s = runUmask(sb, umask, ['submit', 'hello', '--run']);
  assert.equal(s.code, 0, s.stderr);
  const id = s.stdout.trim();
  assert.equal(runUmask(sb, umask, ['wait', id, '--timeout', '30']).code, 0);
  assert.equal(runUmask(sb, umask, ['submit', 'hello', '--run-id', 'r1']).code, 0);
  return id;
}

for (const umask of ['022', '000']) {
  test(`HOME is created 0700 and state, records and logs 0600, even under umask ${umask}`, T, () => {
    const sb = new Sandbox(YAML);
    try {
      const id = populate(sb, umask);
      const expect: [string, number][] = [
        [sb.home, 0o700],
        [join(sb.home, 'jobs'), 0o700],
        [join(sb.home, 'records'), 0o700],
        [sb.recordDir(id), 0o700],
        [sb.jobDir(id), 0o700],
        [join(sb.jobDir(id), 'results'), 0o700],
        [join(sb.home, 'state.json'), 0o600],
        [join(sb.home, 'state.good.json'), 0o600],
        [join(sb.recordDir(id), 'job.json'), 0o600],
        [join(sb.jobDir(id), 'stdout.log'), 0o600],
        [join(sb.jobDir(id), 'stderr.log'), 0o600],
      ];
      if (existsSync(join(sb.home, 'runner.log'))) expect.push([join(sb.home, 'runner.log'), 0o600]);
      for (const [path, want] of expect) assert.equal(octal(mode(path)), octal(want), path);
    } finally {
      sb.cleanup();
    }
  });
}

test('defence in depth: under umask 000 nothing uwsrun creates under HOME is open to group or others', T, () => {
  const sb = new Sandbox(YAML);
  try {
    const id = populate(sb, '000');
    // Everything uwsrun keeps in the HOME (good copy, runner log, caches, run-id index, the
    // wrapper's exit file), not just the files above; results/ holds the job's own files.
    const open: string[] = [];
    const walk = (dir: string): void => {
      for (const name of readdirSync(dir)) {
        const path = join(dir, name);
        if (path === join(sb.jobDir(id), 'results')) continue;
        let st;
        try {
          st = statSync(path);
        } catch (err) {
          // Gone since readdir: a transient file of a command or of the idle runner (a lock,
          // state.lock.want, a temp file). What exists is checked; what vanished holds nothing.
          if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
          throw err;
        }
        if ((st.mode & 0o077) !== 0) open.push(`${path.slice(sb.home.length)} ${octal(st.mode & 0o7777)}`);
        if (st.isDirectory()) walk(path);
      }
    };
    walk(sb.home);
    assert.deepEqual(open, [], 'files under HOME with group/other permission bits');
  } finally {
    sb.cleanup();
  }
});

test('a HOME writable by others (777, or group-writable) or owned by another user is refused with exit 5, and left unchanged', T, () => {
  const sb = new Sandbox(YAML);
  try {
    const id = submitJob(sb, ['hello']);
    const before = readFileSync(join(sb.home, 'state.json'), 'utf8');
    const jobsBefore = readdirSync(join(sb.home, 'records')).sort();
    for (const m of [0o777, 0o770, 0o702]) {
      chmodSync(sb.home, m);
      for (const args of [['submit', 'hello'], ['run', id], ['abort', id], ['limit', '3'], ['tick']]) {
        const r = sb.run(args);
        assert.equal(r.code, 5, `${args.join(' ')} in a ${octal(m)} HOME: exit ${r.code} ${r.stderr}`);
        assert.match(r.stderr, /writable by others/, r.stderr);
        assert.ok(r.stderr.includes(sb.home), `the message names the HOME: ${r.stderr}`);
        assert.equal(r.stderr.trim().split('\n').length, 1, 'one line');
      }
      assert.equal(octal(mode(sb.home)), octal(m), 'uwsrun does not silently chmod the HOME');
    }
    // Readable by others (a HOME made 0755 by hand): used, and doctor says it is not private.
    chmodSync(sb.home, 0o755);
    const doctor = sb.run(['doctor']);
    assert.equal(doctor.code, 0, doctor.stderr);
    assert.match(doctor.stdout + doctor.stderr, new RegExp(`the HOME ${sb.home.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is yours, but others may read it \\(mode 755\\).*chmod 700`));
    chmodSync(sb.home, 0o700);
    assert.match(sb.run(['doctor']).stdout, /is yours and private/);
    chownSync(sb.home, 65534, 65534);
    const r = sb.run(['submit', 'hello']);
    assert.equal(r.code, 5, r.stderr);
    assert.match(r.stderr, /belongs to uid 65534/);
    chownSync(sb.home, process.getuid!(), process.getgid!());
    assert.equal(readFileSync(join(sb.home, 'state.json'), 'utf8'), before, 'state.json unchanged');
    assert.deepEqual(readdirSync(join(sb.home, 'records')).sort(), jobsBefore, 'no job created');
    assert.equal(sb.job(id).phase, 'PENDING');
  } finally {
    sb.cleanup();
  }
});

// ---- ids never become paths --------------------------------------------------------------

test('job ids such as ../../etc and a/b are refused with exit 2 before any path is used', T, () => {
  const sb = new Sandbox(YAML);
  try {
    // Bait: HOME/jobs/../../etc is <sandbox>/etc. If an id ever reached a path, show would
    // print this record and delete would move the directory away.
    const bait = join(sb.dir, 'etc');
    mkdirSync(bait);
    const record = { jobId: 'baitbait', phase: 'COMPLETED', definition: 'hello', runId: null, ownerId: 'x', creationTime: new Date().toISOString(), parameters: {}, command: [], results: [], seq: 1 };
    writeFileSync(join(bait, 'job.json'), JSON.stringify(record));
    writeFileSync(join(bait, 'stdout.log'), 'SECRET-BAIT\n');
    // First without a HOME: a refused id creates none.
    const first = sb.run(['show', '../../etc']);
    assert.equal(first.code, 2, first.stderr);
    assert.equal(existsSync(sb.home), false, 'no HOME created');
    submitJob(sb, ['hello']);
    const bad = ['../../etc', 'a/b', '..', '../jobs', 'abc/../../etc', `${'a'.repeat(33)}`, '.hidden', 'ab'];
    const commands: string[][] = [['show'], ['show', '--json'], ['phase'], ['logs'], ['results'], ['abort'], ['delete'], ['run'], ['wait'], ['set', '--destruction', '1h']];
    for (const id of bad) {
      for (const cmd of commands) {
        const args = [cmd[0]!, id, ...cmd.slice(1)];
        const r = sb.run(args);
        assert.equal(r.code, 2, `${args.join(' ')}: exit ${r.code} ${r.stderr}`);
        assert.match(r.stderr, /invalid job id/, `${args.join(' ')}: ${r.stderr}`);
        assert.doesNotMatch(r.stdout, /SECRET-BAIT|baitbait/);
      }
    }
    assert.ok(existsSync(join(bait, 'job.json')), 'the bait directory is still there');
    assert.equal(readFileSync(join(bait, 'stdout.log'), 'utf8'), 'SECRET-BAIT\n');
  } finally {
    sb.cleanup();
  }
});

// ---- results -----------------------------------------------------------------------------

test('result listing never follows a symlink out of results/ (file, directory, nested), nor a results dir that is a symlink', T, () => {
  const sb = new Sandbox(YAML);
  try {
    const id = runDone(sb, 'links');
    const results = sb.json<any[]>(['results', id]);
    assert.deepEqual(results.map((r) => r.id).sort(), ['ok.txt', 'sub/inner.txt']);
    for (const r of results) assert.ok(r.path.startsWith(join(sb.jobDir(id), 'results') + '/'), r.path);
    assert.deepEqual(sb.job(id).results.map((r: any) => r.id).sort(), ['ok.txt', 'sub/inner.txt']);
    const xml = sb.run(['results', id, '--xml']);
    assert.equal(xml.code, 0, xml.stderr);
    assert.doesNotMatch(xml.stdout, /passwd|etcdir|deeper|alias|fifo/);
    const table = sb.ok(['results', id]);
    assert.doesNotMatch(table, /passwd|etcdir|deeper|alias|fifo/);

    const sw = runDone(sb, 'swapped');
    assert.deepEqual(sb.json<any[]>(['results', sw]), [], 'a results dir swapped for a symlink lists nothing');
    assert.deepEqual(sb.job(sw).results, []);
  } finally {
    sb.cleanup();
  }
});

// ---- job environment ---------------------------------------------------------------------

function envOf(sb: Sandbox, id: string): Map<string, string> {
  const text = readFileSync(join(sb.jobDir(id), 'results', 'env.txt'), 'utf8');
  const env = new Map<string, string>();
  for (const line of text.split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) env.set(line.slice(0, eq), line.slice(eq + 1));
  }
  return env;
}

test('the job environment has no UWSRUN_* and none of the submitter\'s other variables (unless inheritEnv)', T, () => {
  const sb = new Sandbox(YAML);
  try {
    const extra = {
      SECRET_TOKEN: 's3cr3t',
      AWS_SECRET_ACCESS_KEY: 'nope',
      UWSRUN_LOCK_TIMEOUT_MS: '9000',
      UWSRUN_SOMETHING: 'x',
      UWS_PARAM_EVIL: 'injected',
      UWS_JOB_ID: 'spoofed',
      TZ: 'UTC',
      LC_ALL: 'C.UTF-8',
    };
    const id = runDone(sb, 'envdump', extra);
    const env = envOf(sb, id);
    const names = [...env.keys()];
    assert.deepEqual(names.filter((n) => n.startsWith('UWSRUN_')), [], 'no UWSRUN_* variable');
    assert.equal(env.has('SECRET_TOKEN'), false);
    assert.equal(env.has('AWS_SECRET_ACCESS_KEY'), false);
    assert.equal(env.has('UWS_PARAM_EVIL'), false, 'no UWS_* of the submitter');
    assert.equal(env.get('UWS_JOB_ID'), id);
    assert.equal(env.get('UWS_JOB_DIR'), sb.jobDir(id));
    assert.equal(env.get('UWS_RESULTS_DIR'), join(sb.jobDir(id), 'results'));
    assert.equal(env.get('FROM_DEFINITION'), 'yes');
    assert.equal(env.get('HOME'), sb.dir);
    assert.equal(env.get('PATH'), sb.env.PATH);
    assert.equal(env.get('TZ'), 'UTC');
    assert.equal(env.get('LC_ALL'), 'C.UTF-8');
    assert.equal(env.get('LANG'), 'C.UTF-8');
    const allowed = /^(PATH|HOME|USER|LOGNAME|SHELL|LANG|LC_\w+|TZ|TMPDIR|UWS_JOB_ID|UWS_JOB_DIR|UWS_RESULTS_DIR|UWS_PARAM_\w+|FROM_DEFINITION|PWD|SHLVL|OLDPWD|_)$/;
    assert.deepEqual(names.filter((n) => !allowed.test(n)), [], 'nothing else reaches the job');

    // inheritEnv: the submitter's whole environment, but still not uwsrun's own settings
    // nor another job's UWS_* variables.
    const inh = runDone(sb, 'envinherit', extra);
    const ienv = envOf(sb, inh);
    assert.equal(ienv.get('SECRET_TOKEN'), 's3cr3t');
    assert.equal(ienv.get('AWS_SECRET_ACCESS_KEY'), 'nope');
    assert.deepEqual([...ienv.keys()].filter((n) => n.startsWith('UWSRUN_')), []);
    assert.equal(ienv.has('UWS_PARAM_EVIL'), false);
    assert.equal(ienv.get('UWS_JOB_ID'), inh);
  } finally {
    sb.cleanup();
  }
});

// ---- ids ---------------------------------------------------------------------------------

test('1000 generated job ids are distinct, match the SPEC pattern and look random', T, () => {
  const sb = new Sandbox(YAML);
  try {
    const r = sb.run(['submit', 'hello', '--params-from', '-'], {}, '{}\n'.repeat(1000));
    assert.equal(r.code, 0, r.stderr);
    const ids = r.stdout.trim().split('\n');
    assert.equal(ids.length, 1000);
    for (const id of ids) assert.match(id, ID_RE);
    assert.equal(new Set(ids).size, 1000, 'all distinct');
    assert.deepEqual(readdirSync(join(sb.home, 'records')).sort(), [...ids].sort());
    // Not a counter or a clock: every position varies, and the characters used are spread
    // over the whole alphabet.
    const chars = new Set(ids.join(''));
    assert.ok(chars.size >= 60, `only ${chars.size} distinct characters in 1000 ids`);
    const len = Math.min(...ids.map((i) => i.length));
    for (let p = 0; p < len; p++) {
      assert.ok(new Set(ids.map((i) => i[p])).size > 30, `position ${p} hardly varies`);
    }
  } finally {
    sb.cleanup();
  }
});
