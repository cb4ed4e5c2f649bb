// Blocking WAIT of `uwsrun serve` (SPEC §12, UWS 1.1 §2.2.1.1): a request really blocks
// until the job's phase changes (answered by the one watch of the state, long before its
// timeout), PHASE= makes it return at once unless the job is in that phase, --max-wait
// caps it, a fifth blocked request of one caller on one job lets the oldest go, a client
// that goes away costs nothing, and SIGTERM answers every blocked request and exits 0 while
// the jobs run on. No timing goals here (bench/p6-serve.mjs measures); the bounds asserted
// are only that a request returned before its own timeout, or after a change it waited for.

import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Sandbox, waitFor } from '../helpers.js';
import { ServeProcess, assertValidUws, createJob, elementText, jobIdOf, request, startServed, stopServed } from '../serve-helpers.js';

const JOBS = `
jobs:
  gate:
    description: Runs until the file go appears in its directory
    command: [sh, -c, 'while [ ! -e "$UWS_JOB_DIR/go" ]; do sleep 0.05; done; echo done']
  hello:
    command: [echo, hi]
`;

interface Answer {
  status: number;
  phase: string | undefined;
  ms: number;
  xml: string;
}

async function get(url: string, signal?: AbortSignal): Promise<Answer> {
  const t0 = Date.now();
  const r = await request(url, { signal });
  const xml = await r.text();
  return { status: r.status, phase: elementText(xml, 'phase'), ms: Date.now() - t0, xml };
}

describe('WAIT over HTTP', () => {
  let sb: Sandbox;
  let sp: ServeProcess;

  before(async () => ({ sb, sp } = await startServed(JOBS)));
  after(() => stopServed(sb, sp));

  const started = async (): Promise<string> => {
    const jobUrl = await createJob(sp, 'gate', { PHASE: 'RUN' });
    await waitFor('the job to start', () => sb.job(jobIdOf(jobUrl)).startTime);
    return jobUrl;
  };
  const go = (jobUrl: string) => writeFileSync(join(sb.jobDir(jobIdOf(jobUrl)), 'go'), '');

  test('WAIT=-1 blocks while the job is EXECUTING and answers with the new phase once it changes', async () => {
    const jobUrl = await started();
    let answered = false;
    const waiting = get(`${jobUrl}?WAIT=-1`).then((a) => {
      answered = true;
      return a;
    });
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(answered, false, 'WAIT answered before anything changed');
    const t0 = Date.now();
    go(jobUrl);
    const a = await waiting;
    assert.equal(a.status, 200);
    assert.equal(a.phase, 'COMPLETED');
    assertValidUws(sb, a.xml, 'uws:job after WAIT');
    assert.ok(Date.now() - t0 < 40_000, 'answered by the change, not by the 50 s cap');
  });

  test('WAIT=N returns after N seconds with the phase unchanged; WAIT=0 and a final job return at once', async () => {
    const jobUrl = await started();
    const a = await get(`${jobUrl}?WAIT=1`);
    assert.equal(a.status, 200);
    assert.equal(a.phase, 'EXECUTING');
    assert.ok(a.ms >= 900, `returned after ${a.ms} ms`);
    assert.ok(a.ms < 30_000);
    const zero = await get(`${jobUrl}?WAIT=0`);
    assert.equal(zero.phase, 'EXECUTING');
    go(jobUrl);
    await waitFor('the job to end', () => sb.job(jobIdOf(jobUrl)).phase === 'COMPLETED');
    const done = await get(`${jobUrl}?WAIT=30`);
    assert.equal(done.phase, 'COMPLETED');
    assert.ok(done.ms < 20_000, `a final job blocked ${done.ms} ms`);
  });

  test('with PHASE=P a WAIT returns at once unless the job is in P; bad WAIT and PHASE values are 400', async () => {
    const jobUrl = await started();
    const other = await get(`${jobUrl}?WAIT=30&PHASE=QUEUED`);
    assert.equal(other.phase, 'EXECUTING');
    assert.ok(other.ms < 20_000, `blocked ${other.ms} ms for a phase the job is not in`);
    let answered = false;
    const same = get(`${jobUrl}?wait=30&phase=EXECUTING`).then((a) => {
      answered = true;
      return a;
    });
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(answered, false);
    go(jobUrl);
    assert.equal((await same).phase, 'COMPLETED');
    for (const [query, message] of [['WAIT=soon', /^WAIT: "soon" is not a whole number/], ['WAIT=-2', /^WAIT: "-2"/], ['WAIT=1&PHASE=executing', /^PHASE: unknown phase "executing"/]] as const) {
      const r = await request(`${jobUrl}?${query}`);
      assert.equal(r.status, 400, query);
      assert.match(await r.text(), message);
    }
  });

  test('a fifth blocked request of the same caller on one job makes the oldest return at once with the job', async () => {
    const jobUrl = await started();
    const order: number[] = [];
    const waits = [0, 1, 2, 3].map((i) => get(`${jobUrl}?WAIT=-1`).then((a) => {
      order.push(i);
      return a;
    }));
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(order.length, 0, 'four block');
    const fifth = get(`${jobUrl}?WAIT=-1`).then((a) => {
      order.push(4);
      return a;
    });
    const first = await waits[0]!;
    assert.equal(first.status, 200);
    assert.equal(first.phase, 'EXECUTING');
    assert.deepEqual(order, [0]);
    go(jobUrl);
    const rest = await Promise.all([...waits.slice(1), fifth]);
    assert.deepEqual(rest.map((a) => a.phase), ['COMPLETED', 'COMPLETED', 'COMPLETED', 'COMPLETED']);
  });

  test('a client that disconnects while blocked costs the server nothing: it goes on serving and waking others', async () => {
    const jobUrl = await started();
    const count = (text: string): number => sp.logLines.filter((l) => l.includes(text)).length;
    const pushed = count('?WAIT=-1 200');
    const goneBefore = count('(client gone)');
    // Six of one caller: the two oldest are answered at once (at most four block per job
    // and caller, the test above), which shows that all six reached the server; the four
    // left blocked then disconnect.
    const controllers = Array.from({ length: 6 }, () => new AbortController());
    const gone = controllers.map((c) => get(`${jobUrl}?WAIT=-1`, c.signal).catch((err: Error) => err));
    await waitFor('two of them pushed out', () => count('?WAIT=-1 200') >= pushed + 2);
    for (const c of controllers) c.abort();
    const outcomes = await Promise.all(gone);
    assert.equal(outcomes.filter((g) => g instanceof Error).length, 4, 'the four still blocked were cut off');
    await waitFor('the disconnects in the access log', () => count('(client gone)') >= goneBefore + 4);
    const waiting = get(`${jobUrl}?WAIT=-1`);
    go(jobUrl);
    assert.equal((await waiting).phase, 'COMPLETED');
  });

  test('a QUEUED job held with the CLI (only its record and queue entry change) wakes its waiter with HELD', async () => {
    sb.ok(['limit', '0']);
    try {
      const jobUrl = await createJob(sp, 'hello', { PHASE: 'RUN' });
      const waiting = get(`${jobUrl}?WAIT=30`);
      await new Promise((r) => setTimeout(r, 300));
      sb.ok(['hold', jobIdOf(jobUrl)]);
      const a = await waiting;
      assert.equal(a.phase, 'HELD');
      assertValidUws(sb, a.xml, 'uws:job HELD');
      sb.ok(['delete', jobIdOf(jobUrl)]);
    } finally {
      sb.ok(['limit', '2']);
    }
  });

  test('a PENDING job blocks until someone runs it (here: the CLI)', async () => {
    const jobUrl = await createJob(sp, 'hello');
    const waiting = get(`${jobUrl}?WAIT=-1`);
    await new Promise((r) => setTimeout(r, 300));
    sb.ok(['run', jobIdOf(jobUrl)]);
    const a = await waiting;
    assert.notEqual(a.phase, 'PENDING');
  });
});

describe('--max-wait and stopping', () => {
  test('--max-wait caps WAIT=-1', async () => {
    const sb = new Sandbox(JOBS);
    const sp = await ServeProcess.start(sb, ['--no-auth', '--max-wait', '1']);
    try {
      const jobUrl = await createJob(sp, 'gate', { PHASE: 'RUN' });
      await waitFor('the job to start', () => sb.job(jobIdOf(jobUrl)).startTime);
      const a = await get(`${jobUrl}?WAIT=-1`);
      assert.equal(a.phase, 'EXECUTING');
      assert.ok(a.ms >= 900 && a.ms < 30_000, `returned after ${a.ms} ms`);
    } finally {
      await sp.stop();
      sb.cleanup();
    }
  });

  test('SIGTERM answers blocked requests with the job as it is (200), exits 0, and the job runs on', async () => {
    const sb = new Sandbox(JOBS);
    const sp = await ServeProcess.start(sb);
    try {
      const jobUrl = await createJob(sp, 'gate', { PHASE: 'RUN' });
      const id = jobIdOf(jobUrl);
      await waitFor('the job to start', () => sb.job(id).startTime);
      const waits = Array.from({ length: 6 }, (_, i) => get(`${jobUrl}?WAIT=-1`, undefined).then((a) => ({ i, ...a })));
      // A caller's four newest block; make sure all six reached the server.
      await waitFor('two of them pushed out', () => sp.logLines.filter((l) => l.includes('?WAIT=-1 200')).length >= 2);
      const { code, ms } = await sp.stop('SIGTERM');
      const answers = await Promise.all(waits);
      assert.equal(code, 0);
      assert.ok(ms < 10_000, `stopped after ${ms} ms`);
      for (const a of answers) {
        assert.equal(a.status, 200);
        assert.equal(a.phase, 'EXECUTING');
      }
      assert.equal(sb.job(id).phase, 'EXECUTING', 'the job is not the server\'s');
      writeFileSync(join(sb.jobDir(id), 'go'), '');
      await waitFor('the job to end without the server', () => sb.job(id).phase === 'COMPLETED');
    } finally {
      sp.kill();
      sb.cleanup();
    }
  });

  test('SIGINT stops it too (exit 0)', async () => {
    const sb = new Sandbox(JOBS);
    const sp = await ServeProcess.start(sb);
    try {
      assert.equal((await request(sp.url('/'))).status, 200);
      const { code } = await sp.stop('SIGINT');
      assert.equal(code, 0);
    } finally {
      sp.kill();
      sb.cleanup();
    }
  });
});
