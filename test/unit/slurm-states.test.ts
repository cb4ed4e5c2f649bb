// Unit: what Slurm's text interfaces say and what it means for a uwsrun job (SPEC §11,
// executors/slurm/states.ts): the parsing of squeue's and sacct's lines, and the mapping of
// Slurm's own end states, which decide the phase whatever the wrapper wrote. The behaviour
// against a real cluster is in test/blackbox/slurm-*.test.ts; the end states that cluster
// cannot produce in a test's time (NODE_FAIL, PREEMPTED, DEADLINE...) are checked here.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseSacct, parseSqueue, slurmEnded, slurmOnlyVerdict, slurmVerdict, slurmWaiting } from '../../src/executors/slurm/states.js';

const job = (state: string, reason = 'None', exitCode = '') => ({ slurmJobId: '42', state, reason, exitCode });

test('squeue -o %i|%T|%r|%S|%e: one entry per line by Slurm id; noise and blank lines are skipped', () => {
  const m = parseSqueue('42|PENDING|BeginTime|2026-12-01T12:00:00|N/A\n43|RUNNING|None|2026-12-01T11:00:00|N/A\n\nslurm_load_jobs error\n44_1|RUNNING|None||\n');
  assert.deepEqual([...m.keys()], ['42', '43']);
  assert.deepEqual(m.get('42'), { slurmJobId: '42', state: 'PENDING', reason: 'BeginTime', exitCode: '' });
});

test('sacct -X -n -P -o JobIDRaw,State,ExitCode,Reason: "CANCELLED by 0" is CANCELLED, the exit code kept', () => {
  const m = parseSacct('42|CANCELLED by 0|0:15|None\n43|FAILED|3:0|NonZeroExitCode\n');
  assert.equal(m.get('42')?.state, 'CANCELLED');
  assert.equal(m.get('42')?.exitCode, '0:15');
  assert.deepEqual(m.get('43'), { slurmJobId: '43', state: 'FAILED', reason: 'NonZeroExitCode', exitCode: '3:0' });
});

test('ended and waiting states', () => {
  for (const s of ['COMPLETED', 'FAILED', 'CANCELLED', 'CANCELLED+', 'TIMEOUT', 'OUT_OF_MEMORY', 'NODE_FAIL', 'BOOT_FAIL', 'PREEMPTED', 'DEADLINE']) {
    assert.equal(slurmEnded(s), true, s);
    assert.equal(slurmWaiting(s), false, s);
  }
  for (const s of ['PENDING', 'CONFIGURING', 'REQUEUED', 'SUSPENDED']) assert.equal(slurmWaiting(s), true, s);
  for (const s of ['RUNNING', 'COMPLETING', 'PENDING']) assert.equal(slurmEnded(s), false, s);
});

test('Slurm\'s own end states decide the phase (SPEC §11), naming the state and reason', () => {
  assert.deepEqual(slurmVerdict(job('TIMEOUT', 'TimeLimit'), false), {
    phase: 'ABORTED', errorSummary: { type: 'transient', message: 'Slurm ended the job at its time limit (--time): TIMEOUT (reason: TimeLimit)' },
  });
  assert.deepEqual(slurmVerdict(job('OUT_OF_MEMORY'), false), { phase: 'ERROR', errorSummary: { type: 'fatal', message: 'Slurm ended the job: OUT_OF_MEMORY' } });
  for (const s of ['NODE_FAIL', 'BOOT_FAIL', 'PREEMPTED']) {
    assert.deepEqual(slurmVerdict(job(s, 'NodeDown'), false), { phase: 'ERROR', errorSummary: { type: 'transient', message: `Slurm ended the job: ${s} (reason: NodeDown)` } }, s);
  }
  assert.deepEqual(slurmVerdict(job('CANCELLED'), false), { phase: 'ERROR', errorSummary: { type: 'fatal', message: 'Slurm ended the job: CANCELLED, not by uwsrun' } });
  assert.equal(slurmVerdict(job('CANCELLED'), true), undefined, 'a cancel uwsrun sent itself: the abort decides');
  assert.deepEqual(slurmVerdict(job('DEADLINE'), false), { phase: 'ERROR', errorSummary: { type: 'fatal', message: 'Slurm ended the job: DEADLINE' } });
  // COMPLETED and FAILED: the command's own exit status (the wrapper's file) is the truth.
  assert.equal(slurmVerdict(job('COMPLETED'), false), undefined);
  assert.equal(slurmVerdict(job('FAILED', 'NonZeroExitCode'), false), undefined);
});

test('without an exit status: Slurm\'s record decides; FAILED is ERROR (fatal) naming the state, its exit code and reason', () => {
  assert.deepEqual(slurmOnlyVerdict(job('COMPLETED', 'None', '0:0')), { phase: 'COMPLETED', exitCode: 0, errorSummary: null });
  const failed = slurmOnlyVerdict(job('FAILED', 'NonZeroExitCode', '3:0'));
  assert.equal(failed.phase, 'ERROR');
  assert.equal(failed.exitCode, 3);
  assert.equal(failed.errorSummary?.type, 'fatal');
  assert.match(failed.errorSummary!.message, /^Slurm says the job FAILED with exit code 3:0 \(reason: NonZeroExitCode\), and it left no exit status/);
});
