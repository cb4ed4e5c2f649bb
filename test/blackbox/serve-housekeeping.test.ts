// `uwsrun serve` runs `uwsrun tick` once a minute (src/serve/housekeeping.ts), so a UWS
// service honours the DESTRUCTION its clients set without a cron line beside it.
// UWSRUN_SERVE_TICK_MS shortens the minute here; the tick is the real command.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Sandbox, waitFor } from '../helpers.js';
import { form, http, phaseIn, startServer } from '../serve-process.js';

const T = { timeout: 90_000 };
const JOBS = 'jobs:\n  t:\n    command: ["true"]\n    parameters: { i: { type: integer, default: 1 } }\n';

const jobIdOf = (location: string): string => location.slice(location.lastIndexOf('/') + 1);

/** Polls an HTTP answer until it is `status` (the delete's commit follows its record's move by a moment). */
async function untilStatus(url: string, status: number, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    const got = (await http(url)).status;
    if (got === status) return;
    if (Date.now() > deadline) throw new Error(`${url}: ${got} after ${ms} ms, not ${status}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('serve destroys a job whose DESTRUCTION passed, by its own tick, and says so in its log; a job without one stays', T, async () => {
  const sb = new Sandbox(JOBS);
  const server = await startServer(sb, ['--no-auth'], { UWSRUN_SERVE_TICK_MS: '300' });
  try {
    // Far enough ahead for both creations and the first look to come before it (a server
    // refuses a destruction already past: 400), on a loaded machine too.
    const soon = new Date(Date.now() + 5_000).toISOString();
    const doomed = await http(`${server.url}/t`, { method: 'POST', ...form({ DESTRUCTION: soon }) });
    assert.equal(doomed.status, 303, doomed.body);
    const kept = await http(`${server.url}/t`, { method: 'POST', ...form({ PHASE: 'RUN' }) });
    assert.equal(kept.status, 303, kept.body);
    const doomedUrl = String(doomed.headers.location);
    const id = jobIdOf(doomedUrl);
    assert.equal(phaseIn((await http(doomedUrl)).body), 'PENDING');
    // Its record is on disk before the 303 (SPEC §8); a delete removes it last but one.
    const record = join(sb.home, 'records', id);
    assert.ok(existsSync(record));
    await waitFor(`job ${id}'s record gone`, () => !existsSync(record), 30_000);
    await untilStatus(doomedUrl, 404);
    assert.equal(existsSync(join(sb.home, 'jobs', id)), false, 'its directory is still there');
    await waitFor('the tick\'s line in the server\'s log', () => server.stderr().includes(`tick: job ${id}: destruction time passed: deleted`), 10_000);
    const other = await http(String(kept.headers.location));
    assert.equal(other.status, 200);
    assert.equal(phaseIn(other.body), 'COMPLETED');
    await server.stop();
    assert.equal(server.exited()?.code, 0);
  } finally {
    await server.stop();
    sb.cleanup();
  }
});

test('serve -q keeps its log quiet about ticks that did something, and UWSRUN_SERVE_TICK_MS=0 turns its tick off', T, async () => {
  const sb = new Sandbox(JOBS);
  const quiet = await startServer(sb, ['--no-auth', '-q'], { UWSRUN_SERVE_TICK_MS: '300' });
  try {
    const created = await http(`${quiet.url}/t`, { method: 'POST', ...form({ DESTRUCTION: new Date(Date.now() + 5_000).toISOString() }) });
    assert.equal(created.status, 303, created.body);
    const url = String(created.headers.location);
    const record = join(sb.home, 'records', jobIdOf(url));
    assert.ok(existsSync(record));
    await waitFor('the job\'s record gone', () => !existsSync(record), 30_000);
    await untilStatus(url, 404);
    assert.doesNotMatch(quiet.stderr(), /tick:/);
  } finally {
    await quiet.stop();
  }
  const off = await startServer(sb, ['--no-auth'], { UWSRUN_SERVE_TICK_MS: '0' });
  try {
    const when = Date.now() + 3_000;
    const created = await http(`${off.url}/t`, { method: 'POST', ...form({ DESTRUCTION: new Date(when).toISOString() }) });
    assert.equal(created.status, 303, created.body);
    const url = String(created.headers.location);
    // Past its destruction by 3 s, with no tick anywhere: still there until one comes.
    await new Promise((r) => setTimeout(r, when + 3_000 - Date.now()));
    assert.equal((await http(url)).status, 200);
    const tick = sb.run(['tick']);
    assert.equal(tick.code, 0, tick.stderr);
    assert.match(tick.stdout, /destruction time passed: deleted/);
    assert.equal((await http(url)).status, 404);
  } finally {
    await off.stop();
    sb.cleanup();
  }
});
