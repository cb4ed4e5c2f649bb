// Fault injection against housekeeping, black-box (SPEC §5, §6, §8): a job that turns its
// logs into a FIFO or a symlink, `doctor --repair` during a
// drain, concurrent `tick`s destroying jobs while `set` moves their destruction, and a
// runner stopped with SIGSTOP (idle, and while holding the lock).
//
// Every wait polls a condition with a deadline; processes are judged from /proc with their
// start time. The only deliberate pauses are the moments at which a fault is injected.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Sandbox, release, submitJob, waitFor, type Run } from '../helpers.js';
import { alive, killQuietly, procStat } from '../procfs.js';
import { launcherOf, ranLines, runnerLog, state, stateOrEmpty } from '../runner-state.js';

const YAML = `
defaults:
  destruction: 0
jobs:
  hello:
    command: [echo, hello]
  nap:
    command: [sleep, "0.2"]
  short:
    command: [sh, -c, 'echo "$UWS_JOB_ID" >> "$HOME/ran"']
  gated:
    command: [sh, -c, 'echo "$UWS_JOB_ID" >> "$HOME/ran"; while [ ! -e "$UWS_JOB_DIR/release" ]; do sleep 0.05; done']
  badlogs:
    description: replaces its stderr.log (FIFO, or a symlink to a secret or to a FIFO) and its results, then fails
    command:
      - sh
      - -c
      - >-
        echo "last words" >&2;
        rm -f "$UWS_JOB_DIR/stderr.log" "$UWS_JOB_DIR/stdout.log";
        case "$UWS_PARAM_MODE" in
          fifo) mkfifo "$UWS_JOB_DIR/stderr.log";;
          secret) ln -s "$HOME/secret" "$UWS_JOB_DIR/stderr.log";;
          linkfifo) mkfifo "$HOME/pipe"; ln -s "$HOME/pipe" "$UWS_JOB_DIR/stderr.log";;
        esac;
        mkfifo "$UWS_JOB_DIR/stdout.log";
        mkfifo "$UWS_RESULTS_DIR/pipe"; ln -s "$HOME/secret" "$UWS_RESULTS_DIR/link"; echo ok > "$UWS_RESULTS_DIR/real.txt";
        exit 1
    parameters:
      mode: { type: string, default: fifo }
`;

/** Each scenario runs RUNS times in one test (UWSRUN_FAULT_RUNS=5 to loop them). */
const RUNS = Number(process.env.UWSRUN_FAULT_RUNS) || 1;
const T = { timeout: 180_000 * RUNS };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits (uwsrun wait) until every job is final, then returns each one's phase. */
function phasesWhenFinal(sb: Sandbox, ids: string[]): Map<string, string> {
  const w = sb.run(['wait', ...ids, '--timeout', '120']);
  assert.equal(w.code, 0, `wait: ${w.code} ${w.stderr}\n${runnerLog(sb)}`);
  const all = JSON.parse(sb.ok(['list', '--json'])) as { jobId: string; phase: string }[];
  return new Map(all.map((j) => [j.jobId, j.phase]));
}

/** Submits one job per line of `params` (JSON Lines), returns their ids. */
function submitMany(sb: Sandbox, definition: string, count: number, extra: string[]): string[] {
  const file = join(sb.dir, `params-${definition}-${Date.now()}.jsonl`);
  writeFileSync(file, `${Array.from({ length: count }, () => '{}').join('\n')}\n`);
  const r = sb.run(['submit', definition, '--params-from', file, ...extra]);
  assert.equal(r.code, 0, r.stderr);
  const ids = r.stdout.trim().split('\n');
  assert.equal(ids.length, count);
  return ids;
}

// ---- one job wedges the HOME: logs replaced by a FIFO or a symlink ----------------------

for (const mode of ['fifo', 'secret', 'linkfifo'] as const) {
  test(`a job that replaces stderr.log (${mode}) and stdout.log by a FIFO and exits 1: ERROR with its status, no secret read, the HOME goes on`, T, async () => {
    for (let run = 0; run < RUNS; run++) {
      const sb = new Sandbox(YAML);
      try {
        writeFileSync(join(sb.dir, 'secret'), 'SECRET-LINE\n');
        const bad = submitJob(sb, ['badlogs', '--run', '-p', `mode=${mode}`]);
        const w = sb.run(['wait', bad, '--timeout', '30']);
        assert.equal(sb.job(bad).phase, 'ERROR', `wait: ${w.code} ${w.stderr}\n${runnerLog(sb)}`);
        const job = sb.job(bad);
        assert.equal(job.exitCode, 1);
        assert.doesNotMatch(job.errorSummary.message, /SECRET/, 'a symlinked log is never followed');
        assert.match(job.errorSummary.message, /exited with status 1/);
        assert.deepEqual(job.results.map((r: any) => r.id), ['real.txt'], 'only the regular result file is listed');
        // Every writer still gets the lock: the next job runs, doctor finds the HOME healthy.
        const next = submitJob(sb, ['hello', '--run']);
        assert.equal(sb.run(['wait', next, '--timeout', '30']).code, 0);
        assert.equal(sb.job(next).phase, 'COMPLETED');
        const d = sb.run(['doctor']);
        assert.equal(d.code, 0, d.stdout + d.stderr);
        // Reading the FIFO logs returns at once (nothing to print), it does not block.
        for (const args of [['logs', bad], ['logs', bad, '--stderr']]) {
          const t0 = Date.now();
          const r = sb.run(args);
          assert.ok(Date.now() - t0 < 10_000, `${args.join(' ')} must not block`);
          assert.doesNotMatch(r.stdout, /SECRET/);
        }
        assert.equal(sb.run(['delete', bad]).code, 0);
      } finally {
        sb.cleanup();
      }
    }
  });
}

// ---- doctor --repair during a drain -------------------------------------------------------

test('doctor --repair during a drain of 150 jobs kills no healthy job, and still kills a real stray', T, async () => {
  let killed = 0;
  for (let run = 0; run < RUNS; run++) {
    const sb = new Sandbox(YAML);
    try {
      const old = submitJob(sb, ['hello', '--run']);
      assert.equal(sb.run(['wait', old, '--timeout', '30']).code, 0);
      // A stray: a process carrying the environment of that finished job.
      const stray = spawn('sleep', ['300'], {
        detached: true, stdio: 'ignore', env: { PATH: process.env.PATH, UWS_JOB_ID: old, UWS_JOB_DIR: sb.jobDir(old) },
      });
      stray.unref();
      const strayPid = stray.pid!;
      await waitFor('stray visible', () => procStat(strayPid));
      const strayStart = procStat(strayPid)!.start;

      sb.ok(['limit', '6']);
      const ids = submitMany(sb, 'nap', 150, ['--run']);
      const reports: string[] = [];
      const allFinal = () => JSON.parse(sb.ok(['list', '--phase', 'QUEUED', '--phase', 'EXECUTING', '--json'])).length === 0;
      while (!allFinal()) {
        const r = sb.run(['doctor', '--repair']);
        assert.ok(r.code === 0 || r.code === 1, r.stderr);
        reports.push(r.stdout);
      }
      assert.ok(reports.length >= 3, `doctor ran during the drain (${reports.length} times)`);
      const phases = ids.map((id) => sb.job(id));
      const bad = phases.filter((j) => j.phase !== 'COMPLETED');
      killed += bad.length;
      assert.deepEqual(bad.map((j) => `${j.jobId} ${j.phase} ${j.signal}`), [], 'every job COMPLETED');
      await waitFor('the real stray killed', () => !alive(strayPid, strayStart), 10_000);
      assert.ok(reports.some((r) => r.includes(`${strayPid} (job ${old})`)), 'doctor named the stray');
    } finally {
      sb.cleanup();
    }
  }
  console.log(`# doctor --repair during a drain: ${killed} of ${150 * RUNS} healthy jobs killed over ${RUNS} runs`);
});

// ---- destruction re-checked under the lock ------------------------------------------------

test('two concurrent ticks destroy 300 expired jobs while set --destruction 7d moves 60 of them: both exit 0, every job whose set succeeded is kept', T, async () => {
  let wronglyDeleted = 0;
  let keptTotal = 0;
  for (let run = 0; run < RUNS; run++) {
    const sb = new Sandbox(YAML);
    try {
      const ids = submitMany(sb, 'hello', 300, ['--destruction', '3s']);
      const when = Date.parse(sb.job(ids[ids.length - 1]!).destruction);
      await waitFor('destruction time passed', () => Date.now() > when + 50, 20_000);
      // 60 of them, spread over the list, last first: the ticks destroy in creation order, so
      // these are the ones most sets reach while the ticks are still at work.
      const moved = ids.filter((_, i) => i % 5 === 2).reverse();
      const ticks = [sb.start(['tick']), sb.start(['tick'])];
      const sets: { id: string; r: Run }[] = [];
      const workers = Array.from({ length: 4 }, async (_, w) => {
        for (let i = w; i < moved.length; i += 4) sets.push({ id: moved[i]!, r: await sb.start(['set', moved[i]!, '--destruction', '7d']) });
      });
      const [t1, t2] = await Promise.all(ticks);
      await Promise.all(workers);
      for (const t of [t1!, t2!]) assert.equal(t.code, 0, `tick: ${t.stderr}`);
      const kept = sets.filter((s) => s.r.code === 0).map((s) => s.id);
      for (const s of sets) assert.ok(s.r.code === 0 || s.r.code === 3, `set ${s.id}: ${s.r.code} ${s.r.stderr}`);
      const later = sb.run(['tick']);
      assert.equal(later.code, 0, later.stderr);
      keptTotal += kept.length;
      const gone = kept.filter((id) => sb.run(['show', id]).code !== 0);
      wronglyDeleted += gone.length;
      assert.deepEqual(gone, [], `${gone.length} of ${kept.length} jobs whose set succeeded were deleted`);
      for (const id of kept) assert.ok(Date.parse(sb.job(id).destruction) > Date.now() + 6 * 86_400_000);
      const left = new Set(kept);
      for (const id of ids) if (!left.has(id)) assert.equal(existsSync(sb.jobDir(id)), false, `${id} destroyed`);
      assert.equal(JSON.parse(sb.ok(['list', '--json'])).length, kept.length);
    } finally {
      sb.cleanup();
    }
  }
  console.log(`# concurrent ticks + set: ${wronglyDeleted} of ${keptTotal} jobs deleted after a successful set over ${RUNS} runs`);
});

// ---- a stopped runner -------------------------------------------------------------------

const STALL = { UWSRUN_RUNNER_STALL_MS: '3000' };

/** SIGSTOPs the recorded runner at a moment it does (or does not) hold the lock. */
async function stopRunner(sb: Sandbox, holdingLock: boolean): Promise<{ pid: number; start: string }> {
  const lock = join(sb.home, 'state.lock');
  for (let attempt = 0; attempt < 2000; attempt++) {
    const r = stateOrEmpty(sb).runner;
    if (r && alive(r.pid, r.startTime)) {
      process.kill(r.pid, 'SIGSTOP');
      await waitFor('runner stopped', () => procStat(r.pid)?.state === 'T', 5_000);
      let holder = '';
      try {
        holder = readFileSync(lock, 'utf8');
      } catch { /* not held */ }
      if (holder.startsWith(`${r.pid} `) === holdingLock) return { pid: r.pid, start: r.startTime };
      process.kill(r.pid, 'SIGCONT');
    }
    await sleep(holdingLock ? 1 + Math.random() * 5 : 20);
  }
  throw new Error(`could not stop the runner ${holdingLock ? 'while' : 'without'} holding the lock`);
}

test('a runner stopped with SIGSTOP (not holding the lock): doctor reports it, tick replaces it, its jobs are adopted and every job runs once', T, async () => {
  for (let run = 0; run < RUNS; run++) {
    const sb = new Sandbox(YAML);
    try {
      sb.env = { ...sb.env, ...STALL, UWSRUN_RUNNER_IDLE_MS: '60000' };
      const running = [submitJob(sb, ['gated', '--run']), submitJob(sb, ['gated', '--run'])];
      const queued = submitMany(sb, 'short', 40, ['--run']);
      for (const id of running) await waitFor(`${id} running`, () => stateOrEmpty(sb).jobs[id]?.startTime);
      const stopped = await stopRunner(sb, false);
      const launcher = launcherOf(stopped.pid);
      try {
        // Not stalled while its last beat is younger than the threshold; a loaded machine can
        // spend that long starting doctor, after which the runner rightly is stalled.
        const beat = statSync(join(sb.home, 'runner.beat')).mtimeMs;
        const early = sb.run(['doctor']);
        if (Date.now() - beat < 3_000) assert.doesNotMatch(early.stdout, /progress/, 'a runner is not judged stalled at once');
        await sleep(3_500); // the stall threshold of this test (UWSRUN_RUNNER_STALL_MS)
        const d = sb.run(['doctor']);
        assert.equal(d.code, 1, d.stdout);
        assert.match(d.stdout, new RegExp(`runner ${stopped.pid}.*stopped making progress`));
        const t = sb.run(['tick']);
        assert.equal(t.code, 0, t.stderr);
        assert.match(t.stdout, new RegExp(`runner ${stopped.pid}.*replaced`));
        assert.ok(!alive(stopped.pid, stopped.start), 'the stopped runner is gone');
        if (launcher) await waitFor('its launcher gone', () => !alive(launcher.pid, launcher.start), 10_000);
        for (const id of running) release(sb, id);
        const phases = phasesWhenFinal(sb, [...running, ...queued]);
        for (const id of [...running, ...queued]) assert.equal(phases.get(id), 'COMPLETED', `${id}\n${runnerLog(sb)}`);
        const ran = ranLines(sb);
        assert.equal(ran.length, new Set(ran).size, 'no job ran twice');
        assert.equal(ran.length, 42);
        assert.notEqual(state(sb).runner?.pid, stopped.pid);
      } finally {
        killQuietly(stopped.pid, 'SIGKILL');
      }
    } finally {
      sb.cleanup();
    }
  }
});

test('a runner stopped with SIGSTOP: doctor --repair replaces it (exit 0: repaired), a new runner adopts its jobs, every job runs once', T, async () => {
  for (let run = 0; run < RUNS; run++) {
    const sb = new Sandbox(YAML);
    try {
      sb.env = { ...sb.env, ...STALL, UWSRUN_RUNNER_IDLE_MS: '60000' };
      const running = [submitJob(sb, ['gated', '--run']), submitJob(sb, ['gated', '--run'])];
      const queued = submitMany(sb, 'short', 40, ['--run']);
      for (const id of running) await waitFor(`${id} running`, () => stateOrEmpty(sb).jobs[id]?.startTime);
      const stopped = await stopRunner(sb, false);
      const launcher = launcherOf(stopped.pid);
      try {
        await sleep(3_500); // the stall threshold of this test (UWSRUN_RUNNER_STALL_MS)
        // SPEC §9: doctor exits 1 only for a problem it did not repair.
        const d = sb.run(['doctor', '--repair']);
        assert.equal(d.code, 0, `doctor --repair: ${d.stdout}${d.stderr}`);
        assert.match(d.stdout, new RegExp(`runner ${stopped.pid}.*stopped making progress`));
        assert.match(d.stdout, /killed/, d.stdout);
        assert.ok(!alive(stopped.pid, stopped.start), 'the stopped runner is gone');
        if (launcher) await waitFor('its launcher gone', () => !alive(launcher.pid, launcher.start), 10_000);
        // No tick: the runner doctor started adopts the two running jobs and drains the queue.
        await waitFor('a new runner recorded', () => {
          const r = stateOrEmpty(sb).runner;
          return r && r.pid !== stopped.pid && alive(r.pid, r.startTime);
        }, 20_000);
        for (const id of running) release(sb, id);
        const phases = phasesWhenFinal(sb, [...running, ...queued]);
        for (const id of [...running, ...queued]) assert.equal(phases.get(id), 'COMPLETED', `${id}\n${runnerLog(sb)}`);
        const ran = ranLines(sb);
        assert.equal(ran.length, new Set(ran).size, 'no job ran twice');
        assert.equal(ran.length, 42);
        const after = sb.run(['doctor']);
        assert.equal(after.code, 0, `doctor after the repair: ${after.stdout}${after.stderr}`);
      } finally {
        killQuietly(stopped.pid, 'SIGKILL');
      }
    } finally {
      sb.cleanup();
    }
  }
});

test('a runner stopped with SIGSTOP while it holds the lock: the next command takes the lock over within the deadline, the queue drains, every job runs once', T, async () => {
  for (let run = 0; run < RUNS; run++) {
    const sb = new Sandbox(YAML);
    try {
      sb.env = { ...sb.env, ...STALL };
      sb.ok(['limit', '4']);
      const ids = submitMany(sb, 'short', 100, ['--run']);
      const stopped = await stopRunner(sb, true);
      try {
        const t0 = Date.now();
        const r = sb.run(['submit', 'short', '--run']);
        assert.equal(r.code, 0, `submit while a stopped runner holds the lock: ${r.stderr}`);
        assert.ok(Date.now() - t0 < 10_000);
        ids.push(r.stdout.trim());
        assert.ok(!alive(stopped.pid, stopped.start), 'the stopped holder was removed');
        const t = sb.run(['tick']);
        assert.equal(t.code, 0, t.stderr);
        const phases = phasesWhenFinal(sb, ids);
        for (const id of ids) assert.equal(phases.get(id), 'COMPLETED', `${id}\n${runnerLog(sb)}`);
        const ran = ranLines(sb);
        assert.equal(ran.length, new Set(ran).size, 'no job ran twice');
        assert.equal(ran.length, ids.length);
      } finally {
        killQuietly(stopped.pid, 'SIGKILL');
      }
    } finally {
      sb.cleanup();
    }
  }
});
