// Unit tests of the pieces behind what people read: printable() (control characters never
// reach a terminal), closestName() (did-you-mean for unknown YAML keys) and whyWaiting()
// (why a QUEUED job has not started, rule by rule, including limit 0).

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { printable, printableLines } from '../../src/cli/printable.js';
import { closestName, editDistance } from '../../src/definitions/suggest.js';
import { whyWaiting } from '../../src/run/why-waiting.js';

describe('printable', () => {
  test('control characters are escaped; everything else, backslashes included, is left as it is', () => {
    assert.equal(printable('plain text, ünïcödé, 東京 \\d+'), 'plain text, ünïcödé, 東京 \\d+');
    assert.equal(printable('a\nb\tc\rd'), 'a\\nb\\tc\\rd');
    assert.equal(printable('\x1b[31mred\x1b[0m'), '\\x1b[31mred\\x1b[0m');
    assert.equal(printable('\x00\x07\x7f\x9b'), '\\x00\\x07\\x7f\\x9b');
    assert.equal(printable('evil\u202etxt.exe\u2028x\u2066'), 'evil\\u{202e}txt.exe\\u{2028}x\\u{2066}');
    // The same regular expression twice in a row (a /g regex keeps state between calls).
    assert.equal(printable('\x1b'), '\\x1b');
    assert.equal(printable('\x1b'), '\\x1b');
  });

  test('printableLines keeps the newlines between lines and escapes the rest', () => {
    assert.equal(printableLines('one\x1b\ntwo\t'), 'one\\x1b\ntwo\\t');
  });
});

describe('closestName', () => {
  test('edit distance counts insertions, deletions, substitutions and swaps', () => {
    assert.equal(editDistance('comand', 'command'), 1);
    assert.equal(editDistance('defualt', 'default'), 1);
    assert.equal(editDistance('kitten', 'sitting'), 3);
  });

  test('suggests only a likely typo', () => {
    const keys = ['description', 'command', 'cwd', 'env', 'parameters', 'executionDuration', 'killGrace', 'maxRunning', 'retries', 'retryDelay'];
    assert.equal(closestName('comand', keys), 'command');
    assert.equal(closestName('Command', keys), 'command');
    assert.equal(closestName('paramters', keys), 'parameters');
    assert.equal(closestName('executionduration', keys), 'executionDuration');
    assert.equal(closestName('retires', keys), 'retries');
    assert.equal(closestName('fallback', keys), undefined);
    assert.equal(closestName('x', keys), undefined);
    assert.equal(closestName('envs', keys), 'env');
  });
});

describe('whyWaiting', () => {
  const job = (jobId: string, definition: string, maxRunning: number | null = null, phase: 'QUEUED' | 'EXECUTING' = 'QUEUED') =>
    ({ jobId, phase, definition, maxRunning });

  test('the first rule that holds the job back is named', () => {
    const executing = ['a', 'b'];
    const q1 = job('q1', 'a');
    const q2 = job('q2', 'b', 1);
    assert.equal(whyWaiting({ job: q1, limit: 0, executing, queuedBefore: 3 }), 'the HOME is paused (limit 0): no job starts until `uwsrun limit N` sets N > 0');
    assert.equal(whyWaiting({ job: q1, limit: 2, executing, queuedBefore: 3 }), "the HOME's limit is reached: 2/2 jobs executing");
    assert.equal(whyWaiting({ job: q2, limit: 5, executing, queuedBefore: 3 }), 'its definition b is at its maxRunning: 1/1 executing');
    assert.equal(whyWaiting({ job: q1, limit: 5, executing, queuedBefore: 3 }), '3 jobs are queued before it');
    assert.equal(whyWaiting({ job: q1, limit: 5, executing, queuedBefore: 1 }), '1 job is queued before it');
    assert.equal(whyWaiting({ job: q1, limit: 5, executing, queuedBefore: 0 }), null, 'nothing holds it: it starts any moment');
    assert.equal(whyWaiting({ job: job('x', 'a', 2), limit: 5, executing: ['a', 'a'], queuedBefore: 0 }), 'its definition a is at its maxRunning: 2/2 executing');
    assert.equal(whyWaiting({ job: job('r', 'a', null, 'EXECUTING'), limit: 1, executing, queuedBefore: 0 }), null, 'only a QUEUED job waits');
  });

  test('its own gate comes after a paused HOME and before the limits: a dependency (which, its phase) or notBefore (until when)', () => {
    const q = { ...job('q1', 'a'), after: [{ jobId: 'dep111', any: false }, { jobId: 'dep222', any: true }] };
    const full = { limit: 1, executing: ['a'], queuedBefore: 2 };
    assert.match(whyWaiting({ job: q, ...full, limit: 0, gate: { eligible: false, dependency: { jobId: 'dep111', phase: 'EXECUTING' } } })!, /paused/);
    assert.equal(whyWaiting({ job: q, ...full, gate: { eligible: false, dependency: { jobId: 'dep111', phase: 'EXECUTING' } } }), 'it waits for job dep111 (EXECUTING) to be COMPLETED');
    assert.equal(whyWaiting({ job: q, ...full, gate: { eligible: false, dependency: { jobId: 'dep222', phase: 'HELD' } } }), 'it waits for job dep222 (HELD) to end');
    assert.equal(whyWaiting({ job: q, ...full, gate: { eligible: false, failed: { jobId: 'dep111', phase: 'ERROR' } } }), 'dependency dep111 ended ERROR: it will be ABORTED');
    const until = Date.now() + 2 * 3600_000 + 5 * 60_000 + 30_000;
    const text = whyWaiting({ job: q, ...full, gate: { eligible: false, until, why: 'notBefore' } })!;
    assert.ok(text.startsWith(`its notBefore: not started before ${new Date(until).toISOString().slice(0, 10)} `), text);
    assert.match(text, / UTC \(in 2h0[56]m\)$/);
    assert.equal(whyWaiting({ job: q, ...full, gate: { eligible: true } }), "the HOME's limit is reached: 1/1 jobs executing");
  });

  test('a retried job in its retry delay says until when, after a paused HOME and before the limits', () => {
    const q = job('q1', 'a');
    const full = { limit: 1, executing: ['a'], queuedBefore: 2 };
    const until = Date.now() + 59 * 60_000 + 30_000;
    const gate = { eligible: false as const, until, why: 'retryDelay' as const };
    const text = whyWaiting({ job: q, ...full, gate })!;
    assert.ok(text.startsWith(`retry delay until ${new Date(until).toISOString().slice(0, 10)} `), text);
    assert.match(text, / UTC \(in 59m[23]\ds\)$/);
    assert.match(whyWaiting({ job: q, ...full, limit: 0, gate })!, /paused/, 'a paused HOME is said first');
    assert.equal(whyWaiting({ job: q, ...full, limit: 5, gate: { eligible: true } }), '2 jobs are queued before it', 'once the delay is over, the other rules speak');
  });
});
