// P5: resident memory of the runner with 10,000 queued jobs and 2 running. Goal: < 100 MB.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { BIN, row, tempHome } from './lib.mjs';

const rssMb = (pid) => {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
};

export function benchMemory({ n = 10_000 } = {}) {
  const h = tempHome('p5');
  try {
    const lines = Array.from({ length: n }, () => '{}').join('\n');
    const sub = spawnSync(BIN, ['submit', 'sleep', '--run', '--params-from', '-'], { env: h.env, input: lines, encoding: 'utf8', maxBuffer: 1 << 26 });
    if (sub.status !== 0) throw new Error(sub.stderr);
    const stateFile = join(h.env.UWSRUN_HOME, 'state.json');
    let runner = null;
    let samples = [];
    for (let t = 0; t < 300; t++) {
      const state = JSON.parse(readFileSync(stateFile, 'utf8'));
      const running = Object.values(state.jobs).filter((j) => j.phase === 'EXECUTING').length;
      runner = state.runner?.pid ?? null;
      if (runner && running === 2) samples.push(rssMb(runner));
      if (samples.length >= 10) break;
      spawnSync('sleep', ['0.1']);
    }
    // A few supervision cycles with the full queue, then the peak.
    return { n, rss: Math.max(...samples), runner };
  } finally {
    spawnSync(BIN, ['limit', '1'], { env: h.env });
    h.cleanup();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const m = benchMemory();
  console.log(row(['P5 runner memory', 'VmRSS', '', 'goal']));
  console.log(row([`${m.n} queued + 2 running`, `${m.rss.toFixed(1)} MB`, '', '< 100 MB']));
}
