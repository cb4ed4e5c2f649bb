// The waiting line of the state lock (src/store/lock.ts WaitingLine): waiters behind a live
// holder sleep in flock(1) on HOME/state.lock.line instead of polling, the first in line
// tries the lock. Faults: waiters killed in the line (the first one among them) hold nobody
// up, a flock(1) orphaned by a killed waiter ends by itself, and without flock(1) on PATH
// the waiters poll as before.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readlinkSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BIN, Sandbox, submitJob, waitFor } from '../helpers.js';
import { allProcs, alive, killQuietly, procStat, readProc } from '../procfs.js';

const T = { timeout: 120_000 };

/** A process that is neither uwsrun nor a job: it only stands for a live lock holder. */
function liveHolder(sb: Sandbox): { child: ChildProcess; release: () => void } {
  const child = spawn('sleep', ['300'], { detached: true, stdio: 'ignore' });
  child.unref();
  assert.ok(child.pid, 'could not start a sleep');
  const lock = join(sb.home, 'state.lock');
  writeFileSync(lock, `${child.pid} ${procStat(child.pid)!.start}`);
  return {
    child,
    release: () => {
      unlinkSync(lock);
      killQuietly(child.pid);
    },
  };
}

/** The flock(1) processes standing in this HOME's line, by pid, with their parent. */
function inLine(sb: Sandbox): { pid: number; ppid: number }[] {
  const line = join(sb.home, 'state.lock.line');
  return allProcs().filter((p) => {
    if (!(readProc(p.pid, 'cmdline') ?? '').startsWith('flock\0')) return false;
    try {
      return readlinkSync(`/proc/${p.pid}/fd/3`) === line;
    } catch {
      return false;
    }
  }).map((p) => ({ pid: p.pid, ppid: p.ppid }));
}

test('waiters behind a live holder wait in the line; two killed there (the first in line among them) hold nobody up, their flock(1) ends by itself, and every other waiter gets the lock once it is free', T, async () => {
  const sb = new Sandbox();
  submitJob(sb, ['hello']);
  const holder = liveHolder(sb);
  const waiters: ChildProcess[] = [];
  try {
    const outcomes = Array.from({ length: 8 }, (_, i) => new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const child = spawn(BIN, ['limit', String(3 + i)], { env: { ...sb.env, UWSRUN_LOCK_TIMEOUT_MS: '60000' } });
      waiters.push(child);
      let stderr = '';
      child.stderr!.on('data', (d) => (stderr += d));
      child.on('close', (code) => resolve({ code, stderr }));
    }));
    // All eight are waiting: seven asleep in flock(1), one first in line (no flock child).
    const line = await waitFor('seven waiters asleep in the line', () => {
      const l = inLine(sb);
      return l.length === 7 ? l : undefined;
    }, 60_000);
    const asleep = new Set(line.map((l) => l.ppid));
    const first = waiters.find((w) => !asleep.has(w.pid!));
    assert.ok(first, `one waiter is first in line: waiters ${waiters.map((w) => w.pid).join(',')}, in flock ${[...asleep].join(',')}`);
    const behind = waiters.find((w) => asleep.has(w.pid!))!;
    const orphan = line.find((l) => l.ppid === behind.pid)!;
    first.kill('SIGKILL');
    behind.kill('SIGKILL');

    await waitFor(`the killed waiter's flock(1) ${orphan.pid} ends by itself`, () => !alive(orphan.pid), 30_000);

    holder.release();
    const results = await Promise.all(outcomes);
    const killed = new Set([first.pid, behind.pid]);
    const others = results.filter((_, i) => !killed.has(waiters[i]!.pid));
    assert.equal(others.length, 6);
    assert.deepEqual(others.filter((r) => r.code !== 0).map((r) => `${r.code}: ${r.stderr}`), [], 'every waiter left got the lock');
    assert.deepEqual(inLine(sb), [], 'nobody is left in the line');
    const limit = Number(sb.ok(['limit']));
    assert.ok(limit >= 3 && limit <= 10, `the limit is one the waiters set: ${limit}`);
  } finally {
    for (const w of waiters) killQuietly(w.pid);
    killQuietly(holder.child.pid);
    sb.cleanup();
  }
});

test('without flock(1) on PATH the waiters poll: every command gets the lock once a live holder lets go', T, async () => {
  const sb = new Sandbox();
  // A PATH with node alone (bin/uwsrun runs `env node`): flock(1) is not found.
  const bin = join(sb.dir, 'bin');
  mkdirSync(bin);
  symlinkSync(process.execPath, join(bin, 'node'));
  const env = { PATH: bin };
  submitJob(sb, ['hello'], env);
  const holder = liveHolder(sb);
  try {
    const runs = Array.from({ length: 6 }, (_, i) => sb.start(['limit', String(3 + i)], { ...env, UWSRUN_LOCK_TIMEOUT_MS: '60000' }));
    // They are waiting (one has announced it) before the holder lets go.
    await waitFor('a waiter announced', () => existsSync(join(sb.home, 'state.lock.want')), 30_000);
    assert.deepEqual(inLine(sb), [], 'no flock(1) without it on PATH');
    holder.release();
    const results = await Promise.all(runs);
    assert.deepEqual(results.filter((r) => r.code !== 0).map((r) => `${r.code}: ${r.stderr}`), [], 'every command got the lock');
  } finally {
    killQuietly(holder.child.pid);
    sb.cleanup();
  }
});
