// serve/html.ts: nothing a job or user wrote becomes markup, and the links are right.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { escapeHtml, jobPage, jobsPage } from '../../src/serve/html.js';
import type { JobRecord } from '../../src/core/job.js';

const job = (over: Partial<JobRecord> = {}): JobRecord => ({
  jobId: 'Abc123xyz789', runId: '<script>alert(1)</script>', ownerId: 'alice', definition: 'hello', phase: 'COMPLETED',
  creationTime: '2026-12-01T10:00:00.000Z', startTime: '2026-12-01T10:00:01.000Z', endTime: '2026-12-01T10:00:02.000Z',
  quote: null, executionDuration: 0, destruction: null, parameters: { name: 'a"b<i>&' }, command: ['echo'], pid: null,
  exitCode: 0, signal: null, errorSummary: { type: 'fatal', message: 'exit 1: </pre><b>x' }, results: [{ id: 'out<1>.txt', path: '/x', size: 3, mimeType: 'text/plain' }],
  ...over,
} as JobRecord);

test('job and list pages escape every value, in text and attributes', () => {
  const urls = { job: 'http://h/hello/Abc123xyz789' };
  const alice = { name: 'alice<x>', admin: false };
  const html = jobPage(job(), 'http://h', alice);
  assert.ok(html.includes('signed in as alice&lt;x&gt;'));
  assert.ok(!html.includes('<script>alert'), 'run id escaped');
  assert.ok(html.includes('&lt;script&gt;alert(1)&lt;/script&gt;'));
  assert.ok(html.includes('a&quot;b&lt;i&gt;&amp;'), 'parameter escaped');
  assert.ok(html.includes('exit 1: &lt;/pre&gt;&lt;b&gt;x'), 'error escaped');
  assert.ok(html.includes('href="http://h/hello/Abc123xyz789/results/out%3C1%3E.txt"'), 'result link');
  assert.ok(html.includes('>out&lt;1&gt;.txt<'));
  assert.ok(!/<(script|link|img)\b/i.test(html), 'no scripts or external assets');
  assert.ok(!html.includes('http-equiv="refresh"'), 'a final job does not reload');
  assert.ok(jobPage(job({ phase: 'EXECUTING' }), 'http://h', alice).includes('http-equiv="refresh"'));
  const list = jobsPage('hello', [job()], 'http://h', alice);
  assert.ok(list.includes(`href="${urls.job}"`) && list.includes('>COMPLETED<'));
  assert.ok(!list.includes('<script>alert'));
  const nested = jobPage(job({ results: [{ id: 'dir/a b.txt', path: '/x', size: 1, mimeType: 'text/plain' }] }), 'http://h', alice);
  assert.ok(nested.includes('href="http://h/hello/Abc123xyz789/results/dir/a%20b.txt"'), 'a result below a directory keeps its slashes');
  assert.equal(escapeHtml('a\u0000b\u001b[31m'), 'a\uFFFDb\uFFFD[31m', 'control characters do not reach the page');
});
