// Black-box: a runner whose local jobs run without news leaves the lock and state.json alone
// (README "Reliability", the runner's quiet looks): every job is a wrapper of its own
// launcher, whose stream brings each start, "up" and end, so its looks every 250 ms take no
// lock until a deadline comes (an executionDuration, the SIGKILL killGrace after an abort:
// faults-exec "abort killed during its grace period" times that one) or someone commits; at
// least every 5 s it makes one full cycle anyway. A time limit still fires on time, and an
// end still comes at once.
// The runner's lock takes are counted from UWSRUN_LOCK_WAIT_LOG (store/lock.ts: one line
// "WAITED_MS NOW_MS PID" per acquisition), which the runner inherits from the submit.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { FINAL, Sandbox, quietWindow, release, submitJob, waitFor } from '../helpers.js';
import { state } from '../runner-state.js';

const T = { timeout: 120_000 };

const YAML = `
jobs:
  gate:
    description: runs until the test creates $UWS_JOB_DIR/release
    command: [sh, -c, 'while [ ! -e "$UWS_JOB_DIR/release" ]; do sleep 0.05; done']
    executionDuration: 0
  limited:
    description: over its limit of 3 s
    command: [sleep, '300']
    executionDuration: 3
    killGrace: 1
`;

const executing = (sb: Sandbox, id: string): boolean => sb.job(id).phase === 'EXECUTING' && sb.job(id).startTime !== null;

test('a runner with local jobs running and no news takes the lock at most every 5 s, not 4 times a second; a time limit and an end still come on time', T, async () => {
  const sb = new Sandbox(YAML);
  const log = join(sb.dir, 'locks.log');
  const env = { UWSRUN_LOCK_WAIT_LOG: log };
  try {
    sb.ok(['limit', '4']);
    const gates = [0, 1, 2].map(() => submitJob(sb, ['gate', '--run'], env));
    await waitFor('the gates running', () => gates.every((id) => executing(sb, id)) || undefined);
    const runner: number = state(sb).runner.pid;
    const { takes, cpu, window } = await quietWindow(log, runner, 1000);
    // Before quiet looks: one cycle under the lock every 250 ms (31 measured in 8 s). Now
    // one per 5 s (1-2 in 8 s), 3 allowing for one that news brought.
    assert.ok(takes >= 1, `the runner made its full cycle at least every 5 s (${takes} lock takes in ${window} ms)`);
    assert.ok(takes <= 3, `the runner took the lock ${takes} times in ${window} ms with nothing to record`);
    assert.ok(cpu <= 400, `the runner used ${cpu} ms of CPU in ${window} ms with nothing to record`);
    assert.equal(state(sb).runner.pid, runner, 'the same runner throughout');

    // An executionDuration still ends its job on time: not a full cycle's 5 s late.
    const limited = submitJob(sb, ['limited', '--run'], env);
    await waitFor(`${limited} running`, () => executing(sb, limited) || undefined);
    const ended = await waitFor(`${limited} to end`, () => {
      const job = sb.job(limited);
      return FINAL.includes(job.phase) ? job : undefined;
    }, 30_000);
    assert.equal(ended.phase, 'ABORTED');
    assert.match(ended.errorSummary?.message ?? '', /executionDuration of 3 s exceeded/);
    const late = Date.parse(ended.endTime) - Date.parse(ended.startTime) - 3000;
    // Looks every 250 ms see the deadline; a look that missed it would leave it to the next
    // full cycle, up to 5 s later.
    assert.ok(late < 2500, `ended ${late} ms after its limit`);

    // An end comes at once: the launcher's report wakes the runner.
    release(sb, gates[0]!);
    const done = await waitFor(`${gates[0]} to end`, () => {
      const job = sb.job(gates[0]!);
      return FINAL.includes(job.phase) ? job : undefined;
    });
    assert.equal(done.phase, 'COMPLETED');
  } finally {
    sb.cleanup();
  }
});
