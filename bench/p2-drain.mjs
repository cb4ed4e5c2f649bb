// P2: drain 900 trivial jobs already queued, at a limit of 2, against task-spooler draining
// 900 queued `true` jobs with -S 2. uwsrun: the jobs are submitted PENDING in one process
// (--params-from), then timed: one `uwsrun run ID...` and one `uwsrun wait ID...`.
// task-spooler: two blocker jobs hold both slots while 900 `true` jobs queue; timed from
// releasing the blockers until `tsp -w` of the last job returns.
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BIN, fmt, fmtPeer, have, median, row, tempHome } from './lib.mjs';

/** n trivial jobs, submitted PENDING into a fresh HOME in one process (--params-from). */
export function pendingJobs(n, label) {
  const h = tempHome(label);
  const sub = spawnSync(BIN, ['submit', 'true', '--params-from', '-'], { env: h.env, input: Array(n).fill('{}').join('\n'), encoding: 'utf8' });
  if (sub.status !== 0) {
    h.cleanup();
    throw new Error(sub.stderr);
  }
  return { h, ids: sub.stdout.trim().split('\n') };
}

/**
 * task-spooler with 2 slots, both held by blockers, and n `true` jobs queued behind them;
 * release() lets the blockers end, waitLast() returns when the last job has. TMPDIR: it
 * leaves one output file per job there.
 */
export function queuedTsp(n, label) {
  const h = tempHome(label);
  const env = { ...process.env, TMPDIR: h.dir, TS_SOCKET: join(h.dir, 'tsp.sock'), TS_MAXFINISHED: String(n + 10), TS_SAVELIST: '' };
  const go = join(h.dir, 'go');
  const tsp = (...args) => spawnSync('tsp', args, { env, encoding: 'utf8' });
  tsp('-S', '2');
  for (let i = 0; i < 2; i++) tsp('sh', '-c', `while [ ! -e ${go} ]; do sleep 0.005; done`);
  let last = '';
  for (let i = 0; i < n; i++) last = tsp('true').stdout.trim();
  return {
    env,
    release: () => writeFileSync(go, ''),
    waitLast: () => tsp('-w', last),
    cleanup: () => {
      tsp('-K');
      h.cleanup();
    },
  };
}

function drainUwsrun(n) {
  const { h, ids } = pendingJobs(n, 'p2');
  try {
    const t0 = process.hrtime.bigint();
    const run = spawnSync(BIN, ['run', ...ids], { env: h.env, encoding: 'utf8' });
    if (run.status !== 0) throw new Error(run.stderr);
    const wait = spawnSync(BIN, ['wait', ...ids], { env: h.env, encoding: 'utf8' });
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    if (wait.status !== 0) throw new Error(`wait exited ${wait.status}: ${wait.stderr}`);
    return ms;
  } finally {
    h.cleanup();
  }
}

function drainTsp(n) {
  const q = queuedTsp(n, 'p2tsp');
  try {
    const t0 = process.hrtime.bigint();
    q.release();
    q.waitLast();
    return Number(process.hrtime.bigint() - t0) / 1e6;
  } finally {
    q.cleanup();
  }
}

export function benchDrain({ n = 900, runs = 3 } = {}) {
  const u = [];
  const t = [];
  for (let i = 0; i < runs; i++) {
    u.push(drainUwsrun(n));
    if (have('tsp')) t.push(drainTsp(n));
  }
  return { uwsrun: median(u), tsp: t.length ? median(t) : NaN, n };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const m = benchDrain({ n: Number(process.argv[2]) || 900, runs: Number(process.argv[3]) || 3 });
  console.log(row(['P2 drain (median)', 'uwsrun', 'task-spooler', 'ratio']));
  console.log(row([`${m.n} queued trivial jobs, limit 2`, fmt(m.uwsrun), fmtPeer(m.tsp, 'task-spooler'), Number.isNaN(m.tsp) ? 'no peer (goal <= 2x)' : (m.uwsrun / m.tsp).toFixed(2) + 'x (goal <= 2x)']));
}
