// SPEC §9 `submit ... --unique`, the phases other files leave out: a job of that definition
// and run id that is QUEUED, HELD or EXECUTING matches (its id is printed, nothing created,
// a HELD one stays HELD even with --run); one of another definition never matches; an
// ARCHIVED one does not match, so a new job is made. Different -p values do not matter.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Sandbox, release, submitJob, waitFor } from '../helpers.js';

const YAML = `
defaults:
  destruction: 0
jobs:
  gate:
    command: [sh, -c, 'while [ ! -e "$UWS_JOB_DIR/release" ]; do sleep 0.05; done']
    parameters:
      n: { type: integer, default: 1 }
    killGrace: 1
  quick:
    command: [echo, done]
    archive: true
    parameters:
      n: { type: integer, default: 1 }
`;

const T = { timeout: 60_000 };

test('--unique matches a QUEUED, HELD or EXECUTING job of the same definition and run id, whatever -p says', T, async () => {
  const sb = new Sandbox(YAML);
  try {
    const count = () => sb.json<any[]>(['list']).length;
    const running = submitJob(sb, ['gate', '--run', '--run-id', 'night-1']);
    await waitFor('EXECUTING', () => sb.job(running).phase === 'EXECUTING');
    assert.equal(submitJob(sb, ['gate', '--run-id', 'night-1', '--unique', '-p', 'n=7']), running, 'EXECUTING matches');
    const other = submitJob(sb, ['quick', '--run-id', 'night-1', '--unique']);
    assert.notEqual(other, running, 'a job of another definition never matches');

    sb.ok(['limit', '0']);
    const queued = submitJob(sb, ['quick', '--run', '--run-id', 'night-2']);
    const before = count();
    assert.equal(submitJob(sb, ['quick', '--run-id', 'night-2', '--unique', '--run']), queued, 'QUEUED matches');
    sb.ok(['hold', queued]);
    assert.equal(submitJob(sb, ['quick', '--run-id', 'night-2', '--unique', '--run', '-p', 'n=2']), queued, 'HELD matches');
    assert.equal(sb.job(queued).phase, 'HELD', '--run does not release a HELD match');
    assert.equal(count(), before, 'nothing created');
    sb.ok(['release', queued]);
    sb.ok(['limit', '2']);
    release(sb, running);
    await waitFor('both COMPLETED', () => sb.job(running).phase === 'COMPLETED' && sb.job(queued).phase === 'COMPLETED');
  } finally {
    sb.cleanup();
  }
});

test('--unique does not match an ARCHIVED job, even one that exited 0: a new job is made', T, async () => {
  const sb = new Sandbox(YAML);
  try {
    const old = submitJob(sb, ['quick', '--run-id', 'night-3', '--destruction', '1s', '--wait']);
    await waitFor('ARCHIVED (destruction 1 s, then tick)', () => {
      sb.run(['tick']);
      return sb.job(old).phase === 'ARCHIVED';
    });
    assert.equal(sb.job(old).exitCode, 0);
    const fresh = submitJob(sb, ['quick', '--run-id', 'night-3', '--unique']);
    assert.notEqual(fresh, old);
    assert.equal(sb.job(fresh).phase, 'PENDING');
    assert.equal(sb.job(fresh).runId, 'night-3');
  } finally {
    sb.cleanup();
  }
});
