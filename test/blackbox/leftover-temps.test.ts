// Temp files that killed writers leave behind (store/leftover-temps.ts): every durable write
// goes through `.NAME.PID.COUNTER.tmp` beside its target, and a writer killed between
// creating it and renaming it leaves it for ever. `tick` removes those of gone processes in
// HOME and HOME/cache/ once they are a minute old; `doctor` reports them everywhere (the
// record directories too), `doctor --repair` removes them; nothing else is touched.
//
// The leftovers in HOME are real: a submit SIGKILLs itself (UWSRUN_TEST_KILL_BEFORE_COMMIT)
// with the temp files of state.json and of the good copy written and not yet renamed. The
// others are made by hand beside them: one of a live process, a symbolic link, names that
// are not uwsrun's. Files are aged with utimes, never by waiting.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, lstatSync, lutimesSync, mkdirSync, readFileSync, readdirSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Sandbox, submitJob, waitFor } from '../helpers.js';
import { alive, killQuietly } from '../procfs.js';
import { state } from '../runner-state.js';

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

/** Sets a file's mtime (a link's own, never its target's) two minutes back: past tick's minute. */
function age(path: string): void {
  const old = (Date.now() - 120_000) / 1000;
  lutimesSync(path, old, old);
}

const TEMP = /^\.(.+)\.(\d+)\.([0-9a-z]+)\.tmp$/;

test('tick removes the temp files of a SIGKILLed writer once a minute old, keeps a live writer\'s, young ones, links and other names; doctor reports the rest and --repair removes them; every job intact', T, async () => {
  const sb = new Sandbox(YAML);
  let live: ReturnType<typeof spawn> | undefined;
  try {
    const done = submitJob(sb, ['--run', 'hello', '-p', 'name=done']);
    const waited = sb.run(['wait', done, '--timeout', '60']);
    assert.equal(waited.code, 0, waited.stderr);
    const pending = submitJob(sb, ['hello', '-p', 'name=later']);
    const jobsBefore = sb.json<any[]>(['list']);

    // A real writer killed mid-write: its temp files of state.json and of the good copy.
    const killed = sb.run(['submit', 'hello'], { UWSRUN_TEST_KILL_BEFORE_COMMIT: '1' });
    assert.equal(killed.code, 128, `the submit was killed: ${killed.code} ${killed.stderr}`);
    const real = readdirSync(sb.home).filter((n) => TEMP.test(n));
    const stateTemp = real.find((n) => n.startsWith('.state.json.'));
    const goodTemp = real.find((n) => n.startsWith('.state.good.json.'));
    assert.ok(stateTemp && goodTemp && real.length === 2, `the killed submit left the state's and the good copy's temp files: ${real}`);
    const deadPid = Number(TEMP.exec(stateTemp)![2]);
    assert.equal(Number(TEMP.exec(goodTemp)![2]), deadPid);
    assert.equal(alive(deadPid), false, 'the killed writer is gone');
    assert.ok(lstatSync(join(sb.home, stateTemp)).size > 0, 'it had written the state into it');

    // A writer still alive (any process with that pid): its file is kept, however old.
    live = spawn('sleep', ['300'], { stdio: 'ignore' });
    const livePid = live.pid!;
    await waitFor('the live process', () => alive(livePid));
    const h = (name: string) => join(sb.home, name);
    const liveTemp = h(`.state.json.${livePid}.0.tmp`);
    writeFileSync(liveTemp, '{"half": ');
    // The same shape, in the definitions cache (tick looks there) and in a record directory
    // (only doctor does).
    mkdirSync(join(sb.home, 'cache'), { recursive: true, mode: 0o700 });
    const cacheTemp = join(sb.home, 'cache', `.defs-0123456789abcdef.json.${deadPid}.3.tmp`);
    writeFileSync(cacheTemp, 'x'.repeat(100));
    const recordTemp = join(sb.recordDir(done), `.job.json.${deadPid}.7.tmp`);
    writeFileSync(recordTemp, 'y'.repeat(2000));
    // Never a leftover: a symbolic link with a leftover's name (its target must stay), a name
    // uwsrun does not write in HOME, names not of the exact shape.
    const secret = join(sb.dir, 'secret');
    writeFileSync(secret, 'keep me');
    const link = h(`.state.json.${deadPid}.s.tmp`);
    symlinkSync(secret, link);
    const others = [h(`.notes.${deadPid}.1.tmp`), h(`.state.json.${deadPid}.tmp`), h(`.state.json.0${deadPid}.1.tmp`), h(`state.json.${deadPid}.1.tmp`), h(`.state.json.${deadPid}.1.TMP`)];
    for (const f of others) writeFileSync(f, 'not a leftover');
    for (const f of [h(stateTemp), liveTemp, cacheTemp, recordTemp, link, ...others]) age(f);
    const secretMtime = lstatSync(secret).mtimeMs;
    // goodTemp stays young: its writer is gone, but less than a minute ago.

    const tk = sb.run(['tick']);
    assert.equal(tk.code, 0, tk.stderr);
    const tempLines = tk.stdout.split('\n').filter((l) => /temp file/.test(l));
    assert.equal(tempLines.length, 1, tk.stdout);
    assert.match(tempLines[0]!, /^removed 2 temp files \(\d+(\.\d)? (bytes|KiB)\) left by writers that were killed$/);
    assert.equal(existsSync(h(stateTemp)), false, 'the killed writer\'s old temp file is removed');
    assert.equal(existsSync(cacheTemp), false, 'and the one in the cache');
    for (const f of [h(goodTemp), liveTemp, recordTemp, ...others]) assert.ok(lstatSync(f).isFile(), `${f} kept`);
    assert.ok(lstatSync(link).isSymbolicLink(), 'the link is kept');
    assert.equal(readFileSync(secret, 'utf8'), 'keep me');
    assert.equal(lstatSync(secret).mtimeMs, secretMtime, 'its target untouched');
    const json = JSON.parse(sb.ok(['tick', '--json'])) as { jobId: string | null; action: string }[];
    assert.deepEqual(json.filter((a) => /temp file/.test(a.action)), [], 'nothing more for tick to remove');

    // doctor: the record directory's leftover and, now aged, the good copy's; one line.
    age(h(goodTemp));
    const dr = sb.run(['doctor']);
    assert.equal(dr.code, 1, `a problem left unrepaired: ${dr.stdout}`);
    const drLines = dr.stdout.split('\n').filter((l) => /temp file/.test(l));
    assert.equal(drLines.length, 1, dr.stdout);
    assert.match(drLines[0]!, /^problem: 2 temp files \(\d+\.\d KiB\) left by writers that were killed \(their processes are gone\)\. `uwsrun doctor --repair` fixes this\.$/);
    assert.ok(existsSync(recordTemp) && existsSync(h(goodTemp)), 'doctor alone removes nothing');
    const drJson = JSON.parse(sb.run(['doctor', '--json']).stdout) as { problems: string[] };
    assert.equal(drJson.problems.filter((p) => /temp file/.test(p)).length, 1, drJson.problems.join('\n'));

    const rep = sb.run(['doctor', '--repair']);
    assert.equal(rep.code, 0, rep.stdout);
    assert.match(rep.stdout, /^repaired: 2 temp files \(\d+\.\d KiB\) left by writers that were killed \(their processes are gone\); they were removed\.$/m);
    assert.equal(existsSync(recordTemp), false);
    assert.equal(existsSync(h(goodTemp)), false);
    for (const f of [liveTemp, ...others]) assert.ok(lstatSync(f).isFile(), `${f} kept by --repair`);
    assert.ok(lstatSync(link).isSymbolicLink());
    assert.equal(readFileSync(secret, 'utf8'), 'keep me');
    const after = sb.run(['doctor']);
    assert.equal(after.code, 0, after.stdout);
    assert.doesNotMatch(after.stdout, /temp file/);

    // Every job intact, the state readable and writable; the killed submit's job never shows.
    assert.deepEqual(sb.json<any[]>(['list']), jobsBefore);
    assert.equal(sb.job(done).phase, 'COMPLETED');
    assert.equal(sb.ok(['logs', done]), 'Hello, done!');
    assert.ok(state(sb).seq >= 2);
    sb.ok(['run', pending]);
    const ran = sb.run(['wait', pending, '--timeout', '60']);
    assert.equal(ran.code, 0, ran.stderr);
    assert.equal(sb.ok(['logs', pending]), 'Hello, later!');

    // The live writer's file goes once its process is gone.
    live.kill('SIGKILL');
    await waitFor('the live process to end', () => !alive(livePid));
    const last = sb.run(['tick']);
    assert.equal(last.code, 0, last.stderr);
    assert.match(last.stdout, /^removed 1 temp file \(9 bytes\) left by writers that were killed$/m);
    assert.equal(existsSync(liveTemp), false);
    for (const f of others) assert.ok(existsSync(f), `${f} still kept`);
  } finally {
    killQuietly(live?.pid);
    sb.cleanup();
  }
});

test('tick and doctor in a HOME with no leftovers say nothing about temp files; a fresh temp of a gone pid is kept', T, () => {
  const sb = new Sandbox(YAML);
  try {
    submitJob(sb, ['hello']);
    // pid 2^22 + 1 is above any pid_max: never a live process.
    const young = join(sb.home, `.state.json.${2 ** 22 + 1}.0.tmp`);
    writeFileSync(young, '{}');
    const tk = sb.run(['tick']);
    assert.equal(tk.code, 0, tk.stderr);
    assert.equal(tk.stdout, '');
    const dr = sb.run(['doctor']);
    assert.equal(dr.code, 0, dr.stdout);
    assert.doesNotMatch(dr.stdout, /temp file/);
    assert.ok(existsSync(young));
    utimesSync(young, (Date.now() - 120_000) / 1000, (Date.now() - 120_000) / 1000);
    assert.match(sb.ok(['tick']), /^removed 1 temp file \(2 bytes\) left by writers that were killed$/);
    assert.equal(existsSync(young), false);
  } finally {
    sb.cleanup();
  }
});
