// Black-box tests of job id prefixes (SPEC §9): the full id, or a prefix of at least 4
// characters that matches exactly one job of the HOME; an ambiguous prefix exits 2 naming
// the matching ids, a prefix that matches nothing exits 3, output always shows full ids.
// Two ids that share a prefix for real come from UWSRUN_TEST_ID_PREFIX (test-only).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Sandbox, submitJob, waitFor } from '../helpers.js';
import { homeSnapshot, quietHome } from '../home-snapshot.js';

const YAML = `
defaults:
  destruction: 0
jobs:
  hello:
    command: [echo, "Hello, {name}!"]
    parameters:
      name: { type: string, default: world }
`;

const T = { timeout: 120_000 };

test('a unique prefix of 4 or more characters names its job in every command; output shows the full id', T, async () => {
  const sb = new Sandbox(YAML);
  try {
    const id = submitJob(sb, ['hello']);
    const other = submitJob(sb, ['hello']);
    // The shortest prefix of `id` that is not also one of `other`, and at least 4 long.
    let n = 4;
    while (other.startsWith(id.slice(0, n))) n++;
    const p4 = id.slice(0, n);
    const p5 = id.slice(0, n + 1);
    assert.equal(sb.ok(['phase', p4]), 'PENDING');
    assert.deepEqual(sb.json(['phase', p5]), { jobId: id, phase: 'PENDING' }, 'a 5-character prefix (not a valid full id) resolves too');
    assert.equal(sb.job(p4).jobId, id);
    assert.match(sb.ok(['show', p4]), new RegExp(`^job\\s+${id}$`, 'm'), 'show prints the full id');
    assert.deepEqual(sb.json(['set', p4, '-p', 'name=Ada']).map((j: any) => j.jobId), [id]);
    assert.deepEqual(sb.json(['run', p4]).map((j: any) => j.jobId), [id]);
    const waited = sb.run(['wait', p4, '--timeout', '60']);
    assert.equal(waited.code, 0, waited.stderr);
    assert.equal(sb.ok(['logs', p4]), 'Hello, Ada!');
    assert.deepEqual(sb.json(['results', p4]), []);
    const resubmitted = sb.ok(['resubmit', p4]);
    assert.notEqual(resubmitted, id);
    assert.equal(sb.job(resubmitted).parameters.name, 'Ada');
    assert.deepEqual(sb.json(['abort', resubmitted.slice(0, 12)]).map((j: any) => j.jobId), [resubmitted]);
    assert.deepEqual(sb.json(['delete', p4]).map((j: any) => j.jobId), [id]);
    assert.equal(sb.run(['show', id]).code, 3);
  } finally {
    sb.cleanup();
  }
});

test('an ambiguous prefix exits 2 naming every matching id and changes nothing; a longer one resolves', T, async () => {
  const sb = new Sandbox(YAML);
  try {
    const env = { UWSRUN_TEST_ID_PREFIX: 'Ab12' };
    const a = submitJob(sb, ['hello'], env);
    const b = submitJob(sb, ['hello'], env);
    const lone = submitJob(sb, ['hello']);
    assert.ok(a.startsWith('Ab12') && b.startsWith('Ab12') && a.length === 16, `${a} ${b}`);
    // A directory without a job (a submit that died half-way) is no candidate.
    mkdirSync(join(sb.home, 'jobs', 'Ab12halfcreated0'));
    const before = await quietHome(sb);
    for (const args of [['show', 'Ab12'], ['phase', 'Ab12', '--json'], ['run', 'Ab12'], ['abort', 'Ab12'], ['delete', 'Ab12'],
      ['set', 'Ab12', '-p', 'name=x'], ['wait', 'Ab12', '--timeout', '1'], ['logs', 'Ab12'], ['results', 'Ab12'], ['resubmit', 'Ab12']]) {
      const r = sb.run(args);
      assert.equal(r.code, 2, `${args.join(' ')}: exit 2 (${r.stderr})`);
      assert.equal(r.stdout, '', `${args.join(' ')}: nothing on stdout`);
      const line = r.stderr.trim();
      assert.equal(line.split('\n').length, 1, `${args.join(' ')}: one line: ${line}`);
      assert.ok(line.includes('ambiguous') && line.includes('"Ab12"'), line);
      assert.ok(line.includes(a) && line.includes(b), `${args.join(' ')}: names both matching ids: ${line}`);
      assert.ok(!line.includes('Ab12halfcreated0'), `a half-created directory is not a candidate: ${line}`);
      assert.deepEqual(homeSnapshot(sb), before, `${args.join(' ')}: nothing changed on disk`);
    }
    // Several ids: the ambiguous one is reported, the others acted on.
    const mixed = sb.run(['run', 'Ab12', lone, '--json']);
    assert.equal(mixed.code, 2, mixed.stderr);
    assert.deepEqual(JSON.parse(mixed.stdout).map((j: any) => j.jobId), [lone]);
    await waitFor('the lone job COMPLETED', () => sb.job(lone).phase === 'COMPLETED');
    // One character more than they share picks one.
    let n = 4;
    while (a[n] === b[n]) n++;
    assert.equal(sb.job(a.slice(0, n + 1)).jobId, a);
    assert.equal(sb.job(b.slice(0, n + 1)).jobId, b);
    assert.equal(sb.job(a).jobId, a, 'the full id is always exact');
  } finally {
    sb.cleanup();
  }
});

test('a prefix that matches no job exits 3; one shorter than 4 characters or with other characters exits 2', T, async () => {
  const sb = new Sandbox(YAML);
  try {
    // No HOME at all: nothing matches, nothing is created.
    const none = sb.run(['show', 'zzzz']);
    assert.equal(none.code, 3, none.stderr);
    assert.ok(none.stderr.includes('zzzz'));
    submitJob(sb, ['hello'], { UWSRUN_TEST_ID_PREFIX: 'Qq' });
    const before = await quietHome(sb);
    for (const [args, code] of [[['show', 'zzzz'], 3], [['phase', 'zzzzz'], 3], [['run', 'zzzzzzzz'], 3], [['wait', 'zzzz'], 3], [['logs', 'zzzz'], 3],
      [['show', 'Qq'], 2], [['show', 'Qq1'], 2], [['show', 'Qq.*'], 2], [['abort', '../Qq'], 2], [['show', '-Qq1'], 2], [['delete', 'Qq/a'], 2]] as const) {
      const r = sb.run([...args]);
      assert.equal(r.code, code, `${args.join(' ')}: exit ${code} (${r.stderr})`);
      assert.equal(r.stdout, '');
      assert.deepEqual(homeSnapshot(sb), before, `${args.join(' ')}: nothing changed on disk`);
    }
  } finally {
    sb.cleanup();
  }
});
