// P3: the cost of submit, show and abort with 10,000 finished jobs kept in HOME, against an
// empty HOME (goal: <= 1.5x), and list of 10,000 jobs (goal: < 1 s). The finished jobs are
// made cheaply: 10,000 PENDING jobs from one --params-from submit, then aborted in one call.
import { spawnSync } from 'node:child_process';
import { BIN, fmt, median, row, tempHome, timeCommand } from './lib.mjs';

function costs(h, runs) {
  const s = { submit: [], show: [], abort: [] };
  for (let i = 0; i < runs + 2; i++) {
    const sub = timeCommand(BIN, ['submit', 'hello'], { env: h.env });
    const id = sub.stdout.trim();
    const show = timeCommand(BIN, ['show', id, '--json'], { env: h.env });
    const abort = timeCommand(BIN, ['abort', id], { env: h.env });
    if (i < 2) continue;
    s.submit.push(sub.ms); s.show.push(show.ms); s.abort.push(abort.ms);
  }
  return Object.fromEntries(Object.entries(s).map(([k, v]) => [k, median(v)]));
}

export function benchScaling({ n = 10_000, runs = 15 } = {}) {
  const empty = tempHome('p3e');
  const full = tempHome('p3f');
  try {
    const lines = Array.from({ length: n }, (_, i) => JSON.stringify({ name: `n${i}` })).join('\n');
    const sub = spawnSync(BIN, ['submit', 'hello', '--params-from', '-'], { env: full.env, input: lines, encoding: 'utf8', maxBuffer: 1 << 26 });
    if (sub.status !== 0) throw new Error(sub.stderr);
    const ids = sub.stdout.trim().split('\n');
    for (let i = 0; i < ids.length; i += 2000) {
      const r = spawnSync(BIN, ['abort', ...ids.slice(i, i + 2000)], { env: full.env, encoding: 'utf8' });
      if (r.status !== 0) throw new Error(r.stderr);
    }
    const a = costs(empty, runs);
    const b = costs(full, runs);
    const list = [];
    for (let i = 0; i < 3; i++) list.push(timeCommand(BIN, ['list', '--json'], { env: full.env, maxBuffer: 1 << 28 }).ms);
    return { n, empty: a, full: b, list: median(list) };
  } finally {
    empty.cleanup();
    full.cleanup();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const m = benchScaling({ n: Number(process.argv[2]) || 10_000 });
  console.log(row(['P3 scaling (median)', 'empty HOME', `${m.n} finished`, 'ratio']));
  for (const k of ['submit', 'show', 'abort']) {
    console.log(row([`uwsrun ${k}`, fmt(m.empty[k]), fmt(m.full[k]), (m.full[k] / m.empty[k]).toFixed(2) + 'x (goal <= 1.5x)']));
  }
  console.log(row([`uwsrun list --json (${m.n} jobs)`, '', fmt(m.list), 'goal < 1000 ms']));
}
