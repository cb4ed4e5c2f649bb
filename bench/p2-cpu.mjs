// Where P2's time goes: CPU per job of each process while 900 trivial jobs drain at limit 2,
// from /proc/PID/stat (utime, stime, and cutime/cstime of reaped children) read after the
// drain, while the runner idles: the runner (Node), its launcher (Perl, whose reaped children
// are the jobs' wrappers and, through them, the jobs), and `run` + `wait` (each also alone). The same for
// task-spooler's server. The runner's figure includes its own start (~0.1 ms/job at N=900).
// Figures, not assertions: `node bench/p2-cpu.mjs [N]`.
import { readFileSync, readdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { BIN, have } from './lib.mjs';
import { pendingJobs, queuedTsp } from './p2-drain.mjs';

const TICK_MS = 10; // USER_HZ is 100 on Linux

/** utime, stime, cutime, cstime of a live process, in ms. */
function cpuOf(pid) {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /s, '').split(' ');
  return { user: f[11] * TICK_MS, sys: f[12] * TICK_MS, cuser: f[13] * TICK_MS, csys: f[14] * TICK_MS };
}

const childrenOf = (ppid) => readdirSync('/proc').filter((n) => /^\d+$/.test(n)).filter((n) => {
  try {
    return Number(readFileSync(`/proc/${n}/stat`, 'utf8').replace(/^.*\) /s, '').split(' ')[1]) === ppid;
  } catch {
    return false;
  }
}).map(Number);

/** Runs a command; its wall time and CPU (from our cutime/cstime: it is our reaped child). */
function timedCpu(cmd, args, opts) {
  const mine = () => cpuOf(process.pid);
  const before = mine();
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { ...opts, encoding: 'utf8' });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`${cmd} ${args[0]} exited ${r.status}: ${r.stderr}`);
  const after = mine();
  return { ms, cpu: after.cuser + after.csys - before.cuser - before.csys };
}

function uwsrunCpu(n) {
  const { h, ids } = pendingJobs(n, 'p2cpu');
  try {
    const run = timedCpu(BIN, ['run', ...ids], { env: h.env });
    const wait = timedCpu(BIN, ['wait', ...ids], { env: h.env });
    const state = JSON.parse(readFileSync(join(h.env.UWSRUN_HOME, 'state.json'), 'utf8'));
    const runner = state.runner?.pid;
    if (!runner) throw new Error('the runner had already left: raise UWSRUN_RUNNER_IDLE_MS');
    const launcher = childrenOf(runner).find((p) => readFileSync(`/proc/${p}/cmdline`, 'latin1').startsWith('uwsrun-launcher '));
    return { wall: run.ms + wait.ms, runner: cpuOf(runner), launcher: launcher ? cpuOf(launcher) : undefined, run: run.cpu, wait: wait.cpu };
  } finally {
    h.cleanup();
  }
}

function tspCpu(n) {
  const q = queuedTsp(n, 'p2cpu-tsp');
  try {
    const server = readdirSync('/proc').filter((p) => /^\d+$/.test(p)).map(Number).find((p) => {
      try {
        return readFileSync(`/proc/${p}/cmdline`, 'latin1') === 'tsp\0-S\x002\0'
          && readFileSync(`/proc/${p}/environ`, 'latin1').includes(`TS_SOCKET=${q.env.TS_SOCKET}`);
      } catch {
        return false;
      }
    });
    const before = server ? cpuOf(server) : undefined;
    const t0 = process.hrtime.bigint();
    q.release();
    q.waitLast();
    const wall = Number(process.hrtime.bigint() - t0) / 1e6;
    const after = server ? cpuOf(server) : undefined;
    return { wall, server: before && after ? after.user + after.sys - before.user - before.sys : NaN };
  } finally {
    q.cleanup();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const n = Number(process.argv[2]) || 900;
  const per = (ms) => `${(ms / n).toFixed(2)} ms/job`;
  const u = uwsrunCpu(n);
  console.log(`uwsrun: ${n} trivial jobs drained at limit 2 in ${u.wall.toFixed(0)} ms; CPU per job:`);
  console.log(`  runner (Node)                    ${per(u.runner.user + u.runner.sys)}  (user ${per(u.runner.user)}, sys ${per(u.runner.sys)})`);
  if (u.launcher) {
    console.log(`  launcher (Perl)                  ${per(u.launcher.user + u.launcher.sys)}  (user ${per(u.launcher.user)}, sys ${per(u.launcher.sys)})`);
    console.log(`  wrappers and jobs (reaped by it) ${per(u.launcher.cuser + u.launcher.csys)}  (user ${per(u.launcher.cuser)}, sys ${per(u.launcher.csys)})`);
  }
  console.log(`  run + wait                       ${per(u.run + u.wait)}  (run ${per(u.run)}, wait ${per(u.wait)})`);
  if (have('tsp')) {
    const t = tspCpu(n);
    console.log(`task-spooler: ${n} queued \`true\` jobs drained with -S 2 in ${t.wall.toFixed(0)} ms; its server: ${per(t.server)} of CPU`);
  }
}
