import { test } from 'node:test';
import assert from 'node:assert/strict';
import { selectJobsToStart } from '../../src/run/queue.js';
import type { HotEntry } from '../../src/core/job.js';
import type { Phase } from '../../src/core/phases.js';

const hot = (phase: Phase, definition: string, queuedAt: number | null, maxRunning: number | null = null): HotEntry => ({
  seq: queuedAt ?? 0, phase, definition, maxRunning, queuedAt, pid: null, pidStart: null, startTime: null,
  abortRequested: null, abortReason: null,
});

test('queued jobs start in the order they were queued, up to the limit', () => {
  const jobs = { c: hot('QUEUED', 'a', 3), a: hot('QUEUED', 'a', 1), b: hot('QUEUED', 'a', 2), p: hot('PENDING', 'a', null) };
  assert.deepEqual(selectJobsToStart(jobs, 2), ['a', 'b']);
  assert.deepEqual(selectJobsToStart(jobs, 10), ['a', 'b', 'c']);
});

test('executing jobs count against the limit', () => {
  const jobs = { x: hot('EXECUTING', 'a', 1), y: hot('QUEUED', 'a', 2), z: hot('QUEUED', 'a', 3) };
  assert.deepEqual(selectJobsToStart(jobs, 2), ['y']);
  assert.deepEqual(selectJobsToStart(jobs, 1), []);
});

test('a definition at its maxRunning is skipped, later jobs of others still start', () => {
  const jobs = {
    r1: hot('EXECUTING', 'reduce', 1, 1),
    r2: hot('QUEUED', 'reduce', 2, 1),
    h1: hot('QUEUED', 'hello', 3),
  };
  assert.deepEqual(selectJobsToStart(jobs, 3), ['h1']);
});

test('maxRunning counts jobs chosen in the same round', () => {
  const jobs = { r1: hot('QUEUED', 'reduce', 1, 1), r2: hot('QUEUED', 'reduce', 2, 1), h: hot('QUEUED', 'hello', 3) };
  assert.deepEqual(selectJobsToStart(jobs, 5), ['r1', 'h']);
});
