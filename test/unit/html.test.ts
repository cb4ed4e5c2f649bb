// serve/html.ts: which clients get HTML, and that nothing a job or user wrote becomes markup.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { escapeHtml, jobPage, jobsPage, prefersHtml } from '../../src/serve/html.js';
import type { JobRecord } from '../../src/core/job.js';

test('prefersHtml: browsers get HTML; UWS clients, curl and XML askers do not', () => {
  const chromium = 'text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7';
  const firefox = 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8';
  assert.equal(prefersHtml(chromium), true);
  assert.equal(prefersHtml(firefox), true);
  assert.equal(prefersHtml('text/html'), true);
  assert.equal(prefersHtml(undefined), false, 'no Accept');
  assert.equal(prefersHtml('*/*'), false, 'pyvo (requests) and curl');
  assert.equal(prefersHtml('text/xml'), false);
  assert.equal(prefersHtml('application/json'), false);
  assert.equal(prefersHtml('text/*'), false, 'a wildcard is no preference for HTML');
  assert.equal(prefersHtml('text/html;q=0.5, text/xml'), false);
  assert.equal(prefersHtml('text/html, text/xml'), false, 'a tie goes to the protocol\'s own format');
  assert.equal(prefersHtml('text/html;q=0'), false);
});

const job = (over: Partial<JobRecord> = {}): JobRecord => ({
  jobId: 'Abc123xyz789', runId: '<script>alert(1)</script>', ownerId: 'alice', definition: 'hello', phase: 'COMPLETED',
  creationTime: '2026-12-01T10:00:00.000Z', startTime: '2026-12-01T10:00:01.000Z', endTime: '2026-12-01T10:00:02.000Z',
  quote: null, executionDuration: 0, destruction: null, parameters: { name: 'a"b<i>&' }, command: ['echo'], pid: null,
  exitCode: 0, signal: null, errorSummary: { type: 'fatal', message: 'exit 1: </pre><b>x' }, results: [{ id: 'out<1>.txt', path: '/x', size: 3, mimeType: 'text/plain' }],
  ...over,
} as JobRecord);

test('job and list pages escape every value, in text and attributes', () => {
  const urls = { jobs: 'http://h/hello', job: 'http://h/hello/Abc123xyz789', result: (id: string) => `http://h/hello/Abc123xyz789/results/${encodeURIComponent(id)}` };
  const html = jobPage(job(), urls, 'http://h');
  assert.ok(!html.includes('<script>alert'), 'run id escaped');
  assert.ok(html.includes('&lt;script&gt;alert(1)&lt;/script&gt;'));
  assert.ok(html.includes('a&quot;b&lt;i&gt;&amp;'), 'parameter escaped');
  assert.ok(html.includes('exit 1: &lt;/pre&gt;&lt;b&gt;x'), 'error escaped');
  assert.ok(html.includes('href="http://h/hello/Abc123xyz789/results/out%3C1%3E.txt"'), 'result link');
  assert.ok(html.includes('>out&lt;1&gt;.txt<'));
  assert.ok(!/<(script|link|img)\b/i.test(html), 'no scripts or external assets');
  assert.ok(!html.includes('http-equiv="refresh"'), 'a final job does not reload');
  assert.ok(jobPage(job({ phase: 'EXECUTING' }), urls, 'http://h').includes('http-equiv="refresh"'));
  const list = jobsPage('hello', [job()], () => urls.job, 'http://h');
  assert.ok(list.includes(`href="${urls.job}"`) && list.includes('>COMPLETED<'));
  assert.ok(!list.includes('<script>alert'));
  assert.equal(escapeHtml('a\u0000b\u001b[31m'), 'a\uFFFDb\uFFFD[31m', 'control characters do not reach the page');
});
