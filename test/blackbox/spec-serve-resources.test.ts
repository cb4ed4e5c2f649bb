// SPEC §12, statement by statement, where the serve tests left a statement unchecked: the
// job lists show ARCHIVED jobs only when PHASE=ARCHIVED asks for them (as `list`); PHASE=RUN
// posted to {job} (not only to /phase) queues the job before the 303 leaves and PHASE=ABORT
// there aborts it; {job}/error is the message and then exactly the last 100 lines of stderr,
// also for a job ABORTED by its time limit; under --no-auth a created job belongs to the
// HOME's OS user; a WAIT on a running job that is deleted answers 404; every resource answers a method it does not take with 405 and an Allow
// that lists what it does take, and HEAD wherever GET works. XML validated with xmllint.

import assert from 'node:assert/strict';
import { userInfo } from 'node:os';
import { after, before, describe, test } from 'node:test';
import { Sandbox, submitJob, waitFor } from '../helpers.js';
import { ServeProcess, assertValidUws, createJob, elementText, jobIdOf, phaseOf, postForm, request, startServed, stopServed } from '../serve-helpers.js';

const JOBS = `
jobs:
  hello:
    command: [echo, "Hello, {name}!"]
    parameters:
      name: { type: string, default: world }
  kept:
    command: [echo, kept]
    archive: true
  noisy:
    command: [sh, -c, 'i=1; while [ $i -le 150 ]; do echo "err line $i" >&2; i=$((i + 1)); done; exit 3']
  sleepy:
    command: [sleep, '60']
    executionDuration: 1
    killGrace: 1
  gate:
    command: [sh, -c, 'while [ ! -e "$UWS_JOB_DIR/go" ]; do sleep 0.05; done']
    killGrace: 1
  stubborn:
    description: ignores SIGINT, so an abort takes its killGrace and the job stays EXECUTING meanwhile
    command: [sh, -c, 'trap "" INT; while :; do sleep 0.05; done']
    killGrace: 2
`;

const ids = (xml: string): string[] => [...xml.matchAll(/<uws:jobref id="([^"]+)"/g)].map((m) => m[1]!);

/** Blocks on the server until the job is final (WAIT), at most 60 s. */
async function untilFinal(jobUrl: string): Promise<string> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const phase = elementText(await (await request(`${jobUrl}?WAIT=5`)).text(), 'phase')!;
    if (['COMPLETED', 'ERROR', 'ABORTED', 'ARCHIVED'].includes(phase)) return phase;
    if (Date.now() > deadline) throw new Error(`${jobUrl} still ${phase}`);
  }
}

describe('SPEC §12 resources', () => {
  let sb: Sandbox;
  let sp: ServeProcess;
  before(async () => ({ sb, sp } = await startServed(JOBS)));
  after(() => stopServed(sb, sp));

  test('{jobs} leaves ARCHIVED jobs out unless PHASE=ARCHIVED asks for them', async () => {
    const archived = submitJob(sb, ['kept', '--run', '--destruction', '1s']);
    const live = submitJob(sb, ['kept', '--run']);
    assert.equal(sb.run(['wait', live, '--timeout', '60']).code, 0);
    await waitFor('the job ARCHIVED (destruction 1 s, then tick)', () => {
      sb.run(['tick']);
      return sb.job(archived).phase === 'ARCHIVED';
    }, 60_000);
    const plain = await (await request(sp.url('/kept'))).text();
    assertValidUws(sb, plain, '{jobs}');
    assert.deepEqual(ids(plain), [live]);
    const only = await (await request(sp.url('/kept?PHASE=ARCHIVED'))).text();
    assertValidUws(sb, only, '{jobs}?PHASE=ARCHIVED');
    assert.deepEqual(ids(only), [archived]);
    assert.match(only, /<uws:phase>ARCHIVED<\/uws:phase>/);
    const both = await (await request(sp.url('/kept?phase=ARCHIVED&PHASE=COMPLETED'))).text();
    assert.deepEqual(ids(both), [archived, live]);
    // The archived job itself is still served (its record is kept), as ARCHIVED.
    const job = await (await request(sp.url(`/kept/${archived}`))).text();
    assertValidUws(sb, job, 'ARCHIVED {job}');
    assert.equal(elementText(job, 'phase'), 'ARCHIVED');
    // Nothing changes an ARCHIVED job (403, as exit 4), not even its destruction; delete removes it.
    for (const [path, fields] of [['/destruction', { DESTRUCTION: '1h' }], ['/phase', { PHASE: 'ABORT' }], ['/phase', { PHASE: 'RUN' }], ['/executionduration', { EXECUTIONDURATION: '5' }]] as const) {
      const r = await postForm(sp.url(`/kept/${archived}${path}`), fields);
      assert.equal(r.status, 403, `POST ${path} ${JSON.stringify(fields)} of an ARCHIVED job`);
      assert.match(await r.text(), new RegExp(`job ${archived} is ARCHIVED`));
    }
    assert.equal(sb.job(archived).phase, 'ARCHIVED');
    const del = await request(sp.url(`/kept/${archived}`), { method: 'DELETE' });
    assert.equal(del.status, 303);
    assert.equal(del.headers.get('location'), sp.url('/kept'));
    assert.equal((await request(sp.url(`/kept/${archived}`))).status, 404);
  });

  test('POST PHASE=RUN to {job} queues it before the 303 leaves; PHASE=ABORT to {job} aborts it', async () => {
    sb.ok(['limit', '0']); // paused: a queued job stays QUEUED, so the phase seen is the one the 303 promised
    try {
      const url = await createJob(sp, 'hello', { name: 'queued' });
      assert.equal(await phaseOf(url), 'PENDING');
      const r = await postForm(url, { phase: 'RUN' });
      assert.equal(r.status, 303);
      assert.equal(r.headers.get('location'), url);
      assert.equal(sb.job(jobIdOf(url)).phase, 'QUEUED');
      assert.equal(await phaseOf(url), 'QUEUED');
      const again = await postForm(url, { PHASE: 'RUN' });
      assert.equal(again.status, 403, 'run of a QUEUED job is refused as by the CLI (exit 4)');
      assert.match(await again.text(), new RegExp(`${jobIdOf(url)}.*QUEUED.*run`));
      const abort = await postForm(url, { PHASE: 'ABORT' });
      assert.equal(abort.status, 303);
      assert.equal(abort.headers.get('location'), url);
      assert.equal(await phaseOf(url), 'ABORTED');
      assert.notEqual(sb.job(jobIdOf(url)).endTime, null);
    } finally {
      sb.ok(['limit', '2']);
    }
  });

  test('{job}/error: the message, then exactly the last 100 lines of stderr; hasDetail true', async () => {
    const url = await createJob(sp, 'noisy', { PHASE: 'RUN' });
    assert.equal(await untilFinal(url), 'ERROR');
    const r = await request(`${url}/error`);
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('content-type'), 'text/plain; charset=utf-8');
    const lines = (await r.text()).replace(/\n$/, '').split('\n');
    const message = sb.job(jobIdOf(url)).errorSummary.message as string;
    assert.match(message, /status 3/);
    assert.equal(lines[0], message);
    const tail = lines.slice(1).filter((l) => l !== '');
    assert.equal(tail.length, 100, lines.join('\n'));
    assert.equal(tail[0], 'err line 51');
    assert.equal(tail.at(-1), 'err line 150');
    const doc = await (await request(url)).text();
    assertValidUws(sb, doc, 'ERROR {job}');
    assert.match(doc, /<uws:errorSummary type="fatal" hasDetail="true">/);
  });

  test('a job ABORTED by its executionDuration has a transient error at /error naming the limit', async () => {
    const url = await createJob(sp, 'sleepy', { PHASE: 'RUN' });
    assert.equal(await untilFinal(url), 'ABORTED');
    const r = await request(`${url}/error`);
    assert.equal(r.status, 200);
    assert.match((await r.text()).split('\n')[0]!, /executionDuration of 1 s exceeded/);
    const doc = await (await request(url)).text();
    assertValidUws(sb, doc, 'ABORTED {job}');
    assert.match(doc, /<uws:errorSummary type="transient" hasDetail="(true|false)">/);
    // A job aborted by a user has no errorSummary: /error is 404.
    const user = await createJob(sp, 'hello');
    assert.equal((await postForm(`${user}/phase`, { PHASE: 'ABORT' })).status, 303);
    assert.equal((await request(`${user}/error`)).status, 404);
    assert.doesNotMatch(await (await request(user)).text(), /errorSummary/);
  });

  test('--no-auth: a job created over HTTP belongs to the HOME\'s OS user', async () => {
    const url = await createJob(sp, 'hello');
    const me = userInfo().username;
    assert.equal(sb.job(jobIdOf(url)).ownerId, me);
    const owner = await request(`${url}/owner`);
    assert.equal(owner.headers.get('content-type'), 'text/plain; charset=utf-8');
    assert.equal((await owner.text()).trim(), me);
    assert.equal(elementText(await (await request(url)).text(), 'ownerId'), me);
  });

  test('WAIT on a running job that is deleted answers 404, not its passing ABORTED (five times over, against the race)', async () => {
    for (let i = 0; i < 5; i++) {
      const url = await createJob(sp, 'stubborn', { PHASE: 'RUN' });
      await waitFor('the job EXECUTING', () => sb.job(jobIdOf(url)).phase === 'EXECUTING', 30_000);
      const blocked = request(`${url}?WAIT=-1`);
      // The job ignores SIGINT: the delete's abort keeps it EXECUTING for its 2 s killGrace,
      // so the WAIT is blocked in EXECUTING by the time the job passes through ABORTED, even
      // when the machine is slow to get the request to the server.
      const del = await request(url, { method: 'DELETE' });
      assert.equal(del.status, 303);
      const r = await blocked;
      const body = await r.text();
      assert.equal(r.status, 404, `round ${i}: ${r.status} ${body}`);
      assert.match(body, new RegExp(jobIdOf(url)));
    }
  });

  test('every resource: a method it does not take is 405 with Allow; HEAD answers wherever GET does', async () => {
    const url = await createJob(sp, 'gate', { PHASE: 'RUN' });
    const jobPath = new URL(url).pathname;
    const table: [string, string[]][] = [
      ['/', ['GET', 'HEAD']],
      ['/gate', ['GET', 'HEAD', 'POST']],
      [jobPath, ['GET', 'HEAD', 'POST', 'DELETE']],
      [`${jobPath}/phase`, ['GET', 'HEAD', 'POST']],
      [`${jobPath}/executionduration`, ['GET', 'HEAD', 'POST']],
      [`${jobPath}/destruction`, ['GET', 'HEAD', 'POST']],
      [`${jobPath}/error`, ['GET', 'HEAD']],
      [`${jobPath}/quote`, ['GET', 'HEAD']],
      [`${jobPath}/owner`, ['GET', 'HEAD']],
      [`${jobPath}/results`, ['GET', 'HEAD']],
      [`${jobPath}/stdout`, ['GET', 'HEAD']],
      [`${jobPath}/stderr`, ['GET', 'HEAD']],
    ];
    for (const [path, allowed] of table) {
      for (const method of ['PUT', 'PATCH', 'DELETE', 'POST']) {
        if (allowed.includes(method)) continue;
        const r = await request(sp.url(path), { method });
        assert.equal(r.status, 405, `${method} ${path}`);
        const allow = (r.headers.get('allow') ?? '').split(/,\s*/);
        for (const m of ['GET', 'HEAD']) assert.ok(allow.includes(m), `${method} ${path}: Allow ${allow.join(', ')}`);
        assert.equal(r.headers.get('content-type'), 'text/plain; charset=utf-8');
        assert.match(await r.text(), /^[^\n]+\n?$/, 'one line');
      }
      if (path.endsWith('/error')) continue; // no errorSummary yet: GET and HEAD are 404 alike
      const get = await request(sp.url(path));
      const head = await request(sp.url(path), { method: 'HEAD' });
      assert.equal(head.status, get.status, `HEAD ${path}`);
      assert.equal(head.headers.get('content-type'), get.headers.get('content-type'), `HEAD ${path}`);
      assert.equal(await head.text(), '', `HEAD ${path} has no body`);
      await get.arrayBuffer();
    }
    // PHASE=ABORT ends it (the gate job would wait forever).
    assert.equal((await postForm(`${url}/phase`, { PHASE: 'ABORT' })).status, 303);
    assert.equal(await untilFinal(url), 'ABORTED');
  });
});
