// P3: the cost of submit, show and abort with many jobs in HOME, against an empty HOME.
//  - 10,000 FINISHED jobs (goal: <= 1.5x), and `list --json` of them (goal: < 1 s). They are
//    made cheaply: 10,000 PENDING jobs from one --params-from submit, then aborted in a few calls.
//  - QUEUED jobs (issue 10): 10,000 (goal: <= 1.1x) and, with `--queued 100000` (slow),
//    100,000 (goal: <= 1.5x, `list --last 1` < 0.3 s, the 100,000-line --params-from < 30 s).
//    They stay queued behind a definition with `maxRunning: 1` whose one slot a long job
//    holds, so the runner is alive and the queue is real.
// The empty and the full HOME are timed in alternation, so drifts of the machine's speed
// hit both alike.
//   node bench/p3-scaling.mjs [--finished N] [--queued N[,N...]] [--runs N]
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BIN, fmt, median, row, tempHome, timeCommand } from './lib.mjs';

const PARKED = `
  parked:
    command: [sleep, "300"]
    maxRunning: 1
    killGrace: 1
    parameters:
      name: { type: string, default: x }
`;

function triple(h, id0) {
  const sub = timeCommand(BIN, ['submit', 'hello'], { env: h.env });
  const id = sub.stdout.trim() || id0;
  const show = timeCommand(BIN, ['show', id, '--json'], { env: h.env });
  const abort = timeCommand(BIN, ['abort', id], { env: h.env });
  return { submit: sub.ms, show: show.ms, abort: abort.ms };
}

/** Medians of submit, show and abort in two HOMEs, timed in alternation. */
function costs(a, b, runs) {
  const s = { a: { submit: [], show: [], abort: [] }, b: { submit: [], show: [], abort: [] } };
  for (let i = 0; i < runs + 2; i++) {
    const x = triple(a);
    const y = triple(b);
    if (i < 2) continue;
    for (const k of Object.keys(x)) { s.a[k].push(x[k]); s.b[k].push(y[k]); }
  }
  const med = (o) => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, median(v)]));
  return { a: med(s.a), b: med(s.b) };
}

/**
 * The --params-from submit, timed; through GNU time when it is there, for its CPU (user and
 * system time: on a loaded machine far steadier than the wall time) and its peak RSS.
 */
function submitLines(h, def, n, run) {
  const lines = Array.from({ length: n }, (_, i) => JSON.stringify({ name: `n${i}` })).join('\n');
  const args = ['submit', def, ...(run ? ['--run'] : []), '--params-from', '-'];
  const timeFile = join(h.dir, 'time');
  const timed = existsSync('/usr/bin/time');
  const t0 = process.hrtime.bigint();
  const sub = timed
    ? spawnSync('/usr/bin/time', ['-f', '%U %S %M', '-o', timeFile, BIN, ...args], { env: h.env, input: lines, encoding: 'utf8', maxBuffer: 1 << 28 })
    : spawnSync(BIN, args, { env: h.env, input: lines, encoding: 'utf8', maxBuffer: 1 << 28 });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (sub.status !== 0) throw new Error(sub.stderr);
  const [user, sys, rssKb] = timed ? readFileSync(timeFile, 'utf8').trim().split('\n').at(-1).split(' ').map(Number) : [];
  return { ids: sub.stdout.trim().split('\n'), ms, cpu: timed ? { user, sys, rssMb: rssKb / 1024 } : undefined };
}

export function benchScaling({ n = 10_000, runs = 15 } = {}) {
  const empty = tempHome('p3e');
  const full = tempHome('p3f');
  try {
    const { ids } = submitLines(full, 'hello', n, false);
    for (let i = 0; i < ids.length; i += 2000) {
      const r = spawnSync(BIN, ['abort', ...ids.slice(i, i + 2000)], { env: full.env, encoding: 'utf8' });
      if (r.status !== 0) throw new Error(r.stderr);
    }
    const { a, b } = costs(empty, full, runs);
    const list = [];
    for (let i = 0; i < 3; i++) list.push(timeCommand(BIN, ['list', '--json'], { env: full.env, maxBuffer: 1 << 28 }).ms);
    return { n, empty: a, full: b, list: median(list) };
  } finally {
    empty.cleanup();
    full.cleanup();
  }
}

function waitExecuting(h, id) {
  for (let t = 0; t < 300; t++) {
    const r = spawnSync(BIN, ['show', id, '--json'], { env: h.env, encoding: 'utf8' });
    if (r.status === 0 && JSON.parse(r.stdout).phase === 'EXECUTING') return;
    spawnSync('sleep', ['0.1']);
  }
  throw new Error(`job ${id} did not start`);
}

export function benchQueued({ n = 10_000, runs = 15 } = {}) {
  const empty = tempHome('p3qe', PARKED);
  const full = tempHome('p3qf', PARKED);
  try {
    const holder = timeCommand(BIN, ['submit', 'parked', '--run'], { env: full.env }).stdout.trim();
    waitExecuting(full, holder);
    const { ids, ms: paramsFrom, cpu } = submitLines(full, 'parked', n, true);
    const { a, b } = costs(empty, full, runs);
    const last = [];
    const lastJson = [];
    for (let i = 0; i < 5; i++) {
      const r = timeCommand(BIN, ['list', '--last', '1'], { env: full.env });
      if (r.stdout.trim().split('\n').length !== 2) throw new Error(`list --last 1 did not list one job: ${r.stdout}`);
      last.push(r.ms);
      // With --json a QUEUED job gets its quote, estimated from every job's history: O(n).
      const j = timeCommand(BIN, ['list', '--last', '1', '--json'], { env: full.env, maxBuffer: 1 << 26 });
      if (JSON.parse(j.stdout).length !== 1) throw new Error('list --last 1 --json did not list one job');
      lastJson.push(j.ms);
      if (n > 10_000 && i >= 1) break; // slow with 100,000: two samples
    }
    const still = JSON.parse(timeCommand(BIN, ['show', ids.at(-1), '--json'], { env: full.env }).stdout).phase;
    if (still !== 'QUEUED') throw new Error(`the last queued job is ${still}, not QUEUED`);
    return { n, paramsFrom, cpu, empty: a, full: b, listLast: median(last), listLastJson: median(lastJson) };
  } finally {
    empty.cleanup();
    full.cleanup();
  }
}

function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const runs = Number(arg('runs', 15));
  const finished = Number(arg('finished', 10_000));
  const queued = String(arg('queued', process.env.P3_QUEUED ?? '10000')).split(',').map(Number).filter((x) => x > 0);
  const ratio = (x, y, goal) => `${(x / y).toFixed(2)}x (goal <= ${goal}x)`;
  if (finished > 0) {
    const m = benchScaling({ n: finished, runs });
    console.log(row(['P3 scaling (median)', 'empty HOME', `${m.n} finished`, 'ratio']));
    for (const k of ['submit', 'show', 'abort']) console.log(row([`uwsrun ${k}`, fmt(m.empty[k]), fmt(m.full[k]), ratio(m.full[k], m.empty[k], 1.5)]));
    console.log(row([`uwsrun list --json (${m.n} jobs)`, '', fmt(m.list), 'goal < 1000 ms']));
  }
  for (const n of queued) {
    const m = benchQueued({ n, runs });
    const goal = n <= 10_000 ? 1.1 : 1.5;
    console.log(row(['P3 scaling (median)', 'empty HOME', `${m.n} queued`, 'ratio']));
    for (const k of ['submit', 'show', 'abort']) console.log(row([`uwsrun ${k}`, fmt(m.empty[k]), fmt(m.full[k]), ratio(m.full[k], m.empty[k], goal)]));
    console.log(row([`uwsrun list --last 1 (${m.n} queued)`, '', fmt(m.listLast), 'goal < 300 ms']));
    console.log(row([`uwsrun list --last 1 --json (quote)`, '', fmt(m.listLastJson), '']));
    console.log(row([`submit --run --params-from (${m.n} lines)`, '', fmt(m.paramsFrom), n >= 100_000 ? 'goal < 30000 ms' : '']));
    if (m.cpu) console.log(row(['  its CPU', '', `user ${m.cpu.user.toFixed(2)} s, sys ${m.cpu.sys.toFixed(2)} s`, `max RSS ${m.cpu.rssMb.toFixed(0)} MB`]));
  }
}
