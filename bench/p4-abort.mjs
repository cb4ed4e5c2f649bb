// P4: `abort` of a running job that exits on SIGINT (sleep) returns with the job ABORTED and
// its process tree gone. Goal: <= 0.3 s.
import { spawnSync } from 'node:child_process';
import { BIN, fmt, median, row, tempHome, timeCommand } from './lib.mjs';

export function benchAbort({ runs = 10 } = {}) {
  const h = tempHome('p4');
  const samples = [];
  try {
    for (let i = 0; i < runs; i++) {
      const id = timeCommand(BIN, ['submit', 'sleep', '--run'], { env: h.env }).stdout.trim();
      // Wait until the child is in control (startTime set), so abort takes the SIGINT path.
      for (let t = 0; t < 500; t++) {
        const job = JSON.parse(spawnSync(BIN, ['show', id, '--json'], { env: h.env, encoding: 'utf8' }).stdout);
        if (job.startTime) break;
        spawnSync('sleep', ['0.01']);
      }
      samples.push(timeCommand(BIN, ['abort', id], { env: h.env }).ms);
      const phase = spawnSync(BIN, ['phase', id], { env: h.env, encoding: 'utf8' }).stdout.trim();
      if (phase !== 'ABORTED') throw new Error(`job ${id} is ${phase} after abort`);
    }
    return { abort: median(samples), max: Math.max(...samples) };
  } finally {
    h.cleanup();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const m = benchAbort();
  console.log(row(['P4 abort of a running job', 'median', 'max', 'goal']));
  console.log(row(['uwsrun abort (SIGINT path)', fmt(m.abort), fmt(m.max), '<= 300 ms']));
}
