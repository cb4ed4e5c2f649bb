// `show --xml`, `list --xml` and `results --xml` as a user runs them (SPEC §10): real jobs
// end COMPLETED and ERROR, one stays PENDING; every document validates against
// UWS-v1.1.xsd with xmllint and pyvo (Debian's python3-pyvo) reads back what `--json` says.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ROOT, Sandbox, waitFor } from '../helpers.js';

const SCHEMA = join(ROOT, 'test', 'fixtures', 'uws', 'UWS-v1.1.xsd');

const JOBS_YAML = `
jobs:
  write:
    command: [/bin/sh, -c, 'printf "%s" "$UWS_PARAM_LABEL" > "$UWS_RESULTS_DIR/out file é.txt"; echo wrote']
    parameters:
      label: { type: string, default: plain }
      count: { type: integer, default: 3 }
  fail:
    command: [/bin/sh, -c, 'echo "boom <&>" >&2; exit 3']
  block:
    command: [/bin/sleep, '60']
    killGrace: 1
`;

const LABEL = `<&"'> ]]> é 日本`;
const RUN_ID = `night <1> & "é"`;
// Not representable in XML 1.0: written (and read back) as U+FFFD.
const CONTROL_LABEL = 'x\u0001y';
// A run id may not hold control characters (SPEC §4); parameter values may.
const PENDING_RUN_ID = 'p é';

function validate(sb: Sandbox, xml: string, name: string): void {
  const file = join(sb.dir, `${name}.xml`);
  writeFileSync(file, xml);
  const r = spawnSync('/usr/bin/xmllint', ['--noout', '--nonet', '--schema', SCHEMA, file], { encoding: 'utf8', timeout: 60_000 });
  if (r.error) throw r.error;
  assert.equal(r.status, 0, `xmllint rejected ${name}:\n${r.stderr}\n${xml}`);
}

const PYVO_READER = `
import json, sys, warnings
warnings.simplefilter('ignore')
from pyvo.io.uws import parse_job, parse_job_list
from pyvo.io.uws.tree import Results
from pyvo.utils.xml.elements import parse_for_object
t = lambda v: None if v is None else v.isot
res = lambda rs: [dict(id=r.id_, href=r.href, size=r.size, mimeType=r.mimetype) for r in rs]
def read(kind, path):
  if kind == 'job':
    j = parse_job(path)
    e = j.errorsummary
    return dict(jobId=j.jobid, runId=j.runid, ownerId=j.ownerid, phase=j.phase, quote=t(j.quote),
        creationTime=t(j.creationtime), startTime=t(j.starttime), endTime=t(j.endtime),
        parameters={p.id_: p.content for p in j.parameters}, results=res(j.results),
        errorSummary=None if e is None else dict(type=e.type_, hasDetail=e.has_detail, message=j.message))
  if kind == 'jobs':
    return [dict(jobId=r.jobid, phase=r.phase, runId=r.runid, creationTime=t(r.creationtime)) for r in parse_job_list(path)]
  return res(parse_for_object(path, Results))
print(json.dumps([read(kind, path) for kind, path in json.loads(sys.argv[1])]))
`;

type Kind = 'job' | 'jobs' | 'results';

/** Validates each document and returns what pyvo reads from them (one Python process). */
function readBackAll(sb: Sandbox, docs: [Kind, string, string][]): any[] {
  for (const [, xml, name] of docs) validate(sb, xml, name);
  const arg = JSON.stringify(docs.map(([kind, , name]) => [kind, join(sb.dir, `${name}.xml`)]));
  const r = spawnSync('/usr/bin/python3', ['-c', PYVO_READER, arg], { encoding: 'utf8', timeout: 120_000 });
  if (r.error) throw r.error;
  assert.equal(r.status, 0, `pyvo failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as any[];
}

const readBack = (sb: Sandbox, kind: Kind, xml: string, name: string): any => readBackAll(sb, [[kind, xml, name]])[0];

/** astropy's isot of an ISO instant: UTC, no Z. */
const isot = (iso: string | null): string | null => (iso === null ? null : new Date(iso).toISOString().slice(0, -1));

function xmlOf(sb: Sandbox, args: string[]): string {
  const r = sb.run([...args, '--xml']);
  assert.equal(r.code, 0, `uwsrun ${args.join(' ')} --xml: ${r.stderr}`);
  return r.stdout;
}

describe('UWS XML of real jobs', () => {
  const sb = new Sandbox(JOBS_YAML);
  let done = '';
  let failed = '';
  let pending = '';
  after(() => sb.cleanup());

  before(() => {
    done = sb.ok(['submit', 'write', '--run', '-p', `label=${LABEL}`, '--run-id', RUN_ID]);
    assert.equal(sb.run(['wait', done, '--timeout', '60']).code, 0);
    failed = sb.ok(['submit', 'fail', '--run']);
    assert.equal(sb.run(['wait', failed, '--timeout', '60']).code, 1, 'wait exits 1 for a job that ended ERROR');
    pending = sb.ok(['submit', 'write', '-p', `label=${CONTROL_LABEL}`, '--run-id', PENDING_RUN_ID]);
  });

  test('show --xml of a COMPLETED job validates and reads back as show --json says', () => {
    const json = sb.job(done);
    assert.equal(json.phase, 'COMPLETED');
    const got = readBack(sb, 'job', xmlOf(sb, ['show', done]), 'completed');
    assert.equal(got.jobId, done);
    assert.equal(got.phase, 'COMPLETED');
    assert.equal(got.runId, RUN_ID);
    assert.equal(got.ownerId, json.ownerId);
    assert.equal(got.creationTime, isot(json.creationTime));
    assert.equal(got.startTime, isot(json.startTime));
    assert.equal(got.endTime, isot(json.endTime));
    assert.equal(got.quote, null);
    assert.deepEqual(got.parameters, { label: LABEL, count: '3' });
    const file = join(sb.jobDir(done), 'results', 'out file é.txt');
    assert.deepEqual(got.results, [{ id: 'out file é.txt', href: pathToFileURL(file).href, size: Buffer.byteLength(LABEL), mimeType: json.results[0].mimeType }]);
    assert.match(got.results[0].href, /^file:\/\/\/.*out%20file%20%C3%A9\.txt$/);
    assert.equal(got.errorSummary, null);
  });

  test('show --xml of an ERROR job has a fatal errorSummary with hasDetail true (stderr has content)', () => {
    const got = readBack(sb, 'job', xmlOf(sb, ['show', failed]), 'error');
    assert.equal(got.phase, 'ERROR');
    assert.equal(got.runId, null);
    assert.equal(got.errorSummary.type, 'fatal');
    assert.equal(got.errorSummary.hasDetail, true);
    assert.equal(got.errorSummary.message, sb.job(failed).errorSummary.message);
    assert.deepEqual(got.results, []);
  });

  test('show --xml of a PENDING job: nil times, empty results, control characters replaced', () => {
    const xml = xmlOf(sb, ['show', pending]);
    assert.match(xml, /<uws:startTime xsi:nil="true"\/>/);
    assert.match(xml, /<uws:endTime xsi:nil="true"\/>/);
    assert.match(xml, /<uws:results\/>/);
    const got = readBack(sb, 'job', xml, 'pending');
    assert.equal(got.phase, 'PENDING');
    assert.equal(got.startTime, null);
    assert.equal(got.runId, PENDING_RUN_ID);
    assert.deepEqual(got.parameters, { label: 'x\uFFFDy', count: '3' });
  });

  test('list --xml honours --phase (twice: a union), --after and --last', () => {
    const doneCreated = sb.job(done).creationTime as string;
    const cases: [string[], string[]][] = [
      [['--phase', 'COMPLETED', '--phase', 'error'], [done, failed]],
      [['--after', doneCreated], [failed, pending]],
      [['--last', '1'], [pending]],
      [['--phase', 'COMPLETED', '--phase', 'ERROR', '--last', '1'], [failed]],
      [['--phase', 'ARCHIVED'], []],
    ];
    const [all, ...filtered] = readBackAll(sb, [
      ['jobs', xmlOf(sb, ['list']), 'list-all'],
      ...cases.map(([args], i): [Kind, string, string] => ['jobs', xmlOf(sb, ['list', ...args]), `list-${i}`]),
    ]);
    assert.deepEqual(all.map((j: any) => [j.jobId, j.phase, j.runId]), [[done, 'COMPLETED', RUN_ID], [failed, 'ERROR', null], [pending, 'PENDING', PENDING_RUN_ID]]);
    assert.equal(all[0].creationTime, isot(doneCreated));
    cases.forEach(([args, expected], i) => {
      const ids = filtered[i].map((j: any) => j.jobId);
      assert.deepEqual(ids, expected, `list ${args.join(' ')} --xml`);
      assert.deepEqual(ids, sb.json<any[]>(['list', ...args]).map((j) => j.jobId), `list ${args.join(' ')}: XML and JSON agree`);
    });
  });

  test('results --xml validates and lists the result files; none for a PENDING job', () => {
    const [got, none] = readBackAll(sb, [
      ['results', xmlOf(sb, ['results', done]), 'results'],
      ['results', xmlOf(sb, ['results', pending]), 'results-empty'],
    ]);
    const json = sb.json<any[]>(['results', done]);
    assert.deepEqual(got, json.map((r) => ({ id: r.id, href: pathToFileURL(r.path).href, size: r.size, mimeType: r.mimeType })));
    assert.equal(got.length, 1);
    assert.deepEqual(none, []);
  });

  test('show ID --xml --json is refused with exit 2 and nothing on stdout', () => {
    const r = sb.run(['show', done, '--xml', '--json']);
    assert.equal(r.code, 2);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /--json/);
  });
});

describe('quote of a queued job', () => {
  const sb = new Sandbox(JOBS_YAML);
  after(() => sb.cleanup());

  test('a job QUEUED behind a running one is quoted in show --json, show --xml and list --json', async () => {
    const history = sb.ok(['submit', 'write', '--run']);
    assert.equal(sb.run(['wait', history, '--timeout', '60']).code, 0);
    sb.ok(['limit', '1']);
    const blocker = sb.ok(['submit', 'block', '--run']);
    await waitFor('the blocker to be EXECUTING', () => sb.ok(['phase', blocker]) === 'EXECUTING', 30_000);
    const before = Date.now();
    const queued = sb.ok(['submit', 'write', '--run']);
    assert.equal(sb.ok(['phase', queued]), 'QUEUED');

    const quote = sb.job(queued).quote as string;
    assert.match(quote, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.ok(Date.parse(quote) >= before, `quote ${quote} is not in the past`);
    const listed = sb.json<any[]>(['list']).find((j) => j.jobId === queued);
    assert.equal(typeof listed.quote, 'string');

    const xml = xmlOf(sb, ['show', queued]);
    assert.match(xml, /<uws:quote>\d{4}-[^<]+Z<\/uws:quote>/);
    assert.equal(readBack(sb, 'job', xml, 'queued').phase, 'QUEUED');
    // The blocker's definition has never completed: "don't know".
    assert.equal(sb.job(blocker).quote, null);
    assert.match(xmlOf(sb, ['show', blocker]), /<uws:quote xsi:nil="true"\/>/);

    assert.equal(sb.run(['abort', queued, blocker]).code, 0);
  });
});
