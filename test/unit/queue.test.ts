import { test } from 'node:test';
import assert from 'node:assert/strict';
import { selectJobsToStart } from '../../src/run/queue.js';
import { type QueueEntry, entryName, parseEntry } from '../../src/store/queue-dir.js';
import type { HotEntry } from '../../src/core/job.js';

const hot = (definition: string, queuedAt: number, maxRunning: number | null = null): HotEntry => ({
  seq: queuedAt, phase: 'EXECUTING', definition, maxRunning, queuedAt, pid: 1, pidStart: '1', startTime: null,
  abortRequested: null, abortReason: null,
});

const queued = (jobId: string, definition: string, queuedAt: number, maxRunning: number | null = null): QueueEntry =>
  parseEntry(entryName({ jobId, definition, queuedAt, maxRunning }))!;

/** In queue order, as the runner lists them (names sort in queue order). */
const sorted = (...entries: QueueEntry[]) => entries.sort((a, b) => (a.name < b.name ? -1 : 1));
const ids = (entries: QueueEntry[]) => entries.map((e) => e.jobId);

test('queue entry names round-trip and sort in queue order', () => {
  const e = queued('abcdef123456', 'my.def-1', 42, 3);
  assert.deepEqual({ ...e, name: undefined }, { name: undefined, queuedAt: 42, jobId: 'abcdef123456', maxRunning: 3, defKey: 'my.def-1', waits: false, slurm: false });
  const w = parseEntry(entryName({ jobId: 'abcdef123456', definition: 'd', queuedAt: 7, maxRunning: null, after: [{ jobId: 'zzzzzz', any: false }] }))!;
  assert.deepEqual([w.waits, w.maxRunning, w.defKey], [true, null, 'd'], 'a job that may wait is marked in its entry');
  assert.deepEqual(ids(sorted(queued('cccccc', 'a', 100), queued('aaaaaa', 'a', 9), queued('bbbbbb', 'a', 10))), ['aaaaaa', 'bbbbbb', 'cccccc']);
  const long = queued('dddddd', 'x'.repeat(300), 1);
  assert.ok(long.name.length < 255 && long.defKey.startsWith('#'), 'a very long definition name is hashed');
  assert.equal(parseEntry('.tmp.file'), undefined);
});

test('queued jobs start in the order they were queued, up to the limit', () => {
  const q = sorted(queued('cccccc', 'a', 3), queued('aaaaaa', 'a', 1), queued('bbbbbb', 'a', 2));
  assert.deepEqual(ids(selectJobsToStart({}, q, 2)), ['aaaaaa', 'bbbbbb']);
  assert.deepEqual(ids(selectJobsToStart({}, q, 10)), ['aaaaaa', 'bbbbbb', 'cccccc']);
});

test('executing jobs count against the limit, and a stale entry of one is skipped', () => {
  const jobs = { xxxxxx: hot('a', 1) };
  const q = sorted(queued('xxxxxx', 'a', 1), queued('yyyyyy', 'a', 2), queued('zzzzzz', 'a', 3));
  assert.deepEqual(ids(selectJobsToStart(jobs, q, 2)), ['yyyyyy']);
  assert.deepEqual(ids(selectJobsToStart(jobs, q, 1)), []);
});

test('a definition at its maxRunning is skipped, later jobs of others still start', () => {
  const jobs = { rrrrr1: hot('reduce', 1, 1) };
  const q = sorted(queued('rrrrr2', 'reduce', 2, 1), queued('hhhhh1', 'hello', 3));
  assert.deepEqual(ids(selectJobsToStart(jobs, q, 3)), ['hhhhh1']);
});

test('maxRunning counts jobs chosen in the same round', () => {
  const q = sorted(queued('rrrrr1', 'reduce', 1, 1), queued('rrrrr2', 'reduce', 2, 1), queued('hhhhhh', 'hello', 3));
  assert.deepEqual(ids(selectJobsToStart({}, q, 5)), ['rrrrr1', 'hhhhhh']);
});

test('limit 0 (paused) starts nothing', () => {
  const q = sorted(queued('aaaaaa', 'a', 1), queued('bbbbbb', 'b', 2));
  assert.deepEqual(ids(selectJobsToStart({}, q, 0)), []);
  assert.deepEqual(ids(selectJobsToStart({ x: hot('a', 0) }, q, 0)), []);
});

test('a job that may not start yet holds no slot and does not block the jobs behind it', () => {
  const waiting = parseEntry(entryName({ jobId: 'aaaaaa', definition: 'a', queuedAt: 1, maxRunning: null, notBefore: '2099-01-01T00:00:00.000Z' }))!;
  const q = sorted(waiting, queued('bbbbbb', 'a', 2), queued('cccccc', 'a', 3));
  assert.deepEqual(ids(selectJobsToStart({}, q, 1, () => false)), ['bbbbbb']);
  assert.deepEqual(ids(selectJobsToStart({}, q, 1, () => true)), ['aaaaaa']);
  let asked = 0;
  selectJobsToStart({}, q, 5, (e) => (asked++, e.jobId !== 'aaaaaa'));
  assert.equal(asked, 1, 'only entries marked as waiting are asked about');
});

const slurmQueued = (jobId: string, definition: string, queuedAt: number, maxRunning: number | null = null): QueueEntry =>
  parseEntry(entryName({ jobId, definition, queuedAt, maxRunning, executor: 'slurm' }))!;
const slurmHot = (definition: string, phase: 'QUEUED' | 'EXECUTING', maxRunning: number | null = null): HotEntry => ({
  ...hot(definition, 1, maxRunning), phase, pid: null, pidStart: null, executor: 'slurm', slurmJobId: '7', handoverAt: '2026-01-01T00:00:00.000Z',
});

test('slurm jobs: the HOME-wide limit does not count them, their maxRunning counts those handed over, limit 0 stops them (SPEC §11)', () => {
  const e = slurmQueued('ssssss', 'cluster', 5, 2);
  assert.equal(e.slurm, true);
  assert.equal(e.maxRunning, 2);
  assert.match(e.name, /\.ssssss\.s2\.cluster$/);
  // Two local jobs fill a HOME of limit 2: the slurm jobs behind them are still handed over.
  const full = { l1: hot('a', 1), l2: hot('a', 2) };
  const q = sorted(queued('aaaaaa', 'a', 3), slurmQueued('ssssss', 'cluster', 4), slurmQueued('tttttt', 'cluster', 5));
  assert.deepEqual(ids(selectJobsToStart(full, q, 2)), ['ssssss', 'tttttt']);
  // Handed-over jobs (pending or running in Slurm) fill the definition's maxRunning, not the HOME.
  const handed = { h1: slurmHot('cluster', 'QUEUED', 2), h2: slurmHot('cluster', 'EXECUTING', 2) };
  const capped = sorted(slurmQueued('ssssss', 'cluster', 4, 2), queued('aaaaaa', 'a', 5));
  assert.deepEqual(ids(selectJobsToStart(handed, capped, 1)), ['aaaaaa']);
  assert.deepEqual(ids(selectJobsToStart({}, capped, 0)), []);
});
