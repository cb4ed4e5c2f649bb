// `wait` on a drain long enough for finished records to move out of state.json in batches
// (more than FINISHED_BATCH = 64 jobs): it learns the end of a queued job from the state
// and reads a job's record about once, not again after every batch moved out
// (core/moved-out.ts); a move the records seen in the state do not explain (a queued
// job deleted meanwhile) still makes it look again, so the deleted job is reported gone;
// and a job it saw queued, then running, whose record moved out while `wait` was stopped
// (SIGSTOP) along with only records it had seen, is read again, not taken from its old copy.

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, readdirSync, readlinkSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { BIN, Sandbox, release, submitJob, waitFor } from '../helpers.js';

const JOBS = `
jobs:
  true:
    command: ["true"]
  gate:
    command: [sh, -c, 'while [ ! -e "$UWS_JOB_DIR/release" ]; do sleep 0.05; done']
    killGrace: 1
`;

const N = 200;
const hasStrace = spawnSync('sh', ['-c', 'command -v strace']).status === 0;

function pending(sb: Sandbox, n: number): string[] {
  const r = sb.run(['submit', 'true', '--params-from', '-'], {}, Array(n).fill('{}').join('\n'));
  assert.equal(r.code, 0, r.stderr);
  const ids = r.stdout.trim().split('\n');
  assert.equal(ids.length, n);
  return ids;
}

describe('wait through a drain whose finished records move out in batches', () => {
  const boxes: Sandbox[] = [];
  after(() => boxes.forEach((sb) => sb.cleanup()));

  test(`${N} queued jobs: all reported COMPLETED, each record opened at most twice`, { skip: hasStrace ? false : 'strace is not installed' }, () => {
    const sb = new Sandbox(JOBS);
    boxes.push(sb);
    const ids = pending(sb, N);
    assert.equal(sb.run(['run', ...ids]).code, 0);
    const trace = join(sb.dir, 'wait.strace');
    const w = spawnSync('strace', ['-f', '-qq', '-e', 'trace=openat', '-o', trace, BIN, 'wait', '--timeout', '120', '--json', ...ids], {
      env: sb.env, encoding: 'utf8', timeout: 180_000,
    });
    assert.equal(w.status, 0, w.stderr);
    const jobs = JSON.parse(w.stdout) as { jobId: string; phase: string }[];
    assert.deepEqual(jobs.map((j) => j.jobId).sort(), [...ids].sort());
    assert.ok(jobs.every((j) => j.phase === 'COMPLETED'));
    // The drain really moved records out while `wait` watched (else this proves nothing).
    const state = JSON.parse(readFileSync(join(sb.home, 'state.json'), 'utf8')) as { moved: number };
    assert.ok(state.moved >= 64, `moved ${state.moved}`);
    const opens = readFileSync(trace, 'utf8').split('\n').filter((l) => /\/job\.json"/.test(l));
    const perJob = new Map<string, number>();
    for (const l of opens) {
      const id = /records\/([^/]+)\/job\.json"/.exec(l)?.[1];
      if (id) perJob.set(id, (perJob.get(id) ?? 0) + 1);
    }
    const most = Math.max(0, ...perJob.values());
    assert.ok(most <= 2, `a record opened ${most} times (${opens.length} opens of job.json for ${N} jobs)`);
  });

  test('a queued job deleted after records moved out is reported gone (exit 3), the others COMPLETED', async () => {
    const sb = new Sandbox(JOBS);
    boxes.push(sb);
    // The gate holds one slot; the last job waits for it (QUEUED) while the others drain.
    const gate = submitJob(sb, ['gate', '--run']);
    const ids = pending(sb, 100);
    const last = submitJob(sb, ['true', '--after', gate]);
    assert.equal(sb.run(['run', ...ids, last]).code, 0);
    const waiting = sb.start(['wait', '--timeout', '120', ...ids, last]);
    try {
      await waitFor('the 100 jobs final and their records moved out', () => {
        const state = JSON.parse(readFileSync(join(sb.home, 'state.json'), 'utf8')) as { moved: number };
        return state.moved >= 64 && sb.job(ids[ids.length - 1]!).phase === 'COMPLETED';
      }, 120_000);
      assert.equal(sb.job(last).phase, 'QUEUED');
      assert.equal(sb.run(['delete', last]).code, 0);
      const r = await waiting;
      assert.equal(r.code, 3, r.stderr);
      assert.match(r.stderr, new RegExp(`no such job: ${last}`));
      assert.doesNotMatch(r.stderr, /ended/);
    } finally {
      release(sb, gate);
    }
  });

  test('a job seen QUEUED, then EXECUTING, then moved out unseen with records seen before: its end is read', async () => {
    const sb = new Sandbox(JOBS);
    boxes.push(sb);
    assert.equal(sb.run(['limit', '1']).code, 0);
    // A holds the only slot; 63 trivial jobs and X queue behind it. A and the 63 end with X
    // running: 64 finished records, one short of a batch moved out (more than 64).
    const a = submitJob(sb, ['gate', '--run']);
    const r = sb.run(['submit', 'true', '--run', '--params-from', '-'], {}, Array(63).fill('{}').join('\n'));
    assert.equal(r.code, 0, r.stderr);
    const x = submitJob(sb, ['gate', '--run']);
    const w = spawn(BIN, ['wait', '--timeout', '60', x], { env: sb.env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    w.stderr.on('data', (d) => (stderr += d));
    const exited = new Promise<number>((res) => w.on('close', (code) => res(code ?? 128)));
    const stateFile = join(sb.home, 'state.json');
    const state = () => JSON.parse(readFileSync(stateFile, 'utf8')) as { jobs: Record<string, unknown>; finished: Record<string, unknown> };
    const rchar = () => Number(/^rchar: (\d+)$/m.exec(readFileSync(`/proc/${w.pid}/io`, 'utf8'))?.[1]);
    try {
      // Its watch of the HOME is made just before its first poll; reads of state.json
      // whole after that are polls (its start, loading its code, comes before).
      await waitFor('wait watching the HOME', () => readdirSync(`/proc/${w.pid}/fd`).some((fd) => {
        try {
          return readlinkSync(`/proc/${w.pid}/fd/${fd}`) === 'anon_inode:inotify';
        } catch {
          return false;
        }
      }));
      const start = rchar();
      await waitFor('wait polled with X QUEUED', () => rchar() >= start + 3 * statSync(stateFile).size);
      assert.equal(sb.job(x).phase, 'QUEUED');
      release(sb, a);
      await waitFor('X running, 64 finished records', () => {
        const s = state();
        return s.jobs[x] !== undefined && Object.keys(s.finished).length === 64;
      }, 60_000);
      // Polls of that state by `wait` (each reads state.json whole), then it is stopped.
      const from = rchar();
      await waitFor('wait polled the state with X running', () => rchar() >= from + 3 * statSync(stateFile).size);
      process.kill(w.pid!, 'SIGSTOP');
      release(sb, x);
      await waitFor('X final and its record moved out with the 64', () => {
        const s = state();
        if (s.finished[x] !== undefined || Object.keys(s.finished).length > 0) return false;
        return (JSON.parse(readFileSync(join(sb.recordDir(x), 'job.json'), 'utf8')) as { phase: string }).phase === 'COMPLETED';
      }, 60_000);
      process.kill(w.pid!, 'SIGCONT');
      assert.equal(await exited, 0, stderr);
    } finally {
      try { process.kill(w.pid!, 'SIGCONT'); } catch { /* ended */ }
      release(sb, a);
      release(sb, x);
    }
  });
});
