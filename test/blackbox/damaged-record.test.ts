// Black-box tests of SPEC §8 "one damaged or missing record affects only that job": with one
// job's HOME/records/ID/job.json made garbage, empty or removed, `list`, `tick`, `doctor`
// and the runner go on for the other jobs, commands about that job say what is wrong, and
// `delete` removes it.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Sandbox, submitJob, waitFor } from '../helpers.js';

const YAML = `
jobs:
  quick:
    command: [echo, done]
  long:
    command: [sh, -c, 'sleep 300 & echo $! > "$UWS_RESULTS_DIR/child"; wait']
    killGrace: 2
`;

const T = { timeout: 90_000 };

/** A zombie (ended, not yet reaped by its parent) counts as gone. */
function zombie(pid: number): boolean {
  try {
    return /\) [ZX] /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return true;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

type Damage = 'garbage' | 'empty' | 'missing';

function damage(sb: Sandbox, id: string, how: Damage): void {
  const file = join(sb.recordDir(id), 'job.json');
  if (how === 'missing') rmSync(file);
  else writeFileSync(file, how === 'garbage' ? 'garbage\n' : '');
}

function damagedLine(sb: Sandbox, id: string): string {
  return `uwsrun: job ${id}: its record ${join(sb.recordDir(id), 'job.json')} is damaged (not JSON); \`uwsrun delete ${id}\` removes it\n`;
}

/** After delete: no trace of the job anywhere, and list and doctor are clean. */
function assertDeleted(sb: Sandbox, id: string, others: string[]): void {
  assert.equal(existsSync(sb.recordDir(id)), false, 'its record directory is gone');
  assert.equal(existsSync(sb.jobDir(id)), false, 'its job directory is gone');
  const queue = join(sb.home, 'queue');
  const entries = existsSync(queue) ? readdirSync(queue).filter((n) => n.includes(`.${id}.`)) : [];
  assert.deepEqual(entries, [], 'its queue entry is gone');
  const list = sb.run(['list', '--json']);
  assert.equal(list.code, 0, list.stderr);
  assert.equal(list.stderr, '');
  assert.deepEqual(JSON.parse(list.stdout).map((j: any) => j.jobId), others);
  const doctor = sb.run(['doctor']);
  assert.equal(doctor.code, 0, doctor.stdout + doctor.stderr);
  assert.equal(sb.run(['show', id]).code, 3);
}

for (const how of ['garbage', 'empty'] as const) {
  test(`a ${how} job.json: list, tick and doctor go on for the others; delete removes it`, T, () => {
    const sb = new Sandbox(YAML);
    try {
      const [a, b, c] = [submitJob(sb, ['quick']), submitJob(sb, ['quick']), submitJob(sb, ['quick'])] as [string, string, string];
      damage(sb, b, how);
      const file = join(sb.recordDir(b), 'job.json');

      for (const args of [['list'], ['list', '-q'], ['list', '--json'], ['list', '--last', '3']]) {
        const r = sb.run(args);
        assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
        assert.equal(r.stderr, damagedLine(sb, b), `${args.join(' ')} names the damaged record once, also with -q`);
        assert.ok(r.stdout.includes(a) && r.stdout.includes(c), `${args.join(' ')} lists the others: ${r.stdout}`);
        assert.ok(!r.stdout.includes(b), `${args.join(' ')} leaves the damaged one out`);
      }
      assert.deepEqual(sb.json<any[]>(['list']).map((j) => j.jobId), [a, c]);

      // Commands about that job: exit 5 naming the file; the others are unaffected.
      for (const cmd of ['show', 'phase']) {
        const r = sb.run([cmd, b]);
        assert.equal(r.code, 5, `${cmd} ${b}: ${r.stderr}`);
        assert.ok(r.stderr.includes(file), r.stderr);
      }
      assert.equal(sb.ok(['phase', a]), 'PENDING');

      const tick = sb.run(['tick']);
      assert.equal(tick.code, 0, tick.stderr);

      const doctor = sb.run(['doctor']);
      assert.equal(doctor.code, 1, doctor.stdout + doctor.stderr);
      assert.ok(doctor.stdout.includes(`job ${b}: its record ${file} is damaged`), doctor.stdout);
      assert.ok(doctor.stdout.includes(`\`uwsrun delete ${b}\``), doctor.stdout);
      // --repair leaves it to the operator.
      const repair = sb.run(['doctor', '--repair']);
      assert.equal(repair.code, 1, repair.stdout + repair.stderr);
      assert.ok(repair.stdout.includes(`uwsrun delete ${b}`), repair.stdout);
      assert.ok(existsSync(file), 'doctor --repair does not remove the damaged record');

      const del = sb.run(['delete', b]);
      assert.equal(del.code, 0, del.stderr);
      assertDeleted(sb, b, [a, c]);
      assert.equal(sb.ok(['phase', c]), 'PENDING');
    } finally {
      sb.cleanup();
    }
  });
}

test('a missing job.json (record directory present): list and doctor name it, the others are listed; delete removes it', T, () => {
  const sb = new Sandbox(YAML);
  try {
    const [a, b, c] = [submitJob(sb, ['quick']), submitJob(sb, ['quick']), submitJob(sb, ['quick'])] as [string, string, string];
    damage(sb, b, 'missing');
    const file = join(sb.recordDir(b), 'job.json');
    const missingLine = `uwsrun: job ${b}: its record ${file} is missing; \`uwsrun delete ${b}\` removes the job\n`;
    for (const args of [['list'], ['list', '-q'], ['list', '--json'], ['list', '--last', '3']]) {
      const r = sb.run(args);
      assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
      assert.equal(r.stderr, missingLine, `${args.join(' ')} names the missing record once, also with -q`);
      assert.ok(r.stdout.includes(a) && r.stdout.includes(c) && !r.stdout.includes(b), `${args.join(' ')}: ${r.stdout}`);
    }
    const list = sb.run(['list', '--json']);
    assert.deepEqual(JSON.parse(list.stdout).map((j: any) => j.jobId), [a, c]);
    const doctor = sb.run(['doctor']);
    assert.equal(doctor.code, 1, doctor.stdout + doctor.stderr);
    assert.ok(doctor.stdout.includes(`job ${b}: its record ${file} is missing`), doctor.stdout);
    assert.equal(sb.run(['tick']).code, 0);
    assert.equal(sb.run(['show', b]).code, 3);
    const del = sb.run(['delete', b]);
    assert.equal(del.code, 0, del.stderr);
    assertDeleted(sb, b, [a, c]);
  } finally {
    sb.cleanup();
  }
});

test('a queued job whose record is damaged is not started and does not hold up the jobs behind it', T, async () => {
  const sb = new Sandbox(YAML);
  try {
    // Paused, so all three are queued before anything starts; then one start at a time,
    // the damaged job first in the queue.
    sb.ok(['limit', '0']);
    const ids = [submitJob(sb, ['quick', '--run']), submitJob(sb, ['quick', '--run']), submitJob(sb, ['quick', '--run'])];
    const [bad, ...rest] = ids as [string, string, string];
    for (const id of ids) assert.equal(sb.ok(['phase', id]), 'QUEUED');
    damage(sb, bad, 'garbage');
    sb.ok(['limit', '1']);
    await waitFor('the jobs behind the damaged one to complete',
      () => rest.every((id) => sb.ok(['phase', id]) === 'COMPLETED'), 60_000);
    assert.equal(existsSync(join(sb.recordDir(bad), 'started')), false, 'the damaged job was not started');
    for (const id of rest) assert.equal(readFileSync(join(sb.jobDir(id), 'stdout.log'), 'utf8'), 'done\n');
    const badOut = join(sb.jobDir(bad), 'stdout.log');
    assert.equal(existsSync(badOut) ? readFileSync(badOut, 'utf8') : '', '', 'the damaged job printed nothing: it never ran');
    // It keeps no runner busy: the runner idles out (UWSRUN_RUNNER_IDLE_MS=400) as with an
    // empty queue, and said once in runner.log why the job was not started.
    const runner = JSON.parse(readFileSync(join(sb.home, 'state.json'), 'utf8')).runner?.pid as number | undefined;
    if (runner) await waitFor('the runner to idle out', () => !alive(runner), 30_000);
    const log = readFileSync(join(sb.home, 'runner.log'), 'utf8');
    assert.equal(log.split('\n').filter((l) => l.includes(`job ${bad}: its record`) && l.endsWith('it is not started')).length, 1, log);
    const del = sb.run(['delete', bad]);
    assert.equal(del.code, 0, del.stderr);
    assertDeleted(sb, bad, rest);
  } finally {
    sb.cleanup();
  }
});

for (const how of ['garbage', 'missing'] as const) {
  test(`an EXECUTING job whose record is ${how === 'garbage' ? 'damaged' : 'missing'}: delete ends its processes first, then removes it`, T, async () => {
    const sb = new Sandbox(YAML);
    const pids: number[] = [];
    try {
      const other = submitJob(sb, ['quick']);
      const id = submitJob(sb, ['long', '--run']);
      const childFile = join(sb.jobDir(id), 'results', 'child');
      // The job can write its child's pid before the runner has committed its start.
      const hot = await waitFor('the job to run its sleep, its start recorded', () => {
        const entry = JSON.parse(readFileSync(join(sb.home, 'state.json'), 'utf8')).jobs[id];
        return entry?.phase === 'EXECUTING' && entry.pid !== null && existsSync(childFile) && readFileSync(childFile, 'utf8').trim() !== '' && entry;
      }, 30_000);
      pids.push(hot.pid as number, Number(readFileSync(childFile, 'utf8')));
      for (const pid of pids) assert.ok(alive(pid), `${pid} runs before the delete`);
      damage(sb, id, how);
      const del = sb.run(['delete', id]);
      assert.equal(del.code, 0, del.stderr);
      for (const pid of pids) assert.equal(alive(pid) && !zombie(pid), false, `process ${pid} of the job is gone once delete returns`);
      assertDeleted(sb, id, [other]);
      assert.match(readFileSync(join(sb.home, 'runner.log'), 'utf8'), new RegExp(`job ${id}: delete of a job whose record cannot be read: SIGTERM`));
    } finally {
      for (const pid of pids) try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
      sb.cleanup();
    }
  });
}
