// P7: 30 trivial jobs through uwsrun's slurm executor vs the same 30 submitted with plain
// `sbatch --wrap true` and waited for by polling `squeue` every 100 ms, on the cluster that
// SLURM_CONF names (else the test cluster of scripts/slurm-cluster.sh, brought up).
// Reports both wall times (submit to all ended) and their ratio (goal <= 1.2x), the runner's
// CPU per Slurm job (goal <= 5 ms; utime + stime from /proc/PID/stat of the runner, counted
// from when it has recorded itself in state.json, just before its first cycle and handover,
// to the last end: node's and the bundle's start-up are not in it), and the Slurm
// commands per second the runner ran during the drain (from the line it writes to runner.log
// when it goes idle), and the runner's CPU per second of waiting: N jobs handed over with
// `--hold` (pending in Slurm for good), measured over 15 s once all are handed over (the
// runner's cost per second of a drain counts as much as its cost per job: ~25 s here).
//
//   node bench/p7-slurm.mjs [N] [--user NAME]
//
// --user NAME (run as root): uwsrun and both sbatch peers run as that user (runuser -u NAME),
// created with useradd if missing, in temporary HOMEs it owns. Slurm 22.05 loads the user's
// login environment for --export=NONE (`su - USER -c env` on the node, before the script):
// root's profile on this machine takes 0.25-0.5 s per job, a plain user's 0.01-0.04 s, and
// data centres do not run jobs as root, so the figure as a plain user is the one that counts.
import { execFileSync, spawnSync } from 'node:child_process';
import { chownSync, readFileSync, readdirSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { BIN, ROOT, fmt, row, tempHome } from './lib.mjs';

const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' })) || 100;

function slurmConf() {
  if (process.env.SLURM_CONF) return process.env.SLURM_CONF;
  const out = execFileSync(join(ROOT, 'scripts', 'slurm-cluster.sh'), ['up'], { encoding: 'utf8' });
  return /^export SLURM_CONF=(.+)$/m.exec(out)[1];
}

const cpuMs = (pid) => {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /s, '').split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLK_TCK;
  } catch {
    return undefined;
  }
};

const sleep = (ms) => spawnSync('sleep', [String(ms / 1000)]);

/** The user to run as (--user), with uid and gid; undefined: as the caller. */
function benchUser(name, conf) {
  if (!name) return undefined;
  if (process.getuid() !== 0) throw new Error('--user needs root (runuser)');
  let r = spawnSync('id', ['-u', name], { encoding: 'utf8' });
  if (r.status !== 0) {
    execFileSync('useradd', ['-m', '-s', '/bin/bash', name]);
    r = spawnSync('id', ['-u', name], { encoding: 'utf8' });
  }
  const uid = Number(r.stdout.trim());
  const gid = Number(execFileSync('id', ['-g', name], { encoding: 'utf8' }).trim());
  const readable = spawnSync('runuser', ['-u', name, '--', 'test', '-r', conf]);
  if (readable.status !== 0) throw new Error(`${conf} is not readable by user ${name}`);
  return { name, uid, gid };
}

/** argv for `cmd args` as the bench's user. */
const as = (user, cmd, args) => (user ? ['runuser', ['-u', user.name, '--', cmd, ...args]] : [cmd, args]);

function chownTree(path, user) {
  chownSync(path, user.uid, user.gid);
  if (statSync(path).isDirectory()) for (const name of readdirSync(path)) chownTree(join(path, name), user);
}

export function throughUwsrun(n, env, user) {
  const h = tempHome('p7', '  strue:\n    executor: slurm\n    command: ["true"]\n    parameters: { i: { type: integer } }\n');
  const e = { ...h.env, ...env };
  const run = (cmd, args, opts) => { const [c, a] = as(user, cmd, args); return execFileSync(c, a, opts); };
  const runSync = (cmd, args, opts) => { const [c, a] = as(user, cmd, args); return spawnSync(c, a, opts); };
  try {
    const lines = Array.from({ length: n }, (_, i) => JSON.stringify({ i })).join('\n');
    const params = join(h.dir, 'params.jsonl');
    writeFileSync(params, `${lines}\n`);
    if (user) {
      chownTree(h.dir, user);
      e.HOME = join('/home', user.name);
    }
    const t0 = performance.now();
    const ids = run(BIN, ['submit', 'strue', '--run', '--params-from', params], { env: e, encoding: 'utf8' }).trim().split('\n');
    // The runner, once it has recorded itself: its CPU from here on is the drain's.
    let runner;
    let cpu0;
    const stateFile = join(e.UWSRUN_HOME, 'state.json');
    for (let t = 0; t < 500 && cpu0 === undefined; t++) {
      runner = existsSync(stateFile) ? JSON.parse(readFileSync(stateFile, 'utf8')).runner : null;
      if (runner) cpu0 = cpuMs(runner.pid);
      else sleep(10);
    }
    const w = runSync(BIN, ['wait', ...ids, '--timeout', '600'], { env: e, encoding: 'utf8' });
    const wall = performance.now() - t0;
    const cpu1 = runner ? cpuMs(runner.pid) : undefined;
    if (w.status !== 0) throw new Error(`uwsrun wait: exit ${w.status}: ${w.stderr}`);
    const phases = JSON.parse(run(BIN, ['list', '--json'], { env: e, encoding: 'utf8' })).map((j) => j.phase);
    if (phases.some((p) => p !== 'COMPLETED')) throw new Error(`not all COMPLETED: ${phases.join(' ')}`);
    // The runner's own count of its Slurm commands, written when it goes idle.
    const log = join(e.UWSRUN_HOME, 'runner.log');
    let calls;
    for (let t = 0; t < 1000 && !calls; t++) {
      calls = /Slurm commands run: (.*)$/m.exec(existsSync(log) ? readFileSync(log, 'utf8') : '')?.[1];
      if (!calls) sleep(20);
    }
    const total = (calls ?? '').split(', ').reduce((sum, part) => sum + (Number(part.split(' ')[1]) || 0), 0);
    return { wall, cpuPerJob: cpu0 !== undefined && cpu1 !== undefined ? (cpu1 - cpu0) / n : NaN, calls, perSecond: total / (wall / 1000) };
  } finally {
    h.cleanup();
  }
}

/** The runner's CPU per second while n held Slurm jobs wait (ms/s), over `seconds`. */
function idleCost(n, env, user, seconds = 15) {
  const h = tempHome('p7idle', '  shold:\n    executor: slurm\n    command: ["true"]\n    parameters: { i: { type: integer } }\n    slurm: { options: [--hold] }\n');
  const e = { ...h.env, ...env };
  const run = (cmd, args, opts) => { const [c, a] = as(user, cmd, args); return execFileSync(c, a, opts); };
  try {
    const params = join(h.dir, 'params.jsonl');
    writeFileSync(params, `${Array.from({ length: n }, (_, i) => JSON.stringify({ i })).join('\n')}\n`);
    if (user) {
      chownTree(h.dir, user);
      e.HOME = join('/home', user.name);
    }
    const ids = run(BIN, ['submit', 'shold', '--run', '--params-from', params], { env: e, encoding: 'utf8' }).trim().split('\n');
    try {
      for (let t = 0; ; t++) {
        if (t > 600) throw new Error('the held jobs were not all handed over within 60 s');
        const jobs = JSON.parse(run(BIN, ['list', '--json'], { env: e, encoding: 'utf8' }));
        if (jobs.every((j) => j.slurmJobId)) break;
        sleep(100);
      }
      sleep(2000); // the handovers' own aftermath (their outcomes recorded, the first poll)
      const runner = JSON.parse(readFileSync(join(e.UWSRUN_HOME, 'state.json'), 'utf8')).runner;
      if (!runner) throw new Error('no runner while held jobs wait');
      const c0 = cpuMs(runner.pid);
      const t0 = performance.now();
      sleep(seconds * 1000);
      const c1 = cpuMs(runner.pid);
      return (c1 - c0) / ((performance.now() - t0) / 1000);
    } finally {
      runSync(user, BIN, ['abort', ...ids], { env: e, stdio: 'ignore' });
    }
  } finally {
    h.cleanup();
  }
}

const runSync = (user, cmd, args, opts) => { const [c, a] = as(user, cmd, args); return spawnSync(c, a, opts); };

function plainSbatch(n, env, extra = [], user = undefined) {
  const e = { ...process.env, ...env, ...(user ? { HOME: join('/home', user.name) } : {}) };
  // As the user, from a directory it may enter (sbatch's default --chdir is the caller's cwd).
  const cwd = user ? join('/home', user.name) : undefined;
  const t0 = performance.now();
  const ids = [];
  for (let i = 0; i < n; i++) {
    const [c, a] = as(user, 'sbatch', ['--parsable', '--job-name=p7-plain', '--output=/dev/null', ...extra, '--wrap', 'true']);
    ids.push(execFileSync(c, a, { env: e, encoding: 'utf8', cwd }).trim().split(';')[0]);
  }
  for (;;) {
    const r = spawnSync('squeue', ['-h', '-t', 'all', '-j', ids.join(','), '-o', '%T'], { env: e, encoding: 'utf8' });
    const states = r.stdout.split('\n').filter(Boolean);
    if (states.every((s) => !/^(PENDING|CONFIGURING|RUNNING|COMPLETING)$/.test(s))) break;
    sleep(100);
  }
  return { wall: performance.now() - t0 };
}

export function benchSlurm({ n = 30, user: userName } = {}) {
  const env = { SLURM_CONF: slurmConf() };
  const user = benchUser(userName, env.SLURM_CONF);
  const plain = plainSbatch(n, env, [], user);
  // What SPEC §11's --export=NONE costs Slurm itself (it sets up the job's environment on the node).
  const none = plainSbatch(n, env, ['--export=NONE'], user);
  // NIL (a keyword from Slurm 23.02 on: SLURM_* only, no login environment); Slurm 22.05
  // takes it for the name of a variable to export, and loads the login environment all the same.
  const nil = plainSbatch(n, env, ['--export=NIL'], user);
  const uws = throughUwsrun(n, env, user);
  const idle = idleCost(n, env, user);
  return { n, user: user?.name ?? null, plain: plain.wall, exportNone: none.wall, exportNil: nil.wall, uwsrun: uws.wall, cpuPerJob: uws.cpuPerJob, calls: uws.calls, perSecond: uws.perSecond, idle };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const args = process.argv.slice(2);
  const u = args.indexOf('--user');
  const userName = u >= 0 ? args[u + 1] : undefined;
  if (u >= 0 && !userName) throw new Error('--user needs a user name');
  const rest = u >= 0 ? args.filter((_, i) => i !== u && i !== u + 1) : args;
  const m = benchSlurm({ n: Number(rest[0]) || 30, user: userName });
  console.log(row([`P7 slurm (as ${m.user ?? process.env.USER ?? `uid ${process.getuid()}`})`, 'uwsrun', 'peer', 'ratio / goal'], [40, 14, 22, 24]));
  console.log(row([`${m.n} trivial jobs, submit to all ended`, fmt(m.uwsrun), `sbatch+squeue ${fmt(m.plain)}`, `${(m.uwsrun / m.plain).toFixed(2)}x (goal <= 1.2x)`], [40, 14, 22, 24]));
  console.log(row(['  same peer with --export=NONE', '', `sbatch+squeue ${fmt(m.exportNone)}`, `${(m.uwsrun / m.exportNone).toFixed(2)}x`], [40, 14, 22, 24]));
  console.log(row(['  same peer with --export=NIL', '', `sbatch+squeue ${fmt(m.exportNil)}`, `${(m.uwsrun / m.exportNil).toFixed(2)}x`], [40, 14, 22, 24]));
  console.log(row(['runner CPU per Slurm job', fmt(m.cpuPerJob), '', 'goal <= 5 ms'], [40, 14, 22, 24]));
  console.log(row(['Slurm commands/s during the drain', m.perSecond.toFixed(1), m.calls ?? '', ''], [40, 14, 22, 24]));
  console.log(row([`runner CPU/s while ${m.n} held jobs wait`, `${m.idle.toFixed(1)} ms/s`, '', '(x ~25 s of a drain)'], [40, 14, 22, 24]));
}
