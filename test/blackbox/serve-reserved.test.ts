// The server's creations take their seq numbers and queue places from a block it reserved
// in state.batches (serve/places.ts), write and sync their files without the lock, and
// commit by shrinking the reservation (serve/creations.ts). These tests drive a real
// `uwsrun serve` and the CLI in one HOME and check the new windows: a server SIGKILLed with
// files written but not committed (the process kills itself there when
// UWSRUN_TEST_KILL_BEFORE_RESERVED_COMMIT is set: a real kill -9 at a moment a random delay
// rarely hits), one killed while it holds a block of committed jobs, queue order against CLI
// submits, the block given back when idle and at SIGTERM, and the pipeline: creations that
// come while a commit waits for the lock (held here by another process, as a CLI command or
// the runner would) are written meanwhile and committed with it, or die with it.

import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Sandbox, holdLock, submitJob, waitFor } from '../helpers.js';
import { state } from '../runner-state.js';
import { ServeProcess, createJob, jobIdOf, postForm } from '../serve-helpers.js';

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

const sandboxes: Sandbox[] = [];
const servers: ServeProcess[] = [];
after(() => {
  for (const sp of servers) sp.kill();
  for (const sb of sandboxes) sb.cleanup();
});

function sandbox(): Sandbox {
  const sb = new Sandbox(YAML);
  sandboxes.push(sb);
  return sb;
}

async function serve(sb: Sandbox, env: NodeJS.ProcessEnv = {}): Promise<ServeProcess> {
  const sp = await ServeProcess.start(sb, ['--no-auth', '-q'], env);
  servers.push(sp);
  return sp;
}

const recordIds = (sb: Sandbox): string[] => (existsSync(join(sb.home, 'records')) ? readdirSync(join(sb.home, 'records')) : []);
/** Records whose job.json is written (a record directory is made first, its job.json renamed into it after). */
const writtenIds = (sb: Sandbox): string[] => recordIds(sb).filter((id) => existsSync(join(sb.recordDir(id), 'job.json')));
const queueEntries = (sb: Sandbox): string[] => (existsSync(join(sb.home, 'queue')) ? readdirSync(join(sb.home, 'queue')) : []);
const record = (sb: Sandbox, id: string): any => JSON.parse(readFileSync(join(sb.recordDir(id), 'job.json'), 'utf8'));
/** A job's internal fields (seq, queuedAt): its final record in state.json, else its job.json. */
const full = (sb: Sandbox, id: string): any => state(sb).finished?.[id] ?? record(sb, id);
const serverBlocks = (sb: Sandbox, pid: number): any[] =>
  Object.entries(state(sb).batches ?? {}).filter(([name]) => name.startsWith(`${pid}-serve-`)).map(([, b]) => b);

test('a server killed -9 after writing a creation\'s files, before its commit: no 303, the job is invisible and never run, its places are not given again, tick removes it', T, async () => {
  const sb = sandbox();
  const before = submitJob(sb, ['--run', 'hello', '-p', 'name=before']);
  await waitFor('the first job to complete', () => sb.job(before).phase === 'COMPLETED');
  const sp = await serve(sb, { UWSRUN_TEST_KILL_BEFORE_RESERVED_COMMIT: '1' });
  const answer = await postForm(sp.url('/hello'), { PHASE: 'RUN', name: 'dead' }).then((r) => r.status, () => 'no answer');
  assert.equal(answer, 'no answer', 'the client got no 303');
  const { code } = await sp.stop();
  assert.equal(code, null, 'the server died of its SIGKILL');
  const dead = recordIds(sb).filter((id) => id !== before);
  assert.equal(dead.length, 1, `one leftover record: ${dead}`);
  const leftover = record(sb, dead[0]!);
  assert.equal(leftover.phase, 'QUEUED', 'its record was written in full');
  assert.ok(queueEntries(sb).some((e) => e.includes(dead[0]!)), 'and its queue entry');
  assert.equal(serverBlocks(sb, sp.child.pid!).length, 1, 'the dead server\'s reservation is still in the state');
  assert.equal(sb.run(['show', dead[0]!]).code, 3, 'show does not know it');
  assert.deepEqual(sb.json<any[]>(['list']).map((j) => j.jobId), [before], 'list shows only the CLI job');

  // The CLI goes on above the dead block; its job runs, the leftover never does.
  const next = submitJob(sb, ['--run', 'hello', '-p', 'name=next']);
  await waitFor('the next job to complete', () => sb.job(next).phase === 'COMPLETED');
  assert.ok(full(sb, next).seq > leftover.seq, `a new seq (${full(sb, next).seq}) above the dead one's (${leftover.seq})`);
  assert.ok(full(sb, next).queuedAt > leftover.queuedAt, 'and a new queue place');
  assert.equal(record(sb, dead[0]!).phase, 'QUEUED', 'the leftover was never started');
  assert.equal(existsSync(join(sb.recordDir(dead[0]!), 'started')), false, 'no start marker');

  const tick = sb.run(['tick']);
  assert.equal(tick.code, 0, tick.stderr);
  assert.equal(existsSync(sb.recordDir(dead[0]!)), false, 'tick removed its record');
  assert.equal(existsSync(sb.jobDir(dead[0]!)), false, 'and its job directory');
  assert.ok(!queueEntries(sb).some((e) => e.includes(dead[0]!)), 'and its queue entry');
  assert.deepEqual(state(sb).batches, {}, 'and the reservation');
  assert.deepEqual(sb.json<any[]>(['list']).map((j) => j.jobId).sort(), [before, next].sort());
});

test('a server killed -9 while it holds a block: the jobs it reported stay and run, tick drops only the rest of the block, a new server creates above it', T, async () => {
  const sb = sandbox();
  const sp = await serve(sb);
  const ids = [];
  for (const name of ['a', 'b', 'c']) ids.push(jobIdOf(await createJob(sp, 'hello', { PHASE: 'RUN', name })));
  const blocks = serverBlocks(sb, sp.child.pid!);
  assert.equal(blocks.length, 1, 'the server holds a reservation');
  sp.child.kill('SIGKILL');
  await sp.stop();
  for (const id of ids) await waitFor(`${id} to complete`, () => sb.job(id).phase === 'COMPLETED');
  const seqs = ids.map((id) => full(sb, id).seq as number);
  assert.ok(seqs.every((s) => s < blocks[0].seqFrom), `the reported jobs (${seqs}) are below the block (${blocks[0].seqFrom})`);
  const tick = sb.run(['tick']);
  assert.equal(tick.code, 0, tick.stderr);
  assert.deepEqual(state(sb).batches, {}, 'tick dropped the dead reservation');
  for (const id of ids) assert.equal(sb.job(id).phase, 'COMPLETED', `${id} is still there`);

  const again = await serve(sb);
  const later = jobIdOf(await createJob(again, 'hello', { PHASE: 'RUN', name: 'later' }));
  await waitFor('the later job to complete', () => sb.job(later).phase === 'COMPLETED');
  assert.ok(full(sb, later).seq > Math.max(...seqs), 'a seq above the earlier ones');
  assert.ok(!ids.includes(later));
  await again.stop();
});

test('queue order: a creation made after a CLI job was submitted is queued after it, one made before it before it', T, async () => {
  const sb = sandbox();
  sb.ok(['limit', '0']);
  const sp = await serve(sb);
  const first = jobIdOf(await createJob(sp, 'hello', { PHASE: 'RUN', name: 'first' }));
  const cli = submitJob(sb, ['--run', 'hello', '-p', 'name=cli']);
  const last = jobIdOf(await createJob(sp, 'hello', { PHASE: 'RUN', name: 'last' }));
  const order = [first, cli, last];
  const queuedAt = order.map((id) => full(sb, id).queuedAt as number);
  assert.deepEqual([...queuedAt].sort((x, y) => x - y), queuedAt, `queue places in the order of creation: ${queuedAt}`);
  const seqs = order.map((id) => full(sb, id).seq as number);
  assert.deepEqual([...seqs].sort((x, y) => x - y), seqs, `seq numbers likewise: ${seqs}`);
  assert.deepEqual(sb.json<any[]>(['list']).map((j) => j.jobId), order, 'list shows them in that order');
  // Started one at a time, FIFO.
  sb.ok(['limit', '1']);
  for (const id of order) await waitFor(`${id} to complete`, () => sb.job(id).phase === 'COMPLETED');
  const started = order.map((id) => Date.parse(sb.job(id).startTime));
  assert.deepEqual([...started].sort((x, y) => x - y), started, 'started in that order');
  await sp.stop();
});

test('the block goes back once the server is idle, and at SIGTERM, leaving no gap in the seq numbers', T, async () => {
  const sb = sandbox();
  const sp = await serve(sb);
  const one = jobIdOf(await createJob(sp, 'hello', { name: 'one' }));
  assert.equal(serverBlocks(sb, sp.child.pid!).length, 1, 'a reservation while creating');
  await waitFor('the idle server to give its block back', () => serverBlocks(sb, sp.child.pid!).length === 0, 15_000);
  assert.equal(state(sb).seq, full(sb, one).seq, 'the seq counter is back at the last job');
  const two = jobIdOf(await createJob(sp, 'hello', { name: 'two' }));
  assert.equal(full(sb, two).seq, full(sb, one).seq + 1, 'the next job has the next seq');
  assert.equal(serverBlocks(sb, sp.child.pid!).length, 1);
  const { code, ms } = await sp.stop('SIGTERM');
  assert.equal(code, 0, 'SIGTERM: exit 0');
  assert.ok(ms < 2_000, `within 2 s (${ms} ms)`);
  assert.deepEqual(state(sb).batches, {}, 'no reservation left');
  assert.equal(state(sb).seq, full(sb, two).seq);
  const cli = submitJob(sb, ['hello']);
  assert.equal(full(sb, cli).seq, full(sb, two).seq + 1, 'the CLI goes on from there');
});

/** Two waves of creations while the lock is held: the second written while the first waits. */
async function twoWavesWaiting(sb: Sandbox, sp: ServeProcess, before: number): Promise<{ waves: Promise<Response | Error>[][]; answered: () => number }> {
  let answered = 0;
  // Never rejected: a request the server never answers (killed) settles with its error.
  const wave = (tag: string) => Array.from({ length: 4 }, (_, i) => postForm(sp.url('/hello'), { PHASE: 'RUN', name: `${tag}${i}` }).then((r) => {
    answered++;
    return r;
  }, (err: Error) => err));
  const first = wave('first');
  await waitFor('the first wave\'s files, written before the lock', () => writtenIds(sb).length === before + 4, 30_000);
  const second = wave('second');
  await waitFor('the second wave\'s files, written while the first waits for the lock', () => writtenIds(sb).length === before + 8, 30_000);
  return { waves: [first, second], answered: () => answered };
}

test('creations that come while a commit waits for the lock are written meanwhile and committed with it: all 303, in the order they came, no gap', T, async () => {
  const sb = sandbox();
  sb.ok(['limit', '0']);
  // The block outlives the pause before the lock is held (else the waves would wait for
  // the held lock to reserve a new one, and write nothing).
  const sp = await serve(sb, { UWSRUN_LOCK_TIMEOUT_MS: '60000', UWSRUN_SERVE_BLOCK_IDLE_MS: '600000' });
  const one = jobIdOf(await createJob(sp, 'hello', { PHASE: 'RUN', name: 'one' }));
  const letGo = await holdLock(sb);
  let waves: Promise<Response | Error>[][];
  try {
    const w = await twoWavesWaiting(sb, sp, 1);
    waves = w.waves;
    assert.equal(w.answered(), 0, 'no 303 before the commit');
    assert.deepEqual(sb.json<any[]>(['list']).map((j) => j.jobId), [one], 'nothing new is visible yet');
  } finally {
    letGo();
  }
  const ids: string[][] = [];
  for (const wave of waves) {
    const answers = (await Promise.all(wave)).map((r) => {
      if (r instanceof Error) throw r;
      return r;
    });
    for (const r of answers) assert.equal(r.status, 303, await r.text());
    ids.push(answers.map((r) => jobIdOf(r.headers.get('location')!)));
  }
  const listed = sb.json<any[]>(['list']).map((j) => j.jobId);
  assert.equal(listed.length, 9, `all are listed: ${listed}`);
  // Each wave after the one before it, and the seq numbers without a gap.
  const seqs = ids.map((wave) => wave.map((id) => full(sb, id).seq as number));
  assert.ok(Math.max(...seqs[0]!) < Math.min(...seqs[1]!), `the first wave's seq numbers (${seqs[0]}) before the second's (${seqs[1]})`);
  const all = [full(sb, one).seq, ...seqs.flat()].sort((x, y) => x - y);
  assert.deepEqual(all, all.map((_, i) => all[0] + i), `consecutive seq numbers: ${all}`);
  const queued = ids.map((wave) => wave.map((id) => full(sb, id).queuedAt as number));
  assert.ok(Math.max(...queued[0]!) < Math.min(...queued[1]!), 'and queue places likewise');
  sb.ok(['limit', '4']);
  for (const id of ids.flat()) await waitFor(`${id} to complete`, () => sb.job(id).phase === 'COMPLETED', 60_000);
  await sp.stop();
});

test('a server killed -9 with creations written and waiting for the lock: none answered or visible, tick removes them all, their places are not given again', T, async () => {
  const sb = sandbox();
  // The block outlives the wait for the first job (see the test before).
  const sp = await serve(sb, { UWSRUN_LOCK_TIMEOUT_MS: '60000', UWSRUN_SERVE_BLOCK_IDLE_MS: '600000' });
  const one = jobIdOf(await createJob(sp, 'hello', { PHASE: 'RUN', name: 'one' }));
  await waitFor('the first job to complete', () => sb.job(one).phase === 'COMPLETED');
  assert.equal(serverBlocks(sb, sp.child.pid!).length, 1, 'the server still holds its block');
  const letGo = await holdLock(sb);
  let leftovers: string[];
  try {
    const { waves } = await twoWavesWaiting(sb, sp, 1);
    sp.child.kill('SIGKILL');
    await sp.stop();
    const outcomes = await Promise.all(waves.flat());
    assert.ok(outcomes.every((o) => o instanceof Error), `no creation was answered: ${outcomes.map((o) => (o instanceof Error ? o.message : o.status))}`);
    leftovers = recordIds(sb).filter((id) => id !== one);
    assert.equal(leftovers.length, 8);
  } finally {
    letGo();
  }
  assert.deepEqual(sb.json<any[]>(['list']).map((j) => j.jobId), [one], 'list shows none of them');
  const next = submitJob(sb, ['--run', 'hello', '-p', 'name=next']);
  await waitFor('the next job to complete', () => sb.job(next).phase === 'COMPLETED');
  const maxLeft = Math.max(...leftovers.map((id) => record(sb, id).seq as number));
  assert.ok(full(sb, next).seq > maxLeft, `the CLI's seq (${full(sb, next).seq}) is above the dead ones (${maxLeft})`);
  for (const id of leftovers) assert.equal(record(sb, id).phase, 'QUEUED', `${id} was never started`);
  const tick = sb.run(['tick']);
  assert.equal(tick.code, 0, tick.stderr);
  for (const id of leftovers) assert.equal(existsSync(sb.recordDir(id)), false, `tick removed ${id}`);
  assert.deepEqual(state(sb).batches, {}, 'and the dead reservation');
  assert.deepEqual(sb.json<any[]>(['list']).map((j) => j.jobId).sort(), [one, next].sort());
});
