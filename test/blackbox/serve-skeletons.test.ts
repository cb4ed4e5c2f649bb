// The server's job skeletons (serve/skeletons.ts): directories made ahead in
// HOME/skeletons/PID-START/ and moved into records/ and jobs/ by a creation. These tests
// drive a real `uwsrun serve` and check what the pool must never change: a job made from a
// skeleton has its full job directory and runs; skeletons are invisible to every command;
// SIGTERM removes them; a server killed -9 leaves them to `tick`; and on a full disk (a real
// tmpfs inside `unshare -m`) a creation is refused with nothing left behind and works again
// once there is room, whether the pool could be filled or not.

import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { BIN, ID_RE, Sandbox, canUnshare, waitFor } from '../helpers.js';
import { ServeProcess, createJob, jobIdOf } from '../serve-helpers.js';

const YAML = `
defaults:
  destruction: 0
jobs:
  hello:
    command: [echo, "Hello, {name}!"]
    parameters:
      name: { type: string, default: world }
`;

const T = { timeout: 120_000 };

const sandboxes: Sandbox[] = [];
const servers: ServeProcess[] = [];
after(() => {
  for (const sp of servers) sp.kill();
  for (const sb of sandboxes) sb.cleanup();
});

function sandbox(): Sandbox {
  const sb = new Sandbox(YAML);
  sandboxes.push(sb);
  return sb;
}

async function serve(sb: Sandbox): Promise<ServeProcess> {
  const sp = await ServeProcess.start(sb, ['--no-auth', '-q']);
  servers.push(sp);
  return sp;
}

const skeletonsRoot = (sb: Sandbox): string => join(sb.home, 'skeletons');
/** The ready skeletons of the server `pid`: ids with both their directories staged. */
function staged(sb: Sandbox, pid: number): string[] {
  const root = skeletonsRoot(sb);
  const dir = existsSync(root) ? readdirSync(root).find((n) => n.startsWith(`${pid}-`)) : undefined;
  if (!dir) return [];
  const names = readdirSync(join(root, dir));
  return names.filter((n) => n.startsWith('rec-')).map((n) => n.slice(4)).filter((id) => names.includes(`job-${id}`));
}
const dirsIn = (path: string): string[] => (existsSync(path) ? readdirSync(path) : []);

test('jobs made from skeletons have their whole job directory and run; the skeletons are invisible to list and doctor; SIGTERM removes them', T, async () => {
  const sb = sandbox();
  const sp = await serve(sb);
  const first = jobIdOf(await createJob(sp, 'hello', { PHASE: 'RUN', name: 'first' }));
  await waitFor('the server to have skeletons ready', () => staged(sb, sp.child.pid!).length >= 8, 30_000);
  const ready = staged(sb, sp.child.pid!);
  const ids = [first];
  for (const name of ['a', 'b', 'c']) ids.push(jobIdOf(await createJob(sp, 'hello', { PHASE: 'RUN', name })));
  assert.ok(ids.slice(1).every((id) => ready.includes(id)), `the later jobs are skeletons that were ready (${ids.slice(1)} in ${ready})`);
  for (const id of ids.slice(1)) {
    assert.ok(!staged(sb, sp.child.pid!).includes(id), `${id} left the staging directory`);
    assert.equal(statSync(join(sb.jobDir(id), 'results')).isDirectory(), true, `${id} has results/`);
    for (const log of ['stdout.log', 'stderr.log']) {
      assert.equal(statSync(join(sb.jobDir(id), log)).mode & 0o777, 0o600, `${id}'s ${log} is 0600`);
    }
    assert.equal(statSync(sb.recordDir(id)).mode & 0o777, 0o700, `${id}'s record directory is 0700`);
  }
  for (const id of ids) await waitFor(`${id} to complete`, () => sb.job(id).phase === 'COMPLETED');
  assert.equal(readFileSync(join(sb.jobDir(ids[2]!), 'stdout.log'), 'utf8'), 'Hello, b!\n', 'a skeleton job wrote its output');
  // What is listed, and what records/ and jobs/ hold, are the jobs and nothing else.
  assert.deepEqual(sb.json<any[]>(['list']).map((j) => j.jobId).sort(), [...ids].sort());
  assert.deepEqual(dirsIn(join(sb.home, 'records')).sort(), [...ids].sort(), 'records/ holds only the jobs');
  assert.deepEqual(dirsIn(join(sb.home, 'jobs')).sort(), [...ids].sort(), 'jobs/ holds only the jobs');
  const doctor = sb.run(['doctor']);
  assert.equal(doctor.code, 0, `doctor finds nothing wrong with a live server's skeletons: ${doctor.stdout}${doctor.stderr}`);
  const tick = sb.run(['tick']);
  assert.equal(tick.code, 0, tick.stderr);
  assert.doesNotMatch(tick.stdout, /skeleton/, 'tick leaves a live server\'s skeletons alone');
  assert.ok(staged(sb, sp.child.pid!).length > 0, 'they are still there');

  const { code } = await sp.stop('SIGTERM');
  assert.equal(code, 0);
  assert.deepEqual(dirsIn(skeletonsRoot(sb)), [], 'SIGTERM removed the staging directory');
  assert.deepEqual(sb.json<any[]>(['list']).map((j) => j.jobId).sort(), [...ids].sort(), 'the jobs stay');
});

test('a server killed -9 with skeletons ready: nothing is visible, tick removes them, a new server creates', T, async () => {
  const sb = sandbox();
  const sp = await serve(sb);
  const one = jobIdOf(await createJob(sp, 'hello', { PHASE: 'RUN', name: 'one' }));
  await waitFor('the server to have skeletons ready', () => staged(sb, sp.child.pid!).length >= 8, 30_000);
  const left = staged(sb, sp.child.pid!);
  sp.child.kill('SIGKILL');
  const { code } = await sp.stop();
  assert.equal(code, null, 'the server died of its SIGKILL');
  await waitFor('the job to complete', () => sb.job(one).phase === 'COMPLETED');
  assert.deepEqual(sb.json<any[]>(['list']).map((j) => j.jobId), [one], 'list shows only the job');
  for (const id of left.slice(0, 3)) assert.equal(sb.run(['show', id]).code, 3, `a skeleton (${id}) is no job`);
  assert.deepEqual(dirsIn(join(sb.home, 'records')), [one], 'records/ holds only the job');

  const tick = sb.run(['tick']);
  assert.equal(tick.code, 0, tick.stderr);
  assert.match(tick.stdout, new RegExp(`removed the job skeletons of server ${sp.child.pid}, which is gone`));
  assert.deepEqual(dirsIn(skeletonsRoot(sb)), [], 'tick removed the dead server\'s staging directory');
  assert.equal(sb.job(one).phase, 'COMPLETED', 'the job is untouched');

  const again = await serve(sb);
  const two = jobIdOf(await createJob(again, 'hello', { PHASE: 'RUN', name: 'two' }));
  assert.ok(!left.includes(two), 'a new server never uses a dead one\'s skeletons');
  await waitFor('the new job to complete', () => sb.job(two).phase === 'COMPLETED');
  await again.stop();
});

test('a full disk (4 MB tmpfs): a creation is refused with 503 and leaves nothing, with or without a skeleton; with room again creations work at once and the pool fills', { ...T, skip: !canUnshare() && 'needs unshare -m (root)' }, () => {
  const sb = sandbox();
  const out = join(sb.dir, 'out');
  mkdirSync(out, { recursive: true });
  mkdirSync(sb.home, { recursive: true, mode: 0o700 });
  // Everything on the tmpfs runs in the namespace: the server (and the runner it starts),
  // curl as its client, and the CLI that looks. Each wait is a loop with a deadline.
  const script = `
    set -u
    mount -t tmpfs -o size=4m,mode=0700 tmpfs "$H" || exit 99
    "$B" serve --no-auth -q --listen 127.0.0.1:0 2> "$O/serve.err" &
    SP=$!
    i=0; until grep -q 'listening on' "$O/serve.err"; do i=$((i+1)); [ $i -gt 600 ] && exit 98; sleep 0.05; done
    URL=$(sed -n 's/^listening on \\(http[^ ]*\\)$/\\1/p' "$O/serve.err")
    post() { curl -s -o "$O/body$1" -w '%{http_code} %{redirect_url}' -X POST --data-urlencode "name=$1" --data PHASE=RUN "$URL/hello" > "$O/code$1"; }
    skeletons() { ls "$H/skeletons/"* 2>/dev/null | grep -c '^rec-'; }
    fill() { dd if=/dev/zero of="$H/filler" bs=4096 2>/dev/null; }
    # The disk full from the start: the first creation has no skeleton and makes no job.
    fill
    post full1
    ls "$H/records" 2>/dev/null | wc -l > "$O/records1"
    ls "$H/jobs" 2>/dev/null | wc -l > "$O/jobs1"
    # Room: creations work at once, and the pool fills.
    rm -f "$H/filler"
    post room1
    i=0; until [ "$(skeletons)" -ge 8 ]; do i=$((i+1)); [ $i -gt 300 ] && break; sleep 0.05; done
    skeletons > "$O/pool"
    # Full again, with skeletons ready: the creation uses one, fails, and removes it.
    fill
    post full2
    ls "$H/records" 2>/dev/null > "$O/records2"
    ls "$H/jobs" 2>/dev/null > "$O/jobs2"
    "$B" list --json > "$O/list2" 2>&1
    rm -f "$H/filler"
    post room2
    "$B" list --json > "$O/list3" 2>&1
    kill -TERM $SP; wait $SP; echo $? > "$O/serveCode"
    ls "$H/skeletons" 2>/dev/null | wc -l > "$O/skeletonsAfter"
  `;
  const r = spawnSync('unshare', ['-m', 'sh', '-c', script, 'sh'], {
    env: { ...sb.env, H: sb.home, O: out, B: BIN }, encoding: 'utf8', timeout: 100_000,
  });
  assert.equal(r.status, 0, `the script: ${r.status} ${r.stderr}`);
  const read = (name: string): string => readFileSync(join(out, name), 'utf8').trim();
  const idOf = (name: string): string => {
    const answer = read(`code${name}`);
    assert.match(answer, /^303 http:\/\/127\.0\.0\.1:\d+\/hello\/\S+$/, `${name}: a 303 at once: ${answer}`);
    const id = answer.split('/').at(-1)!;
    assert.match(id, ID_RE);
    return id;
  };
  for (const name of ['full1', 'full2']) {
    assert.match(read(`code${name}`), /^503$/, `${name}: a creation on the full disk is refused: ${read(`code${name}`)}`);
    assert.match(read(`body${name}`), /is full \(no space left on device\)/, `${name}: said in words`);
  }
  assert.equal(read('records1'), '0', 'no record directory left by the first refusal');
  assert.equal(read('jobs1'), '0', 'no job directory either');
  const room1 = idOf('room1');
  assert.ok(Number(read('pool')) >= 8, `the pool filled once there was room (${read('pool')})`);
  assert.deepEqual(read('records2').split('\n'), [room1], 'the refusal with a skeleton left no record directory');
  assert.deepEqual(read('jobs2').split('\n'), [room1], 'nor a job directory');
  assert.deepEqual(JSON.parse(read('list2')).map((j: any) => j.jobId), [room1]);
  const room2 = idOf('room2');
  assert.deepEqual(JSON.parse(read('list3')).map((j: any) => j.jobId), [room1, room2]);
  assert.equal(read('serveCode'), '0', 'SIGTERM: exit 0');
  assert.equal(read('skeletonsAfter'), '0', 'and the skeletons went');
});
