// The server never stalls on the state lock (SPEC §12): while another process holds it
// (here a live `sleep` whose pid and start time are written into HOME/state.lock, exactly as
// a uwsrun process holds it), reads are answered at once and a request that must write
// waits without blocking them; once the lock is free it goes through, and after the lock
// deadline (UWSRUN_LOCK_TIMEOUT_MS, 10 s by default) it is 503 and changes nothing.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Sandbox, holdLock } from '../helpers.js';
import { ServeProcess, createJob, postForm, request } from '../serve-helpers.js';

const JOBS = `
jobs:
  hello:
    command: [echo, hi]
`;

describe('uwsrun serve while another process holds the state lock', () => {
  let sb: Sandbox;
  let sp: ServeProcess;

  before(async () => {
    sb = new Sandbox(JOBS);
    sp = await ServeProcess.start(sb, ['--no-auth'], { UWSRUN_LOCK_TIMEOUT_MS: '4000' });
  });
  after(async () => {
    await sp?.stop();
    sb?.cleanup();
  });

  test('reads are answered while a write waits for the lock; the write goes through once it is free', async () => {
    const jobUrl = await createJob(sp, 'hello');
    const letGo = await holdLock(sb);
    let created: Response | undefined;
    const posting = postForm(sp.url('/hello'), { PHASE: 'RUN' }).then((r) => (created = r));
    try {
      for (let i = 0; i < 5; i++) {
        const r = await request(`${jobUrl}/phase`);
        assert.equal(r.status, 200);
        assert.equal((await r.text()).trim(), 'PENDING');
        assert.equal((await request(sp.url('/hello'))).status, 200);
      }
      assert.equal(created, undefined, 'the write waited for the lock');
    } finally {
      letGo();
    }
    const r = await posting;
    assert.equal(r.status, 303, await r.text());
    assert.equal(sb.json<any[]>(['list']).length, 2);
  });

  test('a write that does not get the lock in time is 503 and changes nothing', async () => {
    const letGo = await holdLock(sb);
    try {
      const t0 = Date.now();
      const before = sb.json<any[]>(['list']).length;
      const r = await postForm(sp.url('/hello'), { PHASE: 'RUN' });
      assert.equal(r.status, 503);
      assert.match(await r.text(), /^the state is locked by .*gave up waiting after 4 s/);
      assert.ok(Date.now() - t0 >= 3500);
      assert.equal(sb.json<any[]>(['list']).length, before);
      assert.equal((await request(sp.url('/'))).status, 200);
    } finally {
      letGo();
    }
    const again = await postForm(sp.url('/hello'), {});
    assert.equal(again.status, 303, 'the server writes again once the lock is free');
  });

  test('creations and a DELETE of a final job wait for the lock together without blocking reads; all go through once it is free', async () => {
    const done = sb.ok(['submit', 'hello', '--run']);
    assert.equal(sb.run(['wait', done, '--timeout', '60']).code, 0);
    const before = sb.json<any[]>(['list']).length;
    const letGo = await holdLock(sb);
    const answers: Response[] = [];
    const writes = [
      ...Array.from({ length: 6 }, () => postForm(sp.url('/hello'), { PHASE: 'RUN' })),
      request(sp.url(`/hello/${done}`), { method: 'DELETE' }),
    ].map((p) => p.then((r) => (answers.push(r), r)));
    try {
      for (let i = 0; i < 5; i++) {
        const r = await request(sp.url(`/hello/${done}/phase`));
        assert.equal(r.status, 200);
        assert.equal((await r.text()).trim(), 'COMPLETED');
      }
      assert.equal(answers.length, 0, 'every write waited for the lock');
    } finally {
      letGo();
    }
    for (const r of await Promise.all(writes)) assert.equal(r.status, 303, await r.text());
    assert.equal((await request(sp.url(`/hello/${done}`))).status, 404, 'deleted');
    assert.equal(sb.json<any[]>(['list']).length, before + 6 - 1);
  });

  test('writes queued behind one that does not get the lock in time are 503 with it, not one deadline after another', async () => {
    const letGo = await holdLock(sb);
    try {
      const before = sb.json<any[]>(['list']).length;
      const t0 = Date.now();
      // Different definitions' options (an executionDuration each): separate submits. The
      // first waits alone; the others come while it waits, as clients do (read in a later
      // turn of the server's event loop, so not in its group of creations): queued behind it.
      const post = (d: number) => postForm(sp.url('/hello'), { EXECUTIONDURATION: String(d) }).then((r) => ({ r, at: Date.now() }));
      const first = post(10);
      await new Promise((r) => setTimeout(r, 300));
      const rs = await Promise.all([first, post(20), post(30)]);
      const took = Date.now() - t0;
      for (const { r } of rs) {
        assert.equal(r.status, 503);
        assert.match(await r.text(), /^the state is locked by .*gave up waiting after 4 s/);
      }
      const after = rs.map(({ at }) => at - rs[0]!.at);
      assert.ok(after.every((ms) => ms < 2_000), `answered ${after.join(', ')} ms after the first: each waited a 4 s deadline of its own after it`);
      assert.ok(took < 11_000, `three queued writes took ${took} ms: each waited its own 4 s deadline in turn`);
      assert.equal(sb.json<any[]>(['list']).length, before, 'nothing was created');
    } finally {
      letGo();
    }
  });
});
