// SPEC §3, the parameter types and placeholders, value by value: each type accepts what its
// definition says and refuses the rest with exit 2, a message naming the parameter, the value
// and the expected type, and nothing written; the command gets the text as written, the
// record the typed value. Built-in placeholders are replaced inside an argument; a
// definition cannot set uwsrun's own UWS_* variables; an unknown placeholder names every
// declared parameter.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Sandbox, submitJob } from '../helpers.js';
import { homeSnapshot } from '../home-snapshot.js';

const YAML = `
defaults:
  destruction: 0
jobs:
  types:
    command: [echo, "{i}", "{f}", "{d}", "{t}", "{b}", "{s}", "{e}"]
    parameters:
      i: { type: integer, default: 1, min: -5, max: 100 }
      f: { type: float, default: 1.0, max: 1e6 }
      d: { type: date, default: 2024-01-01 }
      t: { type: datetime, default: "2024-01-01T00:00:00Z" }
      b: { type: boolean, default: true }
      s: { type: string, default: ab, pattern: "[a-z]+" }
      e: { type: integer, enum: [1, 2], default: 1 }
  builtins:
    command: [echo, "id={jobId}", "dir={jobDir}/x", "res:{resultsDir}", "{{jobId}}"]
`;

const ORDER = ['i', 'f', 'd', 't', 'b', 's', 'e'];
const T = { timeout: 60_000 };

// [NAME=VALUE, the typed value in the record]
const ACCEPTED: [string, unknown][] = [
  ['i=+5', 5], ['i=-5', -5], ['i=100', 100],
  ['f=1e3', 1000], ['f=.5', 0.5], ['f=3.50', 3.5],
  ['d=2024-02-29', '2024-02-29'],
  ['t=2024-01-01T00:00:00+01:00', '2024-01-01T00:00:00+01:00'], ['t=2024-01-01T00:00:00.123456Z', '2024-01-01T00:00:00.123456Z'],
  ['b=false', false], ['b=true', true],
  ['s=abc', 'abc'],
  ['e=2', 2],
];

// [NAME=VALUE, what the message says after `parameter NAME: "VALUE" `]
const REFUSED: [string, RegExp][] = [
  ['i=1e3', /is not an integer/], ['i=0x10', /is not an integer/], ['i= 5', /is not an integer/], ['i=1.5', /is not an integer/],
  ['i=-6', /is less than the minimum -5/], ['i=101', /is greater than the maximum 100/],
  ['f=nan', /is not a float/], ['f=Infinity', /is not a float/], ['f=', /is not a float/], ['f=1e7', /is greater than the maximum/],
  ['d=2024-1-1', /is not a date \(YYYY-MM-DD\)/], ['d=2023-02-29', /is not a date/], ['d=20240101', /is not a date/],
  ['t=2024-01-01T00:00:00', /is not a datetime .*(Z|offset)/], ['t=2024-01-01', /is not a datetime/], ['t=2024-01-01T25:00:00Z', /is not a datetime/],
  ['b=TRUE', /is not a boolean \(true or false\)/], ['b=1', /is not a boolean/], ['b=yes', /is not a boolean/],
  ['s=aBc', /does not match the pattern \[a-z\]\+/], ['s=ab1', /does not match the pattern/], ['s=', /does not match the pattern/],
  ['e=3', /is not one of 1, 2/],
];

test('each parameter type takes what SPEC §3 says: the command gets the text as written, the record the typed value', T, () => {
  const sb = new Sandbox(YAML);
  try {
    for (const [kv, typed] of ACCEPTED) {
      const name = kv.slice(0, kv.indexOf('='));
      const text = kv.slice(kv.indexOf('=') + 1);
      const job = sb.json(['submit', 'types', '-p', kv]);
      assert.deepEqual(job.parameters[name], typed, `${kv}: the typed value`);
      assert.equal(job.command[ORDER.indexOf(name) + 1], text, `${kv}: the text as written`);
    }
    // The defaults as their YAML source text (1.0, not 1).
    const dflt = sb.json(['submit', 'types']);
    assert.deepEqual(dflt.command, ['echo', '1', '1.0', '2024-01-01', '2024-01-01T00:00:00Z', 'true', 'ab', '1']);
    assert.deepEqual(dflt.parameters, { i: 1, f: 1, d: '2024-01-01', t: '2024-01-01T00:00:00Z', b: true, s: 'ab', e: 1 });
  } finally {
    sb.cleanup();
  }
});

test('a bad value is exit 2 naming the parameter, the value and the expected type, and writes nothing', T, () => {
  const sb = new Sandbox(YAML);
  try {
    submitJob(sb, ['types']);
    const before = homeSnapshot(sb);
    for (const [kv, why] of REFUSED) {
      const name = kv.slice(0, kv.indexOf('='));
      const value = kv.slice(kv.indexOf('=') + 1);
      const r = sb.run(['submit', 'types', '-p', kv]);
      assert.equal(r.code, 2, `${kv}: ${r.stderr}`);
      assert.equal(r.stdout, '');
      const line = r.stderr;
      assert.ok(line.startsWith(`uwsrun: parameter ${name}: "${value}" `), `${kv}: names parameter and value: ${line}`);
      assert.match(line, why, kv);
      assert.equal(line.trim().split('\n').length, 1, `${kv}: one line`);
    }
    assert.deepEqual(homeSnapshot(sb), before, 'nothing written');
    // Also not right after the file was edited (nothing of it is remembered for a refusal),
    // nor for an unknown definition.
    writeFileSync(sb.jobsFile, `${YAML}\n# edited\n`);
    for (const args of [['types', '-p', 'b=yes'], ['nosuch'], ['types', '-p', 'nosuch=1']]) {
      assert.equal(sb.run(['submit', ...args]).code, 2, args.join(' '));
      assert.deepEqual(homeSnapshot(sb), before, `${args.join(' ')} after an edit: nothing written`);
    }
  } finally {
    sb.cleanup();
  }
});

test('{jobId}, {jobDir} and {resultsDir} are replaced inside an argument; {{ and }} are literal braces', T, () => {
  const sb = new Sandbox(YAML);
  try {
    const job = sb.json(['submit', 'builtins']);
    const dir = join(sb.home, 'jobs', job.jobId);
    assert.deepEqual(job.command, ['echo', `id=${job.jobId}`, `dir=${dir}/x`, `res:${join(dir, 'results')}`, '{jobId}']);
  } finally {
    sb.cleanup();
  }
});

test('a definition may not set UWS_* variables; an unknown placeholder names every declared parameter; nothing is written', T, () => {
  const sb = new Sandbox(`
jobs:
  forged:
    command: [echo]
    env: { UWS_JOB_ID: forged }
  typo:
    command: [echo, "{nigth}"]
    parameters:
      night: { type: date, required: true }
      sigma: { type: float, min: x }
`);
  try {
    const forged = sb.run(['submit', 'forged']);
    assert.equal(forged.code, 2);
    assert.match(forged.stderr, /jobs\.forged\.env\.UWS_JOB_ID: .*UWS_/);
    const typo = sb.run(['validate']);
    assert.equal(typo.code, 2);
    const line = typo.stderr.split('\n').find((l) => l.includes('{nigth}')) ?? '';
    assert.match(line, /:\d+:\d+: jobs\.typo\.command\[1\]: unknown placeholder \{nigth\}/);
    // sigma has an error of its own (min: x), reported apart, and is still declared.
    assert.match(line, /declared parameters: (night, sigma|sigma, night)/, line);
    assert.match(typo.stderr, /jobs\.typo\.parameters\.sigma\.min/);
    assert.equal(existsSync(sb.home), false, 'nothing written');
  } finally {
    sb.cleanup();
  }
});
