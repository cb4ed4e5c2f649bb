// P1: median wall time of `uwsrun submit DEF` against a bare `node -e ''`, interleaved in
// one run, with task-spooler and nq submits beside them. Goal: uwsrun <= 1.3x node.
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BIN, fmt, fmtPeer, have, median, row, tempHome, timeCommand } from './lib.mjs';

export function benchSubmit({ runs = 40, home } = {}) {
  const h = home ?? tempHome('p1');
  const tspEnv = { ...process.env, TS_SOCKET: join(h.dir, 'tsp.sock'), TS_MAXFINISHED: '1000', TS_SAVELIST: '' };
  const nqDir = mkdtempSync(join(tmpdir(), 'nq-'));
  const samples = { node: [], uwsrun: [], tsp: [], nq: [] };
  if (have('tsp')) spawnSync('tsp', ['-S', '1'], { env: tspEnv });
  for (let i = 0; i < runs + 3; i++) {
    const n = timeCommand('node', ['-e', '']).ms;
    const u = timeCommand(BIN, ['submit', 'hello'], { env: h.env }).ms;
    if (i < 3) continue; // warm-up
    samples.node.push(n); samples.uwsrun.push(u);
  }
  // The peers after, not in between: their submits start jobs at once, in the background,
  // which would run beside the next uwsrun or node sample.
  for (let i = 0; i < runs; i++) {
    samples.tsp.push(have('tsp') ? timeCommand('tsp', ['true'], { env: tspEnv }).ms : NaN);
    samples.nq.push(have('nq') ? timeCommand('nq', ['true'], { env: { ...process.env, NQDIR: nqDir } }).ms : NaN);
  }
  if (have('tsp')) spawnSync('tsp', ['-K'], { env: tspEnv });
  const m = Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, median(v)]));
  if (!home) h.cleanup();
  return m;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const m = benchSubmit({ runs: Number(process.argv[2]) || 40 });
  console.log(row(['P1 submit (median)', 'uwsrun', 'node -e ""', 'ratio']));
  console.log(row(['uwsrun submit hello', fmt(m.uwsrun), fmt(m.node), (m.uwsrun / m.node).toFixed(2) + 'x (goal <= 1.3x)']));
  console.log(row(['peers: tsp true / nq true', fmtPeer(m.tsp, 'task-spooler'), fmtPeer(m.nq, 'nq'), '']));
}
