// SPEC §3, §4 and §10: a parameter's value is the text it was given (`-p sigma=2.50` is
// 2.50, a YAML default its source text 3.0) wherever it is shown as text, and the typed value
// only in the JSON record. Checked in `show`, `show --xml`, and over HTTP in {job} and
// {job}/parameters, for a job submitted with the CLI and one created with a form; every
// document validated against the UWS 1.1 schema.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Sandbox, submitJob } from '../helpers.js';
import { ServeProcess, assertValidUws, createJob, jobIdOf, request, startServed, stopServed } from '../serve-helpers.js';

const JOBS = `
jobs:
  reduce:
    command: [echo, "{night}", "{sigma}", "{count}", "{when}"]
    parameters:
      night: { type: date, required: true }
      sigma: { type: float, default: 3.0 }
      count: { type: integer, default: 7 }
      when: { type: datetime, default: "2026-01-02T03:04:05+01:00" }
`;

const paramsOf = (xml: string): Record<string, string> =>
  Object.fromEntries([...xml.matchAll(/<uws:parameter id="([^"]+)">([^<]*)<\/uws:parameter>/g)].map((m) => [m[1]!, m[2]!]));

describe('parameters read back as the text they were given', () => {
  let sb: Sandbox;
  let sp: ServeProcess;
  before(async () => ({ sb, sp } = await startServed(JOBS)));
  after(() => stopServed(sb, sp));

  test('CLI: show and show --xml give 2.50 and the default 3.0; --json holds the typed values', () => {
    const id = submitJob(sb, ['reduce', '-p', 'night=2026-11-30', '-p', 'sigma=2.50']);
    const json = sb.job(id);
    assert.deepEqual(json.parameters, { night: '2026-11-30', sigma: 2.5, count: 7, when: json.parameters.when });
    assert.match(sb.ok(['show', id]), /parameters\s+night=2026-11-30 sigma=2\.50 count=7 when=2026-01-02T03:04:05\+01:00/);
    const xml = sb.ok(['show', id, '--xml']);
    assertValidUws(sb, xml, 'show --xml');
    assert.deepEqual(paramsOf(xml), { night: '2026-11-30', sigma: '2.50', count: '7', when: '2026-01-02T03:04:05+01:00' });
  });

  test('CLI: a YAML default reads as its source text', () => {
    const id = submitJob(sb, ['reduce', '-p', 'night=2026-11-30']);
    assert.equal(sb.job(id).parameters.sigma, 3);
    const xml = sb.ok(['show', id, '--xml']);
    assertValidUws(sb, xml, 'show --xml (defaults)');
    assert.equal(paramsOf(xml).sigma, '3.0');
  });

  test('HTTP: a job created with sigma=2.50 and count=+7 reads back as sent in {job} and {job}/parameters', async () => {
    const url = await createJob(sp, 'reduce', { night: '2026-12-01', SIGMA: '2.50', count: '0007' });
    const job = await request(url);
    assert.equal(job.status, 200);
    assert.equal(job.headers.get('content-type'), 'text/xml');
    const jobXml = await job.text();
    assertValidUws(sb, jobXml, '{job}');
    const want = { night: '2026-12-01', sigma: '2.50', count: '0007', when: '2026-01-02T03:04:05+01:00' };
    assert.deepEqual(paramsOf(jobXml), want);
    const params = await request(`${url}/parameters`);
    assert.equal(params.status, 200);
    const paramsXml = await params.text();
    assertValidUws(sb, paramsXml, '{job}/parameters');
    assert.match(paramsXml, /^<\?xml[^>]*\?>\n<uws:parameters /);
    assert.deepEqual(paramsOf(paramsXml), want);
    // The record keeps the typed values.
    const json = sb.job(jobIdOf(url));
    assert.equal(json.parameters.sigma, 2.5);
    assert.equal(json.parameters.count, 7);
  });

  test('HTTP: POST {job}/parameters (as set -p) keeps the new text too', async () => {
    const url = await createJob(sp, 'reduce', { night: '2026-12-01' });
    const r = await request(`${url}/parameters`, { method: 'POST', body: new URLSearchParams({ sigma: '1.250' }) });
    assert.equal(r.status, 303);
    assert.equal(r.headers.get('location'), url);
    const xml = await (await request(`${url}/parameters`)).text();
    assertValidUws(sb, xml, '{job}/parameters after POST');
    assert.equal(paramsOf(xml).sigma, '1.250');
    assert.equal(sb.job(jobIdOf(url)).parameters.sigma, 1.25);
  });
});
