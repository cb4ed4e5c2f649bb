// Process facts from /proc, checked against real processes. Every process started here is
// killed in after(); waits poll every 20 ms up to 10 s, never a fixed sleep.

import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import {
  descendantsOf,
  groupMembers,
  isProcessAlive,
  listProcesses,
  parseProcStat,
  processStartTime,
  processesWithEnv,
  readProcStat,
  signalGroup,
  signalProcess,
  type ProcStat,
} from '../../src/run/proc.js';

/** A pid that cannot exist: one above the kernel's pid_max. */
const IMPOSSIBLE_PID = Number(readFileSync('/proc/sys/kernel/pid_max', 'utf8')) + 1;

async function waitFor<T>(what: string, probe: () => T | undefined | false): Promise<T> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const value = probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) assert.fail(`timed out after 10 s waiting for ${what}`);
    await delay(20);
  }
}

// Cleanup: groups we lead (detached children), single processes we found, temp dirs.
const groups: ChildProcess[] = [];
const strays: { pid: number; startTime: string }[] = [];
const tempDirs: string[] = [];

function spawnGroup(script: string, stdin: 'ignore' | 'pipe' = 'ignore'): ChildProcess & { pid: number } {
  const child = spawn('sh', ['-c', script], { detached: true, stdio: [stdin, 'ignore', 'ignore'] });
  groups.push(child);
  assert.ok(child.pid, 'sh was spawned');
  return child as ChildProcess & { pid: number };
}

function remember(p: ProcStat): void {
  strays.push({ pid: p.pid, startTime: p.startTime });
}

after(() => {
  for (const child of groups) {
    child.stdin?.destroy();
    if (child.pid && child.exitCode === null && child.signalCode === null) signalGroup(child.pid, 'SIGKILL');
  }
  for (const { pid, startTime } of strays) {
    if (isProcessAlive(pid, startTime)) signalProcess(pid, 'SIGKILL');
  }
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

describe('reading /proc/PID/stat', () => {
  test('our own stat has our pid, our parent and a numeric start time', () => {
    const stat = readProcStat(process.pid);
    assert.ok(stat);
    assert.equal(stat.pid, process.pid);
    assert.equal(stat.ppid, process.ppid);
    assert.match(stat.startTime, /^\d+$/);
    assert.equal(processStartTime(process.pid), stat.startTime);
  });

  test('a pid that does not exist reads as gone, not as an error', () => {
    assert.equal(readProcStat(IMPOSSIBLE_PID), undefined);
    assert.equal(processStartTime(IMPOSSIBLE_PID), undefined);
    assert.equal(isProcessAlive(IMPOSSIBLE_PID, null), false);
  });

  test('a comm holding spaces and parentheses is split at the last ")"', () => {
    // Fields 7..21 are filler; field 22 (the start time) is 98765.
    const filler = Array.from({ length: 15 }, (_, i) => String(i + 7)).join(' ');
    const stat = parseProcStat(`4242 () S 1 1 (x) R 7 8 9 ${filler} 98765 23 24\n`);
    assert.deepEqual(stat, {
      pid: 4242,
      comm: ') S 1 1 (x',
      state: 'R',
      ppid: 7,
      pgrp: 8,
      session: 9,
      startTime: '98765',
    });
    assert.equal(parseProcStat('4242 (truncated) S 1'), undefined);
    assert.equal(parseProcStat(''), undefined);
  });

  test('a running program named "a) b (c" is read with the right comm, parent and state', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'uwsrun-proc-'));
    tempDirs.push(dir);
    const program = join(dir, 'a) b (c');
    copyFileSync('/bin/sleep', program);
    chmodSync(program, 0o755);
    const child = spawn(program, ['30'], { stdio: 'ignore' });
    t.after(() => child.kill('SIGKILL'));
    assert.ok(child.pid);
    const stat = await waitFor('the program to exec', () => {
      const s = readProcStat(child.pid!);
      return s && s.comm !== 'node' ? s : undefined;
    });
    assert.equal(stat.comm, 'a) b (c');
    assert.equal(stat.pid, child.pid);
    assert.equal(stat.ppid, process.pid);
    assert.equal(stat.pgrp, readProcStat(process.pid)!.pgrp);
    assert.equal(stat.session, readProcStat(process.pid)!.session);
    assert.match(stat.state, /^[RSD]$/);
    assert.match(stat.startTime, /^\d+$/);
  });
});

describe('liveness', () => {
  test('a live process with its recorded start time is alive; another start time means pid reuse', () => {
    const startTime = processStartTime(process.pid)!;
    assert.equal(isProcessAlive(process.pid, startTime), true);
    assert.equal(isProcessAlive(process.pid, null), true);
    assert.equal(isProcessAlive(process.pid, String(BigInt(startTime) + 1n)), false);
    assert.equal(isProcessAlive(process.pid, '0'), false);
  });

  test('a zombie is not alive and is left out of group and descendant scans', async () => {
    // `sleep 0.1` exits while dash sits in `read`, which never waits for children: it stays a
    // zombie child of sh until stdin closes and `wait` reaps it (so nothing is leaked).
    const sh = spawnGroup('sleep 0.1 & read x; wait', 'pipe');
    const zombie = await waitFor('the background sleep to become a zombie', () =>
      listProcesses().find((p) => p.ppid === sh.pid && p.state === 'Z'),
    );
    assert.equal(zombie.pgrp, sh.pid, 'the zombie is in the group');
    assert.equal(isProcessAlive(zombie.pid, zombie.startTime), false);
    assert.equal(isProcessAlive(zombie.pid, null), false);
    assert.equal(readProcStat(zombie.pid)?.state, 'Z', 'still a zombie after the checks');
    assert.deepEqual(groupMembers(sh.pid).map((p) => p.pid), [sh.pid]);
    assert.deepEqual(descendantsOf(sh.pid), []);
    assert.equal(isProcessAlive(sh.pid, processStartTime(sh.pid)!), true);

    const exited = new Promise((resolve) => sh.once('exit', resolve));
    sh.stdin!.end('\n');
    await exited;
    assert.equal(isProcessAlive(sh.pid, null), false, 'sh is gone once it exited and was reaped');
  });
});

describe('process groups', () => {
  test('groupMembers finds the shell and both sleeps; SIGKILL to the group empties it', async () => {
    const sh = spawnGroup('sleep 30 & sleep 30 & wait');
    const members = await waitFor('sh and two sleeps in the group', () => {
      const m = groupMembers(sh.pid);
      return m.filter((p) => p.comm === 'sleep').length === 2 ? m : undefined;
    });
    assert.equal(members.length, 3);
    const leader = members.find((p) => p.pid === sh.pid);
    assert.equal(leader?.comm, 'sh');
    assert.equal(leader?.session, sh.pid, 'detached: the shell leads its own session');
    const sleeps = members.filter((p) => p.comm === 'sleep');
    for (const s of sleeps) assert.equal(s.ppid, sh.pid);

    assert.equal(signalGroup(sh.pid, 'SIGKILL'), 'sent');
    await waitFor('the group to be empty', () => groupMembers(sh.pid).length === 0);
    // The orphaned sleeps may linger as zombies of PID 1; either way they are not alive.
    for (const s of sleeps) assert.equal(isProcessAlive(s.pid, s.startTime), false);
  });

  test('descendantsOf finds grandchildren and not the process itself', async () => {
    const sh = spawnGroup('sh -c "sleep 30; true" & wait');
    const grandchild = await waitFor('a sleep two levels down', () =>
      descendantsOf(sh.pid).find((p) => p.comm === 'sleep'),
    );
    const middle = readProcStat(grandchild.ppid);
    assert.equal(middle?.comm, 'sh');
    assert.equal(middle?.ppid, sh.pid);
    const found = descendantsOf(sh.pid).map((p) => p.pid).sort((a, b) => a - b);
    assert.deepEqual(found, [middle.pid, grandchild.pid].sort((a, b) => a - b));
    assert.ok(!found.includes(sh.pid));

    // Killing bottom-up lets each shell reap its child, so no orphan zombie is left behind.
    const exited = new Promise((resolve) => sh.once('exit', resolve));
    assert.equal(signalProcess(grandchild.pid, 'SIGKILL'), 'sent');
    await exited;
    assert.deepEqual(descendantsOf(sh.pid), []);
  });

  test('a process that left for a new session is found by its UWS_JOB_ID, exactly', async (t) => {
    const jobId = `xyz123-${process.pid}`;
    const child = spawn('setsid', ['--wait', 'sleep', '30'], {
      env: { ...process.env, UWS_JOB_ID: jobId },
      stdio: 'ignore',
    });
    t.after(() => child.kill('SIGKILL'));
    const ours = readProcStat(process.pid)!;
    const escaped = await waitFor('the setsid sleep', () =>
      processesWithEnv('UWS_JOB_ID', jobId).find((p) => p.comm === 'sleep'),
    );
    remember(escaped);
    assert.notEqual(escaped.session, ours.session, 'it changed session');
    assert.notEqual(escaped.pgrp, ours.pgrp, 'so signalling our group would miss it');
    assert.equal(escaped.session, escaped.pid);
    assert.ok(descendantsOf(process.pid).some((p) => p.pid === escaped.pid), 'ancestry finds it too');

    // NAME=VALUE must match a whole entry: no prefixes or suffixes of the name or value.
    const pidsWith = (name: string, value: string) => processesWithEnv(name, value).map((p) => p.pid);
    assert.ok(!pidsWith('UWS_JOB_ID', jobId.slice(0, -1)).includes(escaped.pid));
    assert.ok(!pidsWith('UWS_JOB_ID', `${jobId}0`).includes(escaped.pid));
    assert.ok(!pidsWith('WS_JOB_ID', jobId).includes(escaped.pid));

    assert.equal(signalProcess(escaped.pid, 'SIGKILL'), 'sent');
    await waitFor('the escaped sleep to die', () => !isProcessAlive(escaped.pid, escaped.startTime));
    assert.deepEqual(
      processesWithEnv('UWS_JOB_ID', jobId).filter((p) => p.pid === escaped.pid),
      [],
      'dead processes are not reported',
    );
  });
});

describe('signalling', () => {
  test('signalling a process or group that does not exist says "gone"', () => {
    assert.equal(signalProcess(IMPOSSIBLE_PID, 'SIGTERM'), 'gone');
    assert.equal(signalGroup(IMPOSSIBLE_PID, 'SIGTERM'), 'gone');
  });

  test('pids and groups 0 and 1 are refused rather than signalling everything', () => {
    const probe = 0 as unknown as NodeJS.Signals; // signal 0: harmless even if not refused
    for (const target of [0, 1, -1, 1.5]) {
      assert.throws(() => signalGroup(target, probe), RangeError);
      assert.throws(() => signalProcess(target, probe), RangeError);
    }
  });

  test('listProcesses includes us and a child, and every entry has a numeric pid', async () => {
    const sh = spawnGroup('exec sleep 30');
    const all = listProcesses();
    assert.ok(all.some((p) => p.pid === process.pid));
    assert.ok(all.some((p) => p.pid === sh.pid));
    for (const p of all) assert.ok(Number.isInteger(p.pid) && p.pid > 0);
  });
});
