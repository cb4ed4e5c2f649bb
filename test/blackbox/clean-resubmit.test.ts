// Black-box tests of `clean` and `resubmit` (SPEC §9). clean deletes final jobs (COMPLETED,
// ERROR, ABORTED by default; ARCHIVED only when asked for) by phase, age of endTime and
// definition, and prints the ids it deleted. resubmit makes a new job from an earlier one's
// definition snapshot, environment, parameters (as changed by -p, checked like submit),
// runId and limits, whatever its phase and whatever the YAML file says now.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { FINAL, Sandbox, submitJob, waitFor } from '../helpers.js';
import { homeSnapshot, quietHome } from '../home-snapshot.js';

const YAML = `
defaults:
  destruction: 0
jobs:
  ok:
    command: [sh, -c, 'echo "$GREETING {name} $UWS_PARAM_NAME"; echo "$UWS_JOB_ID" > "$UWS_RESULTS_DIR/id"']
    env: { GREETING: hello }
    parameters:
      name: { type: string, default: world }
      count: { type: integer, default: 1, min: 1 }
    killGrace: 7
    maxRunning: 3
  fail:
    command: [sh, -c, 'exit 3']
  kept:
    command: [echo, kept]
    archive: true
`;

const T = { timeout: 120_000 };

const phaseOf = (sb: Sandbox, id: string): string => sb.job(id).phase;

async function finalJobs(sb: Sandbox) {
  const completed = submitJob(sb, ['ok', '--run']);
  const error = submitJob(sb, ['fail', '--run']);
  const aborted = submitJob(sb, ['ok']);
  assert.equal(sb.run(['abort', aborted]).code, 0);
  const pending = submitJob(sb, ['ok']);
  const archived = submitJob(sb, ['kept', '--run', '--destruction', '1s']);
  await waitFor('COMPLETED and ERROR', () => phaseOf(sb, completed) === 'COMPLETED' && phaseOf(sb, error) === 'ERROR');
  await waitFor('the kept job ARCHIVED (destruction, then tick)', () => {
    const job = sb.job(archived);
    if (FINAL.includes(job.phase) && Date.now() > Date.parse(job.destruction)) sb.run(['tick']);
    return sb.job(archived).phase === 'ARCHIVED';
  });
  return { completed, error, aborted, pending, archived };
}

test('clean deletes COMPLETED, ERROR and ABORTED jobs, never active ones, ARCHIVED only when asked for', T, async () => {
  const sb = new Sandbox(YAML);
  try {
    const j = await finalJobs(sb);
    const before = await quietHome(sb);
    const young = sb.run(['clean', '--older-than', '1h']);
    assert.equal(young.code, 0, young.stderr);
    assert.equal(young.stdout, '', 'nothing ended more than an hour ago');
    assert.deepEqual(homeSnapshot(sb), before);

    const r = sb.run(['clean']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.stdout.trim().split('\n').sort(), [j.completed, j.error, j.aborted].sort(), 'the deleted ids, one a line');
    for (const id of [j.completed, j.error, j.aborted]) {
      assert.equal(sb.run(['show', id]).code, 3, `${id} is gone`);
      assert.equal(existsSync(sb.jobDir(id)), false, `${id}: its directory is gone`);
    }
    assert.equal(phaseOf(sb, j.pending), 'PENDING', 'an active job is never cleaned');
    assert.equal(phaseOf(sb, j.archived), 'ARCHIVED', 'ARCHIVED only when asked for');
    assert.equal(sb.run(['clean']).stdout, '', 'a second clean finds nothing');
    assert.deepEqual(JSON.parse(sb.ok(['clean', '--phase', 'archived', '--json'])), [j.archived], '--json: an array of the deleted ids');
    assert.equal(sb.run(['show', j.archived]).code, 3);
    assert.deepEqual((sb.json(['list']) as any[]).map((x) => x.jobId), [j.pending]);
  } finally {
    sb.cleanup();
  }
});

test('clean of a HOME that does not exist deletes nothing and creates nothing', T, () => {
  const sb = new Sandbox(YAML);
  try {
    for (const args of [['clean'], ['clean', '--json'], ['clean', '--phase', 'ARCHIVED', '--older-than', '7d']]) {
      const r = sb.run(args);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, args.includes('--json') ? '[]\n' : '');
      assert.equal(existsSync(sb.home), false, `${args.join(' ')}: no HOME created`);
    }
  } finally {
    sb.cleanup();
  }
});

test('clean --phase and --definition are unions; --older-than counts from endTime; bad filters exit 2 and change nothing', T, async () => {
  const sb = new Sandbox(YAML);
  try {
    const j = await finalJobs(sb);
    const before = await quietHome(sb);
    for (const [args, needle] of [[['clean', '--phase', 'EXECUTING'], 'EXECUTING'], [['clean', '--phase', 'PENDING'], 'PENDING'],
      [['clean', '--phase', 'DONE'], 'DONE'], [['clean', '--older-than', '1y'], '1y'], [['clean', '--older-than', '-5'], '-5'],
      [['clean', '--bogus'], '--bogus'], [['clean', j.completed], 'clean']] as const) {
      const r = sb.run([...args]);
      assert.equal(r.code, 2, `${args.join(' ')}: exit 2 (${r.stderr})`);
      assert.equal(r.stdout, '');
      assert.ok(r.stderr.includes(needle), `${args.join(' ')}: names ${needle}: ${r.stderr}`);
      assert.deepEqual(homeSnapshot(sb), before, `${args.join(' ')}: nothing changed on disk`);
    }
    assert.equal(sb.ok(['clean', '--definition', 'nope']), '');
    assert.equal(sb.ok(['clean', '--phase', 'ERROR', '--definition', 'ok']), '', 'phase and definition together: both must hold');
    assert.equal(sb.ok(['clean', '--phase', 'ERROR', '--phase', 'ABORTED', '--definition', 'ok']), j.aborted);
    // endTime is at least a second ago once a second has passed: --older-than 1s selects it.
    await waitFor('a second after the end', () => Date.now() - Date.parse(sb.job(j.completed).endTime) > 1100);
    assert.equal(sb.ok(['clean', '--older-than', '1s', '--definition', 'ok', '--definition', 'fail']).split('\n').sort().join(' '), [j.completed, j.error].sort().join(' '));
    assert.deepEqual((sb.json(['list', '--phase', 'PENDING', '--phase', 'ARCHIVED']) as any[]).map((x) => x.jobId), [j.pending, j.archived]);
  } finally {
    sb.cleanup();
  }
});

test('resubmit: a new PENDING job from the snapshot, with -p changes, the same runId and limits, whatever the YAML says now', T, async () => {
  const sb = new Sandbox(YAML);
  try {
    const first = submitJob(sb, ['ok', '--run', '-p', 'name=Ada', '--run-id', 'night-7', '--execution-duration', '10m']);
    await waitFor('the first job COMPLETED', () => phaseOf(sb, first) === 'COMPLETED');
    // The definition changes on disk afterwards: resubmit does not read it.
    writeFileSync(sb.jobsFile, 'jobs:\n  ok:\n    command: [echo, changed]\n');
    const old = sb.job(first);
    const again = sb.ok(['resubmit', first, '-p', 'count=2']);
    assert.notEqual(again, first);
    const job = sb.job(again);
    assert.equal(job.phase, 'PENDING', 'PENDING without --run');
    assert.equal(job.definition, 'ok');
    assert.equal(job.runId, 'night-7');
    assert.equal(job.executionDuration, 600);
    assert.deepEqual(job.parameters, { name: 'Ada', count: 2 });
    assert.deepEqual(job.command, old.command, 'the command template of the snapshot, filled in again');
    const record = JSON.parse(readFileSync(`${sb.recordDir(again)}/job.json`, 'utf8'));
    assert.equal(record.killGrace, 7);
    assert.equal(record.maxRunning, 3);
    assert.equal(record.env.GREETING, 'hello');
    assert.equal(record.env.UWS_JOB_ID, again, 'its own UWS_JOB_ID');
    assert.equal(record.env.UWS_PARAM_COUNT, '2');
    assert.equal(record.cwd, sb.jobDir(again), 'its own directory as working directory');

    const waited = sb.run(['resubmit', again, '--wait', '--timeout', '60']);
    assert.equal(waited.code, 0, waited.stderr);
    const third = waited.stdout.trim();
    assert.equal(phaseOf(sb, third), 'COMPLETED');
    assert.equal(sb.ok(['logs', third]), 'hello Ada Ada');
    assert.equal(readFileSync(`${sb.jobDir(third)}/results/id`, 'utf8').trim(), third);
    assert.equal(phaseOf(sb, again), 'PENDING', 'the job resubmitted from is left as it was');

    const queued = sb.json(['resubmit', first, '--run']);
    assert.equal(queued.runId, 'night-7');
    assert.ok(['QUEUED', 'EXECUTING', 'COMPLETED'].includes(queued.phase), queued.phase);
    // The run id now names the newest of them for --unique.
    await waitFor('the queued resubmission COMPLETED', () => phaseOf(sb, queued.jobId) === 'COMPLETED');
    writeFileSync(sb.jobsFile, YAML);
    assert.equal(sb.ok(['submit', 'ok', '--run-id', 'night-7', '--unique']), queued.jobId);
  } finally {
    sb.cleanup();
  }
});

test('resubmit of a failed, aborted or archived job works; bad -p or id exit 2 or 3 and create nothing', T, async () => {
  const sb = new Sandbox(YAML);
  try {
    const failed = submitJob(sb, ['fail', '--run']);
    const archived = submitJob(sb, ['kept', '--run', '--destruction', '1s']);
    await waitFor('ERROR', () => phaseOf(sb, failed) === 'ERROR');
    await waitFor('ARCHIVED', () => {
      const job = sb.job(archived);
      if (FINAL.includes(job.phase) && Date.now() > Date.parse(job.destruction)) sb.run(['tick']);
      return sb.job(archived).phase === 'ARCHIVED';
    });
    const retried = sb.run(['resubmit', failed, '--wait']);
    assert.equal(retried.code, 1, 'the retry ran and failed like the first');
    assert.equal(phaseOf(sb, retried.stdout.trim()), 'ERROR');
    const fromArchive = sb.ok(['resubmit', archived, '--run']);
    await waitFor('the job from an ARCHIVED one COMPLETED', () => phaseOf(sb, fromArchive) === 'COMPLETED');
    assert.equal(sb.ok(['logs', fromArchive]), 'kept');

    const ok = submitJob(sb, ['ok']);
    const before = await quietHome(sb);
    for (const [args, code, needle] of [[['resubmit', ok, '-p', 'Name=x'], 2, '"Name"'], [['resubmit', ok, '-p', 'count=0'], 2, 'count'],
      [['resubmit', ok, '-p', 'nope'], 2, 'nope'], [['resubmit', failed, '-p', 'x=1'], 2, '"x"'], [['resubmit', 'zzzzzzzz'], 3, 'zzzzzzzz'],
      [['resubmit', 'ab'], 2, '"ab"'], [['resubmit', ok, '--timeout', '5'], 2, '--timeout'], [['resubmit', ok, '--run-id', 'x'], 2, '--run-id']] as const) {
      const r = sb.run([...args]);
      assert.equal(r.code, code, `${args.join(' ')}: exit ${code} (${r.stderr})`);
      assert.equal(r.stdout, '');
      assert.ok(r.stderr.includes(needle), `${args.join(' ')}: names ${needle}: ${r.stderr}`);
      assert.deepEqual(homeSnapshot(sb), before, `${args.join(' ')}: nothing changed on disk`);
    }
  } finally {
    sb.cleanup();
  }
});
