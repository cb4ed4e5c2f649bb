// Black-box: exit codes of SPEC §9 and the promise that bad input writes nothing (§3, §8).
// Every error is one line on stderr with nothing on stdout.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ID_RE, ROOT, Sandbox, type Run } from '../helpers.js';

const JOBS = `jobs:
  alpha:
    command: [echo, "{count}", "{when}", "{night}"]
    parameters:
      count: { type: integer, default: 1, min: 1, max: 10 }
      when: { type: datetime, default: "2024-01-01T00:00:00Z" }
      flag: { type: boolean, default: false }
      night: { type: date, required: true }
  beta:
    command: [echo, beta]
`;

/** An error: the exit code, one line on stderr, nothing on stdout. */
function assertError(r: Run, code: number, what: string): string {
  assert.equal(r.code, code, `${what}: exit ${code} expected, got ${r.code} (stderr: ${r.stderr})`);
  assert.equal(r.stdout, '', `${what}: nothing on stdout`);
  const lines = r.stderr.split('\n').filter((l) => l.trim() !== '');
  assert.equal(lines.length, 1, `${what}: one line on stderr, got ${JSON.stringify(r.stderr)}`);
  return lines[0]!;
}

/** Every usage error of submit that must write nothing; [args, substrings the message must hold]. */
const BAD_SUBMITS: [string[], string[]][] = [
  [['submit', 'gamma'], ['gamma', 'alpha', 'beta']],
  [['submit', 'alpha', '-p', 'night=2024-01-01', '-p', 'colour=red'], ['colour', 'count', 'when', 'flag', 'night']],
  [['submit', 'alpha', '-p', 'night=2024-01-01', '-p', 'count=many'], ['count', 'many', 'integer']],
  [['submit', 'alpha', '-p', 'night=2024-01-01', '-p', 'flag=yes'], ['flag', 'yes', 'boolean']],
  [['submit', 'alpha', '-p', 'night=2024-02-30'], ['night', '2024-02-30', 'date']],
  [['submit', 'alpha', '-p', 'night=2024-01-01', '-p', 'when=2024-01-01T00:00:00'], ['when', '2024-01-01T00:00:00', 'datetime']],
  [['submit', 'alpha', '-p', 'night=2024-01-01', '-p', 'count=11'], ['count', '11']],
  [['submit', 'alpha'], ['night']],
  [['submit', 'alpha', '-p', 'night=2024-01-01', '-p', 'night=2024-01-02'], ['night']],
  [['submit', 'alpha', '-p', 'night'], ['night']],
  [['submit', 'alpha', '-p', 'night=2024-01-01', '--execution-duration', '-1'], ['--execution-duration', '-1']],
  [['submit', 'alpha', '-p', 'night=2024-01-01', '--execution-duration', '1.5'], ['--execution-duration', '1.5']],
  [['submit', 'alpha', '-p', 'night=2024-01-01', '--execution-duration', '2147483648'], ['--execution-duration', '2147483648']],
  [['submit', 'alpha', '-p', 'night=2024-01-01', '--destruction', '2001-01-01T00:00:00Z'], ['--destruction', '2001-01-01T00:00:00Z']],
  [['submit', 'alpha', '-p', 'night=2024-01-01', '--destruction', 'tomorrow'], ['--destruction', 'tomorrow']],
  [['submit', 'alpha', '-p', 'night=2024-01-01', '--run', '--bogus'], ['--bogus']],
  [['submit', 'alpha', '-p', 'night=2024-01-01', '--run', '--json', '--xml'], ['--json', '--xml']],
];

function snapshot(sb: Sandbox): { jobs: string[]; state: string | null } {
  // Record directories: a job that never started has no job directory.
  const jobsDir = join(sb.home, 'records');
  return {
    jobs: existsSync(jobsDir) ? readdirSync(jobsDir).sort() : [],
    state: existsSync(join(sb.home, 'state.json')) ? readFileSync(join(sb.home, 'state.json'), 'utf8') : null,
  };
}

test('exit 2 for bad usage: unknown command, unknown option, --json with --xml, bad job ids', () => {
  const sb = new Sandbox(JOBS);
  try {
    const cases: [string[], string[]][] = [
      [['frobnicate'], ['frobnicate']],
      [['list', '--frob'], ['--frob']],
      [['--frob', 'list'], ['--frob']],
      [['list', '--json', '--xml'], ['--json', '--xml']],
      [['--json', 'show', 'abcdefgh', '--xml'], ['--json', '--xml']],
      [['show', '../etc'], ['../etc']],
      [['show', 'a'], ['"a"']],
      [['phase', '../../etc/passwd'], ['../../etc/passwd']],
      [['run', '../etc'], ['../etc']],
      [['wait', 'a'], ['"a"']],
      [['logs', '-abc'], []],
      [['results', 'abc/defgh'], ['abc/defgh']],
      [['show', `${'a'.repeat(33)}`], ['a'.repeat(33)]],
      [['limit', '10001'], ['10001']],
      [['show', 'abc'], ['"abc"']],
      [['phase', 'abcd', '--xml'], ['--xml']],
      [['submit', 'alpha', '--xml'], ['--xml']],
    ];
    for (const [args, needles] of cases) {
      const line = assertError(sb.run(args), 2, args.join(' '));
      for (const n of needles) assert.ok(line.includes(n), `${args.join(' ')}: message names ${n}: ${line}`);
      assert.equal(existsSync(sb.home), false, `${args.join(' ')}: the HOME was not created`);
    }
  } finally {
    sb.cleanup();
  }
});

test('limit with a value that is not a number: exit 2, the message names the value', () => {
  const sb = new Sandbox(JOBS);
  try {
    for (const bad of ['two', '1.5', '-3']) {
      const line = assertError(sb.run(['limit', bad]), 2, `limit ${bad}`);
      assert.ok(line.includes(bad), `limit ${bad}: the message names the value given: ${line}`);
    }
    assert.equal(existsSync(sb.home), false);
  } finally {
    sb.cleanup();
  }
});

test('exit 2 for bad submit input, and nothing is written (fresh HOME and existing HOME)', () => {
  const sb = new Sandbox(JOBS);
  try {
    for (const [args, needles] of BAD_SUBMITS) {
      const line = assertError(sb.run(args), 2, args.join(' '));
      for (const n of needles) assert.ok(line.includes(n), `${args.join(' ')}: message names ${n}: ${line}`);
      assert.equal(existsSync(sb.home), false, `${args.join(' ')}: the HOME was not created`);
    }
    // The message for an unknown definition lists the known ones, for a missing parameter names it.
    assert.match(assertError(sb.run(['submit', 'gamma']), 2, 'unknown definition'), /alpha.*beta|beta.*alpha/);

    // Now with an existing HOME holding one job: nothing changes either.
    const id = sb.ok(['submit', 'beta']);
    assert.match(id, ID_RE);
    const before = snapshot(sb);
    assert.deepEqual(before.jobs, [id]);
    for (const [args] of BAD_SUBMITS) {
      assertError(sb.run(args), 2, args.join(' '));
      assert.deepEqual(snapshot(sb), before, `${args.join(' ')}: jobs/ and state.json unchanged`);
    }
    assert.deepEqual(sb.json<any[]>(['list']).map((j) => j.jobId), [id]);
  } finally {
    sb.cleanup();
  }
});

test('exit 2 for a YAML syntax error (file:line:column) and a schema error (file:line:column and dotted path)', () => {
  const sb = new Sandbox(JOBS);
  try {
    const syntax = join(sb.dir, 'syntax.yaml');
    writeFileSync(syntax, 'jobs:\n  x:\n    command: [echo]\n    description: a: b\n');
    let line = assertError(sb.run(['submit', '-f', syntax, 'x']), 2, 'YAML syntax error');
    assert.match(line, new RegExp(`${syntax.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:4:\\d+`), `file:line:column of the error: ${line}`);
    assert.equal(existsSync(sb.home), false);

    // One mistake that yaml reports as three errors: still one line, for submit and validate.
    const cascade = join(sb.dir, 'cascade.yaml');
    writeFileSync(cascade, '- a\nb: 1\n');
    for (const args of [['submit', '-f', cascade, 'x'], ['validate', '-f', cascade]]) {
      line = assertError(sb.run(args), 2, `${args[0]} of a YAML error that cascades`);
      assert.match(line, /cascade\.yaml:2:1: .*\(and 2 more YAML errors after it\)$/, line);
    }
    assert.equal(existsSync(sb.home), false);

    const schema = join(sb.dir, 'schema.yaml');
    writeFileSync(schema, [
      'jobs:',
      '  x:',
      '    command: [echo, "{y}"]',
      '    parameters:',
      '      y: { type: integer, default: 1, min: abc }',
      '',
    ].join('\n'));
    line = assertError(sb.run(['submit', '-f', schema, 'x']), 2, 'schema error');
    assert.ok(line.includes(`${schema}:5:`), `file:line of the culprit: ${line}`);
    assert.match(line, /:5:\d+/);
    assert.ok(line.includes('jobs.x.parameters.y.min'), `dotted path: ${line}`);
    assert.equal(existsSync(sb.home), false);

    // A bad key in the defaults block, via $UWSRUN_JOBS this time.
    const defaults = join(sb.dir, 'defaults.yaml');
    writeFileSync(defaults, 'defaults:\n  killGrace: -3\njobs:\n  x:\n    command: [echo]\n');
    line = assertError(sb.run(['submit', 'x'], { UWSRUN_JOBS: defaults }), 2, 'schema error in defaults');
    assert.ok(line.includes(`${defaults}:2:`), line);
    assert.ok(line.includes('defaults.killGrace'), line);

    // The same file through validate.
    line = assertError(sb.run(['validate', schema]), 2, 'validate');
    assert.ok(line.includes('jobs.x.parameters.y.min'));
    assert.equal(existsSync(sb.home), false, 'nothing was created by any of these');

    // With an existing HOME: jobs/ unchanged.
    sb.ok(['submit', 'beta']);
    const before = snapshot(sb);
    assertError(sb.run(['submit', '-f', syntax, 'x']), 2, 'syntax, existing HOME');
    assertError(sb.run(['submit', '-f', schema, 'x', '--run']), 2, 'schema, existing HOME');
    assert.deepEqual(snapshot(sb), before);
  } finally {
    sb.cleanup();
  }
});

test('exit 3 for show, phase, run, logs, results, wait of a well-formed unknown id', () => {
  const sb = new Sandbox(JOBS);
  try {
    const unknown = 'NoSuchJob123';
    for (const args of [['show', unknown], ['show', unknown, '--json'], ['phase', unknown], ['logs', unknown], ['logs', unknown, '--stderr'],
      ['results', unknown], ['results', unknown, '--json'], ['wait', unknown], ['run', unknown]]) {
      const line = assertError(sb.run(args), 3, args.join(' '));
      assert.ok(line.includes(unknown), `names the id: ${line}`);
    }
    // Same in a HOME that exists and holds other jobs.
    sb.ok(['submit', 'beta']);
    for (const cmd of ['show', 'phase', 'run', 'logs', 'results']) {
      assertError(sb.run([cmd, unknown]), 3, `${cmd} in an existing HOME`);
    }
  } finally {
    sb.cleanup();
  }
});

test('exit 5 for a state.json that is not JSON, which is never overwritten', () => {
  const sb = new Sandbox(JOBS);
  try {
    const id = sb.ok(['submit', 'beta']);
    assert.match(id, ID_RE);
    const stateFile = join(sb.home, 'state.json');
    const garbage = Buffer.from('{"version": 1, "jobs": {"trunc\u0000ated\xff garbage', 'latin1');
    writeFileSync(stateFile, garbage);
    const jobsBefore = readdirSync(join(sb.home, 'records')).sort();
    for (const args of [['list'], ['list', '--json'], ['show', id], ['phase', id], ['submit', 'beta'], ['submit', 'beta', '--run'],
      ['run', id], ['limit', '3'], ['limit'], ['wait', id, '--timeout', '5']]) {
      const line = assertError(sb.run(args), 5, args.join(' '));
      assert.ok(line.includes(stateFile), `${args.join(' ')}: the message names ${stateFile}: ${line}`);
      assert.deepEqual(readFileSync(stateFile), garbage, `${args.join(' ')}: state.json bytes unchanged`);
    }
    assert.deepEqual(readdirSync(join(sb.home, 'records')).sort(), jobsBefore, 'no job was created');
  } finally {
    sb.cleanup();
  }
});

test('-V and --version print the version, exit 0', () => {
  const sb = new Sandbox(JOBS);
  try {
    const version = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version as string;
    for (const flag of ['-V', '--version']) {
      const r = sb.run([flag]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.trim(), version);
      assert.equal(r.stderr, '');
    }
    assert.equal(existsSync(sb.home), false);
  } finally {
    sb.cleanup();
  }
});
