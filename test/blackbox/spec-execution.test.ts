// SPEC §5, what a running job sees, looked at from /proc while it runs: its own process
// group and session, led by the recorded pid, which is a direct child of the HOME's
// supervisor (not of the command that submitted it, which has exited); stdin /dev/null;
// stdout and stderr written straight into the job directory's stdout.log and stderr.log
// (regular files, no pipe held by anyone); and once the job is final, nothing of its group
// is left and pid is null.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Sandbox, release, waitFor } from '../helpers.js';

const YAML = `
defaults:
  destruction: 0
jobs:
  probe:
    command: [sh, -c, 'echo $$ > "$UWS_RESULTS_DIR/pid.tmp" && mv "$UWS_RESULTS_DIR/pid.tmp" "$UWS_RESULTS_DIR/pid"; echo out; echo err >&2; while [ ! -e "$UWS_JOB_DIR/release" ]; do sleep 0.05; done']
    killGrace: 1
`;

const T = { timeout: 60_000 };

/** Fields of /proc/PID/stat after the command name: [state, ppid, pgrp, session]. */
function stat(pid: number): { ppid: number; pgrp: number; session: number } | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return undefined;
  }
  const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
  if (f[0] === 'Z') return undefined; // a zombie counts as gone
  return { ppid: Number(f[1]), pgrp: Number(f[2]), session: Number(f[3]) };
}

const fdTarget = (pid: number, fd: number): string => readlinkSync(`/proc/${pid}/fd/${fd}`);

test('a running job: its own session and process group led by pid, a child of the supervisor; stdin /dev/null; logs written straight to the files', T, async () => {
  const sb = new Sandbox(YAML);
  try {
    const submit = sb.run(['submit', 'probe', '--run']);
    assert.equal(submit.code, 0, submit.stderr); // the submitting command is gone; the job runs on
    const id = submit.stdout.trim();
    const pidFile = join(sb.jobDir(id), 'results', 'pid');
    await waitFor('the job to write its pid', () => existsSync(pidFile));
    const job = sb.job(id);
    assert.equal(job.phase, 'EXECUTING');
    assert.ok(Number.isInteger(job.pid) && job.pid > 1, `pid ${job.pid}`);

    const leader = stat(job.pid);
    assert.ok(leader, `the recorded pid ${job.pid} is alive`);
    assert.equal(leader.pgrp, job.pid, 'pid leads its own process group');
    assert.equal(leader.session, job.pid, 'pid leads its own session');
    const supervisor = readFileSync(`/proc/${leader.ppid}/cmdline`, 'latin1');
    assert.ok(supervisor.includes(sb.home), `pid is a direct child of this HOME's supervisor: ${supervisor.replace(/\0/g, ' ')}`);

    const command = Number(readFileSync(pidFile, 'utf8'));
    const mine = stat(command);
    assert.ok(mine, 'the command runs');
    assert.equal(mine.pgrp, job.pid, "the command is in the job's process group");
    assert.equal(mine.session, job.pid, "the command is in the job's session");
    assert.equal(fdTarget(command, 0), '/dev/null', 'stdin is /dev/null');
    assert.equal(fdTarget(command, 1), join(sb.jobDir(id), 'stdout.log'), 'stdout is stdout.log itself');
    assert.equal(fdTarget(command, 2), join(sb.jobDir(id), 'stderr.log'), 'stderr is stderr.log itself');
    assert.ok(statSync(`/proc/${command}/fd/1`).isFile() && statSync(`/proc/${command}/fd/2`).isFile(), 'regular files, not pipes');
    // Written by the job, not relayed: the lines are in the files while it still runs.
    await waitFor('both lines in the logs while the job runs', () =>
      readFileSync(join(sb.jobDir(id), 'stdout.log'), 'utf8') === 'out\n' && readFileSync(join(sb.jobDir(id), 'stderr.log'), 'utf8') === 'err\n');
    assert.equal(sb.job(id).phase, 'EXECUTING');

    release(sb, id);
    await waitFor('COMPLETED', () => sb.job(id).phase === 'COMPLETED');
    const done = sb.job(id);
    assert.equal(done.pid, null, 'no pid once final');
    assert.equal(done.exitCode, 0);
    assert.equal(stat(command), undefined, 'the command is gone');
    assert.equal(stat(job.pid), undefined, 'the group leader is gone');
    assert.equal(sb.ok(['logs', id]), 'out');
    assert.equal(sb.ok(['logs', id, '--stderr']), 'err');
  } finally {
    sb.cleanup();
  }
});
