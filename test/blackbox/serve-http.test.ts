// `uwsrun serve` over plain HTTP (SPEC §12): every resource of the tree, every status code
// and header (Location, Content-Type, Allow, WWW-Authenticate), job creation from
// urlencoded and multipart forms, and every XML answer validated against the UWS 1.1
// schema with xmllint. The server is a real process in a Sandbox HOME; requests are Node's
// fetch (and a raw socket for garbage).

import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { FINAL, ISO_MS_Z, Sandbox, submitJob, waitFor } from '../helpers.js';
import { ServeProcess, assertValidUws, createJob, elementText, jobIdOf, phaseOf, postForm, request, startServed, stopServed } from '../serve-helpers.js';

const JOBS = `
jobs:
  hello:
    description: Say hello
    command: [echo, "Hello, {name}!"]
    parameters:
      name: { type: string, default: world, description: Whom to greet }
  typed:
    description: Typed parameters and results in a subdirectory
    command:
      - sh
      - -c
      - 'echo "count=$UWS_PARAM_COUNT night=$UWS_PARAM_NIGHT"; mkdir -p "$UWS_RESULTS_DIR/sub dir"; printf "a,b\\n1,2\\n" > "$UWS_RESULTS_DIR/sub dir/t.csv"; echo "{{}}" > "$UWS_RESULTS_DIR/summary.json"'
    parameters:
      count: { type: integer, min: 1, max: 10, default: 1 }
      night: { type: date, required: true }
  gate:
    description: Runs until the file go appears in its directory, then fails
    command: [sh, -c, 'echo started; while [ ! -e "$UWS_JOB_DIR/go" ]; do sleep 0.05; done; echo "the bad thing" >&2; exit 3']
`;

const FINAL_PHASES = new Set(FINAL);

async function waitFinal(jobUrl: string): Promise<string> {
  let phase = '';
  for (const deadline = Date.now() + 30_000; Date.now() < deadline;) {
    const r = await request(`${jobUrl}?WAIT=5`);
    phase = elementText(await r.text(), 'phase') ?? '';
    if (FINAL_PHASES.has(phase)) return phase;
  }
  throw new Error(`${jobUrl} did not end; last phase ${phase}`);
}

describe('uwsrun serve over HTTP', () => {
  let sb: Sandbox;
  let sp: ServeProcess;

  before(async () => ({ sb, sp } = await startServed(JOBS)));
  after(() => stopServed(sb, sp));

  test('BASE/ lists the definitions as JSON with absolute URLs and their parameters', async () => {
    const r = await request(sp.url('/'));
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('content-type'), 'application/json');
    const body = await r.json() as { services: any[] };
    assert.deepEqual(body.services.map((s) => s.name), ['hello', 'typed', 'gate']);
    const typed = body.services[1];
    assert.equal(typed.url, `${sp.base}/typed`);
    assert.equal(typed.description, 'Typed parameters and results in a subdirectory');
    assert.deepEqual(typed.parameters, [
      { name: 'count', type: 'integer', required: false, default: 1, description: null },
      { name: 'night', type: 'date', required: true, default: null, description: null },
    ]);
  });

  test('POST {jobs} (urlencoded, names in any case, PHASE=RUN) creates, queues and runs a job: 303 to its absolute URL', async () => {
    const jobUrl = await createJob(sp, 'hello', [['NaMe', 'Ada'], ['phase', 'RUN'], ['RunId', 'night-1']]);
    assert.match(jobIdOf(jobUrl), /^[A-Za-z0-9][A-Za-z0-9_-]{5,31}$/);
    assert.equal(await waitFinal(jobUrl), 'COMPLETED');
    const r = await request(jobUrl);
    assert.equal(r.headers.get('content-type'), 'text/xml');
    const xml = await r.text();
    assertValidUws(sb, xml, 'uws:job');
    assert.match(xml, /<uws:job version="1\.1" /);
    assert.equal(elementText(xml, 'runId'), 'night-1');
    assert.match(xml, /<uws:parameter id="name">Ada<\/uws:parameter>/);
    assert.match(elementText(xml, 'creationTime')!, ISO_MS_Z);
    const out = await request(`${jobUrl}/stdout`);
    assert.equal(out.headers.get('content-type'), 'text/plain; charset=utf-8');
    assert.equal(await out.text(), 'Hello, Ada!\n');
    // The same job, seen from the CLI: owner is the caller (--no-auth: the OS user).
    const shown = sb.job(jobIdOf(jobUrl));
    assert.equal(shown.phase, 'COMPLETED');
    assert.equal(shown.runId, 'night-1');
    assert.equal(shown.ownerId, sb.env.USER);
  });

  test('POST {jobs} as multipart/form-data creates a PENDING job with those parameters', async () => {
    const form = new FormData();
    form.append('COUNT', '7');
    form.append('night', '2026-11-30');
    form.append('executionDuration', '90');
    const r = await request(sp.url('/typed'), { method: 'POST', body: form });
    assert.equal(r.status, 303, await r.text());
    const jobUrl = r.headers.get('location')!;
    const params = await request(`${jobUrl}/parameters`);
    const xml = await params.text();
    assertValidUws(sb, xml, 'uws:parameters');
    assert.match(xml, /<uws:parameter id="count">7<\/uws:parameter>/);
    assert.match(xml, /<uws:parameter id="night">2026-11-30<\/uws:parameter>/);
    assert.equal(await phaseOf(jobUrl), 'PENDING');
    assert.equal((await (await request(`${jobUrl}/executionduration`)).text()).trim(), '90');
  });

  test('creations sent at once (committed together) each get their own job with their own parameters', async () => {
    const names = Array.from({ length: 24 }, (_, i) => `n${i}`);
    const urls = await Promise.all(names.map((name, i) => createJob(sp, 'hello', i % 3 === 0 ? { name, PHASE: 'RUN' } : { name })));
    assert.equal(new Set(urls).size, names.length);
    for (const [i, url] of urls.entries()) {
      const job = sb.job(jobIdOf(url));
      assert.equal(job.parameters.name, names[i]);
      if (i % 3 !== 0) assert.equal(job.phase, 'PENDING');
      else assert.notEqual(job.phase, 'PENDING');
    }
    const bad = await Promise.all([
      postForm(sp.url('/typed'), { night: '2026-11-30' }),
      postForm(sp.url('/typed'), { night: '2026-11-31' }),
      postForm(sp.url('/typed'), { night: '2026-12-01' }),
    ]);
    assert.deepEqual(bad.map((r) => r.status), [303, 400, 303]);
  });

  test('a refused creation is 400 with one text/plain line naming the culprit, and creates nothing', async () => {
    const before = sb.json<any[]>(['list']).length;
    const cases: [string, [string, string][], RegExp][] = [
      ['typed', [['night', '2026-11-30'], ['colour', 'red']], /unknown parameter "colour" for typed/],
      ['typed', [['night', '2026-11-30'], ['count', 'many']], /parameter count: "many" is not/],
      ['typed', [['night', '2026-11-30'], ['count', '11']], /parameter count/],
      ['typed', [['count', '2']], /missing required parameter night/],
      ['typed', [['night', '2026-11-30'], ['EXECUTIONDURATION', 'soon']], /^EXECUTIONDURATION: "soon" is not a duration/],
      ['typed', [['night', '2026-11-30'], ['DESTRUCTION', '2001-01-01T00:00:00Z']], /DESTRUCTION 2001-01-01T00:00:00Z is in the past/],
      ['typed', [['night', '2026-11-30'], ['PHASE', 'ABORT']], /PHASE: "ABORT" cannot be given at creation/],
      ['hello', [['name', 'a'], ['name', 'b']], /parameter name given more than once/],
    ];
    for (const [def, fields, message] of cases) {
      const r = await postForm(sp.url(`/${def}`), fields);
      const body = await r.text();
      assert.equal(r.status, 400, `${JSON.stringify(fields)}: ${r.status} ${body}`);
      assert.equal(r.headers.get('content-type'), 'text/plain; charset=utf-8');
      assert.match(body, message);
      assert.equal(body.trimEnd().split('\n').length, 1, body);
    }
    assert.equal(sb.json<any[]>(['list']).length, before);
  });

  test('{jobs} lists the jobs of its definition as uws:jobs with absolute jobrefs; PHASE, AFTER and LAST filter; bad filters are 400', async () => {
    const a = await createJob(sp, 'hello', { name: 'one' });
    const b = await createJob(sp, 'hello', { name: 'two', PHASE: 'RUN' });
    await waitFinal(b);
    const all = await (await request(sp.url('/hello'))).text();
    assertValidUws(sb, all, 'uws:jobs');
    assert.match(all, new RegExp(`<uws:jobref id="${jobIdOf(a)}" xlink:href="${a}">`));
    assert.match(all, new RegExp(`<uws:jobref id="${jobIdOf(b)}" xlink:href="${b}">`));
    assert.doesNotMatch(all, /typed/);
    const pending = await (await request(sp.url('/hello?phase=PENDING'))).text();
    assert.match(pending, new RegExp(jobIdOf(a)));
    assert.doesNotMatch(pending, new RegExp(jobIdOf(b)));
    const union = await (await request(sp.url('/hello?PHASE=PENDING&PHASE=COMPLETED&LAST=2'))).text();
    assert.deepEqual([...union.matchAll(/<uws:jobref id="([^"]+)"/g)].map((m) => m[1]), [jobIdOf(a), jobIdOf(b)]);
    const last = await (await request(sp.url('/hello?LAST=1'))).text();
    assert.deepEqual([...last.matchAll(/<uws:jobref id="([^"]+)"/g)].map((m) => m[1]), [jobIdOf(b)]);
    const created = sb.job(jobIdOf(a)).creationTime as string;
    const afterA = await (await request(sp.url(`/hello?AFTER=${encodeURIComponent(created)}`))).text();
    assert.doesNotMatch(afterA, new RegExp(jobIdOf(a)));
    assert.match(afterA, new RegExp(jobIdOf(b)));
    for (const [query, message] of [['PHASE=FINISHED', /^PHASE: unknown phase "FINISHED"/], ['PHASE=pending', /^PHASE: unknown phase "pending"/], ['LAST=0', /^LAST: "0" is not a positive whole number/], ['AFTER=yesterday', /^AFTER: "yesterday"/]] as const) {
      const r = await request(sp.url(`/hello?${query}`));
      assert.equal(r.status, 400, query);
      assert.match(await r.text(), message);
    }
  });

  test('a job submitted with the CLI is in the list and served like one created over HTTP', async () => {
    const id = submitJob(sb, ['hello', '-p', 'name=cli']);
    const list = await (await request(sp.url('/hello?PHASE=PENDING'))).text();
    assert.match(list, new RegExp(`<uws:jobref id="${id}" xlink:href="${sp.base}/hello/${id}">`));
    const xml = await (await request(sp.url(`/hello/${id}`))).text();
    assert.equal(elementText(xml, 'ownerId'), sb.env.USER);
  });

  test('/phase, /executionduration, /destruction (6 fractional digits, an offset) and /quote, /owner are text/plain; POSTs answer 303 to the job', async () => {
    const jobUrl = await createJob(sp, 'hello');
    let r = await postForm(`${jobUrl}/executionduration`, { EXECUTIONDURATION: '600' });
    assert.equal(r.status, 303);
    assert.equal(r.headers.get('location'), jobUrl);
    assert.equal((await (await request(`${jobUrl}/executionduration`)).text()).trim(), '600');
    r = await postForm(`${jobUrl}/destruction`, { destruction: '2031-02-03T04:05:06.123456Z' });
    assert.equal(r.status, 303);
    assert.equal((await (await request(`${jobUrl}/destruction`)).text()).trim(), '2031-02-03T04:05:06.123Z');
    r = await postForm(`${jobUrl}/destruction`, { DESTRUCTION: '2031-02-03T06:05:06.5+02:00' });
    assert.equal(r.status, 303);
    const dr = await request(`${jobUrl}/destruction`);
    assert.equal(dr.headers.get('content-type'), 'text/plain; charset=utf-8');
    assert.equal((await dr.text()).trim(), '2031-02-03T04:05:06.500Z');
    assert.equal(sb.job(jobIdOf(jobUrl)).destruction, '2031-02-03T04:05:06.500Z');
    // Null is an empty body (SPEC §12: "empty when null"), not an empty line.
    const quote = await request(`${jobUrl}/quote`);
    assert.equal(quote.headers.get('content-type'), 'text/plain; charset=utf-8');
    assert.equal(await quote.text(), '');
    const never = await createJob(sp, 'hello', { DESTRUCTION: '0' });
    assert.equal(await (await request(`${never}/destruction`)).text(), '');
    assert.equal((await (await request(`${jobUrl}/owner`)).text()).trim(), sb.env.USER);
    r = await postForm(`${jobUrl}/destruction`, { DESTRUCTION: 'tomorrow' });
    assert.equal(r.status, 400);
    assert.match(await r.text(), /^DESTRUCTION: "tomorrow" is not an ISO 8601 instant/);
    r = await postForm(`${jobUrl}/phase`, { PHASE: 'RUN' });
    assert.equal(r.status, 303);
    assert.equal(r.headers.get('location'), jobUrl);
    assert.notEqual(await phaseOf(jobUrl), 'PENDING', 'queued before the 303');
    assert.equal(await waitFinal(jobUrl), 'COMPLETED');
  });

  test('POST {job}/parameters changes parameters as set -p (PENDING only); HEAD answers like GET without a body', async () => {
    const jobUrl = await createJob(sp, 'typed', { night: '2026-11-30' });
    let r = await postForm(`${jobUrl}/parameters`, { COUNT: '4' });
    assert.equal(r.status, 303);
    assert.equal(r.headers.get('location'), jobUrl);
    assert.match(await (await request(`${jobUrl}/parameters`)).text(), /<uws:parameter id="count">4<\/uws:parameter>/);
    assert.equal(sb.job(jobIdOf(jobUrl)).parameters.count, 4);
    r = await postForm(`${jobUrl}/parameters`, { count: 'x' });
    assert.equal(r.status, 400);
    const head = await request(jobUrl, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get('content-type'), 'text/xml');
    assert.ok(Number(head.headers.get('content-length')) > 100);
    assert.equal(await head.text(), '');
    await postForm(`${jobUrl}/phase`, { PHASE: 'RUN' });
    assert.equal(await waitFinal(jobUrl), 'COMPLETED');
    r = await postForm(`${jobUrl}/parameters`, { count: '5' });
    assert.equal(r.status, 403);
    assert.equal(sb.job(jobIdOf(jobUrl)).parameters.count, 4);
  });

  test('an action the phase does not allow is 403 and changes nothing', async () => {
    const jobUrl = await createJob(sp, 'hello', { PHASE: 'RUN' });
    await waitFinal(jobUrl);
    for (const [path, fields, message] of [
      ['/phase', { PHASE: 'RUN' }, /COMPLETED/],
      ['/phase', { PHASE: 'ABORT' }, /COMPLETED/],
      ['', { PHASE: 'RUN' }, /COMPLETED/],
      ['/executionduration', { EXECUTIONDURATION: '5' }, /COMPLETED/],
    ] as const) {
      const r = await postForm(`${jobUrl}${path}`, fields);
      assert.equal(r.status, 403, `${path} ${JSON.stringify(fields)}`);
      assert.match(await r.text(), message);
    }
    assert.equal(sb.job(jobIdOf(jobUrl)).executionDuration, 0);
    const r = await postForm(jobUrl, { PHASE: 'SUSPEND' });
    assert.equal(r.status, 400);
    assert.match(await r.text(), /^PHASE: "SUSPEND" is not a phase a job can be sent to/);
  });

  test('a POST to a job or its phase, executionduration or destruction with a field it does not take is 400 naming it, and changes nothing', async () => {
    const jobUrl = await createJob(sp, 'hello', { DESTRUCTION: '30d' });
    const before = sb.job(jobIdOf(jobUrl));
    for (const [path, fields, culprit] of [
      ['', { PHASE: 'RUN', name: 'changed' }, 'name'],
      ['', { ACTION: 'DELETE', Bogus: '1' }, 'Bogus'],
      ['/phase', { PHASE: 'RUN', FOO: '1' }, 'FOO'],
      ['/executionduration', { EXECUTIONDURATION: '30', DESTRUCTION: '1h' }, 'DESTRUCTION'],
      ['/destruction', { DESTRUCTION: '2031-01-01T00:00:00Z', executionDuration: '77' }, 'executionDuration'],
    ] as const) {
      const r = await postForm(`${jobUrl}${path}`, fields);
      assert.equal(r.status, 400, `${path} ${JSON.stringify(fields)}`);
      const body = await r.text();
      assert.match(body, new RegExp(`^${culprit}: not taken by POST \\{job\\}${path.replace('/', '\\/')} \\(it takes `), body);
      assert.equal(body.trim().split('\n').length, 1, body);
    }
    const after = sb.job(jobIdOf(jobUrl));
    assert.deepEqual(
      [after.phase, after.parameters, after.executionDuration, after.destruction],
      [before.phase, before.parameters, before.executionDuration, before.destruction],
    );
    assert.equal(after.phase, 'PENDING');
  });

  test('a failed job: /error has the message and the end of stderr (404 before), hasDetail is true', async () => {
    const jobUrl = await createJob(sp, 'gate', { PHASE: 'RUN' });
    await waitFor('gate to start', () => sb.job(jobIdOf(jobUrl)).startTime);
    let r = await request(`${jobUrl}/error`);
    assert.equal(r.status, 404);
    assert.match(await r.text(), /has no error \(it is EXECUTING\)/);
    writeFileSync(join(sb.jobDir(jobIdOf(jobUrl)), 'go'), '');
    assert.equal(await waitFinal(jobUrl), 'ERROR');
    r = await request(`${jobUrl}/error`);
    assert.equal(r.status, 200);
    const text = await r.text();
    assert.match(text.split('\n')[0]!, /3/);
    assert.match(text, /the bad thing\n$/);
    const xml = await (await request(jobUrl)).text();
    assertValidUws(sb, xml, 'uws:job with errorSummary');
    assert.match(xml, /<uws:errorSummary type="fatal" hasDetail="true">/);
    assert.equal((await (await request(`${jobUrl}/stderr`)).text()), 'the bad thing\n');
  });

  test('/results lists absolute result URLs; each result is served with its mime type and length', async () => {
    const jobUrl = await createJob(sp, 'typed', { night: '2026-11-30', PHASE: 'RUN' });
    assert.equal(await waitFinal(jobUrl), 'COMPLETED');
    const r = await request(`${jobUrl}/results`);
    assert.equal(r.headers.get('content-type'), 'text/xml');
    const xml = await r.text();
    assertValidUws(sb, xml, 'uws:results');
    const hrefs = [...xml.matchAll(/xlink:href="([^"]+)"/g)].map((m) => m[1]!);
    assert.deepEqual(hrefs.sort(), [`${jobUrl}/results/sub%20dir/t.csv`, `${jobUrl}/results/summary.json`]);
    const csv = await request(`${jobUrl}/results/sub%20dir/t.csv`);
    assert.equal(csv.status, 200);
    assert.equal(csv.headers.get('content-type'), 'text/csv');
    assert.equal(csv.headers.get('content-length'), '8');
    assert.equal(await csv.text(), 'a,b\n1,2\n');
    const json = await request(`${jobUrl}/results/summary.json`);
    assert.equal(json.headers.get('content-type'), 'application/json');
    assert.equal(await json.text(), '{}\n');
    const jobXml = await (await request(jobUrl)).text();
    assert.match(jobXml, new RegExp(`<uws:result id="sub dir/t.csv" xlink:href="${jobUrl}/results/sub%20dir/t.csv" size="8" mime-type="text/csv"/>`));
    const missing = await request(`${jobUrl}/results/nope.txt`);
    assert.equal(missing.status, 404);
    assert.match(await missing.text(), /has no result "nope\.txt"/);
  });

  test('unknown definitions, jobs and paths are 404; a job under another definition is 404', async () => {
    const jobUrl = await createJob(sp, 'hello');
    const id = jobIdOf(jobUrl);
    for (const [path, message] of [
      ['/nosuch', /no such service: "nosuch"; services: hello, typed, gate/],
      ['/hello/AAAAAAAAAAAAAAAA', /no such job: AAAAAAAAAAAAAAAA/],
      ['/hello/../etc', /no such/],
      [`/typed/${id}`, /no such job/],
      [`/hello/${id}/nosuch`, /no such resource/],
      [`/hello/${id}/phase/more`, /no such resource/],
    ] as const) {
      const r = await request(sp.url(path));
      assert.equal(r.status, 404, path);
      assert.match(await r.text(), message);
    }
    const r = await postForm(sp.url('/nosuch'), { PHASE: 'RUN' });
    assert.equal(r.status, 404);
  });

  test('a method a resource does not take is 405 with Allow', async () => {
    const jobUrl = await createJob(sp, 'hello');
    for (const [url, method, allow] of [
      [jobUrl, 'PUT', 'GET, HEAD, POST, DELETE'],
      [`${jobUrl}/quote`, 'POST', 'GET, HEAD'],
      [`${jobUrl}/results`, 'DELETE', 'GET, HEAD'],
      [sp.url('/hello'), 'DELETE', 'GET, HEAD, POST'],
      [sp.url('/'), 'POST', 'GET, HEAD'],
      [`${jobUrl}/phase`, 'PATCH', 'GET, HEAD, POST'],
    ] as const) {
      const r = await request(url, { method });
      assert.equal(r.status, 405, `${method} ${url}`);
      assert.equal(r.headers.get('allow'), allow);
      assert.match(await r.text(), new RegExp(`method ${method} is not allowed`));
    }
  });

  test('DELETE and POST ACTION=DELETE delete the job (aborting it first) and answer 303 to {jobs}', async () => {
    const running = await createJob(sp, 'gate', { PHASE: 'RUN' });
    await waitFor('gate to start', () => sb.job(jobIdOf(running)).startTime);
    let r = await request(running, { method: 'DELETE' });
    assert.equal(r.status, 303);
    assert.equal(r.headers.get('location'), sp.url('/gate'));
    assert.equal((await request(running)).status, 404);
    assert.equal(sb.run(['show', jobIdOf(running)]).code, 3);
    const pending = await createJob(sp, 'hello');
    r = await postForm(pending, { action: 'DELETE' });
    assert.equal(r.status, 303);
    assert.equal(r.headers.get('location'), sp.url('/hello'));
    assert.equal((await request(pending)).status, 404);
    r = await postForm(sp.url(`/hello/${jobIdOf(await createJob(sp, 'hello'))}`), { ACTION: 'DESTROY' });
    assert.equal(r.status, 400);
  });

  test('PHASE=ABORT answers 303 at once and the running job ends ABORTED', async () => {
    const jobUrl = await createJob(sp, 'gate', { PHASE: 'RUN' });
    await waitFor('gate to start', () => sb.job(jobIdOf(jobUrl)).startTime);
    const r = await postForm(`${jobUrl}/phase`, { PHASE: 'ABORT' });
    assert.equal(r.status, 303);
    assert.equal(r.headers.get('location'), jobUrl);
    assert.equal(await waitFinal(jobUrl), 'ABORTED');
  });

  test('a body over 1 MiB is 413 and creates nothing', async () => {
    const before = sb.json<any[]>(['list']).length;
    const r = await postForm(sp.url('/hello'), { name: 'x'.repeat(1024 * 1024 + 10) });
    assert.equal(r.status, 413);
    assert.match(await r.text(), /larger than 1048576 bytes/);
    assert.equal(sb.json<any[]>(['list']).length, before);
    assert.equal((await request(sp.url('/'))).status, 200);
  });

  test('garbage bytes instead of HTTP get a 400 and the server goes on serving', async () => {
    const port = Number(new URL(sp.base).port);
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = connect(port, '127.0.0.1', () => socket.write(Buffer.from([0x16, 0x03, 0x01, 0x00, 0xff, 0x00, 0x0a, 0x0d, 0x0a, 0x0d, 0x0a])));
      let got = '';
      socket.on('data', (d) => (got += d));
      socket.on('close', () => resolve(got));
      socket.on('error', reject);
    });
    assert.match(answer, /^HTTP\/1\.1 400 /);
    const r = await request(sp.url('/'));
    assert.equal(r.status, 200);
  });

  test('a client that connects and stalls (nothing sent, half the headers, half the body) is cut off after a timeout', async () => {
    const port = Number(new URL(sp.base).port);
    const stall = (bytes: string) => new Promise<number>((resolve, reject) => {
      const t0 = Date.now();
      const socket = connect(port, '127.0.0.1', () => {
        if (bytes) socket.write(bytes);
      });
      socket.on('data', () => { /* a 408, or nothing */ });
      socket.on('close', () => resolve(Date.now() - t0));
      socket.on('error', reject);
    });
    const closed = await Promise.all([
      stall(''),
      stall('GET / HTTP/1.1\r\nHost: x\r\n'),
      stall('POST /hello HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\nname=a'),
    ]);
    for (const ms of closed) assert.ok(ms < 45_000, `a stalled connection stayed ${ms} ms`);
    assert.equal((await request(sp.url('/'))).status, 200);
  });

  test('every request gets one access-log line: time, caller, method, path, status, ms', async () => {
    const jobUrl = await createJob(sp, 'hello');
    const path = new URL(jobUrl).pathname;
    await request(`${jobUrl}/phase`);
    const line = await waitFor('the access-log line', () => sp.logLines.find((l) => l.includes(` GET ${path}/phase `)));
    assert.match(line, new RegExp(`^\\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z ${sb.env.USER} GET ${path}/phase 200 [\\d.]+ms$`));
    assert.ok(sp.logLines.some((l) => l.includes(` POST /hello 303 `)));
  });
});

describe('uwsrun serve options', () => {
  test('--no-auth is refused off loopback and a bad --listen or --max-wait is exit 2; nothing is served', () => {
    const sb = new Sandbox(JOBS);
    try {
      let r = sb.run(['serve', '--listen', '0.0.0.0:0', '--no-auth']);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /--no-auth is allowed only on a loopback address \(127\.0\.0\.0\/8, ::1, localhost\), not 0\.0\.0\.0/);
      r = sb.run(['serve', '--listen', 'localhost', '--no-auth']);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /--listen: "localhost" is not HOST:PORT/);
      r = sb.run(['serve', '--listen', '127.0.0.1:0', '--no-auth', '--max-wait', 'long']);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /--max-wait: "long" is not a duration/);
      r = sb.run(['serve', '--no-auth', '--json']);
      assert.equal(r.code, 2);
    } finally {
      sb.cleanup();
    }
  });

  test('without --no-auth and without credentials every request is 401 with a Bearer and Basic challenge', async () => {
    const sb = new Sandbox(JOBS);
    const sp = await ServeProcess.start(sb, []);
    try {
      for (const [path, init] of [['/', {}], ['/hello', { method: 'POST', body: new URLSearchParams({ PHASE: 'RUN' }) }]] as const) {
        const r = await request(sp.url(path), init);
        assert.equal(r.status, 401);
        const challenge = r.headers.get('www-authenticate') ?? '';
        assert.match(challenge, /\bBearer\b/);
        assert.match(challenge, /\bBasic\b/);
        assert.match(await r.text(), /authentication required/);
      }
      const r = await request(sp.url('/'), { headers: { authorization: 'Bearer nonsense' } });
      assert.equal(r.status, 401);
      assert.equal(sb.json<any[]>(['list']).length, 0);
    } finally {
      await sp.stop();
      sb.cleanup();
    }
  });

  test('-q silences the access log but not the address; --base-url is the prefix of every URL written; ::1 and localhost are loopback', async () => {
    const sb = new Sandbox(JOBS);
    const sp = await ServeProcess.start(sb, ['--no-auth', '-q', '--base-url', 'https://proxy.example.org/uws/']);
    try {
      const r = await postForm(sp.url('/hello'), { PHASE: 'RUN' });
      assert.equal(r.status, 303);
      const location = r.headers.get('location')!;
      assert.match(location, /^https:\/\/proxy\.example\.org\/uws\/hello\/[A-Za-z0-9]{16}$/);
      const id = jobIdOf(location);
      const list = await (await request(sp.url('/hello'))).text();
      assert.match(list, new RegExp(`xlink:href="https://proxy\\.example\\.org/uws/hello/${id}"`));
      const index = await (await request(sp.url('/'))).json() as { services: { url: string }[] };
      assert.equal(index.services[0]!.url, 'https://proxy.example.org/uws/hello');
      assert.equal(sp.logLines.length, 0, sp.stderr);
      assert.match(sp.stderr, /^listening on http:\/\/127\.0\.0\.1:\d+\n$/);
    } finally {
      await sp.stop();
    }
    const six = await ServeProcess.start(sb, ['--no-auth', '--listen', '[::1]:0']).catch((err: Error) => err);
    if (!(six instanceof Error)) {
      // (skipped where the machine has no IPv6 loopback)
      assert.match(six.base, /^http:\/\/\[::1\]:\d+$/);
      assert.equal((await request(six.url('/'))).status, 200);
      await six.stop();
    }
    const named = await ServeProcess.start(sb, ['--no-auth', '--listen', 'localhost:0']);
    assert.equal((await request(named.url('/'))).status, 200);
    await named.stop();
    sb.cleanup();
  });
});
