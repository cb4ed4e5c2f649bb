// SPEC §9, the exit codes of `wait` (and `submit --wait`) by precedence: 124 timed out, 3 a
// job vanished while waited for, 1 some job ended other than COMPLETED, where an ARCHIVED job
// counts as COMPLETED when its exitCode was 0; else 0. Each case is a real job; a job that
// vanishes is deleted by another uwsrun while `wait` blocks on it.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Sandbox, release, submitJob, waitFor } from '../helpers.js';

const JOBS = `
jobs:
  good:
    command: [echo, fine]
    archive: true
  bad:
    command: [sh, -c, 'echo broken >&2; exit 2']
    archive: true
  gate:
    command: [sh, -c, 'while [ ! -e "$UWS_JOB_DIR/release" ]; do sleep 0.05; done']
    killGrace: 1
`;

describe('wait: exit codes by precedence', () => {
  let sb: Sandbox;
  let good = '';
  let bad = '';
  before(async () => {
    sb = new Sandbox(JOBS);
    good = submitJob(sb, ['good', '--run', '--destruction', '1s']);
    bad = submitJob(sb, ['bad', '--run', '--destruction', '1s']);
    await waitFor('both jobs ARCHIVED (destruction 1 s, then tick)', () => {
      sb.run(['tick']);
      return sb.job(good).phase === 'ARCHIVED' && sb.job(bad).phase === 'ARCHIVED';
    }, 60_000);
  });
  after(() => sb?.cleanup());

  test('an ARCHIVED job that exited 0 counts as COMPLETED (exit 0); one that failed is exit 1, named', () => {
    assert.equal(sb.job(good).exitCode, 0);
    const ok = sb.run(['wait', good]);
    assert.equal(ok.code, 0, ok.stderr);
    const failed = sb.run(['wait', bad]);
    assert.equal(failed.code, 1);
    assert.match(failed.stderr, new RegExp(`job ${bad} ended ARCHIVED`));
    assert.equal(sb.run(['wait', good, bad]).code, 1);
    const json = sb.run(['wait', good, '--json']);
    assert.equal(json.code, 0);
    assert.equal(JSON.parse(json.stdout).phase, 'ARCHIVED');
  });

  test('124 (timed out) wins over 1 (a failed job)', () => {
    const running = submitJob(sb, ['gate', '--run']);
    try {
      const r = sb.run(['wait', bad, running, '--timeout', '1']);
      assert.equal(r.code, 124, r.stderr);
      assert.match(r.stderr, /timed out after 1 s/);
    } finally {
      release(sb, running);
      assert.equal(sb.run(['wait', running, '--timeout', '60']).code, 0);
    }
  });

  test('3 (a job deleted while waited for) wins over 1; 124 wins over 3', async () => {
    const doomed = submitJob(sb, ['gate', '--run']);
    const waiting = sb.start(['wait', bad, doomed]);
    await waitFor('the gate job EXECUTING', () => sb.job(doomed).phase === 'EXECUTING', 30_000);
    assert.equal(sb.run(['delete', doomed]).code, 0);
    const r = await waiting;
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stderr, new RegExp(`no such job: ${doomed}`));

    const gone = submitJob(sb, ['gate', '--run']);
    const stays = submitJob(sb, ['gate', '--run']);
    try {
      const both = sb.start(['wait', bad, gone, stays, '--timeout', '4']);
      await waitFor('the gate job EXECUTING', () => sb.job(gone).phase === 'EXECUTING', 30_000);
      assert.equal(sb.run(['delete', gone]).code, 0);
      const t = await both;
      assert.equal(t.code, 124, t.stderr);
    } finally {
      release(sb, stays);
      assert.equal(sb.run(['wait', stays, '--timeout', '60']).code, 0);
    }
  });

  test('submit --wait follows the same rule: 0 for a job that completed, 1 for one that failed', () => {
    assert.equal(sb.run(['submit', 'good', '--wait']).code, 0);
    const r = sb.run(['submit', 'bad', '--wait', '--timeout', '60']);
    assert.equal(r.code, 1);
    assert.match(r.stdout.trim(), /^[A-Za-z0-9][A-Za-z0-9_-]{5,31}$/, 'the id is printed first');
  });
});
