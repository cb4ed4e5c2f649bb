// Job definitions (SPEC §3): loading and checking the YAML file, every error as one line with
// file:line:column and path; parameter values of every type; placeholder substitution
// without a shell; the job environment; the time parsers of core/duration.ts; and the
// shipped jobs.example.yaml, which must load and really run.

import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EXIT, UserError } from '../../src/errors.js';
import { getDefinition, loadDefinitions, type Definition } from '../../src/definitions/load.js';
import { parseParamAssignment, resolveParameterObject, resolveParameters } from '../../src/definitions/params.js';
import { buildJobEnv, substituteCommand } from '../../src/definitions/substitute.js';
import { parseDestruction, parseDuration } from '../../src/core/duration.js';

const root = mkdtempSync(join(tmpdir(), 'uwsrun-definitions-'));
after(() => rmSync(root, { recursive: true, force: true }));
let fileCount = 0;

/** Writes `text` as a fresh `jobs.yaml` and returns its path. */
function writeDefs(text: string): string {
  const dir = join(root, `defs-${++fileCount}`);
  mkdirSync(dir);
  const file = join(dir, 'jobs.yaml');
  writeFileSync(file, text);
  return file;
}

const load = (text: string) => loadDefinitions(writeDefs(text));

/** The UserError `fn` throws; checks it is exit 2 and each of its problems one line. */
function usageErrorOf(fn: () => unknown): UserError {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof UserError, `expected a UserError, got ${String(caught)}`);
  assert.equal(caught.exitCode, EXIT.usage);
  for (const problem of caught.problems) assert.ok(!problem.includes('\n'), `one line: ${JSON.stringify(problem)}`);
  return caught;
}

/** Every problem of loading `text`, in the order reported, the temp directory cut off. */
function loadErrors(text: string): string[] {
  const file = writeDefs(text);
  return usageErrorOf(() => loadDefinitions(file)).problems.map((p) => p.replace(file, 'jobs.yaml'));
}

/** The message of loading `text`, with the temp directory cut off so it starts `jobs.yaml:`. */
function loadError(text: string): string {
  const file = writeDefs(text);
  return usageErrorOf(() => loadDefinitions(file)).message.replace(file, 'jobs.yaml');
}

/** A file with one definition `a`, the given parameters block and command. */
const withParams = (params: string, command = '[x]') =>
  `jobs:\n  a:\n    command: ${command}\n    parameters:\n${params}`;

describe('definitions file: YAML and schema errors name file:line:column and the path', () => {
  test('a YAML syntax error', () => {
    assert.equal(loadError('jobs:\n  a: [1, 2\n  b: 3\n'),
      'jobs.yaml:3:3: Flow sequence in block collection must be sufficiently indented and end with a ]');
  });

  test('one YAML mistake that yaml reports as several errors: the first, with the rest counted, on one line', () => {
    assert.equal(loadError('- a\nb: 1\n'), 'jobs.yaml:2:1: Unexpected scalar at node end (and 2 more YAML errors after it)');
  });

  test('a duplicate key is a YAML error', () => {
    assert.equal(loadError('jobs:\n  a:\n    command: [x]\n  a:\n    command: [y]\n'), 'jobs.yaml:4:3: Map keys must be unique');
  });

  test('a missing file', () => {
    const missing = join(root, 'no-such-dir', 'jobs.yaml');
    const err = usageErrorOf(() => loadDefinitions(missing));
    assert.match(err.message, /^cannot read definitions file .*no-such-dir\/jobs\.yaml: no such file; give -f FILE or set UWSRUN_JOBS$/);
  });

  test('a number where text is expected (the example of SPEC §3)', () => {
    const text = [
      'jobs:',
      '  reduce:',
      '    command: [x]',
      '    parameters:',
      '      sigma:',
      '        type: float',
      '        min: zero',
    ].join('\n');
    assert.equal(loadError(text), 'jobs.yaml:7:14: jobs.reduce.parameters.sigma.min: expected a number, got "zero"');
  });

  test('an unknown key names itself and the closest known key, or the allowed keys', () => {
    assert.equal(loadError(withParams('      sigma: { type: float, defualt: 3 }\n')),
      'jobs.yaml:5:29: jobs.a.parameters.sigma.defualt: unknown key "defualt" (did you mean "default"?)');
    assert.equal(loadError(withParams('      sigma: { type: float, fallback: 3 }\n')),
      'jobs.yaml:5:29: jobs.a.parameters.sigma.fallback: unknown key "fallback"; allowed: type, description, default, required, enum, min, max, pattern');
    assert.equal(loadError('defaults:\n  maxRunning: 3\njobs: {}\n'),
      'jobs.yaml:2:3: defaults.maxRunning: unknown key "maxRunning"; allowed: executionDuration, destruction, killGrace, archive, executor');
    // `comand` is the only problem named: that `command` is then missing follows from it.
    assert.deepEqual(loadErrors('jobs:\n  a:\n    comand: [echo, hi]\n'),
      ['jobs.yaml:3:5: jobs.a.comand: unknown key "comand" (did you mean "command"?)']);
    assert.deepEqual(loadErrors('jobs:\n  a:\n    Command: [echo]\n    comand: [echo]\n    slurm: {partiton: x}\n'), [
      'jobs.yaml:3:5: jobs.a.Command: unknown key "Command" (did you mean "command"?)',
      'jobs.yaml:4:5: jobs.a.comand: unknown key "comand" (did you mean "command"?)',
      'jobs.yaml:5:13: jobs.a.slurm.partiton: unknown key "partiton" (did you mean "partition"?)',
    ]);
    assert.deepEqual(loadErrors('jobz:\n  a: {}\n'), ['jobs.yaml:1:1: jobz: unknown key "jobz" (did you mean "jobs"?)']);
  });

  test('an unknown parameter type lists the types', () => {
    assert.equal(loadError(withParams('      s: {type: flaot}\n')),
      'jobs.yaml:5:17: jobs.a.parameters.s.type: expected one of string, integer, float, boolean, date, datetime, got "flaot"');
  });

  test('a missing or empty file, or no jobs key', () => {
    assert.equal(loadError(''), 'jobs.yaml:1:1: expected a mapping, got nothing');
    assert.equal(loadError('defaults: {}\n'), 'jobs.yaml:1:1: missing required key "jobs"');
    assert.equal(loadError('jobs:\n  - a\n  - b\n'), 'jobs.yaml:2:3: jobs: expected a mapping, got a list');
  });

  test('command must be a non-empty list of strings', () => {
    assert.equal(loadError('jobs:\n  a:\n    description: hi\n'), 'jobs.yaml:3:5: jobs.a: missing required key "command"');
    assert.equal(loadError('jobs:\n  a:\n    command: []\n'),
      'jobs.yaml:3:14: jobs.a.command: expected a non-empty list: the program and its arguments');
    assert.equal(loadError('jobs:\n  a:\n    command: echo hi\n'),
      'jobs.yaml:3:14: jobs.a.command: expected a list: the program and its arguments, got "echo hi"');
    assert.equal(loadError('jobs:\n  a:\n    command: [x, {y: 1}]\n'), 'jobs.yaml:3:18: jobs.a.command[1]: expected a string, got a mapping');
    assert.equal(loadError('jobs:\n  a:\n    command: ["", x]\n'), 'jobs.yaml:3:15: jobs.a.command[0]: the program name is empty');
  });

  test('a placeholder must name a declared parameter or a built-in', () => {
    assert.equal(loadError(withParams('      name: {default: w}\n', '[echo, "{nmae}"]')),
      'jobs.yaml:3:21: jobs.a.command[1]: unknown placeholder {nmae}; declared parameters: name; built-in: jobId, jobDir, resultsDir');
    assert.equal(loadError('jobs:\n  a:\n    command: [echo, "{x}"]\n'),
      'jobs.yaml:3:21: jobs.a.command[1]: unknown placeholder {x}; no parameters are declared; built-in: jobId, jobDir, resultsDir');
  });

  test('a placeholder may not name a parameter that can be absent', () => {
    assert.equal(loadError(withParams('      name: {type: string}\n', '[echo, "{name}"]')),
      'jobs.yaml:3:21: jobs.a.command[1]: placeholder {name} may have no value: give parameter name a default or required: true');
  });

  test('a stray brace is an error; doubled braces are literal', () => {
    assert.equal(loadError(withParams('      name: {default: w}\n', '[echo, "}{name}"]')),
      'jobs.yaml:3:21: jobs.a.command[1]: a single } at "}{name}" (write }} for a literal brace)');
    assert.match(loadError('jobs:\n  a:\n    command: [python3, -c, "print({1: 2})"]\n'),
      /^jobs\.yaml:3:28: jobs\.a\.command\[2\]: a \{ that does not start a placeholder \{name\} at "\{1: 2\}\)"/);
    const file = load('jobs:\n  a:\n    command: [python3, -c, "print({{1: 2}}, \'{jobId}\')"]\n');
    assert.deepEqual(substituteCommand(getDefinition(file, 'a').command, { jobId: 'J' }), ['python3', '-c', "print({1: 2}, 'J')"]);
  });

  test('a default must satisfy type, enum, min, max and pattern', () => {
    assert.equal(loadError(withParams('      s: {type: float, default: abc}\n')),
      'jobs.yaml:5:33: jobs.a.parameters.s.default: "abc" is not a float');
    assert.equal(loadError(withParams('      m: {enum: [fast, full], default: slow}\n')),
      'jobs.yaml:5:40: jobs.a.parameters.m.default: "slow" is not one of fast, full');
    assert.equal(loadError(withParams('      s: {type: float, min: 0, default: -1}\n')),
      'jobs.yaml:5:41: jobs.a.parameters.s.default: "-1" is less than the minimum 0');
    assert.equal(loadError(withParams('      s: {type: integer, max: 5, default: 6}\n')),
      'jobs.yaml:5:43: jobs.a.parameters.s.default: "6" is greater than the maximum 5');
    assert.equal(loadError(withParams('      s: {pattern: "[a-z]+", default: "A1"}\n')),
      'jobs.yaml:5:39: jobs.a.parameters.s.default: "A1" does not match the pattern [a-z]+');
    assert.equal(loadError(withParams('      d: {type: date, default: 2024-02-30}\n')),
      'jobs.yaml:5:32: jobs.a.parameters.d.default: "2024-02-30" is not a date (YYYY-MM-DD)');
    assert.equal(loadError(withParams('      s: {type: integer, default: 0x10}\n')),
      'jobs.yaml:5:35: jobs.a.parameters.s.default: "0x10" is not an integer');
  });

  test('required: true with a default is an error', () => {
    assert.equal(loadError(withParams('      s: {required: true, default: 1}\n')),
      'jobs.yaml:5:21: jobs.a.parameters.s.required: a parameter with a default cannot be required');
  });

  test('enum values must match the type', () => {
    assert.equal(loadError(withParams('      n: {type: integer, enum: [1, two]}\n')),
      'jobs.yaml:5:36: jobs.a.parameters.n.enum[1]: expected an integer, got "two"');
  });

  test('a pattern must compile; min, max and pattern only where they make sense', () => {
    assert.equal(loadError(withParams('      s: {pattern: "(a"}\n')),
      'jobs.yaml:5:20: jobs.a.parameters.s.pattern: "(a" is not a valid regular expression (Unterminated group)');
    assert.equal(loadError(withParams('      s: {type: string, min: 1}\n')),
      'jobs.yaml:5:30: jobs.a.parameters.s.min: min applies only to integer and float parameters, not string');
    assert.equal(loadError(withParams('      s: {type: integer, pattern: "1+"}\n')),
      'jobs.yaml:5:35: jobs.a.parameters.s.pattern: pattern applies only to string parameters, not integer');
    assert.equal(loadError(withParams('      s: {type: integer, min: 5, max: 1}\n')),
      'jobs.yaml:5:39: jobs.a.parameters.s.max: max 1 is less than min 5');
  });

  test('parameter and definition names are checked', () => {
    assert.equal(loadError(withParams('      2x: {type: string}\n')),
      'jobs.yaml:5:7: jobs.a.parameters.2x: "2x" is not a valid parameter name ([A-Za-z_][A-Za-z0-9_]*)');
    assert.equal(loadError('jobs:\n  -x:\n    command: [x]\n'),
      'jobs.yaml:2:3: jobs.-x: "-x" is not a valid definition name ([A-Za-z0-9][A-Za-z0-9_.-]*)');
    assert.equal(loadError('jobs:\n  constructor:\n    command: [x]\n'), 'jobs.yaml:2:3: jobs.constructor: the name constructor is reserved');
    assert.equal(loadError(withParams('      jobId: {type: string}\n')),
      'jobs.yaml:5:7: jobs.a.parameters.jobId: the name jobId is reserved for the built-in placeholder {jobId}');
    // {phase} is the notifier's own placeholder: a parameter so named is refused where a
    // notify block would shadow it, and allowed where there is none.
    assert.equal(loadError('jobs:\n  a:\n    command: [x]\n    parameters:\n      phase: {type: string}\n    notify: {command: [mail, "{phase}"]}\n'),
      'jobs.yaml:5:7: jobs.a.parameters.phase: the name phase is reserved for the notifier\'s built-in placeholder {phase} (this definition has a notify block)');
    assert.doesNotThrow(() => load(withParams('      phase: {type: string}\n')));
    assert.equal(loadError(withParams('      night: {}\n      NIGHT: {}\n')),
      'jobs.yaml:6:7: jobs.a.parameters.NIGHT: parameters night and NIGHT would both be UWS_PARAM_NIGHT');
  });

  test('limits: durations with units or whole seconds, maxRunning', () => {
    const job = (line: string) => `jobs:\n  a:\n    command: [x]\n    ${line}\n`;
    const range = 'a duration (90s, 30m, 12h, 7d, or whole seconds; 0 to 2147483647 seconds)';
    assert.equal(loadError(job('executionDuration: -1')), `jobs.yaml:4:24: jobs.a.executionDuration: expected ${range}, got "-1"`);
    assert.equal(loadError(job('executionDuration: 2.5')), `jobs.yaml:4:24: jobs.a.executionDuration: expected ${range}, got "2.5"`);
    assert.equal(loadError(job('killGrace: 2147483648')), `jobs.yaml:4:16: jobs.a.killGrace: expected ${range}, got "2147483648"`);
    assert.equal(loadError(job('killGrace: 24856d')), `jobs.yaml:4:16: jobs.a.killGrace: expected ${range}, got "24856d"`);
    assert.equal(loadError(job('retryDelay: 5 min')), `jobs.yaml:4:17: jobs.a.retryDelay: expected ${range}, got "5 min"`);
    const units = getDefinition(load(job('executionDuration: 2h\n    killGrace: 30s\n    retryDelay: 5m\n    destruction: 1d')), 'a');
    assert.deepEqual([units.executionDuration, units.killGrace, units.retryDelay, units.destruction], [7200, 30, 300, 86400]);
    assert.equal(getDefinition(load(job('executionDuration: 24855d')), 'a').executionDuration, 24855 * 86400);
    assert.match(loadError(job('destruction: 7 days')), /^jobs\.yaml:4:18: jobs\.a\.destruction: expected a duration \(90s, 30m, 12h, 7d.*, got "7 days"$/);
    assert.match(loadError('defaults:\n  destruction: 1.5\njobs: {}\n'), /^jobs\.yaml:2:16: defaults\.destruction: expected a duration .*, got "1\.5"$/);
    assert.equal(loadError(job('maxRunning: 0')), 'jobs.yaml:4:17: jobs.a.maxRunning: expected a whole number of at least 1, got 0');
    assert.equal(loadError(job('archive: yes')), 'jobs.yaml:4:14: jobs.a.archive: expected true or false, got "yes"');
  });

  test('env: names are checked and UWS_ names are uwsrun\'s', () => {
    const job = (line: string) => `jobs:\n  a:\n    command: [x]\n    ${line}\n`;
    assert.equal(loadError(job('env: {UWS_X: 1}')), 'jobs.yaml:4:11: jobs.a.env.UWS_X: variables starting with UWS_ are set by uwsrun');
    assert.equal(loadError(job('env: {"A B": 1}')),
      'jobs.yaml:4:11: jobs.a.env["A B"]: "A B" is not a valid variable name ([A-Za-z_][A-Za-z0-9_]*)');
    assert.equal(loadError(job('env: {A: }')), 'jobs.yaml:4:11: jobs.a.env.A: expected a single value, got nothing');
  });

  test('a NUL character, which no process can receive, is refused at load', () => {
    assert.equal(loadError('jobs:\n  a:\n    command: [x, "a\\0b"]\n'), 'jobs.yaml:3:18: jobs.a.command[1]: contains a NUL character');
    assert.equal(loadError('jobs:\n  a:\n    command: [x]\n    env: {A: "\\0"}\n'), 'jobs.yaml:4:14: jobs.a.env.A: contains a NUL character');
  });

  test('every error of a file is reported, in file order', () => {
    const text = 'jobs:\n  a:\n    bogus: 1\n    command: 5\n';
    assert.deepEqual(loadErrors(text), [
      'jobs.yaml:3:5: jobs.a.bogus: unknown key "bogus"; allowed: description, command, cwd, env, inheritEnv, parameters, executionDuration, destruction, killGrace, archive, executor, maxRunning, slurm, retries, retryDelay, notify',
      'jobs.yaml:4:14: jobs.a.command: expected a list: the program and its arguments, got 5',
    ]);
    // Shape errors, rule errors of the parts whose shape is right, and other definitions.
    assert.deepEqual(loadErrors([
      'defaults:',
      '  killGrace: soon',
      'jobs:',
      '  a:',
      '    comand: [x]',
      '    cwd: ~/data',
      '    parameters:',
      '      n: { type: integer, default: abc }',
      '      s: { type: float, mni: 0 }',
      '  b:',
      '    command: [echo, "{x}"]',
      '    retries: -1',
    ].join('\n')), [
      'jobs.yaml:2:14: defaults.killGrace: expected a duration (90s, 30m, 12h, 7d, or whole seconds; 0 to 2147483647 seconds), got "soon"',
      'jobs.yaml:5:5: jobs.a.comand: unknown key "comand" (did you mean "command"?)',
      'jobs.yaml:6:10: jobs.a.cwd: "~/data": ~ is not expanded (no shell reads cwd); write the full path, or a path relative to the directory of this file',
      'jobs.yaml:8:36: jobs.a.parameters.n.default: "abc" is not an integer',
      'jobs.yaml:9:25: jobs.a.parameters.s.mni: unknown key "mni" (did you mean "min"?)',
      'jobs.yaml:11:21: jobs.b.command[1]: unknown placeholder {x}; no parameters are declared; built-in: jobId, jobDir, resultsDir',
      'jobs.yaml:12:14: jobs.b.retries: expected a whole number of at least 0, got -1',
    ]);
  });

  test('an alias to no anchor', () => {
    assert.equal(loadError('jobs:\n  a:\n    command: *nope\n'), 'jobs.yaml:3:14: unknown alias *nope');
  });
});

describe('definitions file: defaults, overrides and source text', () => {
  test('built-in defaults when there is no defaults block', () => {
    const def = getDefinition(load('jobs:\n  a:\n    command: [x]\n'), 'a');
    assert.deepEqual(
      { ...def, parameters: undefined },
      {
        name: 'a', description: null, command: ['x'], cwd: null, env: {}, inheritEnv: false, parameters: undefined,
        executionDuration: 0, destruction: 7 * 86400, killGrace: 5, archive: false, maxRunning: null,
        executor: 'local', slurm: null, retries: 0, retryDelay: 0, notify: null,
      },
    );
  });

  test('the keys of later features are accepted and their shapes checked (SPEC §3, §11, §13)', () => {
    const def = getDefinition(load([
      'defaults:',
      '  executor: local',
      'jobs:',
      '  a:',
      '    command: [x, "{night}"]',
      '    executor: slurm',
      '    slurm: { partition: debug, account: astro, options: [--mem=4G, "--comment=two words", --exclusive] }',
      '    retries: 2',
      '    retryDelay: 5m',
      '    maxRunning: 1',
      '    inheritEnv: true',
      '    notify: { command: [mail, -s, "uwsrun {jobId} {phase} {night}", ops@example.org] }',
      '    parameters:',
      '      night: { type: date, required: true }',
    ].join('\n')), 'a');
    assert.equal(def.executor, 'slurm');
    assert.deepEqual(def.slurm, { partition: 'debug', account: 'astro', options: ['--mem=4G', '--comment=two words', '--exclusive'] });
    assert.deepEqual([def.retries, def.retryDelay, def.maxRunning, def.inheritEnv], [2, 300, 1, true]);
    assert.deepEqual(def.notify, { command: ['mail', '-s', 'uwsrun {jobId} {phase} {night}', 'ops@example.org'], on: ['ERROR', 'ABORTED'] });
    assert.equal(getDefinition(load('defaults:\n  executor: slurm\njobs:\n  a:\n    command: [x]\n'), 'a').executor, 'slurm');

    const job = (line: string) => `jobs:\n  a:\n    command: [x]\n    ${line}\n`;
    assert.equal(loadError(job('executor: pbs')), 'jobs.yaml:4:15: jobs.a.executor: expected one of local, slurm, got "pbs"');
    assert.equal(loadError(job('slurm: { options: ["--mem 4G"] }')),
      'jobs.yaml:4:24: jobs.a.slurm.options[0]: "--mem 4G" is not one sbatch option of the form --name or --name=value');
    assert.equal(loadError(job('slurm: { options: [-n4] }')),
      'jobs.yaml:4:24: jobs.a.slurm.options[0]: "-n4" is not one sbatch option of the form --name or --name=value');
    assert.equal(loadError(job('slurm: { options: --mem=4G }')),
      'jobs.yaml:4:23: jobs.a.slurm.options: expected a list of sbatch options such as [--mem=4G, --cpus-per-task=4], got "--mem=4G"');
    assert.equal(loadError(job('retries: 1.5')), 'jobs.yaml:4:14: jobs.a.retries: expected a whole number of at least 0, got 1.5');
    assert.equal(loadError(job('notify: { command: [] }')),
      'jobs.yaml:4:24: jobs.a.notify.command: expected a non-empty list: the program and its arguments');
    assert.equal(loadError(job('notify: { command: [mail], on: [DONE] }')),
      'jobs.yaml:4:37: jobs.a.notify.on[0]: expected one of COMPLETED, ERROR, ABORTED, got "DONE"');
    assert.equal(loadError(job('notify: { command: [mail, "{sigma}"] }')),
      'jobs.yaml:4:31: jobs.a.notify.command[1]: unknown placeholder {sigma}; no parameters are declared; built-in: jobId, jobDir, resultsDir, phase');
    assert.equal(loadError(job('notify: { comand: [mail] }')), 'jobs.yaml:4:15: jobs.a.notify.comand: unknown key "comand" (did you mean "command"?)');
  });

  test('cwd: relative to the file\'s directory; ~ is refused', () => {
    const file = writeDefs('jobs:\n  a:\n    command: [x]\n    cwd: data/in\n  b:\n    command: [x]\n    cwd: /srv/x\n');
    const defs = loadDefinitions(file);
    assert.equal(getDefinition(defs, 'a').cwd, join(file, '..', 'data', 'in'));
    assert.equal(getDefinition(defs, 'b').cwd, '/srv/x');
    for (const cwd of ['~', '~/data', '~ops/data']) {
      assert.equal(loadError(`jobs:\n  a:\n    command: [x]\n    cwd: ${cwd}\n`),
        `jobs.yaml:4:10: jobs.a.cwd: ${JSON.stringify(cwd)}: ~ is not expanded (no shell reads cwd); write the full path, or a path relative to the directory of this file`);
    }
    assert.equal(getDefinition(load('jobs:\n  a:\n    command: [x]\n    cwd: /srv/~x\n'), 'a').cwd, '/srv/~x');
  });

  test('the defaults block applies; a definition\'s own values win', () => {
    const file = load([
      'defaults:',
      '  executionDuration: 60',
      '  destruction: 12h',
      '  killGrace: 2',
      '  archive: true',
      'jobs:',
      '  plain:',
      '    command: [x]',
      '  own:',
      '    command: [x]',
      '    executionDuration: 7200',
      '    destruction: 0',
      '    killGrace: 9',
      '    archive: false',
      '    maxRunning: 1',
      '  seconds:',
      '    command: [x]',
      '    destruction: 90',
      '',
    ].join('\n'));
    const pick = (d: Definition) => [d.executionDuration, d.destruction, d.killGrace, d.archive, d.maxRunning];
    assert.deepEqual(pick(getDefinition(file, 'plain')), [60, 12 * 3600, 2, true, null]);
    assert.deepEqual(pick(getDefinition(file, 'own')), [7200, 0, 9, false, 1]);
    assert.deepEqual(pick(getDefinition(file, 'seconds')), [60, 90, 2, true, null]);
  });

  test('durations 90s 30m 12h 7d and 0', () => {
    const file = load(['90s', '30m', '12h', '7d', '0'].map((d, i) => `  j${i}:\n    command: [x]\n    destruction: ${d}\n`).join('').replace(/^/, 'jobs:\n'));
    assert.deepEqual(Object.values(file.jobs).map((d) => d.destruction), [90, 1800, 43200, 604800, 0]);
  });

  test('a default keeps its source text: 3.0 stays "3.0"', () => {
    const def = getDefinition(load(withParams('      sigma: {type: float, default: 3.0, min: 0}\n      n: {type: integer, default: +7}\n')), 'a');
    assert.equal(def.parameters.sigma!.default, 3);
    assert.equal(def.parameters.sigma!.defaultText, '3.0');
    assert.equal(def.parameters.n!.default, 7);
    assert.equal(def.parameters.n!.defaultText, '+7');
    assert.deepEqual(resolveParameters(def, []), { values: { sigma: 3, n: 7 }, text: { sigma: '3.0', n: '+7' } });
  });

  test('numbers in command and env become their source text', () => {
    const def = getDefinition(load('jobs:\n  a:\n    command: [sleep, 1.50, 10]\n    env: {OMP_NUM_THREADS: 1, RATIO: 0.50, FLAG: true}\n'), 'a');
    assert.deepEqual(def.command, ['sleep', '1.50', '10']);
    assert.deepEqual(def.env, { OMP_NUM_THREADS: '1', RATIO: '0.50', FLAG: 'true' });
  });

  test('parameters keep declaration order, enum values their text; type defaults to string', () => {
    const def = getDefinition(load(withParams('      z: {}\n      m: {type: float, enum: [1.0, 2.50]}\n      a: {type: boolean, default: false}\n')), 'a');
    assert.deepEqual(Object.keys(def.parameters), ['z', 'm', 'a']);
    assert.equal(def.parameters.z!.type, 'string');
    assert.deepEqual(def.parameters.m!.enum, [1, 2.5]);
    assert.deepEqual(def.parameters.m!.enumText, ['1.0', '2.50']);
    assert.equal(def.parameters.a!.default, false);
    assert.equal(def.parameters.a!.defaultText, 'false');
  });

  test('a relative cwd is resolved against the definitions file\'s directory', () => {
    const path = writeDefs('jobs:\n  a:\n    command: [x]\n    cwd: work/dir\n  b:\n    command: [x]\n    cwd: /srv/pipeline\n');
    const file = loadDefinitions(path);
    assert.equal(getDefinition(file, 'a').cwd, join(path, '..', 'work', 'dir'));
    assert.equal(getDefinition(file, 'b').cwd, '/srv/pipeline');
  });

  test('an unknown definition name lists the known ones', () => {
    const path = writeDefs('jobs:\n  hello:\n    command: [x]\n  reduce:\n    command: [x]\n  wrap:\n    command: [x]\n');
    const file = loadDefinitions(path);
    assert.equal(usageErrorOf(() => getDefinition(file, 'helo')).message, `unknown definition "helo" in ${path} (did you mean "hello"?); known: hello, reduce, wrap`);
    assert.equal(usageErrorOf(() => getDefinition(file, 'toString')).message, `unknown definition "toString" in ${path}; known: hello, reduce, wrap`);
  });
});

describe('parameter values', () => {
  const def = getDefinition(load([
    'jobs:',
    '  reduce:',
    '    command: [x]',
    '    parameters:',
    '      night: { type: date, required: true }',
    '      sigma: { type: float, default: 3.0, min: 0, max: 10 }',
    '      mode: { type: string, enum: [fast, full], default: fast }',
    '      count: { type: integer }',
    '      flag: { type: boolean }',
    '      at: { type: datetime }',
    '      tag: { pattern: "[a-z]+(-[a-z]+)*" }',
    '',
  ].join('\n')), 'reduce');
  const night: [string, string] = ['night', '2024-03-14'];
  const valueOf = (name: string, text: string) => resolveParameters(def, [night, [name, text]]).values[name];
  const refusal = (name: string, text: string) => usageErrorOf(() => resolveParameters(def, [night, [name, text]])).message;

  test('values are typed, text is kept as written, defaults fill in', () => {
    const resolved = resolveParameters(def, [night, ['sigma', '3.50'], ['count', '-12'], ['flag', 'true']]);
    assert.deepEqual(resolved.values, { night: '2024-03-14', sigma: 3.5, mode: 'fast', count: -12, flag: true });
    assert.deepEqual(resolved.text, { night: '2024-03-14', sigma: '3.50', mode: 'fast', count: '-12', flag: 'true' });
  });

  test('unknown, repeated and missing parameters', () => {
    assert.equal(usageErrorOf(() => resolveParameters(def, [night, ['sigm', '1']])).message,
      'unknown parameter "sigm" for reduce (did you mean "sigma"?); declared: night, sigma, mode, count, flag, at, tag');
    assert.equal(usageErrorOf(() => resolveParameters(def, [['Night', '2026-01-01']])).message,
      'unknown parameter "Night" for reduce (did you mean "night"?); declared: night, sigma, mode, count, flag, at, tag');
    assert.equal(usageErrorOf(() => resolveParameters(def, [night, ['sigma', '1'], ['sigma', '2']])).message, 'parameter sigma given more than once');
    assert.equal(usageErrorOf(() => resolveParameters(def, [['sigma', '1']])).message, 'missing required parameter night for reduce');
    assert.equal(usageErrorOf(() => resolveParameters(def, [['sigma', 'x']], 'params.jsonl:3')).message, 'params.jsonl:3: missing required parameter night for reduce');
    const bare = getDefinition(load('jobs:\n  hello:\n    command: [echo]\n'), 'hello');
    assert.equal(usageErrorOf(() => resolveParameters(bare, [['x', '1']])).message, 'unknown parameter "x" for hello; it declares no parameters');
  });

  test('string', () => {
    assert.equal(valueOf('mode', 'full'), 'full');
    assert.equal(refusal('mode', 'slow'), 'parameter mode: "slow" is not one of fast, full');
    assert.equal(refusal('tag', 'a\0b'), 'parameter tag: "a\\u0000b" contains a NUL character');
  });

  test('integer: optional sign and digits, safe range', () => {
    assert.equal(valueOf('count', '+42'), 42);
    assert.equal(valueOf('count', '007'), 7);
    assert.equal(valueOf('count', '9007199254740991'), 9007199254740991);
    for (const bad of ['1.0', '1e3', '0x10', '', ' 1', '9007199254740992', 'abc']) {
      assert.equal(refusal('count', bad), `parameter count: ${JSON.stringify(bad)} is not an integer`);
    }
  });

  test('float: decimal or exponent notation, finite; min and max', () => {
    assert.equal(valueOf('sigma', '2'), 2);
    assert.equal(valueOf('sigma', '.5'), 0.5);
    assert.equal(valueOf('sigma', '5.'), 5);
    assert.equal(valueOf('sigma', '1e1'), 10);
    assert.equal(valueOf('sigma', '0'), 0);
    for (const bad of ['abc', 'NaN', 'Infinity', '1e999', '0x1', '1,5', '']) {
      assert.equal(refusal('sigma', bad), `parameter sigma: ${JSON.stringify(bad)} is not a float`);
    }
    assert.equal(refusal('sigma', '-0.1'), 'parameter sigma: "-0.1" is less than the minimum 0');
    assert.equal(refusal('sigma', '10.5'), 'parameter sigma: "10.5" is greater than the maximum 10');
  });

  test('boolean: true and false only', () => {
    assert.equal(valueOf('flag', 'true'), true);
    assert.equal(valueOf('flag', 'false'), false);
    for (const bad of ['True', 'yes', '1', '']) {
      assert.equal(refusal('flag', bad), `parameter flag: ${JSON.stringify(bad)} is not a boolean (true or false)`);
    }
  });

  test('date: YYYY-MM-DD and a real calendar day', () => {
    assert.equal(resolveParameters(def, [['night', '2024-02-29']]).values.night, '2024-02-29');
    for (const bad of ['2024-02-30', '2023-02-29', '2024-13-01', '2024-3-14', '14.03.2024', '2024-03-14T00:00:00Z']) {
      assert.equal(usageErrorOf(() => resolveParameters(def, [['night', bad]])).message,
        `parameter night: ${JSON.stringify(bad)} is not a date (YYYY-MM-DD)`);
    }
  });

  test('datetime: ISO 8601 with Z or an offset, a real instant', () => {
    for (const good of ['2024-03-14T22:10:00Z', '2024-03-14T22:10:00.123+02:00', '2024-03-14T22:10-0530', '2024-03-14T22:10:00+01']) {
      assert.equal(valueOf('at', good), good);
    }
    assert.equal(refusal('at', '2024-03-14T22:10:00'),
      'parameter at: "2024-03-14T22:10:00" is not a datetime (ISO 8601 with Z or an offset) (it has no Z or offset)');
    for (const bad of ['2024-02-30T00:00:00Z', '2024-03-14T24:00:00Z', '2024-03-14T22:60:00Z', '2024-03-14T22:10:00+25:00', '2024-03-14', 'now']) {
      assert.equal(refusal('at', bad), `parameter at: ${JSON.stringify(bad)} is not a datetime (ISO 8601 with Z or an offset)`);
    }
  });

  test('pattern: the whole value must match', () => {
    assert.equal(valueOf('tag', 'night-run'), 'night-run');
    assert.equal(refusal('tag', 'x night-run'), 'parameter tag: "x night-run" does not match the pattern [a-z]+(-[a-z]+)*');
    assert.equal(refusal('tag', 'night-'), 'parameter tag: "night-" does not match the pattern [a-z]+(-[a-z]+)*');
  });

  test('-p NAME=VALUE', () => {
    assert.deepEqual(parseParamAssignment('sigma=3.50'), ['sigma', '3.50']);
    assert.deepEqual(parseParamAssignment('q=a=b'), ['q', 'a=b']);
    assert.deepEqual(parseParamAssignment('q='), ['q', '']);
    assert.equal(usageErrorOf(() => parseParamAssignment('sigma')).message, '-p "sigma": expected NAME=VALUE');
    assert.equal(usageErrorOf(() => parseParamAssignment('=3')).message, '-p "=3": expected NAME=VALUE');
  });

  test('JSON objects: typed JSON values or strings, same checks', () => {
    assert.deepEqual(resolveParameterObject(def, { night: '2024-03-14', sigma: 2.5, count: 3, flag: false }), {
      values: { night: '2024-03-14', sigma: 2.5, mode: 'fast', count: 3, flag: false },
      text: { night: '2024-03-14', sigma: '2.5', mode: 'fast', count: '3', flag: 'false' },
    });
    assert.equal(resolveParameterObject(def, { night: '2024-03-14', sigma: '3.50' }).text.sigma, '3.50');
    assert.equal(usageErrorOf(() => resolveParameterObject(def, { night: '2024-03-14', count: 1.5 })).message, 'parameter count: "1.5" is not an integer');
    assert.equal(usageErrorOf(() => resolveParameterObject(def, { night: '2024-03-14', sigma: null })).message, 'parameter sigma: null is not a float');
    assert.equal(usageErrorOf(() => resolveParameterObject(def, { night: '2024-03-14', nope: [1] })).message,
      'unknown parameter "nope" for reduce; declared: night, sigma, mode, count, flag, at, tag');
    assert.equal(usageErrorOf(() => resolveParameterObject(def, { sigma: 1 })).message, 'missing required parameter night for reduce');
  });
});

describe('placeholder substitution', () => {
  test('a value stays one argument, byte for byte, whatever a shell would make of it', () => {
    const nasty = '$(rm -rf /); echo "a b" \'c\' `x` * ? > <';
    const argv = substituteCommand(['echo', '{name}', 'pre-{name}-post'], { name: nasty });
    assert.deepEqual(argv, ['echo', nasty, `pre-${nasty}-post`]);
    const printed = execFileSync(process.execPath, ['-e', 'process.stdout.write(JSON.stringify(process.argv.slice(1)))', ...argv.slice(1)]);
    assert.deepEqual(JSON.parse(printed.toString()), [nasty, `pre-${nasty}-post`]);
  });

  test('several placeholders, built-ins and literal braces in one argument', () => {
    const argv = substituteCommand(['--out={resultsDir}/{jobId}.{{json}}', '{a}{b}', '}}{{'], { resultsDir: '/r', jobId: 'J1', a: '1', b: '' });
    assert.deepEqual(argv, ['--out=/r/J1.{json}', '1', '}{']);
  });

  test('a placeholder without a value is a bug, not a silent empty string', () => {
    assert.throws(() => substituteCommand(['{missing}'], {}), /no value for placeholder \{missing\}/);
  });
});

describe('job environment', () => {
  const def = getDefinition(load([
    'jobs:',
    '  a:',
    '    command: [x]',
    '    env: { OMP_NUM_THREADS: "1", PATH: /opt/bin }',
    '    parameters:',
    '      night: { type: date }',
    '      sigma: { type: float, default: 3.0 }',
    '  b:',
    '    command: [x]',
    '    inheritEnv: true',
    '',
  ].join('\n')), 'a');
  const submitterEnv = {
    PATH: '/usr/bin', HOME: '/home/u', USER: 'u', LANG: 'C.UTF-8', LC_TIME: 'de_DE.UTF-8', TZ: 'UTC',
    SECRET_TOKEN: 'x', UWSRUN_HOME: '/h', UWS_PARAM_OLD: 'parent', UWS_JOB_ID: 'parent',
  };
  const common = { submitterEnv, jobId: 'J1', jobDir: '/h/jobs/J1', resultsDir: '/h/jobs/J1/results' };

  test('the short list of the submitter, then env, then UWS_*', () => {
    const env = buildJobEnv({ ...common, def, paramText: { sigma: '3.0', night: '2024-03-14' } });
    assert.deepEqual(env, {
      PATH: '/opt/bin', HOME: '/home/u', USER: 'u', LANG: 'C.UTF-8', LC_TIME: 'de_DE.UTF-8', TZ: 'UTC',
      OMP_NUM_THREADS: '1',
      UWS_JOB_ID: 'J1', UWS_JOB_DIR: '/h/jobs/J1', UWS_RESULTS_DIR: '/h/jobs/J1/results',
      UWS_PARAM_SIGMA: '3.0', UWS_PARAM_NIGHT: '2024-03-14',
    });
  });

  test('inheritEnv copies everything but uwsrun\'s own UWSRUN_* and a parent job\'s UWS_*', () => {
    const inheriting = getDefinition(load('jobs:\n  b:\n    command: [x]\n    inheritEnv: true\n'), 'b');
    const env = buildJobEnv({ ...common, def: inheriting, paramText: {} });
    assert.equal(env.SECRET_TOKEN, 'x');
    assert.equal(env.PATH, '/usr/bin');
    assert.equal(env.UWSRUN_HOME, undefined);
    assert.equal(env.UWS_PARAM_OLD, undefined);
    assert.equal(env.UWS_JOB_ID, 'J1');
  });
});

describe('time parsing (core/duration)', () => {
  test('parseDuration', () => {
    assert.deepEqual(['90s', '30m', '12h', '7d', '3600', '0'].map((t) => parseDuration(t, '--x')), [90, 1800, 43200, 604800, 3600, 0]);
    assert.equal(usageErrorOf(() => parseDuration('7 days', 'destruction')).message.startsWith('destruction: "7 days" is not a duration'), true);
    usageErrorOf(() => parseDuration('-5s', '--x'));
    usageErrorOf(() => parseDuration('1.5h', '--x'));
  });

  test('parseDuration: every unit for every duration option, bounded', () => {
    assert.deepEqual(['1h', '2147483647', '2147483647s'].map((t) => parseDuration(t, '--timeout')), [3600, 2147483647, 2147483647]);
    assert.equal(usageErrorOf(() => parseDuration('abc', '--execution-duration')).message,
      '--execution-duration: "abc" is not a duration (90s, 30m, 12h, 7d, or whole seconds; 0 to 2147483647 seconds)');
    for (const bad of ['2147483648', '24856d', '-1', '1.5', '', '1e3', ' 1', '1H', '1w']) usageErrorOf(() => parseDuration(bad, '--timeout'));
  });

  test('parseDestruction: instant, duration from now, 0 = never, past refused', () => {
    const now = new Date('2024-03-14T12:00:00.000Z');
    assert.equal(parseDestruction('0', now), null);
    assert.equal(parseDestruction('90s', now), '2024-03-14T12:01:30.000Z');
    assert.equal(parseDestruction('7d', now), '2024-03-21T12:00:00.000Z');
    assert.equal(parseDestruction('2024-03-15T00:00:00+02:00', now), '2024-03-14T22:00:00.000Z');
    assert.equal(parseDestruction('2024-03-15T00:00:00.5Z', now), '2024-03-15T00:00:00.500Z');
    assert.equal(usageErrorOf(() => parseDestruction('2024-03-14T11:59:59Z', now)).message, '--destruction 2024-03-14T11:59:59Z is in the past');
    assert.match(usageErrorOf(() => parseDestruction('2024-03-15T00:00:00', now)).message, /needs Z or an offset/);
    usageErrorOf(() => parseDestruction('tomorrow', now));
    usageErrorOf(() => parseDestruction('2024-02-30T00:00:00Z', now));
  });
});

describe('jobs.example.yaml', () => {
  const examplePath = fileURLToPath(new URL('../../../jobs.example.yaml', import.meta.url));
  const file = loadDefinitions(examplePath);
  let hasPython = true;
  try {
    execFileSync('python3', ['-c', 'pass']);
  } catch {
    hasPython = false;
  }

  /** Runs a definition as the runner would: substituted argv, job env, no shell. */
  function runExample(name: string, given: Array<[string, string]>): { stdout: string; results: Record<string, string> } {
    const def = getDefinition(file, name);
    const jobDir = mkdtempSync(join(root, `job-${name}-`));
    const resultsDir = join(jobDir, 'results');
    mkdirSync(resultsDir);
    const params = resolveParameters(def, given);
    const argv = substituteCommand(def.command, { ...params.text, jobId: 'EXAMPLE1', jobDir, resultsDir });
    const env = buildJobEnv({ def, submitterEnv: process.env, jobId: 'EXAMPLE1', jobDir, resultsDir, paramText: params.text });
    const stdout = execFileSync(argv[0]!, argv.slice(1), { env, cwd: def.cwd ?? jobDir }).toString();
    const results = Object.fromEntries(readdirSync(resultsDir).map((f) => [f, readFileSync(join(resultsDir, f), 'utf8')]));
    return { stdout, results };
  }

  test('loads, with the definitions the README talks about', () => {
    assert.deepEqual(Object.keys(file.jobs), ['hello', 'reduce', 'wrap']);
    const reduce = getDefinition(file, 'reduce');
    assert.equal(reduce.parameters.night!.required, true);
    assert.equal(reduce.parameters.sigma!.defaultText, '3.0');
    assert.deepEqual(reduce.parameters.mode!.enum, ['fast', 'full']);
  });

  test('hello greets', () => {
    assert.equal(runExample('hello', []).stdout, 'Hello, world!\n');
    assert.equal(runExample('hello', [['name', 'Ada "$HOME"']]).stdout, 'Hello, Ada "$HOME"!\n');
  });

  test('reduce writes a result file', { skip: !hasPython && 'python3 is not installed' }, () => {
    const { results } = runExample('reduce', [['night', '2024-03-14'], ['sigma', '2.50'], ['mode', 'full']]);
    assert.deepEqual(Object.keys(results), ['summary-2024-03-14.json']);
    assert.deepEqual(JSON.parse(results['summary-2024-03-14.json']!), { night: '2024-03-14', sigma: 2.5, mode: 'full', frames: 42 });
  });

  test('wrap reads its parameters from UWS_PARAM_* in sh', () => {
    const { stdout, results } = runExample('wrap', [['pattern', '$(echo pwned) *'], ['count', '2']]);
    assert.equal(stdout, 'wrote 2 lines for job EXAMPLE1\n');
    assert.deepEqual(results, { 'manifest.txt': '1 $(echo pwned) *\n2 $(echo pwned) *\n' });
  });
});
