// UWS 1.1 XML (SPEC §10): every document validates against UWS-v1.1.xsd with xmllint, and
// pyvo (the Debian python3-pyvo at /usr/bin/python3) reads back what was written; plus the
// quote estimate of src/uws/quote.ts.

import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ROOT } from '../helpers.js';
import type { JobRecord, PublicJob, ResultFile } from '../../src/core/job.js';
import type { Phase } from '../../src/core/phases.js';
import { escapeXml, jobDocument, jobsDocument, resultsDocument } from '../../src/uws/xml.js';
import { QUOTE_HISTORY, QuoteModel, estimateQuote } from '../../src/uws/quote.js';

const SCHEMA = join(ROOT, 'test', 'fixtures', 'uws', 'UWS-v1.1.xsd');
const SYSTEM_PYTHON = '/usr/bin/python3';
const dir = mkdtempSync(join(tmpdir(), 'uwsrun-uws-xml-'));
after(() => rmSync(dir, { recursive: true, force: true }));

let fileCount = 0;
function writeDoc(xml: string): string {
  const file = join(dir, `doc-${++fileCount}.xml`);
  writeFileSync(file, xml);
  return file;
}

function xmllint(xml: string): { code: number; stderr: string } {
  const r = spawnSync('/usr/bin/xmllint', ['--noout', '--nonet', '--schema', SCHEMA, writeDoc(xml)], { encoding: 'utf8', timeout: 60_000 });
  if (r.error) throw r.error;
  return { code: r.status ?? 128, stderr: r.stderr };
}

function assertValid(xml: string): void {
  const r = xmllint(xml);
  assert.equal(r.code, 0, `xmllint rejected the document:\n${r.stderr}\n${xml}`);
}

// One Python process reads every document (astropy is slow to import): kind + path in,
// JSON out. Times come back as astropy's isot (UTC, no Z); an errorSummary's message is
// where pyvo 1.2 puts it, on the job.
const PYVO_READER = `
import json, sys, warnings
warnings.simplefilter('ignore')
from pyvo.io.uws import parse_job, parse_job_list
from pyvo.io.uws.tree import Results
from pyvo.utils.xml.elements import parse_for_object
t = lambda v: None if v is None else v.isot
res = lambda rs: [dict(id=r.id_, href=r.href, size=r.size, mimeType=r.mimetype) for r in rs]
out = []
for kind, path in json.loads(sys.argv[1]):
    if kind == 'job':
        j = parse_job(path)
        e = j.errorsummary
        out.append(dict(jobId=j.jobid, runId=j.runid, ownerId=j.ownerid, phase=j.phase, version=j.version,
            quote=t(j.quote), creationTime=t(j.creationtime), startTime=t(j.starttime), endTime=t(j.endtime),
            executionDuration=None if j.executionduration is None else int(j.executionduration.value),
            destruction=t(j.destruction), parameters={p.id_: p.content for p in j.parameters},
            results=res(j.results),
            errorSummary=None if e is None else dict(type=e.type_, hasDetail=e.has_detail, message=j.message)))
    elif kind == 'jobs':
        out.append([dict(jobId=r.jobid, phase=r.phase, runId=r.runid, ownerId=r.ownerid, creationTime=t(r.creationtime))
            for r in parse_job_list(path)])
    else:
        out.append(res(parse_for_object(path, Results)))
print(json.dumps(out))
`;

function pyvoRead(docs: ['job' | 'jobs' | 'results', string][]): any[] {
  const args = JSON.stringify(docs.map(([kind, xml]) => [kind, writeDoc(xml)]));
  const r = spawnSync(SYSTEM_PYTHON, ['-c', PYVO_READER, args], { encoding: 'utf8', timeout: 120_000 });
  if (r.error) throw r.error;
  assert.equal(r.status, 0, `pyvo failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as any[];
}

/** astropy's isot of an ISO instant: UTC, millisecond precision, no Z. */
const isot = (iso: string | null): string | null => (iso === null ? null : new Date(iso).toISOString().slice(0, -1));

const HOSTILE = `a<b & c>"d" 'e' ]]> é 日本 \u0001 x\ty`;
/** What a reader gets back: the control character is not representable in XML 1.0. */
const HOSTILE_READ = HOSTILE.replace('\u0001', '\uFFFD');

const T0 = Date.parse('2024-03-14T20:00:00.000Z');
const at = (s: number): string => new Date(T0 + s * 1000).toISOString();

/** A job record with realistic public fields (SPEC §4). The XML and the quote read only those
 *  and `seq`, so the internal fields (still changing) are left out. */
function makeJob(over: Partial<JobRecord> = {}): JobRecord {
  const job: PublicJob & { seq: number } = {
    jobId: 'Qk3vT9xLm2RwZp7A',
    runId: 'night-2024-03-14',
    ownerId: 'ada',
    definition: 'reduce',
    phase: 'PENDING',
    creationTime: at(0),
    startTime: null,
    endTime: null,
    quote: null,
    executionDuration: 7200,
    destruction: at(7 * 86400),
    parameters: { night: '2024-03-14', sigma: 2.5, full: true },
    command: ['python3', '-c', 'print(1)', '2024-03-14'],
    pid: null,
    exitCode: null,
    signal: null,
    errorSummary: null,
    results: [],
    after: [],
    notBefore: null,
    attempt: 1,
    attempts: [],
    seq: 1,
  };
  return { ...job, ...over } as JobRecord;
}

const RESULTS: ResultFile[] = [
  { id: 'summary-2024-03-14.json', path: '/home/ada/.local/state/uwsrun/jobs/Qk3vT9xLm2RwZp7A/results/summary-2024-03-14.json', size: 97, mimeType: 'application/json' },
  { id: 'sub dir/résumé #1 日本.fits', path: '/tmp/résumé dir/sub dir/résumé #1 日本.fits', size: 2880, mimeType: 'application/fits' },
];

/** One realistic job in each phase uwsrun produces. */
const BY_PHASE: Record<string, JobRecord> = {
  PENDING: makeJob({ phase: 'PENDING', runId: null }),
  QUEUED: makeJob({ phase: 'QUEUED', quote: at(300), seq: 2 }),
  EXECUTING: makeJob({ phase: 'EXECUTING', startTime: at(5), quote: at(305), pid: 4242 }),
  COMPLETED: makeJob({ phase: 'COMPLETED', startTime: at(5), endTime: at(65.5), exitCode: 0, results: RESULTS }),
  ERROR: makeJob({
    phase: 'ERROR', startTime: at(5), endTime: at(6), exitCode: 3,
    errorSummary: { type: 'fatal', message: 'exited with status 3: Traceback: <ValueError> "sigma" & co' },
  }),
  ABORTED: makeJob({
    phase: 'ABORTED', startTime: at(5), endTime: at(7205), signal: 'SIGINT', executionDuration: 7200,
    errorSummary: { type: 'transient', message: 'executionDuration of 7200 s exceeded' },
  }),
  ARCHIVED: makeJob({ phase: 'ARCHIVED', startTime: at(5), endTime: at(60), exitCode: 0, destruction: at(3600), ownerId: '' }),
};
const PHASES = Object.keys(BY_PHASE) as Phase[];

describe('uws:job', () => {
  test('a job in every phase gives a document that validates against UWS-v1.1.xsd', () => {
    for (const phase of PHASES) {
      const xml = jobDocument(BY_PHASE[phase]!, { hasDetail: () => true });
      assertValid(xml);
      assert.match(xml, new RegExp(`<uws:phase>${phase}</uws:phase>`));
    }
  });

  test('pyvo reads back id, phase, run id, times, parameters, results and errorSummary', () => {
    const read = pyvoRead(PHASES.map((p) => ['job', jobDocument(BY_PHASE[p]!, { hasDetail: (j) => j.phase === 'ERROR' })]));
    PHASES.forEach((phase, i) => {
      const job = BY_PHASE[phase]!;
      const got = read[i];
      assert.equal(got.jobId, job.jobId);
      assert.equal(got.phase, phase);
      assert.equal(got.version, '1.1');
      assert.equal(got.runId, job.runId);
      assert.equal(got.ownerId, job.ownerId === '' ? null : job.ownerId);
      assert.equal(got.creationTime, isot(job.creationTime));
      assert.equal(got.startTime, isot(job.startTime));
      assert.equal(got.endTime, isot(job.endTime));
      assert.equal(got.quote, isot(job.quote));
      assert.equal(got.destruction, isot(job.destruction));
      assert.equal(got.executionDuration, job.executionDuration);
      assert.deepEqual(got.parameters, { night: '2024-03-14', sigma: '2.5', full: 'true' });
      assert.deepEqual(got.results, job.results.map((r) => ({ id: r.id, href: pathToFileURL(r.path).href, size: r.size, mimeType: r.mimeType })));
      if (job.errorSummary) {
        assert.deepEqual(got.errorSummary, { type: job.errorSummary.type, hasDetail: phase === 'ERROR', message: job.errorSummary.message });
      } else {
        assert.equal(got.errorSummary, null);
      }
    });
  });

  test('absent nillable elements are xsi:nil, absent optional ones are left out, results always written', () => {
    const xml = jobDocument(makeJob({ runId: null, ownerId: '', destruction: null }));
    for (const name of ['ownerId', 'quote', 'startTime', 'endTime', 'destruction']) {
      assert.match(xml, new RegExp(`<uws:${name} xsi:nil="true"/>`), name);
    }
    assert.doesNotMatch(xml, /runId/);
    assert.doesNotMatch(xml, /errorSummary/);
    assert.match(xml, /<uws:results\/>/);
    assertValid(xml);
  });

  test('root carries version 1.1, the uws: prefix and the xlink and xsi namespaces, after an XML declaration', () => {
    const xml = jobDocument(BY_PHASE.COMPLETED!);
    assert.ok(xml.startsWith('<?xml version="1.0" encoding="UTF-8"?>\n<uws:job '), xml.slice(0, 80));
    assert.match(xml, /<uws:job [^>]*version="1\.1"/);
    assert.match(xml, /xmlns:uws="http:\/\/www\.ivoa\.net\/xml\/UWS\/v1\.0"/);
    assert.match(xml, /xmlns:xlink="http:\/\/www\.w3\.org\/1999\/xlink"/);
    assert.match(xml, /xmlns:xsi="http:\/\/www\.w3\.org\/2001\/XMLSchema-instance"/);
    assert.match(xml, /\n {2}<uws:jobId>/, 'children are indented by two spaces');
    assert.match(xml, /\n {4}<uws:parameter id=/, 'grandchildren by four');
  });

  test('elements come in the order of the schema', () => {
    const xml = jobDocument(BY_PHASE.ERROR!);
    const order = ['jobId', 'runId', 'ownerId', 'phase', 'quote', 'creationTime', 'startTime', 'endTime',
      'executionDuration', 'destruction', 'parameters', 'results', 'errorSummary'];
    const positions = order.map((name) => xml.indexOf(`<uws:${name}`));
    assert.ok(positions.every((p) => p > 0), `all present: ${positions}`);
    assert.deepEqual(positions, [...positions].sort((a, b) => a - b));
  });

  test('the validation used here does fail: a document with phase before ownerId is rejected', () => {
    const xml = jobDocument(BY_PHASE.COMPLETED!);
    const swapped = xml.replace(/( *<uws:ownerId>.*\n)( *<uws:phase>.*\n)/, '$2$1');
    assert.notEqual(swapped, xml);
    assert.notEqual(xmllint(swapped).code, 0);
    assert.notEqual(xmllint(xml.replace('<uws:phase>COMPLETED', '<uws:phase>FINISHED')).code, 0);
  });

  test('run ids and parameter values full of markup, ]]>, non-ASCII and a control character stay valid and read back', () => {
    const job = makeJob({
      phase: 'COMPLETED', startTime: at(1), endTime: at(2), runId: HOSTILE,
      parameters: { label: HOSTILE, [`odd "name" <&>`]: 'v', count: 3, ratio: 0.1, huge: 1e21, flag: false },
      results: [{ id: HOSTILE, path: `/tmp/${HOSTILE}`, size: 1, mimeType: 'text/plain' }],
      errorSummary: null,
    });
    const xml = jobDocument(job);
    assertValid(xml);
    assert.doesNotMatch(xml, /\u0001/);
    assert.match(xml, /]]&gt;/);
    assert.match(xml, /<uws:parameter id="count">3<\/uws:parameter>/);
    assert.match(xml, /<uws:parameter id="huge">1e\+21<\/uws:parameter>/);
    const [got] = pyvoRead([['job', xml]]);
    assert.equal(got.runId, HOSTILE_READ);
    assert.deepEqual(got.parameters, {
      label: HOSTILE_READ, [`odd "name" <&>`]: 'v', count: '3', ratio: '0.1', huge: '1e+21', flag: 'false',
    });
    assert.equal(got.results[0].id, HOSTILE_READ);
    assert.equal(fileURLToPath(got.results[0].href), `/tmp/${HOSTILE}`, 'the file URL leads back to the path');
  });

  test('executionDuration is clamped into xs:int', () => {
    const read = (n: number) => /<uws:executionDuration>(.*)<\/uws:executionDuration>/.exec(jobDocument(makeJob({ executionDuration: n })))![1];
    assert.equal(read(2147483647), '2147483647');
    assert.equal(read(1e12), '2147483647');
    assert.equal(read(-5), '0');
    assert.equal(read(12.7), '12');
    const xml = jobDocument(makeJob({ executionDuration: 2147483647 }));
    assertValid(xml);
    assert.equal(pyvoRead([['job', xml]])[0].executionDuration, 2147483647);
  });

  test('times are written in UTC with Z whatever offset the record holds', () => {
    const xml = jobDocument(makeJob({ creationTime: '2024-03-14T22:00:00+02:00', startTime: '2024-03-14T20:00:01.5Z', phase: 'EXECUTING' }));
    assert.match(xml, /<uws:creationTime>2024-03-14T20:00:00\.000Z<\/uws:creationTime>/);
    assert.match(xml, /<uws:startTime>2024-03-14T20:00:01\.500Z<\/uws:startTime>/);
    assertValid(xml);
  });

  test('errorSummary carries type, hasDetail (default false) and a message', () => {
    const job = BY_PHASE.ERROR!;
    assert.match(jobDocument(job), /<uws:errorSummary type="fatal" hasDetail="false">\n {4}<uws:message>exited with status 3: Traceback: &lt;ValueError&gt; &quot;sigma&quot; &amp; co<\/uws:message>/);
    const seen: string[] = [];
    assert.match(jobDocument(job, { hasDetail: (j) => (seen.push(j.jobId), true) }), /hasDetail="true"/);
    assert.deepEqual(seen, [job.jobId]);
    assert.match(jobDocument(BY_PHASE.ABORTED!), /<uws:errorSummary type="transient" hasDetail="false">/);
  });

  test('results link to percent-encoded file:// URLs, or to what hrefFor gives', () => {
    const xml = jobDocument(BY_PHASE.COMPLETED!);
    assert.match(xml, /xlink:href="file:\/\/\/tmp\/r%C3%A9sum%C3%A9%20dir\/sub%20dir\/r%C3%A9sum%C3%A9%20%231%20%E6%97%A5%E6%9C%AC\.fits"/);
    assert.match(xml, /<uws:result id="sub dir\/résumé #1 日本\.fits" xlink:href="[^"]+" size="2880" mime-type="application\/fits"\/>/);
    const http = jobDocument(BY_PHASE.COMPLETED!, { hrefFor: (r) => `http://example.org/jobs/x/results/${encodeURIComponent(r.id)}` });
    assert.match(http, /xlink:href="http:\/\/example\.org\/jobs\/x\/results\/sub%20dir%2Fr%C3%A9sum%C3%A9%20%231%20%E6%97%A5%E6%9C%AC\.fits"/);
    assert.doesNotMatch(http, /file:/);
    assertValid(http);
  });

  test('a phase outside the schema is written as UNKNOWN rather than an invalid document', () => {
    const xml = jobDocument(makeJob({ phase: 'LOST' as Phase }));
    assert.match(xml, /<uws:phase>UNKNOWN<\/uws:phase>/);
    assertValid(xml);
  });
});

describe('uws:jobs', () => {
  const jobs = PHASES.map((p, i) => ({ ...BY_PHASE[p]!, jobId: `job${i}-${p.toLowerCase()}`, seq: i, creationTime: at(i) }));
  jobs[2]!.runId = HOSTILE;

  test('a jobref per job, in order, validates and reads back with pyvo', () => {
    const xml = jobsDocument(jobs);
    assertValid(xml);
    assert.match(xml, /<uws:jobs version="1\.1" /);
    assert.match(xml, /<uws:jobref id="job0-pending">\n {4}<uws:phase>PENDING<\/uws:phase>\n {4}<uws:ownerId>ada<\/uws:ownerId>\n {4}<uws:creationTime>/);
    const [got] = pyvoRead([['jobs', xml]]);
    assert.deepEqual(got, jobs.map((j) => ({
      jobId: j.jobId, phase: j.phase, runId: j.runId === HOSTILE ? HOSTILE_READ : j.runId,
      ownerId: j.ownerId === '' ? null : j.ownerId, creationTime: isot(j.creationTime),
    })));
  });

  test('an empty list is a valid empty uws:jobs', () => {
    const xml = jobsDocument([]);
    assertValid(xml);
    assert.doesNotMatch(xml, /jobref/);
    assert.deepEqual(pyvoRead([['jobs', xml]])[0], []);
  });

  test('jobHref gives each jobref an xlink:href', () => {
    const xml = jobsDocument(jobs.slice(0, 2), { jobHref: (j) => `http://example.org/jobs/${j.jobId}` });
    assert.match(xml, /<uws:jobref id="job0-pending" xlink:href="http:\/\/example\.org\/jobs\/job0-pending">/);
    assertValid(xml);
  });
});

describe('uws:results', () => {
  test('results validate (no version attribute: the schema has none there) and read back', () => {
    const xml = resultsDocument(RESULTS);
    assertValid(xml);
    assert.doesNotMatch(xml, /<uws:results [^>]*version=/);
    const [got] = pyvoRead([['results', xml]]);
    assert.deepEqual(got, RESULTS.map((r) => ({ id: r.id, href: pathToFileURL(r.path).href, size: r.size, mimeType: r.mimeType })));
  });

  test('no results is a valid empty uws:results', () => {
    const xml = resultsDocument([]);
    assertValid(xml);
    assert.match(xml, /<uws:results [^>]*\/>\n$/);
    assert.deepEqual(pyvoRead([['results', xml]])[0], []);
  });

  test('hrefFor replaces the file URL', () => {
    const xml = resultsDocument(RESULTS.slice(0, 1), { hrefFor: (r) => `http://h/r/${r.id}` });
    assert.match(xml, /xlink:href="http:\/\/h\/r\/summary-2024-03-14\.json"/);
    assertValid(xml);
  });
});

describe('escapeXml', () => {
  test('escapes the five markup characters', () => {
    assert.equal(escapeXml(`<a href="x">&'</a>`), '&lt;a href=&quot;x&quot;&gt;&amp;&apos;&lt;/a&gt;');
    assert.equal(escapeXml(']]>'), ']]&gt;');
    assert.equal(escapeXml('&amp;'), '&amp;amp;');
  });

  test('keeps non-ASCII, writes tab/newline/CR as references, replaces what XML 1.0 cannot carry', () => {
    assert.equal(escapeXml('é 日本 😀'), 'é 日本 😀');
    assert.equal(escapeXml('a\tb\nc\rd'), 'a&#9;b&#10;c&#13;d');
    assert.equal(escapeXml('\u0000\u0001\u0008\u000b\u000c\u001f\u007f'), '\uFFFD'.repeat(6) + '\u007f');
    assert.equal(escapeXml('x\uD800y\uDC00z\uFFFE\uFFFF'), 'x\uFFFDy\uFFFDz\uFFFD\uFFFD');
  });
});

describe('estimateQuote', () => {
  const NOW = new Date(T0 + 1000 * 1000);
  let seq = 100;
  const done = (definition: string, startS: number, runS: number, phase: Phase = 'COMPLETED'): JobRecord =>
    makeJob({ jobId: `done${++seq}`, seq, definition, phase, startTime: at(startS), endTime: at(startS + runS) });
  const queued = (definition: string, s: number): JobRecord =>
    makeJob({ jobId: `queued${s}`, seq: s, definition, phase: 'QUEUED' });
  // Runs of 10, 20 and 30 s: a mean of 20 s.
  const history = [done('reduce', 0, 10), done('reduce', 100, 20), done('reduce', 200, 30)];
  const plus = (s: number): string => new Date(NOW.getTime() + s * 1000).toISOString();

  test('an EXECUTING job with history is quoted at startTime + the mean run time', () => {
    const job = makeJob({ phase: 'EXECUTING', startTime: new Date(NOW.getTime() - 5000).toISOString() });
    assert.equal(estimateQuote(job, [...history, job], 2, NOW), plus(15));
  });

  test('an EXECUTING job past the mean is quoted now, never in the past', () => {
    const job = makeJob({ phase: 'EXECUTING', startTime: new Date(NOW.getTime() - 60_000).toISOString() });
    assert.equal(estimateQuote(job, [...history, job], 2, NOW), NOW.toISOString());
  });

  test('a QUEUED job with nothing ahead is quoted now + the mean', () => {
    const job = queued('reduce', 50);
    assert.equal(estimateQuote(job, [...history, job], 2, NOW), plus(20));
  });

  test('a QUEUED job with a later notBefore is quoted from its notBefore', () => {
    const job = { ...queued('reduce', 50), notBefore: plus(3600) };
    assert.equal(estimateQuote(job, [...history, job], 2, NOW), plus(3600 + 20));
    const past = { ...queued('reduce', 50), notBefore: plus(-3600) };
    assert.equal(estimateQuote(past, [...history, past], 2, NOW), plus(20), 'a notBefore already past changes nothing');
  });

  test('queued jobs ahead add their run times, divided across the limit; those behind do not count', () => {
    const ahead = [1, 2, 3, 4].map((s) => queued('reduce', s));
    const behind = [60, 61].map((s) => queued('reduce', s));
    const job = queued('reduce', 50);
    const all = [...history, ...ahead, job, ...behind];
    assert.equal(estimateQuote(job, all, 2, NOW), plus((4 * 20) / 2 + 20));
    assert.equal(estimateQuote(job, all, 1, NOW), plus(4 * 20 + 20));
    assert.equal(estimateQuote(job, all, 0, NOW), plus(4 * 20 + 20), 'a limit below 1 counts as 1');
  });

  test('the queue order can come from the state (queuedAt) instead of creation order', () => {
    const early = queued('reduce', 1);
    const job = queued('reduce', 50);
    const all = [...history, early, job];
    // Run in the opposite order of creation: nothing is ahead of `job`.
    const queuedAt = (j: JobRecord) => (j.jobId === job.jobId ? 1 : 2);
    assert.equal(estimateQuote(job, all, 1, NOW, queuedAt), plus(20));
    assert.equal(estimateQuote(job, all, 1, NOW), plus(40));
  });

  test('a job ahead counts at its own definition mean, or at the quoted job mean when it has none', () => {
    const job = queued('reduce', 50);
    const all = [...history, done('stack', 0, 100), queued('stack', 1), queued('never-ran', 2), job];
    assert.equal(estimateQuote(job, all, 1, NOW), plus(100 + 20 + 20));
  });

  test(`only the last ${QUOTE_HISTORY} COMPLETED runs count; ERROR and ABORTED runs do not`, () => {
    const old = Array.from({ length: 5 }, (_, i) => done('reduce', i, 1000));
    const recent = Array.from({ length: QUOTE_HISTORY }, (_, i) => done('reduce', 10_000 + i * 100, 10));
    const failed = [done('reduce', 20_000, 500, 'ERROR'), done('reduce', 20_000, 500, 'ABORTED')];
    const job = queued('reduce', 50);
    assert.equal(estimateQuote(job, [...old, ...recent, ...failed, job], 2, NOW), plus(10));
  });

  test('no history, a PENDING job or a final job: null', () => {
    const job = queued('reduce', 50);
    assert.equal(estimateQuote(job, [job], 2, NOW), null);
    assert.equal(estimateQuote(job, [done('other', 0, 10), done('reduce', 0, 10, 'ERROR'), job], 2, NOW), null);
    for (const phase of ['PENDING', 'COMPLETED', 'ERROR', 'ABORTED', 'ARCHIVED'] as Phase[]) {
      assert.equal(estimateQuote(makeJob({ phase }), history, 2, NOW), null, phase);
    }
  });

  test('one model quotes a whole listing the same as one call per job', () => {
    const all = [...history, ...[1, 2, 3].map((s) => queued('reduce', s))];
    const model = new QuoteModel(all, 2, NOW);
    for (const job of all) assert.equal(model.quoteFor(job), estimateQuote(job, all, 2, NOW));
    assert.equal(model.quoteFor(all[5]!), plus(40 / 2 + 20));
  });
});
