// SPEC §12, creating a job with POST {jobs}: RUNID, EXECUTIONDURATION and DESTRUCTION in any
// case of name, with values as on the command line (durations with units, an instant with
// fractional seconds and an offset, 0 = never), read back from {job}, its text resources and
// the job list (runId in the jobref); the runId rules of §4 are 400 over HTTP, as exit 2 on
// the CLI, and create nothing. XML validated against the UWS 1.1 schema.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Sandbox } from '../helpers.js';
import { ServeProcess, assertValidUws, createJob, elementText, jobIdOf, postForm, request, startServed, stopServed } from '../serve-helpers.js';

const JOBS = `
jobs:
  slow:
    command: [sleep, '60']
    destruction: 7d
`;

describe('POST {jobs}: the UWS job fields', () => {
  let sb: Sandbox;
  let sp: ServeProcess;
  before(async () => ({ sb, sp } = await startServed(JOBS)));
  after(() => stopServed(sb, sp));

  test('RunId, executionDuration=2m, destruction with fraction and offset: read back everywhere', async () => {
    const url = await createJob(sp, 'slow', { RunId: 'night 42', executionDuration: '2m', Destruction: '2031-01-01T00:00:00.25+02:00' });
    const doc = await (await request(url)).text();
    assertValidUws(sb, doc, '{job}');
    assert.equal(elementText(doc, 'runId'), 'night 42');
    assert.equal(elementText(doc, 'executionDuration'), '120');
    assert.equal(elementText(doc, 'destruction'), '2030-12-31T22:00:00.250Z');
    assert.equal(await (await request(`${url}/executionduration`)).text(), '120\n');
    assert.equal((await (await request(`${url}/destruction`)).text()).trim(), '2030-12-31T22:00:00.250Z');
    const job = sb.job(jobIdOf(url));
    assert.equal(job.runId, 'night 42');
    assert.equal(job.executionDuration, 120);
    assert.equal(job.destruction, '2030-12-31T22:00:00.250Z');
    const list = await (await request(sp.url('/slow?PHASE=PENDING'))).text();
    assertValidUws(sb, list, '{jobs}');
    assert.match(list, new RegExp(`<uws:jobref id="${jobIdOf(url)}" xlink:href="${url}">\\s*<uws:phase>PENDING</uws:phase>\\s*<uws:runId>night 42</uws:runId>`));
  });

  test('DESTRUCTION=0 is never: nil in the document, an empty /destruction', async () => {
    const url = await createJob(sp, 'slow', { DESTRUCTION: '0' });
    const doc = await (await request(url)).text();
    assertValidUws(sb, doc, '{job} without destruction');
    assert.match(doc, /<uws:destruction xsi:nil="true"\/>/);
    const r = await request(`${url}/destruction`);
    assert.equal(r.headers.get('content-type'), 'text/plain; charset=utf-8');
    assert.equal((await r.text()).trim(), '');
    assert.equal(sb.job(jobIdOf(url)).destruction, null);
  });

  test('a bad run id or an empty field is 400 naming the field, and creates nothing', async () => {
    const before = sb.json<unknown[]>(['list']).length;
    const cases: [Record<string, string>, RegExp][] = [
      [{ RUNID: '' }, /^RUNID: a run id must not be empty\n?$/],
      [{ RUNID: 'a\tb' }, /^RUNID: a run id must not contain control characters/],
      [{ RUNID: 'a'.repeat(257) }, /^RUNID: a run id is at most 256 characters, got 257\n?$/],
      [{ EXECUTIONDURATION: '' }, /^EXECUTIONDURATION: "" is not a duration/],
      [{ EXECUTIONDURATION: '2147483648' }, /^EXECUTIONDURATION: "2147483648" is not a duration/],
      [{ DESTRUCTION: '' }, /^DESTRUCTION: "" is not an ISO 8601 instant/],
      [{ DESTRUCTION: '2026-01-01T00:00:00' }, /^DESTRUCTION: /],
      [{ PHASE: 'ABORT' }, /^PHASE: "ABORT" cannot be given at creation/],
    ];
    for (const [fields, message] of cases) {
      const r = await postForm(sp.url('/slow'), fields);
      assert.equal(r.status, 400, JSON.stringify(fields));
      assert.equal(r.headers.get('content-type'), 'text/plain; charset=utf-8');
      const body = await r.text();
      assert.match(body, message, JSON.stringify(fields));
      assert.equal(body.trim().split('\n').length, 1);
    }
    assert.equal(sb.json<unknown[]>(['list']).length, before);
  });
});
