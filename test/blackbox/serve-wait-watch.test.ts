// Blocked WAITs learn of every phase change from the CLI through the server's watches of
// HOME (state.json) and HOME/queue/, not from its backstop check (every 5 s): here the
// backstop is set out of reach (UWSRUN_TEST_WAIT_BACKSTOP_MS), so a WAIT answered with the
// new phase before its own 30 s were up can only have been woken by a watch. The changes
// are those that touch a job's record rather than a hot entry: hold of a PENDING and of a
// QUEUED job, release, run (the HOME paused, so it stays QUEUED), and abort of a PENDING
// and of a QUEUED job. No timing goal (bench/p6-serve.mjs measures the lag).

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Sandbox } from '../helpers.js';
import { ServeProcess, elementText, request } from '../serve-helpers.js';

const JOBS = `
defaults:
  destruction: 0
jobs:
  hello:
    command: [echo, hi]
`;

const WAIT_S = 30;

describe('WAIT sees record-only phase changes through its watches', () => {
  let sb: Sandbox;
  let sp: ServeProcess;

  before(async () => {
    sb = new Sandbox(JOBS);
    // Paused: nothing starts, so a QUEUED job stays QUEUED.
    assert.equal(sb.run(['limit', '0']).code, 0);
    sp = await ServeProcess.start(sb, ['--no-auth'], { UWSRUN_TEST_WAIT_BACKSTOP_MS: '600000' });
  });
  after(async () => {
    await sp?.stop();
    sb?.cleanup();
  });

  /** Blocks a WAIT on the job in `phase`, runs the CLI command, returns the answer's phase. */
  const waitThrough = async (id: string, phase: string, command: string[]): Promise<string | undefined> => {
    assert.equal(sb.job(id).phase, phase);
    const t0 = Date.now();
    const answer = request(`${sp.base}/hello/${id}?WAIT=${WAIT_S}&PHASE=${phase}`).then(async (r) => ({ status: r.status, xml: await r.text(), at: Date.now() }));
    // Time for the request to block before the change (one that arrives after it is answered
    // at once with the new phase, which passes as well, without proving anything).
    await new Promise((r) => setTimeout(r, 300));
    const r = sb.run(command);
    assert.equal(r.code, 0, `${command.join(' ')}: ${r.stderr}`);
    const a = await answer;
    assert.equal(a.status, 200);
    assert.ok(a.at - t0 < (WAIT_S - 5) * 1000, `${command.join(' ')}: answered by the change, not by WAIT=${WAIT_S} running out`);
    return elementText(a.xml, 'phase');
  };

  test('hold and release of a PENDING job, then abort of the QUEUED job', async () => {
    const id = sb.ok(['submit', 'hello']);
    assert.equal(await waitThrough(id, 'PENDING', ['hold', id]), 'HELD');
    assert.equal(await waitThrough(id, 'HELD', ['release', id]), 'QUEUED');
    assert.equal(await waitThrough(id, 'QUEUED', ['abort', id]), 'ABORTED');
  });

  test('run of a PENDING job (QUEUED, the HOME paused), then hold of the QUEUED job', async () => {
    const id = sb.ok(['submit', 'hello']);
    assert.equal(await waitThrough(id, 'PENDING', ['run', id]), 'QUEUED');
    assert.equal(await waitThrough(id, 'QUEUED', ['hold', id]), 'HELD');
  });

  test('abort of a PENDING job from the CLI', async () => {
    const id = sb.ok(['submit', 'hello']);
    assert.equal(await waitThrough(id, 'PENDING', ['abort', id]), 'ABORTED');
  });
});
