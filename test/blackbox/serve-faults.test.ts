// Faults of `uwsrun serve` (SPEC §12: "no request, however malformed, crashes the server or
// stops it serving others"; the server never stalls on the state lock; stopping answers the
// blocked requests). Every test drives a real server process with real sockets:
//   - a client that disconnects during WAIT, and 500 clients waiting at once;
//   - a request while another process holds the state lock (reads at once, a write waits
//     and is 503 after the lock deadline, and changes nothing);
//   - a body over 1 MiB (413), garbage bytes instead of HTTP, a half-sent request;
//   - SIGTERM with waiters blocked: they are answered, the server exits 0 within 2 s, and
//     a running job keeps running.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { Sandbox, submitJob, waitFor } from '../helpers.js';
import { alive, procStat } from '../procfs.js';
import { form, http, phaseIn, startServer } from '../serve-process.js';

const YAML = `
defaults:
  destruction: 0
jobs:
  nap:
    description: sleeps for a while
    command: [sleep, '{seconds}']
    parameters:
      seconds: { type: integer, default: 30 }
  quick:
    command: [echo, hi]
`;

const T = { timeout: 180_000 };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Resolves when the socket closes; the answer it got so far. */
function rawExchange(port: number, bytes: Buffer | string, opts: { end?: boolean } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = connect(port, '127.0.0.1');
    let got = '';
    sock.setEncoding('latin1');
    sock.on('data', (d: string) => (got += d));
    sock.on('error', (err: NodeJS.ErrnoException) => (err.code === 'ECONNRESET' ? resolve(got) : reject(err)));
    sock.on('close', () => resolve(got));
    sock.write(bytes);
    if (opts.end !== false) sock.end();
  });
}

/**
 * Sends a POST declaring `length` bytes and the first 100 kB of them; once an answer has
 * arrived, the rest of the body and a GET of the index on the same connection. What arrived
 * before the body was complete, and after.
 */
function slowBodyThenGet(port: number, length: number): Promise<{ first: string; rest: string }> {
  return new Promise((resolve, reject) => {
    const sock = connect(port, '127.0.0.1');
    let got = '';
    let first: string | undefined;
    sock.setEncoding('latin1');
    sock.on('data', (d: string) => {
      got += d;
      if (first !== undefined || !/\r\n\r\n[^\n]*\n/.test(got)) return;
      first = got;
      sock.write('x'.repeat(length - 100_000));
      sock.write('GET / HTTP/1.1\r\nHost: x\r\nAccept: application/json\r\nConnection: close\r\n\r\n');
    });
    sock.on('error', reject);
    sock.on('close', () => resolve({ first: first ?? got, rest: first === undefined ? '' : got.slice(first.length) }));
    sock.write(`POST /nap HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: ${length}\r\n\r\n`);
    sock.write('x'.repeat(100_000));
  });
}

async function stillServes(url: string): Promise<void> {
  const r = await http(`${url}/`, { headers: { accept: 'application/json' }, timeoutMs: 15_000 });
  assert.equal(r.status, 200);
  assert.ok(JSON.parse(r.body).services.some((s: any) => s.name === 'nap'));
}

test('a client that disconnects during WAIT costs nothing: the server serves on and answers the next waiter at the phase change', T, async () => {
  const sb = new Sandbox(YAML);
  const server = await startServer(sb);
  try {
    const id = submitJob(sb, ['quick']);
    for (let i = 0; i < 20; i++) {
      const sock = connect(server.port, '127.0.0.1');
      sock.on('error', () => undefined);
      await new Promise<void>((r) => sock.on('connect', () => r()));
      sock.write(`GET /quick/${id}?WAIT=30 HTTP/1.1\r\nHost: x\r\n\r\n`);
      await sleep(20);
      sock.destroy();
    }
    await stillServes(server.url);
    const waiter = http(`${server.url}/quick/${id}?WAIT=30`, { timeoutMs: 60_000 });
    await sleep(300);
    assert.equal(sb.run(['run', id]).code, 0);
    const r = await waiter;
    assert.equal(r.status, 200);
    assert.notEqual(phaseIn(r.body), 'PENDING', 'answered at the phase change');
    assert.equal(server.exited(), undefined, 'still running');
    assert.doesNotMatch(server.stderr(), /\n\s+at /, 'no stack trace logged');
  } finally {
    await server.stop();
    sb.cleanup();
  }
});

test('500 clients waiting at once are all answered when their jobs change, and the server stays up', T, async () => {
  const sb = new Sandbox(YAML);
  const server = await startServer(sb, ['--no-auth', '-q']);
  try {
    // 125 PENDING jobs, 4 waiters each (the most that block per job and caller).
    const lines = Array.from({ length: 125 }, () => '{}').join('\n');
    const r0 = sb.run(['submit', 'quick', '--params-from', '-'], {}, `${lines}\n`);
    assert.equal(r0.code, 0, r0.stderr);
    const jobs = r0.stdout.trim().split('\n');
    assert.equal(jobs.length, 125);
    let answered = 0;
    const waiters = jobs.flatMap((id) => Array.from({ length: 4 }, () =>
      http(`${server.url}/quick/${id}?WAIT=60`, { timeoutMs: 120_000 }).then((r) => { answered++; return r; })));
    // All 500 are connected and blocked: none answers while nothing changes.
    await sleep(1500);
    assert.equal(answered, 0, 'nobody answered before a phase changed');
    await stillServes(server.url);
    const ab = sb.run(['abort', ...jobs]);
    assert.equal(ab.code, 0, ab.stderr);
    const replies = await Promise.all(waiters);
    assert.equal(replies.length, 500);
    for (const r of replies) {
      assert.equal(r.status, 200);
      assert.equal(phaseIn(r.body), 'ABORTED');
    }
    await stillServes(server.url);
    assert.equal(server.exited(), undefined);
  } finally {
    await server.stop();
    sb.cleanup();
  }
});

function unrelatedSleeper(): ChildProcess {
  const child = spawn('sleep', ['300'], { detached: true, stdio: 'ignore' });
  child.unref();
  assert.ok(child.pid, 'could not start an unrelated sleep');
  return child;
}

test('while another process holds the state lock, reads answer at once and a write waits, then is 503 changing nothing', T, async () => {
  const sb = new Sandbox(YAML);
  const id = submitJob(sb, ['quick']);
  const server = await startServer(sb, ['--no-auth'], { UWSRUN_LOCK_TIMEOUT_MS: '10000' });
  const holder = unrelatedSleeper();
  try {
    const lock = join(sb.home, 'state.lock');
    writeFileSync(lock, `${holder.pid} ${procStat(holder.pid!)!.start}`);
    const records = readdirSync(join(sb.home, 'records')).sort();
    const t0 = Date.now();
    const write = http(`${server.url}/quick`, { method: 'POST', ...form({ PHASE: 'RUN' }), timeoutMs: 60_000 });
    // While the write waits for the lock, reads are served (the event loop is not blocked).
    await sleep(200);
    for (const path of [`/quick/${id}`, '/quick', `/quick/${id}/phase`, '/']) {
      const r = await http(`${server.url}${path}`, { timeoutMs: 5_000 });
      assert.equal(r.status, 200, `${path} while the lock is held`);
    }
    const phase = await http(`${server.url}/quick/${id}/phase`);
    assert.equal(phase.body.trim(), 'PENDING');
    const w = await write;
    const waited = Date.now() - t0;
    assert.equal(w.status, 503, w.body);
    assert.match(w.body, /lock/);
    assert.equal(w.body.trim().split('\n').length, 1, 'one line');
    assert.ok(waited >= 9_000, `gave up after ${waited} ms, not before the 10 s deadline`);
    assert.deepEqual(readdirSync(join(sb.home, 'records')).sort(), records, 'no job created');
    assert.equal(readFileSync(lock, 'utf8').startsWith(`${holder.pid} `), true, 'the live holder keeps its lock');
    // Once the lock is free, writes work again.
    process.kill(holder.pid!, 'SIGKILL');
    await waitFor('holder gone', () => !alive(holder.pid!), 10_000);
    const ok = await http(`${server.url}/quick`, { method: 'POST', ...form({}), timeoutMs: 30_000 });
    assert.equal(ok.status, 303, ok.body);
  } finally {
    try { process.kill(holder.pid!, 'SIGKILL'); } catch { /* gone */ }
    await server.stop();
    sb.cleanup();
  }
});

test('a body over 1 MiB is 413 and creates nothing; garbage bytes and a half-sent request do not stop the server', T, async () => {
  const sb = new Sandbox(YAML);
  const server = await startServer(sb);
  try {
    const big = `seconds=1&pad=${'x'.repeat(1024 * 1024 + 10)}`;
    const r = await http(`${server.url}/nap`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: big, timeoutMs: 30_000 })
      .catch((err: NodeJS.ErrnoException) => ({ status: -1, body: String(err.code ?? err), headers: {} }));
    assert.equal(r.status, 413, `413, not ${r.status} ${r.body}`);
    assert.ok(!existsSync(join(sb.home, 'records')) || readdirSync(join(sb.home, 'records')).length === 0, 'no job created');
    // The same over multipart.
    const boundary = 'xyzzy';
    const multi = `--${boundary}\r\nContent-Disposition: form-data; name="pad"\r\n\r\n${'y'.repeat(1024 * 1024 + 10)}\r\n--${boundary}--\r\n`;
    const m = await http(`${server.url}/nap`, { method: 'POST', headers: { 'content-type': `multipart/form-data; boundary=${boundary}` }, body: multi, timeoutMs: 30_000 })
      .catch((err: NodeJS.ErrnoException) => ({ status: -1, body: String(err.code ?? err), headers: {} }));
    assert.equal(m.status, 413);
    // A client still sending its refused body gets the 413 while it sends; the rest of the
    // body is read and thrown away, and its next request on the same connection is answered.
    const slow = await slowBodyThenGet(server.port, 2_000_000);
    assert.match(slow.first, /^HTTP\/1\.1 413 /, 'the 413 arrives while the body is still being sent');
    assert.match(slow.rest, /HTTP\/1\.1 200 OK[\s\S]*"services"/, 'the next request on the connection is served');
    // Expect: 100-continue with a body declared too large: 413 at once, never "100 Continue",
    // and the connection closed (the client was not told to send the body).
    const expect = await rawExchange(server.port, 'POST /nap HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 2000000\r\nExpect: 100-continue\r\n\r\n', { end: false });
    assert.match(expect, /^HTTP\/1\.1 413 [^]*\r\nConnection: close\r\n/i, JSON.stringify(expect.slice(0, 120)));

    // Garbage instead of HTTP: answered 400 or closed, never a crash.
    const garbage = Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919 + 13) % 256));
    const answer = await rawExchange(server.port, garbage);
    assert.ok(answer === '' || /^HTTP\/1\.1 4\d\d/.test(answer), `a 4xx or nothing: ${JSON.stringify(answer.slice(0, 80))}`);
    await rawExchange(server.port, 'GET / HTTP/1.1\r\nHost: x\r\nContent-Length: nonsense\r\n\r\n');
    await rawExchange(server.port, `GET /${'a'.repeat(100_000)} HTTP/1.1\r\nHost: x\r\n\r\n`);
    // A half-sent body, the client gone.
    await rawExchange(server.port, 'POST /nap HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\nseconds=1&');
    await stillServes(server.url);
    assert.equal(server.exited(), undefined);
    assert.ok(!existsSync(join(sb.home, 'records')) || readdirSync(join(sb.home, 'records')).length === 0, 'no job from a half-sent body');
  } finally {
    await server.stop();
    sb.cleanup();
  }
});

test('SIGTERM with waiters blocked: they get 200 with the job, the server exits 0 within 2 s, the running job keeps running', T, async () => {
  const sb = new Sandbox(YAML);
  const server = await startServer(sb);
  try {
    const running = submitJob(sb, ['nap', '--run']);
    await waitFor('the job to start', () => sb.job(running).startTime);
    const pending = submitJob(sb, ['quick']);
    // Six on each job from one caller: the two oldest of each are answered at once (at most
    // four block per job and caller), which shows that all twelve reached the server; eight
    // stay blocked for the SIGTERM.
    const waiters = [running, pending].flatMap((id) => Array.from({ length: 6 }, () =>
      http(`${server.url}/${id === running ? 'nap' : 'quick'}/${id}?WAIT=60`, { timeoutMs: 30_000 })));
    await waitFor('four waiters pushed out', () => server.stderr().split('\n').filter((l) => l.includes('?WAIT=60 200')).length >= 4);
    const t0 = Date.now();
    server.child.kill('SIGTERM');
    const replies = await Promise.all(waiters);
    for (const r of replies) {
      assert.equal(r.status, 200);
      assert.ok(['EXECUTING', 'PENDING'].includes(phaseIn(r.body) ?? ''), r.body.slice(0, 200));
    }
    const exit = await waitFor('the server to exit', () => server.exited(), 10_000);
    const tookMs = Date.now() - t0;
    assert.equal(exit.code, 0, `exit 0, not ${exit.code}`);
    assert.ok(tookMs < 2_000, `exited ${tookMs} ms after SIGTERM (SPEC: within 2 s)`);
    const job = sb.job(running);
    assert.equal(job.phase, 'EXECUTING', 'the job keeps running');
    assert.ok(alive(job.pid));
  } finally {
    await server.stop();
    sb.cleanup();
  }
});
