// A submit of a few jobs takes one turn at the state lock (core/submit.ts submitInOneTurn):
// its record directories and empty temp files for the records made before it, then inside
// it its places in HOME/state.turn, records, index lines and queue entries, synced with the
// state write that is its commit. These tests SIGKILL real
// submits at the two points inside that turn (the process kills itself when
// UWSRUN_TEST_KILL_IN_TURN or UWSRUN_TEST_KILL_BEFORE_COMMIT is set: a real kill -9 at a
// moment a random delay rarely hits) and check what SPEC §8 asks: nothing visible, no seq
// or queue place given twice, the runner never starts a leftover, and `tick` removes it.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { Sandbox, submitJob, waitFor } from '../helpers.js';
import { state } from '../runner-state.js';

const YAML = `
defaults:
  destruction: 0
jobs:
  hello:
    command: [echo, "Hello, {name}!"]
    parameters:
      name: { type: string, default: world }
`;

const T = { timeout: 120_000 };

const recordIds = (sb: Sandbox): string[] => (existsSync(join(sb.home, 'records')) ? readdirSync(join(sb.home, 'records')) : []);
const queueEntries = (sb: Sandbox): string[] => (existsSync(join(sb.home, 'queue')) ? readdirSync(join(sb.home, 'queue')) : []);
const record = (sb: Sandbox, id: string): any => JSON.parse(readFileSync(join(sb.recordDir(id), 'job.json'), 'utf8'));
const turnFile = (sb: Sandbox): string => join(sb.home, 'state.turn');

/** Ages a leftover's directories past tick's minute, so it counts as half-created. */
function age(sb: Sandbox, id: string): void {
  const old = (Date.now() - 120_000) / 1000;
  for (const dir of [sb.jobDir(id), sb.recordDir(id)]) if (existsSync(dir)) utimesSync(dir, old, old);
}

test('submit --run killed -9 inside its turn right before its commit: records, index line and queue entry stay invisible, never run, their seq and queue place are not given again, tick removes them', T, async () => {
  const sb = new Sandbox(YAML);
  try {
    const first = submitJob(sb, ['hello']);
    const killed = sb.run(['submit', '--run', 'hello', '--params-from', '-'], { UWSRUN_TEST_KILL_BEFORE_COMMIT: '1' }, '{"name":"dead"}\n{"name":"dead2"}\n');
    assert.equal(killed.code, 128, `the submit was killed (signal): ${killed.code} ${killed.stderr}`);
    assert.equal(killed.stdout, '', 'no id printed');
    const dead = recordIds(sb).filter((id) => id !== first);
    assert.equal(dead.length, 2, `two leftover records: ${dead}`);
    for (const id of dead) {
      assert.equal(record(sb, id).phase, 'QUEUED', 'its records are all written');
      assert.equal(sb.run(['show', id]).code, 3, `${id} is invisible to show`);
    }
    assert.equal(queueEntries(sb).length, 2, 'its queue entries are written');
    assert.ok(existsSync(turnFile(sb)), 'the turn file names its places');
    assert.deepEqual(sb.json<any[]>(['list']).map((j) => j.jobId), [first], 'list shows only the first job');
    const deadSeqs = dead.map((id) => record(sb, id).seq as number).sort();
    const deadPlaces = dead.map((id) => record(sb, id).queuedAt as number).sort();

    // The next submit takes the lock, makes the dead turn a reservation, and goes on above it.
    const next = submitJob(sb, ['--run', 'hello', '-p', 'name=alive']);
    assert.equal(existsSync(turnFile(sb)), false, 'the turn file is gone once the next turn committed');
    const rec = record(sb, next);
    assert.ok(rec.seq > Math.max(...deadSeqs), `seq ${rec.seq} above the dead turn's ${deadSeqs}`);
    assert.ok(rec.queuedAt > Math.max(...deadPlaces), `queue place ${rec.queuedAt} above the dead turn's ${deadPlaces}`);
    const reservations = Object.values(state(sb).batches) as any[];
    assert.equal(reservations.length, 1, 'the dead turn is a reservation');
    assert.deepEqual([reservations[0].seqFrom, reservations[0].seqTo], [deadSeqs[0], deadSeqs[1]]);
    await waitFor(`${next} COMPLETED`, () => sb.job(next).phase === 'COMPLETED');
    assert.equal(sb.ok(['logs', next]), 'Hello, alive!');
    for (const id of dead) {
      assert.equal(existsSync(join(sb.recordDir(id), 'started')), false, `${id} never started`);
      assert.equal(readFileSync(join(sb.jobDir(id), 'stdout.log'), 'utf8'), '', `${id} wrote nothing`);
      assert.equal(sb.run(['show', id]).code, 3, `${id} still invisible`);
    }
    assert.deepEqual(sb.json<any[]>(['list']).map((j) => j.jobId).sort(), [first, next].sort());

    // tick removes the leftovers (they belong to a reservation whose process is gone).
    for (const id of dead) age(sb, id);
    const tk = sb.run(['tick']);
    assert.equal(tk.code, 0, tk.stderr);
    for (const id of dead) {
      assert.match(tk.stdout, new RegExp(`half-created job directory ${id}`));
      assert.equal(existsSync(sb.recordDir(id)), false, `${id} removed`);
      assert.equal(existsSync(sb.jobDir(id)), false, `${id}: its job directory removed`);
    }
    assert.match(tk.stdout, /dropped the reservation of a submit that died half-way/);
    assert.deepEqual(queueEntries(sb), [], 'its queue entries are gone');
    assert.deepEqual(state(sb).batches, {});
    const dr = sb.run(['doctor']);
    assert.equal(dr.code, 0, `doctor finds nothing left: ${dr.stdout}`);
  } finally {
    sb.cleanup();
  }
});

test('submit killed -9 right after writing its turn file: nothing visible, and the next submit does not reuse its seq', T, () => {
  const sb = new Sandbox(YAML);
  try {
    const first = submitJob(sb, ['hello']);
    const killed = sb.run(['submit', 'hello'], { UWSRUN_TEST_KILL_IN_TURN: '1' });
    assert.equal(killed.code, 128, killed.stderr);
    assert.equal(killed.stdout, '');
    assert.ok(existsSync(turnFile(sb)));
    const turn = JSON.parse(readFileSync(turnFile(sb), 'utf8'));
    assert.deepEqual([turn.seqFrom, turn.seqTo], [2, 2], 'the turn took seq 2');
    // Before the lock it made its record directory with an empty temp file for its job.json
    // (core/submit.ts prepareNewRecords), and no record.
    const dead = recordIds(sb).filter((id) => id !== first);
    assert.equal(dead.length, 1, `one leftover record directory: ${dead}`);
    const leftover = readdirSync(sb.recordDir(dead[0]!));
    assert.equal(leftover.length, 1, `only a temp file: ${leftover}`);
    assert.match(leftover[0]!, /^\.job\.json\..*\.tmp$/);
    // A command that only reads sees the first job alone, and takes the leftover for no
    // job that lost its record; doctor calls nothing half-created while it is young.
    assert.deepEqual(sb.json<any[]>(['list']).map((j) => j.jobId), [first]);
    const young = sb.run(['doctor']);
    assert.doesNotMatch(young.stdout, new RegExp(dead[0]!), young.stdout);
    assert.equal(sb.run(['show', dead[0]!]).code, 3);
    const second = submitJob(sb, ['hello']);
    assert.equal(record(sb, second).seq, 3, 'seq 2 stays given (to the dead submit)');
    // tick drops the dead reservation and, once it is old, the leftover directory.
    age(sb, dead[0]!);
    const tk = sb.run(['tick']);
    assert.equal(tk.code, 0, tk.stderr);
    assert.match(tk.stdout, /dropped the reservation of a submit that died half-way/);
    assert.match(tk.stdout, new RegExp(`half-created job directory ${dead[0]}`));
    assert.equal(existsSync(sb.recordDir(dead[0]!)), false);
    assert.equal(existsSync(sb.jobDir(dead[0]!)), false);
    assert.deepEqual(state(sb).batches, {});
    assert.equal(record(sb, submitJob(sb, ['hello'])).seq, 4);
  } finally {
    sb.cleanup();
  }
});

test('tick alone turns a dead turn into a reservation and removes its jobs (no submit since)', T, () => {
  const sb = new Sandbox(YAML);
  try {
    const killed = sb.run(['submit', 'hello'], { UWSRUN_TEST_KILL_BEFORE_COMMIT: '1' });
    assert.equal(killed.code, 128, killed.stderr);
    const [dead] = recordIds(sb);
    assert.ok(dead, 'a leftover record');
    // Young: not reported as half-created yet (a submit may still be at work).
    const young = sb.run(['doctor']);
    assert.doesNotMatch(young.stdout, /half-created/, young.stdout);
    age(sb, dead!);
    const aged = sb.run(['doctor']);
    assert.match(aged.stdout, new RegExp(`half-created.*${dead}|${dead}.*half-created`, 's'), aged.stdout);
    const tk = sb.run(['tick']);
    assert.equal(tk.code, 0, tk.stderr);
    assert.match(tk.stdout, new RegExp(`half-created job directory ${dead}`));
    assert.equal(existsSync(sb.recordDir(dead!)), false);
    assert.equal(existsSync(turnFile(sb)), false);
    assert.deepEqual(state(sb).batches, {});
    assert.ok(state(sb).seq >= 1, 'the dead seq stays given');
    assert.equal(record(sb, submitJob(sb, ['hello'])).seq, 2);
  } finally {
    sb.cleanup();
  }
});
