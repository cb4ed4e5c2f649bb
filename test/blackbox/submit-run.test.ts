// Black-box: submitting and running jobs (SPEC §2 rows submit/run/exit, §3, §4, §5, §8, §9).
// Every test has its own Sandbox (own HOME); waits are `uwsrun wait --timeout` or waitFor
// with deadlines, never fixed sleeps.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, realpathSync, statSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { ID_RE, ISO_MS_Z, Sandbox } from '../helpers.js';

const WAIT_S = '30';

const JOBS = `
defaults:
  executionDuration: 77
  destruction: 2h
jobs:
  typed:
    description: every parameter type, defaults and placeholders
    command: [echo, "{n}", "{f}", "{b}", "{s}", "{d}", "{jobId}", "{resultsDir}", "{{lit}}"]
    parameters:
      n: { type: integer, default: 4 }
      f: { type: float, default: 3.0 }
      b: { type: boolean, default: false }
      s: { type: string, default: "x y" }
      d: { type: date, required: true }
      opt: { type: string }
  owned:
    command: [echo, own limits]
    executionDuration: 600
    destruction: 30m
  hello:
    command: [echo, "Hello, {name}!"]
    parameters:
      name: { type: string, default: world }
  fail:
    command: [sh, -c, 'echo "first line" >&2; echo "the last words" >&2; exit 3']
  status150:
    command: [sh, -c, 'echo "exiting on purpose" >&2; exit 150']
  selfkill:
    command: [sh, -c, 'kill -KILL $$']
  lastwords:
    command: [sh, -c, 'echo "first words" >&2; echo "my last words" >&2; kill -KILL $$']
  missing:
    command: [/nonexistent/uwsrun-no-such-program, arg]
  sleeper:
    command: [sleep, "30"]
  results:
    command:
      - sh
      - -c
      - |
        set -e
        cd "$UWS_RESULTS_DIR"
        printf '[1,2,3]' > a.json
        printf 'hello\\n' > notes.txt
        mkdir -p sub/deep
        printf 'x,y\\n1,2\\n' > sub/deep/table.csv
        printf 'z' > noext
  shell:
    command: [python3, -c, "import sys,json,os; open(sys.argv[2],'w').write(json.dumps([sys.argv[1:], os.environ.get('UWS_PARAM_V')]))", "{v}", "{resultsDir}/args.json"]
    parameters:
      v: { type: string, required: true }
  floaty:
    command: [sh, -c, 'printf "%s|%s\\n" "$1" "$UWS_PARAM_SIGMA"', sh, "{sigma}"]
    parameters:
      sigma: { type: float, default: 3.0, min: 0 }
  envdump:
    command: [sh, -c, 'env -0 > "$UWS_RESULTS_DIR/env.bin"; pwd -P > "$UWS_RESULTS_DIR/cwd.txt"; cat > "$UWS_RESULTS_DIR/stdin.txt"']
    env: { MY_VAR: "hello world", OMP_NUM_THREADS: 1 }
    parameters:
      p: { type: string, default: pv }
  envall:
    command: [sh, -c, 'env -0 > "$UWS_RESULTS_DIR/env.bin"']
    inheritEnv: true
    env: { MY_VAR: "from definition" }
`;

function submit(sb: Sandbox, args: string[], extraEnv: NodeJS.ProcessEnv = {}): string {
  const r = sb.run(['submit', ...args], extraEnv);
  assert.equal(r.code, 0, `submit ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  const id = r.stdout.trim();
  assert.match(id, ID_RE, `submit prints the job id alone, got ${JSON.stringify(r.stdout)}`);
  assert.equal(r.stdout, `${id}\n`, 'stdout is the id and a newline, nothing else');
  return id;
}

function waitCode(sb: Sandbox, ids: string[], timeout = WAIT_S): number {
  return sb.run(['wait', ...ids, '--timeout', timeout]).code;
}

function readEnvBin(path: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const entry of readFileSync(path, 'utf8').split('\0')) {
    if (!entry) continue;
    const eq = entry.indexOf('=');
    env[entry.slice(0, eq)] = entry.slice(eq + 1);
  }
  return env;
}

const secondsBetween = (a: string, b: string): number => (Date.parse(b) - Date.parse(a)) / 1000;

test('submit creates a PENDING job with every §4 field typed, and its directory', () => {
  const sb = new Sandbox(JOBS);
  try {
    const id = submit(sb, ['typed', '-p', 'd=2024-03-14', '-p', 'n=7', '--run-id', 'nightly-42']);
    const job = sb.job(id);
    const fields = ['jobId', 'runId', 'ownerId', 'definition', 'phase', 'creationTime', 'startTime', 'endTime', 'quote',
      'executionDuration', 'destruction', 'parameters', 'command', 'pid', 'exitCode', 'signal', 'errorSummary', 'results'];
    for (const f of fields) assert.ok(Object.hasOwn(job, f), `show --json has field ${f}`);
    assert.equal(job.jobId, id);
    assert.equal(job.runId, 'nightly-42');
    assert.equal(typeof job.ownerId, 'string');
    assert.ok(job.ownerId.length > 0, 'ownerId is not empty');
    assert.equal(job.ownerId, userInfo().username);
    assert.equal(job.definition, 'typed');
    assert.equal(job.phase, 'PENDING');
    assert.match(job.creationTime, ISO_MS_Z);
    const created = Date.parse(job.creationTime);
    assert.ok(Math.abs(Date.now() - created) < 60_000, 'creationTime is now');
    assert.equal(job.startTime, null);
    assert.equal(job.endTime, null);
    assert.equal(job.pid, null);
    assert.equal(job.exitCode, null);
    assert.equal(job.signal, null);
    assert.equal(job.errorSummary, null);
    assert.deepEqual(job.results, []);
    assert.ok(job.quote === null || typeof job.quote === 'string');
    // Typed values, defaults filled in; an optional parameter without default stays absent.
    assert.deepEqual(job.parameters, { n: 7, f: 3, b: false, s: 'x y', d: '2024-03-14' });
    const resultsDir = join(sb.jobDir(id), 'results');
    assert.deepEqual(job.command, ['echo', '7', '3.0', 'false', 'x y', '2024-03-14', id, resultsDir, '{lit}']);
    // Limits from the defaults block: executionDuration 77, destruction 2h after creation.
    assert.equal(job.executionDuration, 77);
    assert.match(job.destruction, ISO_MS_Z);
    assert.equal(secondsBetween(job.creationTime, job.destruction), 7200);
    // Its directory is made at submit (SPEC §2, §8): empty logs and results/.
    const dir = sb.jobDir(id);
    assert.ok(existsSync(dir), 'its job directory is made at submit');
    assert.ok(existsSync(join(dir, 'stdout.log')) && existsSync(join(dir, 'stderr.log')) && existsSync(resultsDir));
    const logs = sb.run(['logs', id]);
    assert.equal(logs.code, 0, logs.stderr);
    assert.equal(logs.stdout, '');
    // list --json holds the same object.
    const listed = sb.json<any[]>(['list']);
    assert.deepEqual(listed, [job]);
    // Without --run-id, runId is null.
    const other = submit(sb, ['hello']);
    assert.equal(sb.job(other).runId, null);
    assert.equal(sb.job(other).phase, 'PENDING');
    // Run, it has its directory: both logs and results/.
    assert.equal(sb.run(['run', id]).code, 0);
    assert.equal(sb.run(['wait', id, '--timeout', '60']).code, 0);
    assert.ok(statSync(join(dir, 'stdout.log')).isFile(), 'stdout.log exists');
    assert.ok(statSync(join(dir, 'stderr.log')).isFile(), 'stderr.log exists');
    assert.ok(statSync(join(dir, 'results')).isDirectory(), 'results/ exists');
    assert.equal(sb.run(['logs', id]).stdout, `7 3.0 false x y 2024-03-14 ${id} ${join(dir, 'results')} {lit}\n`);
  } finally {
    sb.cleanup();
  }
});

test('limits come from the definition, the defaults, the built-in defaults, or the options', () => {
  const sb = new Sandbox(JOBS);
  const bare = new Sandbox('jobs:\n  plain:\n    command: [echo, plain]\n');
  try {
    const own = sb.job(submit(sb, ['owned']));
    assert.equal(own.executionDuration, 600);
    assert.equal(secondsBetween(own.creationTime, own.destruction), 1800);

    const opts = sb.job(submit(sb, ['owned', '--execution-duration', '42', '--destruction', '90s']));
    assert.equal(opts.executionDuration, 42);
    const lifetime = secondsBetween(opts.creationTime, opts.destruction);
    assert.ok(lifetime > 85 && lifetime <= 91, `--destruction 90s gives about 90 s, got ${lifetime}`);

    const never = sb.job(submit(sb, ['owned', '--execution-duration', '0', '--destruction', '0']));
    assert.equal(never.executionDuration, 0);
    assert.equal(never.destruction, null);

    const instant = sb.job(submit(sb, ['owned', '--destruction', '2099-01-01T00:00:00+02:00']));
    assert.equal(instant.destruction, '2098-12-31T22:00:00.000Z');

    const max = sb.job(submit(sb, ['owned', '--execution-duration', '2147483647']));
    assert.equal(max.executionDuration, 2147483647);

    const plain = bare.job(submit(bare, ['plain']));
    assert.equal(plain.executionDuration, 0, 'built-in default executionDuration is 0');
    assert.equal(secondsBetween(plain.creationTime, plain.destruction), 7 * 86400, 'built-in default destruction is 7d');
  } finally {
    sb.cleanup();
    bare.cleanup();
  }
});

test('submit --run and run ID both lead to COMPLETED with times, exit code and output', () => {
  const sb = new Sandbox(JOBS);
  try {
    const a = submit(sb, ['hello', '--run', '-p', 'name=Ada']);
    const b = submit(sb, ['hello', '-p', 'name=Bob']);
    assert.equal(sb.job(b).phase, 'PENDING');
    const r = sb.run(['run', b]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, '', 'run prints no data without --json');
    assert.equal(waitCode(sb, [a, b]), 0);
    for (const [id, name] of [[a, 'Ada'], [b, 'Bob']] as const) {
      const job = sb.job(id);
      assert.equal(job.phase, 'COMPLETED');
      assert.equal(job.exitCode, 0);
      assert.equal(job.signal, null);
      assert.equal(job.errorSummary, null);
      assert.equal(job.pid, null, 'no pid once the job has ended');
      assert.match(job.startTime, ISO_MS_Z);
      assert.match(job.endTime, ISO_MS_Z);
      assert.ok(Date.parse(job.startTime) >= Date.parse(job.creationTime), 'started after creation');
      assert.ok(Date.parse(job.endTime) >= Date.parse(job.startTime), 'ended after start');
      assert.equal(readFileSync(join(sb.jobDir(id), 'stdout.log'), 'utf8'), `Hello, ${name}!\n`);
      assert.equal(sb.ok(['logs', id]), `Hello, ${name}!`);
      assert.equal(sb.ok(['phase', id]), 'COMPLETED');
    }
  } finally {
    sb.cleanup();
  }
});

test('a job exiting 3 ends in ERROR with a fatal errorSummary naming status and last stderr line; wait exits 1', () => {
  const sb = new Sandbox(JOBS);
  try {
    const id = submit(sb, ['fail', '--run']);
    const w = sb.run(['wait', id, '--timeout', WAIT_S]);
    assert.equal(w.code, 1, `wait on a failed job exits 1: ${w.stderr}`);
    const job = sb.job(id);
    assert.equal(job.phase, 'ERROR');
    assert.equal(job.exitCode, 3);
    assert.equal(job.signal, null);
    assert.equal(job.errorSummary?.type, 'fatal');
    assert.match(job.errorSummary.message, /\b3\b/, 'the message gives the status');
    assert.ok(job.errorSummary.message.includes('the last words'), `the message quotes the last stderr line: ${job.errorSummary.message}`);
    assert.ok(!job.errorSummary.message.includes('first line'), 'only the last line');
    assert.match(job.endTime, ISO_MS_Z);
    assert.equal(sb.ok(['logs', id, '--stderr']), 'first line\nthe last words');
  } finally {
    sb.cleanup();
  }
});

test('an exit status above 128 is an exit status, not a death by signal', () => {
  const sb = new Sandbox(JOBS);
  try {
    const id = submit(sb, ['status150', '--run']);
    assert.equal(waitCode(sb, [id]), 1);
    const job = sb.job(id);
    assert.equal(job.phase, 'ERROR');
    // The program called exit(150): nobody sent it a signal (150 - 128 = 22, SIGTTOU).
    assert.deepEqual({ exitCode: job.exitCode, signal: job.signal }, { exitCode: 150, signal: null });
    assert.match(job.errorSummary.message, /150/);
  } finally {
    sb.cleanup();
  }
});

test('a job killed by a signal nobody asked for ends in ERROR with that signal', () => {
  const sb = new Sandbox(JOBS);
  try {
    const id = submit(sb, ['selfkill', '--run']);
    assert.equal(waitCode(sb, [id]), 1);
    const job = sb.job(id);
    assert.equal(job.phase, 'ERROR');
    assert.equal(job.signal, 'SIGKILL');
    assert.equal(job.errorSummary?.type, 'fatal');
    assert.match(job.errorSummary.message, /SIGKILL/);
  } finally {
    sb.cleanup();
  }
});

test('a job killed by a signal: errorSummary quotes the job\'s own last stderr line, stderr.log holds only its output', () => {
  const sb = new Sandbox(JOBS);
  try {
    const id = submit(sb, ['lastwords', '--run']);
    assert.equal(waitCode(sb, [id]), 1);
    const job = sb.job(id);
    assert.equal(job.phase, 'ERROR');
    assert.equal(job.signal, 'SIGKILL');
    assert.match(job.errorSummary.message, /SIGKILL/);
    assert.equal(readFileSync(join(sb.jobDir(id), 'stderr.log'), 'utf8'), 'first words\nmy last words\n',
      'stderr.log holds what the job wrote, nothing added by uwsrun');
    assert.ok(job.errorSummary.message.includes('my last words'), `the last line the job wrote: ${job.errorSummary.message}`);
  } finally {
    sb.cleanup();
  }
});

test('a command that does not exist ends in ERROR (no hang) with a useful errorSummary', () => {
  const sb = new Sandbox(JOBS);
  try {
    const id = submit(sb, ['missing', '--run']);
    const code = waitCode(sb, [id]);
    assert.equal(code, 1, 'wait ends (not 124) and reports the failure');
    const job = sb.job(id);
    assert.equal(job.phase, 'ERROR');
    assert.equal(job.errorSummary?.type, 'fatal');
    assert.ok(job.errorSummary.message.includes('/nonexistent/uwsrun-no-such-program'), `names the program: ${job.errorSummary.message}`);
    assert.match(job.errorSummary.message, /not found|no such file/i);
    assert.equal(job.pid, null);
  } finally {
    sb.cleanup();
  }
});

test('result files (also in subdirectories) are listed with id, path, size and mimeType', () => {
  const sb = new Sandbox(JOBS);
  try {
    const id = submit(sb, ['results', '--run']);
    assert.equal(waitCode(sb, [id]), 0);
    const job = sb.job(id);
    assert.equal(job.phase, 'COMPLETED');
    const dir = join(sb.jobDir(id), 'results');
    const expected = [
      { id: 'a.json', path: join(dir, 'a.json'), size: 7, mimeType: 'application/json' },
      { id: 'noext', path: join(dir, 'noext'), size: 1, mimeType: 'application/octet-stream' },
      { id: 'notes.txt', path: join(dir, 'notes.txt'), size: 6, mimeType: 'text/plain' },
      { id: 'sub/deep/table.csv', path: join(dir, 'sub', 'deep', 'table.csv'), size: 8, mimeType: 'text/csv' },
    ];
    const byId = (a: { id: string }, b: { id: string }) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
    assert.deepEqual([...job.results].sort(byId), expected);
    for (const r of job.results) assert.equal(statSync(r.path).size, r.size, `${r.path} has the size listed`);
    assert.deepEqual(sb.json(['results', id]), job.results, 'results --json prints the same array');
  } finally {
    sb.cleanup();
  }
});

test('a parameter full of shell syntax reaches the program byte for byte as one argument', () => {
  const sb = new Sandbox(JOBS);
  try {
    const pwned = join(sb.dir, 'pwned');
    const value = `$(touch ${pwned}); echo "a b" 'c' \`touch ${pwned}2\` * ? > < | & ; \\ newline\n and unicode é = {v} $UWS_JOB_ID`;
    const id = submit(sb, ['shell', '--run', '-p', `v=${value}`]);
    assert.equal(waitCode(sb, [id]), 0, readFileSync(join(sb.jobDir(id), 'stderr.log'), 'utf8'));
    const job = sb.job(id);
    assert.equal(job.parameters.v, value, 'the record holds the value unchanged');
    assert.equal(job.command[3], value, 'the resolved command holds it as one element');
    assert.equal(job.command.length, 5);
    const [argv, envValue] = JSON.parse(readFileSync(join(sb.jobDir(id), 'results', 'args.json'), 'utf8'));
    assert.deepEqual(argv, [value, join(sb.jobDir(id), 'results', 'args.json')], 'one argument, byte for byte');
    assert.equal(envValue, value, 'UWS_PARAM_V holds the same bytes');
    assert.equal(existsSync(pwned), false, 'no shell ran $(...)');
    assert.equal(existsSync(`${pwned}2`), false, 'no shell ran `...`');
  } finally {
    sb.cleanup();
  }
});

test('a float reaches the program as written; the record holds the typed value', () => {
  const sb = new Sandbox(JOBS);
  try {
    const given = submit(sb, ['floaty', '--run', '-p', 'sigma=3.50']);
    const dflt = submit(sb, ['floaty', '--run']);
    assert.equal(waitCode(sb, [given, dflt]), 0);
    const g = sb.job(given);
    assert.equal(g.parameters.sigma, 3.5);
    assert.equal(g.command.at(-1), '3.50');
    assert.equal(readFileSync(join(sb.jobDir(given), 'stdout.log'), 'utf8'), '3.50|3.50\n');
    const d = sb.job(dflt);
    assert.equal(d.parameters.sigma, 3);
    assert.equal(d.command.at(-1), '3.0');
    assert.equal(readFileSync(join(sb.jobDir(dflt), 'stdout.log'), 'utf8'), '3.0|3.0\n');
  } finally {
    sb.cleanup();
  }
});

test('the job environment: the short list, the definition env, UWS_*; not the submitter\'s other variables', () => {
  const sb = new Sandbox(JOBS);
  try {
    const secret = { SECRET_TOKEN: 'xyz', TZ: 'Europe/Berlin' };
    const short = submit(sb, ['envdump', '--run'], secret);
    const all = submit(sb, ['envall', '--run'], secret);
    assert.equal(waitCode(sb, [short, all]), 0);

    const env = readEnvBin(join(sb.jobDir(short), 'results', 'env.bin'));
    assert.equal(env.PATH, sb.env.PATH);
    assert.equal(env.HOME, sb.dir);
    assert.equal(env.LANG, 'C.UTF-8');
    assert.equal(env.TZ, 'Europe/Berlin');
    assert.equal(env.UWS_JOB_ID, short);
    assert.equal(env.UWS_JOB_DIR, sb.jobDir(short));
    assert.equal(env.UWS_RESULTS_DIR, join(sb.jobDir(short), 'results'));
    assert.equal(env.UWS_PARAM_P, 'pv');
    assert.equal(env.MY_VAR, 'hello world');
    assert.equal(env.OMP_NUM_THREADS, '1');
    assert.equal(env.SECRET_TOKEN, undefined, 'an arbitrary variable of the submitter is not passed');
    assert.equal(env.NO_COLOR, undefined, 'NO_COLOR is not in the short list');
    assert.equal(env.UWSRUN_HOME, undefined, 'uwsrun\'s own variables are not passed');
    // Default cwd: the job's own directory; stdin: /dev/null (empty, and cat did not hang).
    assert.equal(readFileSync(join(sb.jobDir(short), 'results', 'cwd.txt'), 'utf8').trim(), realpathSync(sb.jobDir(short)));
    assert.equal(readFileSync(join(sb.jobDir(short), 'results', 'stdin.txt'), 'utf8'), '');

    const full = readEnvBin(join(sb.jobDir(all), 'results', 'env.bin'));
    assert.equal(full.SECRET_TOKEN, 'xyz', 'inheritEnv: true passes the whole environment');
    assert.equal(full.NO_COLOR, '1');
    assert.equal(full.MY_VAR, 'from definition');
    assert.equal(full.UWS_JOB_ID, all);
    assert.equal(full.PATH, sb.env.PATH);
  } finally {
    sb.cleanup();
  }
});

test('submit --wait implies --run and exits like wait; --timeout gives 124', () => {
  const sb = new Sandbox(JOBS);
  try {
    const ok = sb.run(['submit', 'hello', '--wait']);
    assert.equal(ok.code, 0, ok.stderr);
    const okId = ok.stdout.trim();
    assert.match(okId, ID_RE);
    assert.equal(sb.job(okId).phase, 'COMPLETED', '--wait ran the job');

    const bad = sb.run(['submit', 'fail', '--wait', '--timeout', WAIT_S]);
    assert.equal(bad.code, 1, bad.stderr);
    assert.equal(sb.job(bad.stdout.trim()).phase, 'ERROR');

    const t0 = Date.now();
    const slow = sb.run(['submit', 'sleeper', '--wait', '--timeout', '1']);
    assert.equal(slow.code, 124, slow.stderr);
    assert.ok(Date.now() - t0 < 20_000, 'returned after about the timeout');
    const slowId = slow.stdout.trim();
    assert.match(slowId, ID_RE);
    assert.ok(['QUEUED', 'EXECUTING'].includes(sb.job(slowId).phase), 'the job was run and is still active');
  } finally {
    sb.cleanup();
  }
});

test('wait: --timeout exits 124, an unknown id 3, several ids the highest-precedence code', () => {
  const sb = new Sandbox(JOBS);
  try {
    const good = submit(sb, ['hello', '--run']);
    const bad = submit(sb, ['fail', '--run']);
    const pending = submit(sb, ['hello']);
    const unknown = 'Zz9unknownJob00';

    assert.equal(waitCode(sb, [good]), 0);
    assert.equal(waitCode(sb, [bad]), 1);
    const t0 = Date.now();
    assert.equal(waitCode(sb, [pending], '1'), 124, 'a PENDING job is not final: wait times out');
    assert.ok(Date.now() - t0 < 20_000);
    const u = sb.run(['wait', unknown, '--timeout', WAIT_S]);
    assert.equal(u.code, 3);
    assert.ok(u.stderr.includes(unknown), 'the unknown id is named');
    assert.equal(u.stdout, '');

    assert.equal(waitCode(sb, [good, bad]), 1, '1 beats 0');
    assert.equal(waitCode(sb, [good, bad, unknown]), 3, '3 beats 1');
    assert.equal(waitCode(sb, [unknown, good, bad, pending], '1'), 124, '124 beats 3');
    assert.equal(sb.job(pending).phase, 'PENDING', 'wait does not run a job');
  } finally {
    sb.cleanup();
  }
});

test('editing the YAML after submit does not change the submitted job', () => {
  const before = `
jobs:
  edit:
    command: [sh, -c, 'echo "v1 $WHO $1"', sh, "{p}"]
    env: { WHO: one }
    executionDuration: 100
    parameters:
      p: { type: string, default: first }
`;
  const after = `
jobs:
  edit:
    command: [sh, -c, 'echo "v2 $WHO"']
    env: { WHO: two }
    executionDuration: 5
`;
  const sb = new Sandbox(before);
  try {
    const id = submit(sb, ['edit']);
    const submitted = sb.job(id);
    writeFileSync(sb.jobsFile, after);
    assert.deepEqual(sb.job(id), submitted, 'the record does not follow the file');
    const r = sb.run(['run', id]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(waitCode(sb, [id]), 0);
    const job = sb.job(id);
    assert.deepEqual(job.command, submitted.command);
    assert.equal(job.executionDuration, 100);
    assert.deepEqual(job.parameters, { p: 'first' });
    assert.equal(readFileSync(join(sb.jobDir(id), 'stdout.log'), 'utf8'), 'v1 one first\n');
  } finally {
    sb.cleanup();
  }
});
