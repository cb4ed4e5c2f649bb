// P6: `uwsrun serve` against the DaCHS 2.7 anchor (its TAP async endpoint on this machine
// kind: create 3.8 ms, PHASE=RUN until EXECUTING 23 ms, a trivial job end to end 0.9 s,
// 50 trivial jobs at once 1.4 jobs/s, WAIT up to 1 s late, abort 372 ms). A real server
// (bin/uwsrun serve --no-auth -q) in a fresh HOME per figure, driven by node:http clients
// with keep-alive agents, as a UWS client library would. Figures, not assertions:
//   - create (POST {jobs} with PHASE=RUN until the 303): median of sequential requests
//     (goal <= 5 ms), and jobs created per second by 8 concurrent clients (goal >= 300/s);
//     printed with what a new file in TMPDIR cost just before (~20 us on a quiet disk, up
//     to 1 ms within minutes of mass deletions on ext4 without a journal: lib.mjs
//     removeAtExit, which is why HOMEs are removed only when the bench exits);
//   - a trivial job end to end: create with PHASE=RUN, then GET {job}?WAIT=-1 until it is
//     COMPLETED: median (goal <= 50 ms); 50 created at once until all COMPLETED: jobs/s
//     (goal >= 100/s);
//   - 1,000 concurrent WAIT=-1 on 1,000 PENDING jobs: server RSS (goal <= 150 MB), its CPU
//     while they wait (goal < 2% of a core), and from each job's phase change to its answer:
//     p99 (goal <= 100 ms). `uwsrun abort` of all of them makes the changes; a change counts
//     from the state write that made it visible (the first replacement of state.json after
//     the job's endTime, seen by a watch of this process), and also from its endTime, which
//     adds the aborting command's own write and fsync;
//   - GET {job} p99 while a 900-job drain runs in the same HOME (goal <= 50 ms).
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, readdirSync, watch } from 'node:fs';
import { Agent, request } from 'node:http';
import { BIN, fileCreateMicros, fmt, median, row, tempHome } from './lib.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const now = () => performance.now();
const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
};

/** A server in HOME h, listening on a free port; resolves once it said where. */
export async function startServer(h, args = []) {
  const child = spawn(BIN, ['serve', '--no-auth', '-q', '--listen', '127.0.0.1:0', ...args], { env: h.env, stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (d) => (err += d));
  for (let t = 0; t < 3000; t++) {
    const m = /listening on (http:\/\/\S+)/.exec(err);
    if (m) return { child, url: m[1], stop: () => stopServer(child) };
    if (child.exitCode !== null) throw new Error(`serve exited ${child.exitCode}: ${err}`);
    await sleep(10);
  }
  throw new Error(`serve did not listen: ${err}`);
}

async function stopServer(child) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await Promise.race([gone, sleep(5000)]);
  if (child.exitCode === null) child.kill('SIGKILL');
}

function call(url, { method = 'GET', body, agent, headers = {} } = {}) {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, agent, headers: body === undefined ? headers : { 'content-type': 'application/x-www-form-urlencoded', ...headers } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode, location: res.headers.location, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const phaseOf = (xml) => /<uws:phase>([A-Z]+)<\/uws:phase>/.exec(xml)?.[1];
const FINAL = new Set(['COMPLETED', 'ERROR', 'ABORTED', 'ARCHIVED']);

async function create(url, agent, fields = 'PHASE=RUN') {
  const r = await call(`${url}/true`, { method: 'POST', body: fields, agent });
  if (r.status !== 303) throw new Error(`create: ${r.status} ${r.body}`);
  return r.location;
}

/** WAIT=-1 until the job is final; returns its phase. */
async function waitFinal(jobUrl, agent) {
  for (;;) {
    const r = await call(`${jobUrl}?WAIT=-1`, { agent });
    if (r.status !== 200) throw new Error(`wait: ${r.status} ${r.body}`);
    const phase = phaseOf(r.body);
    if (FINAL.has(phase)) return phase;
  }
}

const withServer = async (label, body, { limit } = {}) => {
  const h = tempHome(label);
  if (limit !== undefined) spawnSync(BIN, ['limit', String(limit)], { env: h.env });
  const server = await startServer(h);
  try {
    return await body(server, h);
  } finally {
    await server.stop();
    h.cleanup();
  }
};

export async function benchCreate({ runs = 200, concurrent = 8, perClient = 100 } = {}) {
  const sequential = ({ url }) => (async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    for (let i = 0; i < 20; i++) await create(url, agent); // warm-up
    const ms = [];
    for (let i = 0; i < runs; i++) {
      const t0 = now();
      await create(url, agent);
      ms.push(now() - t0);
    }
    agent.destroy();
    return median(ms);
  })();
  // The disk's state: what a new file costs in TMPDIR right now (lib.mjs removeAtExit).
  const fileCreate = fileCreateMicros();
  const latency = await withServer('p6-create', sequential);
  // The same with the HOME paused (limit 0): no runner starts the jobs meanwhile, so this is
  // the server's and the store's own cost, without the runner's lock holds and CPU.
  const paused = await withServer('p6-create0', sequential, { limit: '0' });
  const { rate, cpu } = await withServer('p6-create8', async ({ url, child }) => {
    const agents = Array.from({ length: concurrent }, () => new Agent({ keepAlive: true, maxSockets: 1 }));
    await Promise.all(agents.map((a) => create(url, a)));
    const t0 = now();
    const ticks0 = cpuTicks(child.pid);
    await Promise.all(agents.map(async (a) => {
      for (let i = 0; i < perClient; i++) await create(url, a);
    }));
    const s = (now() - t0) / 1000;
    const ticks = cpuTicks(child.pid) - ticks0;
    agents.forEach((a) => a.destroy());
    // The server's own CPU per creation (ticks of 10 ms): far less noisy than the rate on a
    // loaded machine, and what bounds the rate on 2 cores beside the runner's share.
    return { rate: (concurrent * perClient) / s, cpu: (ticks * 10) / (concurrent * perClient) };
  });
  return { latency, paused, rate, cpu, fileCreate };
}

export async function benchEndToEnd({ runs = 20, burst = 50 } = {}) {
  const trivial = await withServer('p6-e2e', async ({ url }) => {
    const agent = new Agent({ keepAlive: true, maxSockets: 4 });
    await waitFinal(await create(url, agent), agent); // warm-up: the runner is started
    const ms = [];
    for (let i = 0; i < runs; i++) {
      const t0 = now();
      const phase = await waitFinal(await create(url, agent), agent);
      ms.push(now() - t0);
      if (phase !== 'COMPLETED') throw new Error(`trivial job ended ${phase}`);
    }
    agent.destroy();
    return median(ms);
  });
  const perSecond = await withServer('p6-burst', async ({ url }) => {
    const agent = new Agent({ keepAlive: true, maxSockets: burst });
    await waitFinal(await create(url, agent), agent);
    const t0 = now();
    const phases = await Promise.all(Array.from({ length: burst }, async () => waitFinal(await create(url, agent), agent)));
    const s = (now() - t0) / 1000;
    agent.destroy();
    if (phases.some((p) => p !== 'COMPLETED')) throw new Error(`burst: ${phases.join(' ')}`);
    return burst / s;
  });
  return { trivial, perSecond };
}

const procStatus = (pid, field) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);
/** utime + stime of a process, in clock ticks (USER_HZ = 100 on Linux). */
const cpuTicks = (pid) => {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return Number(f[11]) + Number(f[12]);
};
/** The node process of the server: bin/uwsrun is node itself. */
const serverPid = (child) => child.pid;

export async function benchWaiters({ n = 1000 } = {}) {
  return withServer('p6-wait', async ({ url, child }, h) => {
    const sub = spawnSync(BIN, ['submit', 'true', '--params-from', '-'], { env: h.env, input: Array(n).fill('{}').join('\n'), encoding: 'utf8' });
    if (sub.status !== 0) throw new Error(sub.stderr);
    const ids = sub.stdout.trim().split('\n');
    const agent = new Agent({ keepAlive: false, maxSockets: Infinity });
    const answers = new Map();
    const waits = ids.map((id) => call(`${url}/true/${id}?WAIT=-1`, { agent }).then((r) => answers.set(id, { at: Date.now(), phase: phaseOf(r.body) })));
    // Every waiter is connected and blocked once the server has n sockets open.
    const pid = serverPid(child);
    for (let t = 0; t < 1500 && readdirSync(`/proc/${pid}/fd`).length < n; t++) await sleep(20);
    await sleep(1000);
    const t0 = Date.now();
    const c0 = cpuTicks(pid);
    await sleep(5000);
    const cpu = ((cpuTicks(pid) - c0) / 100) / ((Date.now() - t0) / 1000) * 100;
    const rss = procStatus(pid, 'VmRSS') / 1024;
    const early = answers.size;
    // When each change became visible: the first replacement of state.json after the job's
    // endTime (which the aborting command sets before it writes and fsyncs the state).
    const writes = [];
    const watcher = watch(h.env.UWSRUN_HOME, (_e, name) => { if (name === 'state.json') writes.push(Date.now()); });
    // Not spawnSync: this process must be free to take each answer as it comes.
    const ab = spawn(BIN, ['abort', ...ids], { env: h.env, stdio: ['ignore', 'ignore', 'pipe'] });
    let abErr = '';
    ab.stderr.on('data', (d) => (abErr += d));
    const abCode = await new Promise((r) => ab.on('exit', r));
    if (abCode !== 0) throw new Error(`abort: ${abErr}`);
    await Promise.all(waits);
    agent.destroy();
    // endTime is set in the transaction that makes the job ABORTED: the phase change.
    const ended = new Map(JSON.parse(spawnSync(BIN, ['list', '--json'], { env: h.env, encoding: 'utf8', maxBuffer: 1 << 28 }).stdout).map((j) => [j.jobId, Date.parse(j.endTime)]));
    watcher.close();
    const lags = ids.map((id) => answers.get(id).at - ended.get(id));
    const visible = (t) => writes.find((w) => w >= t) ?? t;
    const fromWrite = ids.map((id) => answers.get(id).at - visible(ended.get(id)));
    return {
      rss, cpu, p99: pct(fromWrite, 99), max: Math.max(...fromWrite), p99FromEndTime: pct(lags, 99),
      early, wrong: [...answers.values()].filter((a) => a.phase !== 'ABORTED').length,
    };
  });
}

export async function benchDuringDrain({ n = 900 } = {}) {
  return withServer('p6-drain', async ({ url }, h) => {
    const sub = spawnSync(BIN, ['submit', 'true', '--params-from', '-'], { env: h.env, input: Array(n).fill('{}').join('\n'), encoding: 'utf8' });
    if (sub.status !== 0) throw new Error(sub.stderr);
    const ids = sub.stdout.trim().split('\n');
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const probe = `${url}/true/${ids[ids.length - 1]}`;
    await call(probe, { agent });
    const run = spawnSync(BIN, ['run', ...ids], { env: h.env, encoding: 'utf8' });
    if (run.status !== 0) throw new Error(run.stderr);
    const ms = [];
    const t0 = now();
    for (;;) {
      const s = now();
      const r = await call(probe, { agent });
      ms.push(now() - s);
      if (r.status !== 200) throw new Error(`GET {job}: ${r.status}`);
      if (FINAL.has(phaseOf(r.body))) break;
      if (now() - t0 > 600_000) throw new Error('drain took over 10 minutes');
      await sleep(5);
    }
    agent.destroy();
    return { p99: pct(ms, 99), median: median(ms), samples: ms.length, drainS: (now() - t0) / 1000 };
  });
}

/** The groups of figures; `node bench/p6-serve.mjs create e2e` runs only those named. */
export const GROUPS = ['create', 'e2e', 'waiters', 'drain'];

export async function benchServe(groups = GROUPS) {
  const r = {};
  if (groups.includes('create')) r.create = await benchCreate();
  if (groups.includes('e2e')) r.e2e = await benchEndToEnd();
  if (groups.includes('waiters')) r.waiters = await benchWaiters();
  if (groups.includes('drain')) r.drain = await benchDuringDrain();
  return r;
}

const W = [46, 16, 20, 22];
export function printServe(r) {
  if (r.create) {
    console.log(row(['P6 serve: create PHASE=RUN (median)', fmt(r.create.latency), 'DaCHS 3.8 ms', 'goal <= 5 ms'], W));
    console.log(row(['   a new file in TMPDIR just before', `${r.create.fileCreate.toFixed(0)} us`, '', ''], W));
    console.log(row(['   the same, HOME paused (no runner)', fmt(r.create.paused), '', ''], W));
    console.log(row(['P6 serve: create, 8 concurrent clients', `${r.create.rate.toFixed(0)} jobs/s`, '', 'goal >= 300/s'], W));
    console.log(row(['   server CPU per creation (8 clients)', fmt(r.create.cpu), '', ''], W));
  }
  if (r.e2e) {
    console.log(row(['P6 serve: trivial job end to end (median)', fmt(r.e2e.trivial), 'DaCHS 900 ms', 'goal <= 50 ms'], W));
    console.log(row(['P6 serve: 50 at once, all COMPLETED', `${r.e2e.perSecond.toFixed(0)} jobs/s`, 'DaCHS 1.4/s', 'goal >= 100/s'], W));
  }
  if (r.waiters) {
    console.log(row(['P6 serve: 1,000 WAIT=-1, server RSS', `${r.waiters.rss.toFixed(1)} MB`, '', 'goal <= 150 MB'], W));
    console.log(row(['P6 serve: 1,000 WAIT=-1, server CPU', `${r.waiters.cpu.toFixed(2)} %`, '', 'goal < 2% of a core'], W));
    console.log(row(['P6 serve: phase change -> answer (p99)', fmt(r.waiters.p99), `max ${fmt(r.waiters.max)}`, 'goal <= 100 ms (DaCHS 1 s)'], W));
    console.log(row(['   the same from endTime (+ writer\'s fsync)', fmt(r.waiters.p99FromEndTime), '', ''], W));
    if (r.waiters.early || r.waiters.wrong) console.log(`   (!) ${r.waiters.early} waiters answered before the change, ${r.waiters.wrong} not ABORTED`);
  }
  if (r.drain) console.log(row(['P6 serve: GET {job} p99, 900-job drain', fmt(r.drain.p99), `median ${fmt(r.drain.median)}`, 'goal <= 50 ms'], W));
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const groups = process.argv.slice(2);
  const unknown = groups.filter((g) => !GROUPS.includes(g));
  if (unknown.length > 0) {
    console.error(`p6-serve: unknown group ${unknown.join(', ')} (groups: ${GROUPS.join(', ')})`);
    process.exit(2);
  }
  console.log(`P6 uwsrun serve, node ${process.version}, ${new Date().toISOString()}${groups.length ? ` (${groups.join(', ')})` : ''}`);
  printServe(await benchServe(groups.length ? groups : GROUPS));
}
