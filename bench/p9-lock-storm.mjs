// P9: the lock under a storm. 150 commands of every kind that take the lock (submit, submit
// --run, set, abort, limit, tick, run) start at once, while the runner drains a queue of
// short jobs (it holds the lock in batches of up to 10 ms) and CPU burners keep the
// machine loaded. Each command appends how long it waited for the lock to the file named
// by UWSRUN_LOCK_WAIT_LOG (and when it released it). Prints per round: commands that exited 5 (gave up after 10 s),
// lock wait p50 / p99 / max, how long holders kept it (and in all, beside the storm's wall
// time: a lock held most of the storm leaves waiting inevitable, whatever the order; and
// which commands held it longest in all, and the CPU each command spent per hold), and the load average (exit 4, e.g. abort of a job that ended, is expected). Goal: no exit 5 while every holder is brief.
//   node bench/p9-lock-storm.mjs [rounds=3] [commands=150] [burners=8]
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { BIN, fmt, row, tempHome } from './lib.mjs';

/** utime + stime of this process's reaped children (and theirs), in ms, from /proc/self/stat. */
function childrenCpuMs() {
  const text = readFileSync('/proc/self/stat', 'utf8');
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // Fields 16 and 17 (cutime, cstime) are at 13 and 14 after the comm.
  return (Number(fields[13]) + Number(fields[14])) * 10;
}

const quantile = (sorted, q) => sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] : NaN;

function run(env, args) {
  return new Promise((resolve) => {
    const child = spawn(BIN, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code, stderr }));
  });
}

/**
 * How long each holder kept the lock: its acquisition paired with its next release; and the
 * total per command (`__runner` is the runner), longest first.
 */
function holdTimes(taken, waitLog) {
  let released = [];
  try {
    released = readFileSync(`${waitLog}.released`, 'utf8').split('\n').filter(Boolean).map((l) => l.split(' '));
  } catch { /* an older build logs no releases */ }
  const events = [...taken.map(([, at, pid]) => [at, 0, pid]),
    ...released.map(([at, pid, command, cpuUs]) => [Number(at), 1, Number(pid), command ?? '?', cpuUs === undefined ? NaN : Number(cpuUs)])]
    .sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const since = new Map();
  const holds = [];
  const byCommand = new Map();
  for (const [at, kind, pid, command, cpuUs] of events) {
    if (kind === 0) since.set(pid, at);
    else if (since.has(pid)) {
      const ms = at - since.get(pid);
      holds.push(ms);
      since.delete(pid);
      const c = byCommand.get(command) ?? { n: 0, ms: 0, cpuMs: 0 };
      byCommand.set(command, { n: c.n + 1, ms: c.ms + ms, cpuMs: c.cpuMs + cpuUs / 1000 });
    }
  }
  return { holds: holds.sort((a, b) => a - b), byCommand: [...byCommand].sort((a, b) => b[1].ms - a[1].ms) };
}

export async function benchLockStorm({ rounds = 3, commands = 150, burners = 8 } = {}) {
  const results = [];
  for (let round = 0; round < rounds; round++) {
    const h = tempHome('p9');
    const waitLog = join(h.dir, 'lock-waits');
    writeFileSync(waitLog, '');
    const env = { ...h.env, UWSRUN_LOCK_WAIT_LOG: waitLog, UWSRUN_RUNNER_IDLE_MS: '2000' };
    const sh = (args) => spawnSync(BIN, args, { env, encoding: 'utf8' });
    sh(['limit', '4']);
    const params = join(h.dir, 'p.jsonl');
    writeFileSync(params, Array.from({ length: 60 }, () => '{}').join('\n'));
    const pending = sh(['submit', 'hello', '--params-from', params]).stdout.trim().split('\n');
    writeFileSync(params, Array.from({ length: 400 }, () => '{}').join('\n'));
    sh(['submit', 'true', '--run', '--params-from', params]); // the drain: the runner batches
    const burning = Array.from({ length: burners }, () => spawn(process.execPath, ['-e', 'for(;;){}'], { stdio: 'ignore' }));
    writeFileSync(waitLog, ''); // only the storm's waits
    const kinds = [
      () => ['submit', 'hello'],
      () => ['submit', 'true', '--run'],
      (i) => ['set', pending[i % pending.length], '--destruction', '1d'],
      (i) => ['abort', pending[i % pending.length]],
      () => ['limit', '4'],
      () => ['tick'],
      (i) => ['run', pending[(i + 7) % pending.length]],
    ];
    const cpu0 = childrenCpuMs();
    const t0 = Date.now();
    // Every holder reads, parses, serialises and writes state.json: its size is CPU in every hold.
    let stateMax = 0;
    const sampler = setInterval(() => {
      try { stateMax = Math.max(stateMax, statSync(join(env.UWSRUN_HOME, 'state.json')).size); } catch { /* between renames */ }
    }, 100);
    const storm = await Promise.all(Array.from({ length: commands }, (_, i) => run(env, kinds[i % kinds.length](i))));
    clearInterval(sampler);
    const wallMs = Date.now() - t0;
    // Every storm command has been reaped by now (the burners not yet): their CPU and their children's (flock(1)).
    const commandsCpuMs = childrenCpuMs() - cpu0;
    const load = loadavg()[0];
    for (const b of burning) b.kill('SIGKILL');
    const taken = readFileSync(waitLog, 'utf8').split('\n').filter(Boolean).map((l) => l.split(' ').map(Number));
    const waits = taken.map(([ms]) => ms).sort((a, b) => a - b);
    const { holds, byCommand } = holdTimes(taken, waitLog);
    const gaveUp = storm.filter((r) => r.code === 5 && /gave up/.test(r.stderr)).length;
    const otherFailures = storm.filter((r) => r.code !== 0 && r.code !== 4 && !(r.code === 5 && /gave up/.test(r.stderr)))
      .map((r) => `${r.code}: ${r.stderr.trim()}`);
    results.push({ gaveUp, waits, holds, byCommand, load, otherFailures, wallMs, stateMax, commandsCpuMs });
    h.cleanup();
  }
  return results;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [rounds, commands, burners] = process.argv.slice(2).map(Number);
  const results = await benchLockStorm({ rounds: rounds || 3, commands: commands || 150, burners: burners ?? 8 });
  console.log(row(['P9 lock storm', 'exit 5', 'locks taken', 'wait p50', 'wait p99', 'wait max', 'hold p50/p99/max', 'held/storm s', 'load']));
  for (const [i, r] of results.entries()) {
    console.log(row([`round ${i + 1}`, String(r.gaveUp), String(r.waits.length), fmt(quantile(r.waits, 0.5)), fmt(quantile(r.waits, 0.99)),
      fmt(r.waits.at(-1) ?? NaN), r.holds.length ? `${quantile(r.holds, 0.5)}/${quantile(r.holds, 0.99)}/${r.holds.at(-1)} ms` : '-',
      `${(r.holds.reduce((a, b) => a + b, 0) / 1000).toFixed(1)}/${(r.wallMs / 1000).toFixed(1)}`, r.load.toFixed(0)]));
    console.log(`  held longest by: ${r.byCommand.slice(0, 4).map(([c, { n, ms }]) => `${c} ${(ms / 1000).toFixed(1)} s in ${n}`).join(', ')}`);
    // CPU per hold is what a hold costs whatever the load (wall time is that times the
    // holder's share of the CPU, plus its I/O).
    console.log(`  CPU per hold: ${r.byCommand.map(([c, { n, cpuMs }]) => `${c} ${(cpuMs / n).toFixed(1)} ms`).join(', ')}; state.json up to ${(r.stateMax / 1024).toFixed(0)} KiB; the storm's commands used ${(r.commandsCpuMs / 1000).toFixed(1)} s of CPU in all, ${(r.byCommand.filter(([c]) => c !== '__runner').reduce((a, [, { cpuMs }]) => a + cpuMs, 0) / 1000).toFixed(1)} s of it holding the lock`);
    for (const f of [...new Set(r.otherFailures)].slice(0, 3)) console.log(`  other failure ${f}`);
  }
}
