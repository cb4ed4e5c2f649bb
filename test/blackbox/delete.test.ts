// Black-box tests of `uwsrun delete` (SPEC §2 "any | delete", §9): the record and the job
// directory go away; an active job is aborted first and its processes are gone.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Sandbox, submitOk, waitFor } from '../helpers.js';
import { groupMembers, stillAlive } from '../procfs.js';

const YAML = `
defaults:
  destruction: 0
jobs:
  quick:
    command: [echo, done]
  record:
    command: [sh, -c, 'echo ran > "$UWS_RESULTS_DIR/ran"']
  busy:
    command: [sh, -c, 'sleep 300 & sh -c "sleep 300" & echo ready > "$UWS_RESULTS_DIR/ready"; wait']
    killGrace: 1
`;

const T = { timeout: 60_000 };

/** Everything that says the job no longer exists. */
function assertGone(sb: Sandbox, id: string): void {
  const show = sb.run(['show', id]);
  assert.equal(show.code, 3, `show after delete: ${show.stderr}`);
  assert.ok(show.stderr.includes(id), show.stderr);
  assert.equal(sb.run(['phase', id]).code, 3);
  assert.equal(existsSync(sb.jobDir(id)), false, 'HOME/jobs/ID must be gone');
  const listed = sb.json<any[]>(['list']).map((j) => j.jobId);
  assert.ok(!listed.includes(id), `list --json still has ${id}`);
}

test('delete of a PENDING job removes record and directory', T, () => {
  const sb = new Sandbox(YAML);
  try {
    const keep = submitOk(sb, ['record']);
    const id = submitOk(sb, ['record']);
    assert.ok(existsSync(sb.recordDir(id)));
    assert.ok(existsSync(sb.jobDir(id)), 'its job directory is made at submit');
    const r = sb.run(['delete', id]);
    assert.equal(r.code, 0, r.stderr);
    assertGone(sb, id);
    // The other job is untouched.
    assert.equal(sb.job(keep).phase, 'PENDING');
    assert.deepEqual(sb.json<any[]>(['list']).map((j) => j.jobId), [keep]);
  } finally {
    sb.cleanup();
  }
});

test('delete of a COMPLETED job removes record and directory', T, async () => {
  const sb = new Sandbox(YAML);
  try {
    const id = submitOk(sb, ['quick', '--run']);
    await waitFor('COMPLETED', () => sb.job(id).phase === 'COMPLETED');
    assert.equal(readFileSync(join(sb.jobDir(id), 'stdout.log'), 'utf8'), 'done\n');
    const r = sb.run(['delete', id]);
    assert.equal(r.code, 0, r.stderr);
    assertGone(sb, id);
  } finally {
    sb.cleanup();
  }
});

test('delete of a running job aborts it first: its processes are gone, then the job is', T, async () => {
  const sb = new Sandbox(YAML);
  try {
    const id = submitOk(sb, ['busy', '--run']);
    await waitFor('ready', () => existsSync(join(sb.jobDir(id), 'results', 'ready')), 25_000);
    const job = await waitFor('EXECUTING with startTime', () => {
      const j = sb.job(id);
      return j.phase === 'EXECUTING' && j.pid !== null && j.startTime !== null ? j : undefined;
    }, 25_000);
    const members = await waitFor('two sleeps in the group', () => {
      const g = groupMembers(job.pid);
      return g.filter((p) => p.comm === 'sleep').length >= 2 ? g : undefined;
    });
    const r = sb.run(['delete', id]);
    assert.equal(r.code, 0, r.stderr);
    const left = members.filter(stillAlive);
    assert.deepEqual(left, [], `processes of the deleted job still alive: ${left.map((p) => `${p.pid}(${p.comm})`).join(' ')}`);
    assert.deepEqual(groupMembers(job.pid), []);
    assertGone(sb, id);
    // Nothing of the job comes back later (the runner must not resurrect it).
    assert.equal(sb.run(['tick']).code, 0);
    assertGone(sb, id);
  } finally {
    sb.cleanup();
  }
});

test('delete of an unknown id exits 3; with a known one too, the known one is deleted', T, () => {
  const sb = new Sandbox(YAML);
  try {
    const unknown = 'Zz9unknownJob42';
    const r = sb.run(['delete', unknown]);
    assert.equal(r.code, 3, r.stderr);
    assert.ok(r.stderr.includes(unknown), r.stderr);
    const id = submitOk(sb, ['record']);
    const both = sb.run(['delete', unknown, id, '--json']);
    assert.equal(both.code, 3, both.stderr);
    const printed = JSON.parse(both.stdout);
    assert.ok(Array.isArray(printed), 'with --json, the deleted jobs as an array');
    assert.deepEqual(printed.map((j: any) => j.jobId), [id]);
    assertGone(sb, id);
  } finally {
    sb.cleanup();
  }
});
