// Owners and tokens of `uwsrun serve` (SPEC §12), against a real server and real tokens
// made by `uwsrun token`: without valid credentials 401 with a challenge for Bearer and
// Basic; a job created over HTTP belongs to the token's NAME; a caller sees and acts on only
// its own jobs (403 on another's, left out of its lists), an --admin token on all, jobs of
// the CLI belong to the OS user; a revoked token is refused at the next request; curl -u
// NAME:TOKEN works.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { userInfo } from 'node:os';
import { Sandbox, submitJob } from '../helpers.js';
import { form, http, phaseIn, startServer, type Reply } from '../serve-process.js';

const YAML = `
defaults:
  destruction: 0
jobs:
  hello:
    command: [echo, 'hello {name}']
    parameters:
      name: { type: string, default: world }
`;

const T = { timeout: 120_000 };
const bearer = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` });
const basic = (name: string, token: string): Record<string, string> => ({ authorization: `Basic ${Buffer.from(`${name}:${token}`).toString('base64')}` });

function assertUnauthorized(r: Reply, what: string): void {
  assert.equal(r.status, 401, `${what}: ${r.status} ${r.body}`);
  const challenge = String(r.headers['www-authenticate'] ?? '');
  assert.match(challenge, /Bearer realm="[^"]+"/, `${what}: a Bearer challenge`);
  assert.match(challenge, /Basic realm="[^"]+"/, `${what}: a Basic challenge`);
  assert.match(String(r.headers['content-type']), /^text\/plain/);
  assert.equal(r.body.trim().split('\n').length, 1, `${what}: one line`);
}

const jobIdsIn = (xml: string): string[] => [...xml.matchAll(/<uws:jobref id="([^"]+)"/g)].map((m) => m[1]!);

async function createAs(url: string, headers: Record<string, string>, fields: Record<string, string> = {}): Promise<string> {
  const f = form(fields);
  const r = await http(`${url}/hello`, { method: 'POST', headers: { ...f.headers, ...headers }, body: f.body });
  assert.equal(r.status, 303, r.body);
  const location = String(r.headers.location);
  return location.slice(location.lastIndexOf('/') + 1);
}

test('without valid credentials every resource is 401 with Bearer and Basic challenges, and nothing changes', T, async () => {
  const sb = new Sandbox(YAML);
  const alice = sb.ok(['token', 'create', 'alice']);
  const cli = submitJob(sb, ['hello']);
  const server = await startServer(sb, []);
  try {
    const u = server.url;
    assertUnauthorized(await http(`${u}/`), 'no header');
    assertUnauthorized(await http(`${u}/hello`), 'no header, a job list');
    assertUnauthorized(await http(`${u}/hello/${cli}`), 'no header, a job');
    assertUnauthorized(await http(`${u}/hello/${cli}`, { headers: bearer(`${alice}x`) }), 'a wrong token');
    assertUnauthorized(await http(`${u}/hello/${cli}`, { headers: bearer('') }), 'an empty token');
    assertUnauthorized(await http(`${u}/hello/${cli}`, { headers: basic('bob', alice) }), 'Basic with another NAME');
    assertUnauthorized(await http(`${u}/hello/${cli}`, { headers: { authorization: `Token ${alice}` } }), 'an unknown scheme');
    const f = form({ PHASE: 'RUN' });
    assertUnauthorized(await http(`${u}/hello`, { method: 'POST', headers: f.headers, body: f.body }), 'create without a token');
    assertUnauthorized(await http(`${u}/hello/${cli}/phase`, { method: 'POST', headers: f.headers, body: f.body }), 'run without a token');
    assertUnauthorized(await http(`${u}/hello/${cli}`, { method: 'DELETE' }), 'delete without a token');
    assert.equal(sb.job(cli).phase, 'PENDING', 'the job is unchanged');
    assert.equal(sb.json(['list']).length, 1, 'no job created');
  } finally {
    await server.stop();
    sb.cleanup();
  }
});

test('jobs belong to the token NAME; another owner gets 403 and sees none of them; admin sees all, CLI jobs too', T, async () => {
  const sb = new Sandbox(YAML);
  const alice = sb.ok(['token', 'create', 'alice']);
  const bob = sb.ok(['token', 'create', 'bob']);
  const ops = sb.ok(['token', 'create', 'ops', '--admin']);
  const cli = submitJob(sb, ['hello']);
  const server = await startServer(sb, []);
  try {
    const u = server.url;
    const a1 = await createAs(u, bearer(alice), { name: 'Ada' });
    const a2 = await createAs(u, basic('alice', alice));
    const b1 = await createAs(u, bearer(bob));
    assert.equal(sb.job(a1).ownerId, 'alice', 'ownerId = the token NAME');
    assert.equal(sb.job(b1).ownerId, 'bob');
    assert.equal(sb.job(cli).ownerId, userInfo().username, 'a CLI job belongs to the OS user');
    assert.equal((await http(`${u}/hello/${a1}/owner`, { headers: bearer(alice) })).body.trim(), 'alice');

    // Lists: each caller its own; admin all.
    assert.deepEqual(jobIdsIn((await http(`${u}/hello`, { headers: bearer(alice) })).body).sort(), [a1, a2].sort());
    assert.deepEqual(jobIdsIn((await http(`${u}/hello`, { headers: bearer(bob) })).body), [b1]);
    assert.deepEqual(jobIdsIn((await http(`${u}/hello`, { headers: bearer(ops) })).body).sort(), [a1, a2, b1, cli].sort());

    // Another owner's job: 403 for every resource and action, and the job is unchanged.
    const f = (fields: Record<string, string>) => ({ method: 'POST', ...form(fields) });
    for (const [path, opts] of [
      [`/hello/${a1}`, {}], [`/hello/${a1}/phase`, {}], [`/hello/${a1}/parameters`, {}], [`/hello/${a1}/stdout`, {}],
      [`/hello/${a1}/phase`, f({ PHASE: 'RUN' })], [`/hello/${a1}`, f({ ACTION: 'DELETE' })], [`/hello/${a1}`, { method: 'DELETE' }],
      [`/hello/${a1}/executionduration`, f({ EXECUTIONDURATION: '60' })], [`/hello/${cli}`, {}],
    ] as [string, { method?: string; headers?: Record<string, string>; body?: string }][]) {
      const r = await http(`${u}${path}`, { ...opts, headers: { ...opts.headers, ...bearer(bob) } });
      assert.equal(r.status, 403, `bob ${opts.method ?? 'GET'} ${path}: ${r.status} ${r.body}`);
      assert.equal(r.body.trim().split('\n').length, 1);
    }
    assert.equal(sb.job(a1).phase, 'PENDING', "alice's job is unchanged");
    assert.equal(sb.job(a1).executionDuration, 0);
    assert.equal((await http(`${u}/hello/${cli}`, { headers: bearer(alice) })).status, 403, "a CLI job is not alice's");

    // The owner and the admin act on it.
    const run = await http(`${u}/hello/${a1}/phase`, { method: 'POST', headers: { ...form({}).headers, ...bearer(alice) }, body: 'PHASE=RUN' });
    assert.equal(run.status, 303);
    const seen = await http(`${u}/hello/${cli}`, { headers: bearer(ops) });
    assert.equal(seen.status, 200);
    assert.equal(phaseIn(seen.body), 'PENDING');
    const del = await http(`${u}/hello/${b1}`, { method: 'DELETE', headers: bearer(ops) });
    assert.equal(del.status, 303, 'admin deletes bob\'s job');
    assert.ok(!sb.json<any[]>(['list']).some((j) => j.jobId === b1));
    // The CLI sees the HTTP jobs.
    assert.ok(sb.json<any[]>(['list']).some((j) => j.jobId === a2 && j.ownerId === 'alice'));
    assert.match(server.stderr(), / alice /, 'the access log names the caller');
  } finally {
    await server.stop();
    sb.cleanup();
  }
});

test('a revoked token is refused at the next request; a token created while serving works at once', T, async () => {
  const sb = new Sandbox(YAML);
  const alice = sb.ok(['token', 'create', 'alice']);
  const server = await startServer(sb, []);
  try {
    const u = server.url;
    assert.equal((await http(`${u}/`, { headers: bearer(alice), })).status, 200);
    sb.ok(['token', 'revoke', 'alice']);
    assertUnauthorized(await http(`${u}/`, { headers: bearer(alice) }), 'revoked');
    const carol = sb.ok(['token', 'create', 'carol']);
    assert.equal((await http(`${u}/hello`, { headers: bearer(carol) })).status, 200);
    const again = sb.ok(['token', 'create', 'alice']);
    assertUnauthorized(await http(`${u}/`, { headers: bearer(alice) }), 'the old token of a re-created NAME');
    assert.equal((await http(`${u}/`, { headers: bearer(again) })).status, 200);
  } finally {
    await server.stop();
    sb.cleanup();
  }
});

test('curl -u NAME:TOKEN creates, reads and lists; a wrong password is 401', T, async () => {
  const sb = new Sandbox(YAML);
  const alice = sb.ok(['token', 'create', 'alice']);
  const server = await startServer(sb, []);
  try {
    const curl = (...args: string[]) => spawnSync('curl', ['-sS', '-w', '\n%{http_code} %{redirect_url}', ...args], { encoding: 'utf8' });
    const made = curl('-u', `alice:${alice}`, '-d', 'name=Ada', '-d', 'PHASE=RUN', `${server.url}/hello`);
    assert.equal(made.status, 0, made.stderr);
    const [code, location] = made.stdout.trim().split('\n').pop()!.split(' ');
    assert.equal(code, '303');
    assert.match(location!, new RegExp(`^${server.url}/hello/[A-Za-z0-9_-]{6,32}$`));
    const job = curl('-u', `alice:${alice}`, location!);
    assert.match(job.stdout, /<uws:ownerId>alice<\/uws:ownerId>/);
    assert.match(job.stdout, /\n200 $/);
    const list = curl('-u', `alice:${alice}`, `${server.url}/hello`);
    assert.ok(list.stdout.includes(location!.slice(location!.lastIndexOf('/') + 1)));
    const wrong = curl('-u', 'alice:nope', `${server.url}/hello`);
    assert.match(wrong.stdout, /\n401 $/);
  } finally {
    await server.stop();
    sb.cleanup();
  }
});
