// P8: a chain of n trivial jobs, each `--after` the one before, against n independent
// trivial jobs, both at limit 1 (goal: the chain drains in at most 2x the time). The jobs
// are submitted PENDING first (the chain one `submit --after PREV` at a time, the
// independent ones in one --params-from), then timed alike: one `uwsrun run ID...` and
// one `uwsrun wait ID...`. What the chain costs on top is the runner judging waiting jobs:
// each waiting record is read once, and a job's end wakes only the job waiting on it.
import { spawnSync } from 'node:child_process';
import { BIN, fmt, median, row, tempHome } from './lib.mjs';
import { pendingJobs } from './p2-drain.mjs';

function chainJobs(n, label) {
  const h = tempHome(label);
  const ids = [];
  for (let i = 0; i < n; i++) {
    const args = ['submit', 'true', ...(ids.length ? ['--after', ids.at(-1)] : [])];
    const sub = spawnSync(BIN, args, { env: h.env, encoding: 'utf8' });
    if (sub.status !== 0) {
      h.cleanup();
      throw new Error(sub.stderr);
    }
    ids.push(sub.stdout.trim());
  }
  return { h, ids };
}

function drain({ h, ids }) {
  try {
    const limit = spawnSync(BIN, ['limit', '1'], { env: h.env, encoding: 'utf8' });
    if (limit.status !== 0) throw new Error(limit.stderr);
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

export function benchChain({ n = 200, runs = 3 } = {}) {
  const chain = [];
  const independent = [];
  for (let i = 0; i < runs; i++) {
    chain.push(drain(chainJobs(n, 'p8chain')));
    independent.push(drain(pendingJobs(n, 'p8free')));
  }
  return { chain: median(chain), independent: median(independent), n };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const m = benchChain({ n: Number(process.argv[2]) || 200, runs: Number(process.argv[3]) || 3 });
  console.log(row(['P8 chain vs independent (median)', 'chain', 'independent', 'ratio']));
  console.log(row([`${m.n} trivial jobs, limit 1`, fmt(m.chain), fmt(m.independent), `${(m.chain / m.independent).toFixed(2)}x (goal <= 2x)`]));
}
