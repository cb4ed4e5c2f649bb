// Creations that arrive together are written together (serve/creations.ts): every
// request still gets a job of its own with its own parameters and owner, and a request that
// fails inside the write (a command line too long for execve) gets its 400 alone while the
// others beside it are created.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Sandbox, waitFor } from '../helpers.js';
import { http, startServer } from '../serve-process.js';

const YAML = `
defaults:
  destruction: 0
jobs:
  twice:
    command: [echo, '{a}{a}']
    parameters:
      a: { type: string, default: x }
`;

const T = { timeout: 120_000 };

test('60 creations at once: 60 jobs, each with its own parameters and owner; one too long for execve is 400 alone', T, async () => {
  const sb = new Sandbox(YAML);
  const alice = sb.ok(['token', 'create', 'alice']);
  const bob = sb.ok(['token', 'create', 'bob']);
  const server = await startServer(sb, []);
  try {
    const post = (token: string, fields: Record<string, string>) => http(`${server.url}/twice`, {
      method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Bearer ${token}` }, body: new URLSearchParams(fields).toString(),
    });
    const asked = Array.from({ length: 60 }, (_, i) => ({ token: i % 2 ? bob : alice, owner: i % 2 ? 'bob' : 'alice', a: `v${i}`, run: i % 3 === 0 }));
    // 100 KiB twice in one argument: over execve's 128 KiB for one string, found only when
    // the job's command line is built, inside the write.
    const tooLong = post(alice, { a: 'y'.repeat(100 * 1024), PHASE: 'RUN' });
    const replies = await Promise.all(asked.map((q) => post(q.token, { a: q.a, ...(q.run ? { PHASE: 'RUN' } : {}) })));
    const bad = await tooLong;
    assert.equal(bad.status, 400, bad.body);
    assert.match(bad.body, /KiB/);
    const ids = replies.map((r, i) => {
      assert.equal(r.status, 303, `request ${i}: ${r.body}`);
      return String(r.headers.location).split('/').pop()!;
    });
    assert.equal(new Set(ids).size, 60, 'a job each');
    const jobs = new Map(sb.json<any[]>(['list']).map((j) => [j.jobId, j]));
    assert.equal(jobs.size, 60, 'nothing created for the refused request');
    asked.forEach((q, i) => {
      const job = jobs.get(ids[i]!);
      assert.equal(job.parameters.a, q.a, `request ${i}: its own parameter`);
      assert.equal(job.ownerId, q.owner, `request ${i}: its own owner`);
      assert.ok(q.run ? job.phase !== 'PENDING' : job.phase === 'PENDING', `request ${i}: PHASE=RUN ${q.run}, ${job.phase}`);
    });
    await waitFor('the queued jobs to complete', () => sb.json<any[]>(['list']).filter((j) => j.phase === 'COMPLETED').length === 20, 60_000);
  } finally {
    await server.stop();
    sb.cleanup();
  }
});
