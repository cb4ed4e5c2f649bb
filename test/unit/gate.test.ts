import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type DependencyState, dependencyFailure, dependencyList, mayWait, queuedJobGate } from '../../src/core/gate.js';
import type { Phase } from '../../src/core/phases.js';

const NOW = Date.parse('2026-12-01T12:00:00.000Z');
const states = (map: Record<string, Phase | [Phase, number] | null>) => (id: string): DependencyState => {
  const s = map[id];
  if (s === undefined || s === null) return null;
  return Array.isArray(s) ? { phase: s[0], exitCode: s[1] } : { phase: s, exitCode: null };
};

test('a job without dependencies or start time may start, and is not marked as one that waits', () => {
  assert.deepEqual(queuedJobGate({}, states({}), NOW), { eligible: true });
  assert.equal(mayWait({}), false);
  assert.equal(mayWait({ after: [], notBefore: null }), false);
  assert.equal(mayWait({ after: [{ jobId: 'aaaaaa', any: false }] }), true);
  assert.equal(mayWait({ notBefore: '2026-12-01T12:00:00.000Z' }), true);
});

test('--after waits while the dependency is not final, starts once it is COMPLETED', () => {
  const after = [{ jobId: 'aaaaaa', any: false }];
  for (const phase of ['PENDING', 'QUEUED', 'HELD', 'EXECUTING'] as Phase[]) {
    assert.deepEqual(queuedJobGate({ after }, states({ aaaaaa: phase }), NOW), { eligible: false, dependency: { jobId: 'aaaaaa', phase } });
  }
  assert.deepEqual(queuedJobGate({ after }, states({ aaaaaa: 'COMPLETED' }), NOW), { eligible: true });
  assert.deepEqual(queuedJobGate({ after }, states({ aaaaaa: ['ARCHIVED', 0] }), NOW), { eligible: true }, 'archived after exit 0 counts as COMPLETED');
});

test('--after fails when the dependency ended otherwise or vanished', () => {
  const after = [{ jobId: 'aaaaaa', any: false }];
  for (const phase of ['ERROR', 'ABORTED'] as Phase[]) {
    const v = queuedJobGate({ after }, states({ aaaaaa: phase }), NOW);
    assert.deepEqual(v, { eligible: false, failed: { jobId: 'aaaaaa', phase } });
    assert.equal(dependencyFailure({ jobId: 'aaaaaa', phase }), `dependency aaaaaa ended ${phase}`);
  }
  assert.deepEqual(queuedJobGate({ after }, states({ aaaaaa: ['ARCHIVED', 1] }), NOW), { eligible: false, failed: { jobId: 'aaaaaa', phase: 'ARCHIVED' } });
  assert.deepEqual(queuedJobGate({ after }, states({}), NOW), { eligible: false, failed: { jobId: 'aaaaaa', phase: null } });
  assert.equal(dependencyFailure({ jobId: 'aaaaaa', phase: null }), 'dependency aaaaaa was deleted');
});

test('--after-any starts once the dependency is final, whatever its phase; a vanished one fails', () => {
  const after = [{ jobId: 'aaaaaa', any: true }];
  for (const phase of ['COMPLETED', 'ERROR', 'ABORTED', 'ARCHIVED'] as Phase[]) {
    assert.deepEqual(queuedJobGate({ after }, states({ aaaaaa: phase }), NOW), { eligible: true }, phase);
  }
  assert.deepEqual(queuedJobGate({ after }, states({ aaaaaa: 'EXECUTING' }), NOW), { eligible: false, dependency: { jobId: 'aaaaaa', phase: 'EXECUTING' } });
  assert.deepEqual(queuedJobGate({ after }, states({}), NOW), { eligible: false, failed: { jobId: 'aaaaaa', phase: null } });
});

test('a failed dependency wins over one still running and over the start time', () => {
  const job = {
    after: [{ jobId: 'aaaaaa', any: false }, { jobId: 'bbbbbb', any: false }],
    notBefore: '2027-01-01T00:00:00.000Z',
  };
  assert.deepEqual(queuedJobGate(job, states({ aaaaaa: 'EXECUTING', bbbbbb: 'ERROR' }), NOW), { eligible: false, failed: { jobId: 'bbbbbb', phase: 'ERROR' } });
  assert.deepEqual(queuedJobGate(job, states({ aaaaaa: 'EXECUTING', bbbbbb: 'QUEUED' }), NOW), { eligible: false, dependency: { jobId: 'aaaaaa', phase: 'EXECUTING' } });
  assert.deepEqual(queuedJobGate(job, states({ aaaaaa: 'COMPLETED', bbbbbb: 'COMPLETED' }), NOW), { eligible: false, until: Date.parse(job.notBefore), why: 'notBefore' });
});

test('notBefore: waits until the instant, then may start', () => {
  const job = { notBefore: '2026-12-01T12:00:05.000Z' };
  assert.deepEqual(queuedJobGate(job, states({}), NOW), { eligible: false, until: NOW + 5000, why: 'notBefore' });
  assert.deepEqual(queuedJobGate(job, states({}), NOW + 5000), { eligible: true });
  assert.deepEqual(queuedJobGate({ notBefore: '2026-12-01T11:00:00.000Z' }, states({}), NOW), { eligible: true });
});

test('--after and --after-any name each job once; --after wins', () => {
  assert.deepEqual(dependencyList(['aaaaaa', 'bbbbbb', 'aaaaaa'], ['bbbbbb', 'cccccc']), [
    { jobId: 'aaaaaa', any: false }, { jobId: 'bbbbbb', any: false }, { jobId: 'cccccc', any: true },
  ]);
});

test('a retried job waits for its retry delay (retryAfter), is marked as one that waits, and then may start', () => {
  const job = { retryAfter: '2026-12-01T12:00:05.000Z' };
  assert.equal(mayWait(job), true);
  assert.equal(mayWait({ retryAfter: null }), false);
  assert.deepEqual(queuedJobGate(job, states({}), NOW), { eligible: false, until: NOW + 5000, why: 'retryDelay' });
  assert.deepEqual(queuedJobGate(job, states({}), NOW + 5000), { eligible: true });
  // A start time later than the delay is waited for first; then the delay, if still later.
  assert.deepEqual(queuedJobGate({ ...job, notBefore: '2026-12-01T12:00:09.000Z' }, states({}), NOW), { eligible: false, until: NOW + 9000, why: 'notBefore' });
  assert.deepEqual(queuedJobGate({ retryAfter: '2026-12-01T12:00:09.000Z', notBefore: '2026-12-01T12:00:01.000Z' }, states({}), NOW + 2000), { eligible: false, until: NOW + 9000, why: 'retryDelay' });
});
