// P2: drain 900 trivial jobs already queued, at a limit of 2, against task-spooler draining
// 900 queued `true` jobs with -S 2. uwsrun: the jobs are submitted PENDING in one process
// (--params-from), then timed: one `uwsrun run ID...` and one `uwsrun wait ID...`.
// task-spooler: two blocker jobs hold both slots while 900 `true` jobs queue; timed from
// releasing the blockers until `tsp -w` of the last job returns.
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BIN, fmt, have, median, row, tempHome } from './lib.mjs';

function drainUwsrun(n) {
  const h = tempHome('p2');
  try {
    const lines = Array.from({ length: n }, () => '{}').join('\n');
    const sub = spawnSync(BIN, ['submit', 'true', '--params-from', '-'], { env: h.env, input: lines, encoding: 'utf8' });
    if (sub.status !== 0) throw new Error(sub.stderr);
    const ids = sub.stdout.trim().split('\n');
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
  const h = tempHome('p2tsp');
  // TMPDIR: task-spooler leaves one output file per job there.
  const env = { ...process.env, TMPDIR: h.dir, TS_SOCKET: join(h.dir, 'tsp.sock'), TS_MAXFINISHED: String(n + 10), TS_SAVELIST: '' };
  const go = join(h.dir, 'go');
  const tsp = (...args) => spawnSync('tsp', args, { env, encoding: 'utf8' });
  try {
    tsp('-S', '2');
    for (let i = 0; i < 2; i++) tsp('sh', '-c', `while [ ! -e ${go} ]; do sleep 0.005; done`);
    let last = '';
    for (let i = 0; i < n; i++) last = tsp('true').stdout.trim();
    const t0 = process.hrtime.bigint();
    writeFileSync(go, '');
    tsp('-w', last);
    return Number(process.hrtime.bigint() - t0) / 1e6;
  } finally {
    tsp('-K');
    h.cleanup();
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
  console.log(row([`${m.n} queued trivial jobs, limit 2`, fmt(m.uwsrun), fmt(m.tsp), (m.uwsrun / m.tsp).toFixed(2) + 'x (goal <= 2x)']));
}
