import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  FINAL_PHASES, PHASES, TRANSITIONS, applyTransition, findTransition, type Phase, type TransitionEvent,
} from '../../src/core/phases.js';
import { UserError } from '../../src/errors.js';

const EVENTS: TransitionEvent[] = [
  'run', 'start', 'up', 'abort', 'hold', 'release', 'dependency-failed', 'exit-ok', 'exit-failed', 'aborted', 'lost', 'retry', 'archive',
  'handover', 'refused',
];
const job = (phase: Phase, startTime: string | null = null) => ({ jobId: 'job123', phase, startTime });

test('every row of the table applies from its phase and leads to its target', () => {
  for (const row of TRANSITIONS) {
    const startTime = row.guard === 'started' ? '2026-01-01T00:00:00.000Z' : null;
    const applied = applyTransition(job(row.from, startTime), row.event);
    assert.equal(applied.to, row.to, `${row.from} -${row.event}->`);
    assert.equal(applied, row);
  }
});

test('abort of an executing job depends on whether the child is up (DaCHS semantics)', () => {
  assert.equal(applyTransition(job('EXECUTING', null), 'abort').to, 'ABORTED');
  assert.match(applyTransition(job('EXECUTING', null), 'abort').does, /SIGTERM/);
  const started = applyTransition(job('EXECUTING', '2026-01-01T00:00:00.000Z'), 'abort');
  assert.equal(started.to, 'EXECUTING');
  assert.match(started.does, /SIGINT/);
});

test('every pair not in the table is refused with exit 4, naming job, phase and action', () => {
  let refused = 0;
  for (const phase of PHASES) {
    for (const event of EVENTS) {
      for (const startTime of [null, '2026-01-01T00:00:00.000Z']) {
        if (findTransition(job(phase, startTime), event)) continue;
        refused++;
        assert.throws(() => applyTransition(job(phase, startTime), event), (err: unknown) => {
          assert.ok(err instanceof UserError);
          assert.equal(err.exitCode, 4);
          assert.match(err.message, new RegExp(`job123 is ${phase}: ${event} is not allowed`));
          return true;
        });
      }
    }
  }
  assert.ok(refused > 100, `walked ${refused} refused pairs`);
});

test('a final phase never changes again, except final -> ARCHIVED', () => {
  for (const phase of FINAL_PHASES) {
    const targets = TRANSITIONS.filter((t) => t.from === phase).map((t) => t.to);
    assert.ok(targets.every((to) => to === 'ARCHIVED'), `${phase} -> ${targets.join(',')}`);
  }
  assert.equal(TRANSITIONS.filter((t) => t.from === 'ARCHIVED').length, 0);
});

test('run is allowed only from PENDING; start only from QUEUED', () => {
  for (const phase of PHASES) {
    assert.equal(Boolean(findTransition(job(phase), 'run')), phase === 'PENDING', phase);
    assert.equal(Boolean(findTransition(job(phase), 'start')), phase === 'QUEUED', phase);
  }
});

test('up happens once: only while startTime is null', () => {
  assert.ok(findTransition(job('EXECUTING', null), 'up'));
  assert.equal(findTransition(job('EXECUTING', '2026-01-01T00:00:00.000Z'), 'up'), undefined);
});

test('hold takes PENDING and QUEUED jobs to HELD; release takes HELD back to QUEUED; nothing else', () => {
  for (const phase of PHASES) {
    assert.equal(findTransition(job(phase), 'hold')?.to, phase === 'PENDING' || phase === 'QUEUED' ? 'HELD' : undefined, `hold of ${phase}`);
    assert.equal(findTransition(job(phase), 'release')?.to, phase === 'HELD' ? 'QUEUED' : undefined, `release of ${phase}`);
  }
  assert.throws(() => applyTransition(job('EXECUTING', '2026-01-01T00:00:00.000Z'), 'hold'), /job123 is EXECUTING: hold is not allowed/);
  assert.throws(() => applyTransition(job('QUEUED'), 'release'), /job123 is QUEUED: release is not allowed/);
});

test('abort of a HELD job: ABORTED, no process involved', () => {
  const row = applyTransition(job('HELD'), 'abort');
  assert.equal(row.to, 'ABORTED');
  assert.match(row.does, /no process/);
});

test('a failed dependency aborts only a QUEUED job', () => {
  for (const phase of PHASES) {
    assert.equal(findTransition(job(phase), 'dependency-failed')?.to, phase === 'QUEUED' ? 'ABORTED' : undefined, phase);
  }
  assert.match(applyTransition(job('QUEUED'), 'dependency-failed').does, /transient/);
});

test('the retry row takes only an EXECUTING job back to QUEUED, started or still starting', () => {
  for (const phase of PHASES) {
    for (const startTime of [null, '2026-01-01T00:00:00.000Z']) {
      assert.equal(findTransition(job(phase, startTime), 'retry')?.to, phase === 'EXECUTING' ? 'QUEUED' : undefined, `retry of ${phase}`);
    }
  }
  assert.match(applyTransition(job('EXECUTING', '2026-01-01T00:00:00.000Z'), 'retry').does, /attempts.*retryDelay/);
  assert.throws(() => applyTransition(job('ERROR'), 'retry'), /job123 is ERROR: retry is not allowed/);
  assert.throws(() => applyTransition(job('QUEUED'), 'retry'), /job123 is QUEUED: retry is not allowed/);
  // The only row that leaves EXECUTING for a non-final phase: everything else that ends an
  // attempt makes the job final.
  const back = TRANSITIONS.filter((t) => t.from === 'EXECUTING' && t.to !== 'EXECUTING' && !FINAL_PHASES.includes(t.to));
  assert.deepEqual(back.map((t) => t.event), ['retry']);
});
