// F1: fault figures for housekeeping (issue 10), counted rather than timed, so that a fix can
// be compared with the code before it (BENCH_ROOT=/other/checkout, built). Each scenario runs
// RUNS times (default 5) and prints what went wrong how often:
//   fifo     a job replaces stderr.log by a FIFO and exits 1: is it recorded within 15 s, and
//            how many of 3 later submits exit 5 (lock timeout 3 s)
//   damaged  one garbage job.json among good jobs: exit codes of list, tick, doctor
//   doctor   doctor --repair in a loop during a drain of 150 jobs (limit 6): jobs killed
//   destroy  two concurrent ticks over 300 expired jobs while 60 get set --destruction 7d:
//            ticks that failed, jobs deleted although their set succeeded
//   stop     the runner SIGSTOPped (not holding the lock) with 20 queued jobs: does doctor
//            report it, and are the jobs done 20 s later (stall threshold 3 s) after a tick
//   stoplock the runner SIGSTOPped while it holds the lock (during a drain of 100 jobs): the
//            exit code and time of the next submit
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BIN, tempHome } from './lib.mjs';

const RUNS = Number(process.env.RUNS) || 5;
const ONLY = process.argv.slice(2);
const YAML = `
jobs:
  hello:
    command: [echo, hello]
  nap:
    command: [sleep, "0.2"]
  gated:
    command: [sh, -c, 'while [ ! -e "$UWS_JOB_DIR/release" ]; do sleep 0.05; done']
  fifo:
    command: [sh, -c, 'rm -f "$UWS_JOB_DIR/stderr.log"; mkfifo "$UWS_JOB_DIR/stderr.log"; exit 1']
`;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function home(label) {
  const h = tempHome(label);
  writeFileSync(h.env.UWSRUN_JOBS, YAML);
  h.env.UWSRUN_RUNNER_STALL_MS = '3000';
  h.run = (args, extra = {}) => {
    const r = spawnSync(BIN, args, { env: { ...h.env, ...extra }, encoding: 'utf8', timeout: 120_000 });
    return { code: r.status ?? 128, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
  };
  h.start = (args) => new Promise((resolve) => {
    const c = spawn(BIN, args, { env: h.env });
    let out = '';
    c.stdout.on('data', (d) => (out += d));
    c.stderr.on('data', () => {});
    c.on('close', (code) => resolve({ code, stdout: out }));
  });
  h.state = () => {
    try {
      return JSON.parse(readFileSync(join(h.env.UWSRUN_HOME, 'state.json'), 'utf8'));
    } catch {
      return { jobs: {}, finished: {}, runner: null };
    }
  };
  h.many = (def, n, extra) => spawnSync(BIN, ['submit', def, '--params-from', '-', ...extra],
    { env: h.env, input: Array(n).fill('{}').join('\n'), encoding: 'utf8' }).stdout.trim().split('\n');
  return h;
}

const phase = (h, id) => {
  const r = h.run(['show', id, '--json']);
  return r.code === 0 ? JSON.parse(r.stdout).phase : undefined;
};
const FINAL = ['COMPLETED', 'ERROR', 'ABORTED', 'ARCHIVED'];

async function until(check, ms) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (check()) return true;
    await sleep(50);
  }
  return false;
}

const scenarios = {
  async fifo() {
    const h = home('fifo');
    try {
      const id = h.run(['submit', 'fifo', '--run']).stdout.trim();
      const recorded = await until(() => FINAL.includes(phase(h, id)), 15_000);
      let exit5 = 0;
      for (let i = 0; i < 3; i++) if (h.run(['submit', 'hello'], { UWSRUN_LOCK_TIMEOUT_MS: '3000' }).code === 5) exit5++;
      return `recorded ${recorded ? 'yes' : 'no'}, ${exit5}/3 submits exit 5`;
    } finally {
      h.cleanup();
    }
  },
  async damaged() {
    const h = home('damaged');
    try {
      const [a, b] = h.many('hello', 2, ['--run']);
      h.run(['wait', a, b, '--timeout', '30']);
      await until(() => h.state().runner === null && Object.keys(h.state().finished ?? {}).length === 0, 20_000);
      const file = [join(h.env.UWSRUN_HOME, 'records', a, 'job.json'), join(h.env.UWSRUN_HOME, 'jobs', a, 'job.json')].find(existsSync);
      writeFileSync(file, 'garbage');
      return ['list', 'tick', 'doctor', 'delete'].map((c) => `${c} ${h.run(c === 'delete' ? [c, a] : [c]).code}`).join(', ');
    } finally {
      h.cleanup();
    }
  },
  async doctor() {
    const h = home('doctor');
    try {
      h.run(['limit', '6']);
      const ids = h.many('nap', 150, ['--run']);
      let doctors = 0;
      while (ids.some((id) => h.state().jobs[id])) {
        h.run(['doctor', '--repair']);
        doctors++;
      }
      const bad = ids.filter((id) => phase(h, id) !== 'COMPLETED').length;
      return `${bad}/150 killed (${doctors} doctor runs)`;
    } finally {
      h.cleanup();
    }
  },
  async destroy() {
    const h = home('destroy');
    try {
      const ids = h.many('hello', 300, ['--destruction', '3s']);
      await sleep(3_300);
      const moved = ids.filter((_, i) => i % 5 === 2).reverse(); // last first: destroyed last
      const ticks = [h.start(['tick']), h.start(['tick'])];
      const sets = [];
      await Promise.all(Array.from({ length: 4 }, async (_, w) => {
        for (let i = w; i < moved.length; i += 4) sets.push({ id: moved[i], r: await h.start(['set', moved[i], '--destruction', '7d']) });
      }));
      const failed = (await Promise.all(ticks)).filter((t) => t.code !== 0).length;
      const kept = sets.filter((s) => s.r.code === 0).map((s) => s.id);
      const lost = kept.filter((id) => phase(h, id) === undefined).length;
      return `${failed}/2 ticks failed, ${lost}/${kept.length} jobs deleted after a successful set`;
    } finally {
      h.cleanup();
    }
  },
  async stop() {
    const h = home('stop');
    h.env.UWSRUN_RUNNER_IDLE_MS = '60000';
    try {
      const [g] = h.many('gated', 1, ['--run']);
      const ids = h.many('nap', 20, ['--run']);
      await until(() => h.state().jobs[g]?.startTime, 20_000);
      let pid;
      for (let i = 0; i < 200 && !pid; i++) {
        const r = h.state().runner;
        process.kill(r.pid, 'SIGSTOP');
        await sleep(20);
        let holder = '';
        try { holder = readFileSync(join(h.env.UWSRUN_HOME, 'state.lock'), 'utf8'); } catch { /* free */ }
        if (holder.startsWith(`${r.pid} `)) process.kill(r.pid, 'SIGCONT');
        else pid = r.pid;
      }
      await sleep(3_500);
      const reported = /progress/.test(h.run(['doctor']).stdout);
      h.run(['tick']);
      writeFileSync(join(h.env.UWSRUN_HOME, 'jobs', g, 'release'), '');
      const done = await until(() => ids.every((id) => FINAL.includes(phase(h, id))), 20_000);
      try { process.kill(pid, 'SIGKILL'); } catch { /* replaced */ }
      return `doctor reports it: ${reported ? 'yes' : 'no'}, queue drained after tick: ${done ? 'yes' : 'no'}`;
    } finally {
      h.cleanup();
    }
  },
  async stoplock() {
    const h = home('stoplock');
    try {
      h.run(['limit', '4']);
      h.many('hello', 100, ['--run']);
      let pid;
      for (let i = 0; i < 2000 && !pid; i++) {
        const r = h.state().runner;
        if (!r) {
          await sleep(5);
          continue;
        }
        process.kill(r.pid, 'SIGSTOP');
        await sleep(10);
        let holder = '';
        try { holder = readFileSync(join(h.env.UWSRUN_HOME, 'state.lock'), 'utf8'); } catch { /* free */ }
        if (holder.startsWith(`${r.pid} `)) pid = r.pid;
        else {
          process.kill(r.pid, 'SIGCONT');
          await sleep(Math.random() * 5);
        }
      }
      if (!pid) return 'could not catch the runner holding the lock';
      const t0 = Date.now();
      const code = h.run(['submit', 'hello', '--run']).code;
      const ms = Date.now() - t0;
      try { process.kill(pid, 'SIGKILL'); } catch { /* killed already */ }
      return `submit exit ${code} after ${(ms / 1000).toFixed(1)} s`;
    } finally {
      h.cleanup();
    }
  },
};

for (const [name, run] of Object.entries(scenarios)) {
  if (ONLY.length && !ONLY.includes(name)) continue;
  for (let i = 1; i <= RUNS; i++) console.log(`${name} run ${i}: ${await run()}`);
}
