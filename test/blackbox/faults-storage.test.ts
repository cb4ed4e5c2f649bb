// Storage faults, black-box (SPEC §8): a HOME whose disk fills up at every possible moment
// of a write (a real tmpfs inside `unshare -m`), state files replaced by symbolic links,
// garbage written over state.json while a queue drains, and inputs without bounds
// (/dev/zero, FIFOs, huge files, YAML bombs, huge parameter values and command lines).
//
// Every wait polls a condition with a deadline; the only deliberate sleeps are the random
// delays before a fault is injected.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import {
  existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, symlinkSync, writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { BIN, ID_RE, ROOT, Sandbox, canUnshare, submitJob, waitFor } from '../helpers.js';

const T = { timeout: 240_000 };

const YAML = `
defaults:
  destruction: 0
jobs:
  hello:
    command: [echo, "Hello, {name}!"]
    parameters:
      name: { type: string, default: world }
  quick:
    command: [sh, -c, 'exit 0']
`;

const GARBAGE = '{"garbage": tru';


/** Runs `script` as root in a private mount namespace with H (HOME), O (outputs), B (uwsrun). */
function inMountNamespace(sb: Sandbox, script: string, timeout = 180_000): { out: string; code: number; stderr: string } {
  const out = join(sb.dir, 'out');
  mkdirSync(out, { recursive: true });
  mkdirSync(sb.home, { recursive: true, mode: 0o700 });
  const r = spawnSync('unshare', ['-m', 'sh', '-c', `set -u\nH="$1" O="$2" B="$3" D="$4"\n${script}`, 'sh', sb.home, out, BIN, sb.dir], {
    env: sb.env, encoding: 'utf8', timeout,
  });
  return { out, code: r.status ?? 128, stderr: r.stderr };
}

/** Whether a runner of the sandbox's HOME is alive (`__runner --home HOME` in /proc). */
function runnerAlive(sb: Sandbox): boolean {
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const argv = readFileSync(`/proc/${name}/cmdline`, 'latin1').split('\0');
      const at = argv.indexOf('__runner');
      if (at >= 0 && argv[at + 1] === '--home' && argv[at + 2] === sb.home) return true;
    } catch { /* gone */ }
  }
  return false;
}

const readOut = (dir: string, name: string): string => readFileSync(join(dir, name), 'utf8');
const lines = (text: string): string[] => text.split('\n').map((l) => l.trim()).filter(Boolean);

/** The parsed file when it holds a uwsrun state, else a description of what is wrong. */
function stateProblem(path: string): string | null {
  let data: any;
  try {
    data = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    return `${path}: ${(err as Error).message}`;
  }
  return data && data.version === 1 && typeof data.jobs === 'object' ? null : `${path}: not a uwsrun state`;
}

// ---- a full disk at every moment ---------------------------------------------------------

test('disk full at every moment of a submit (4 MB tmpfs, 0-200 KB left free): every printed id listed and a failed submit leaves no job, state.json and its good copy whole, no temp file left; doctor --repair restores every printed id', T, (t) => {
  if (!canUnshare()) {
    t.skip('unshare -m is not available');
    return;
  }
  const sb = new Sandbox(YAML);
  try {
    writeFileSync(join(sb.dir, 'params.jsonl'), Array.from({ length: 300 }, (_, i) => JSON.stringify({ name: `n${i}` })).join('\n'));
    // 300 jobs make state.json ~60 KB, so every free space from 0 to 200 KB falls somewhere
    // in a submit: before its job.json, between job.json and the state's temp files, between
    // the state's and the good copy's, or after all of them. Half the submits queue their
    // job, so the runner (in the same namespace) writes the state too, on the same full disk.
    const r = inMountNamespace(sb, `
      mount -t tmpfs -o size=4m,mode=0700 tmpfs "$H" || exit 99
      "$B" submit hello --params-from "$D/params.jsonl" > "$O/ids" 2> "$O/err" || exit 98
      k=0
      while [ $k -le 200 ]; do
        rm -f "$H/fill"
        free=$(df -k --output=avail "$H" | tail -1)
        n=$((free - k)); [ $n -gt 0 ] && dd if=/dev/zero of="$H/fill" bs=1k count=$n 2> /dev/null
        "$B" submit hello -p name=k$k >> "$O/ids" 2>> "$O/err"; echo $? >> "$O/codes"
        "$B" submit hello -p name=r$k --run >> "$O/ids" 2>> "$O/err"; echo $? >> "$O/codes"
        for f in state.json state.good.json; do cp "$H/$f" "$O/$f.$k" 2> /dev/null; done
        # Still on the full disk: what is visible now, and the temp files of processes that
        # are gone (a live runner's temp file is work in progress, not a leftover).
        cp "$O/ids" "$O/printed.$k"
        "$B" list --json > "$O/listed.$k" 2>> "$O/elistk"; echo $? >> "$O/clistk"
        find "$H" -name '*.tmp' | while read -r f; do
          p=\${f##*/}; p=\${p%.*.tmp}; p=\${p##*.}
          kill -0 "$p" 2> /dev/null || { [ -e "$f" ] && echo "$f"; }
        done >> "$O/lefttemps"
        k=$((k+4))
      done
      rm -f "$H/fill"
      "$B" list --json > "$O/list" 2> "$O/elist"; echo $? > "$O/clist"
      ls -a "$H" "$H/jobs" | grep '\\.tmp$' > "$O/temps"
      # The garbage is written without the lock: first let the runner idle out (up to 60 s),
      # or its next write, from its memory, would replace the garbage before doctor looks.
      i=0; while pgrep -f "__runner --home $H" > /dev/null && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done
      pgrep -f "__runner --home $H" > /dev/null && exit 97
      printf 'garbage' > "$H/state.json"
      "$B" doctor --repair > "$O/doctor" 2>&1; echo $? > "$O/cdoctor"
      "$B" list --json > "$O/list2" 2> "$O/elist2"; echo $? > "$O/clist2"
    `);
    assert.equal(r.code, 0, `scenario failed (${r.code}): ${r.stderr}`);
    const codes = lines(readOut(r.out, 'codes'));
    const ids = lines(readOut(r.out, 'ids'));
    assert.ok(ids.every((id) => ID_RE.test(id)), 'only ids are printed');
    assert.equal(ids.length, 300 + codes.filter((c) => c === '0').length, 'one id per successful submit');
    assert.ok(codes.every((c) => c === '0' || c === '5'), `every submit exits 0 or 5: ${codes.join(' ')}`);
    assert.ok(codes.includes('5'), 'the disk was full for some submits');
    assert.ok(codes.includes('0'), 'and had room for others');
    for (const msg of lines(readOut(r.out, 'err'))) {
      assert.match(msg, /is full \(no space left on device\)/, `a full disk is said in words: ${msg}`);
      assert.ok(msg.includes(sb.home), `the message names the HOME: ${msg}`);
    }
    const torn = readdirSync(r.out).filter((f) => f.startsWith('state.')).map((f) => stateProblem(join(r.out, f))).filter(Boolean);
    assert.deepEqual(torn, [], 'state.json and state.good.json parse after every submit');
    assert.equal(readOut(r.out, 'clist').trim(), '0', readOut(r.out, 'elist'));
    const listed = new Set((JSON.parse(readOut(r.out, 'list')) as any[]).map((j) => j.jobId));
    assert.deepEqual(ids.filter((id) => !listed.has(id)), [], 'every printed id is listed');
    assert.equal(readOut(r.out, 'temps'), '', 'no temp file is left behind');
    // Per iteration, on the full disk: a submit that exited non-zero left no visible job
    // (the listed ids are exactly the printed ones) and no temp file of a finished process.
    assert.ok(lines(readOut(r.out, 'clistk')).every((c) => c === '0'), `list works on the full disk: ${readOut(r.out, 'elistk')}`);
    let iterations = 0;
    for (let k = 0; k <= 200; k += 4) {
      const printed = lines(readOut(r.out, `printed.${k}`)).sort();
      const seen = (JSON.parse(readOut(r.out, `listed.${k}`)) as any[]).map((j) => j.jobId).sort();
      assert.deepEqual(seen, printed, `after the submits with ${k} KB free, the listed ids are the printed ids`);
      iterations++;
    }
    assert.equal(iterations, 51);
    assert.equal(readOut(r.out, 'lefttemps'), '', 'no temp file of an ended process at any moment');
    assert.equal(readOut(r.out, 'cdoctor').trim(), '0', `doctor --repair: ${readOut(r.out, 'doctor')}`);
    assert.match(readOut(r.out, 'doctor'), /restored from the last good copy/);
    assert.equal(readOut(r.out, 'clist2').trim(), '0', readOut(r.out, 'elist2'));
    const restored = new Set((JSON.parse(readOut(r.out, 'list2')) as any[]).map((j) => j.jobId));
    assert.deepEqual(ids.filter((id) => !restored.has(id)), [], 'every printed id is there after doctor --repair');
  } finally {
    sb.cleanup();
  }
});

// ---- symbolic links ----------------------------------------------------------------------

test('a symlinked state.json is refused (exit 5 naming it) by readers and writers; its target is untouched', T, () => {
  const sb = new Sandbox(YAML);
  try {
    const id = submitJob(sb, ['hello']);
    const stateFile = join(sb.home, 'state.json');
    const elsewhere = join(sb.dir, 'elsewhere.json');
    const text = readFileSync(stateFile, 'utf8');
    writeFileSync(elsewhere, text);
    spawnSync('rm', [stateFile]);
    symlinkSync(elsewhere, stateFile);
    for (const args of [['list'], ['show', id], ['submit', 'hello'], ['run', id], ['limit', '3'], ['tick']]) {
      const r = sb.run(args);
      assert.equal(r.code, 5, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
      assert.ok(r.stderr.includes(stateFile), `${args.join(' ')} names the file: ${r.stderr}`);
      assert.match(r.stderr, /symbolic link/, r.stderr);
      assert.equal(r.stderr.trim().split('\n').length, 1, `one line: ${r.stderr}`);
    }
    assert.equal(readFileSync(elsewhere, 'utf8'), text, 'the target is untouched');
    assert.ok(lstatSync(stateFile).isSymbolicLink(), 'the link is left as it was');
    assert.equal(readdirSync(join(sb.home, 'records')).length, 1, 'no job was created');
  } finally {
    sb.cleanup();
  }
});

test('a symlinked state.good.json is replaced by a real good copy, never written through', T, () => {
  const sb = new Sandbox(YAML);
  try {
    submitJob(sb, ['hello']);
    const good = join(sb.home, 'state.good.json');
    const precious = join(sb.dir, 'precious.txt');
    writeFileSync(precious, 'precious\n');
    spawnSync('rm', [good]);
    symlinkSync(precious, good);
    const before = readFileSync(join(sb.home, 'state.json'), 'utf8');
    submitJob(sb, ['hello']);
    assert.equal(readFileSync(precious, 'utf8'), 'precious\n', 'the link target is untouched');
    assert.ok(lstatSync(good).isFile(), 'state.good.json is a regular file now');
    assert.notEqual(readFileSync(join(sb.home, 'state.json'), 'utf8'), before, 'the submit wrote the state');
    assert.equal(stateProblem(good), null, 'the good copy is a uwsrun state');
    assert.equal(readFileSync(good, 'utf8'), readFileSync(join(sb.home, 'state.json'), 'utf8'), 'the good copy is the committed state');
  } finally {
    sb.cleanup();
  }
});

// ---- garbage over state.json while a queue drains ----------------------------------------

test('garbage written over state.json during a drain never reaches the good copy; doctor --repair restores it, 5 times', T, async () => {
  for (let round = 0; round < 5; round++) {
    const sb = new Sandbox(YAML);
    try {
      sb.ok(['limit', '4']);
      const params = join(sb.dir, 'params.jsonl');
      writeFileSync(params, Array.from({ length: 80 }, () => '{}').join('\n'));
      const ids = lines(sb.ok(['submit', 'quick', '--run', '--params-from', params]));
      assert.equal(ids.length, 80);
      const stateFile = join(sb.home, 'state.json');
      const good = join(sb.home, 'state.good.json');
      // Wait until the drain is under way, then overwrite state.json in place, as a foreign
      // program would (same inode: truncate and write), at a random moment of the drain.
      await waitFor('first job ended', () => /"(COMPLETED|ERROR)"/.test(readFileSync(stateFile, 'utf8')), 30_000);
      await new Promise((r) => setTimeout(r, Math.random() * 150));
      // A batch the runner had read before may still be committed over the garbage: then
      // write it again, until the runner has read it (and refuses the state from then on:
      // its runner.log says so) or is gone. Only the runner writes the state here.
      const runnerLog = join(sb.home, 'runner.log');
      const refusals = () => (existsSync(runnerLog) ? readFileSync(runnerLog, 'utf8').split('not valid JSON').length - 1 : 0);
      for (let attempt = 0; ; attempt++) {
        assert.ok(attempt < 20, 'the garbage stays once the runner has read it');
        const before = refusals();
        writeFileSync(stateFile, GARBAGE);
        await waitFor('the runner read the garbage, or is gone, or committed over it', () => {
          assert.equal(stateProblem(good), null, `round ${round}: the good copy stays a uwsrun state`);
          return refusals() > before || !runnerAlive(sb) || stateProblem(stateFile) === null;
        }, 60_000);
        if (stateProblem(stateFile) !== null) break;
      }
      assert.equal(readFileSync(stateFile, 'utf8'), GARBAGE, 'a damaged file is never overwritten');
      const list = sb.run(['list']);
      assert.equal(list.code, 5, list.stderr);
      assert.match(list.stderr, /not valid JSON/);
      const repair = sb.run(['doctor', '--repair']);
      assert.equal(repair.code, 0, repair.stdout + repair.stderr);
      assert.match(repair.stdout, /restored from the last good copy/);
      const listed = new Set(sb.json<any[]>(['list']).map((j) => j.jobId));
      assert.deepEqual(ids.filter((id) => !listed.has(id)), [], `round ${round}: every id is there after repair`);
    } finally {
      sb.cleanup();
    }
  }
});

// ---- inputs without bounds ---------------------------------------------------------------

/** Runs uwsrun under GNU time: its outcome and its peak RSS in MB. */
function runMeasured(sb: Sandbox, args: string[], shell?: string): { code: number; stderr: string; rssMb: number; ms: number } {
  const t0 = Date.now();
  const r = shell
    ? spawnSync('/usr/bin/time', ['-f', '%M', 'sh', '-c', shell, 'sh', BIN, ...args], { env: sb.env, encoding: 'utf8', timeout: 60_000 })
    : spawnSync('/usr/bin/time', ['-f', '%M', BIN, ...args], { env: sb.env, encoding: 'utf8', timeout: 60_000 });
  const errLines = lines(r.stderr).filter((l) => !l.startsWith('Command exited with non-zero status'));
  return { code: r.status ?? 128, stderr: errLines.slice(0, -1).join('\n'), rssMb: Number(errLines.at(-1)) / 1024, ms: Date.now() - t0 };
}

const hasTime = (): boolean => existsSync('/usr/bin/time');

test('/dev/zero, a directory and a file over 16 MiB as definitions file: validate and submit exit 2 at once with small RSS, nothing created', T, (t) => {
  if (!hasTime()) {
    t.skip('/usr/bin/time is not installed');
    return;
  }
  const sb = new Sandbox(YAML);
  try {
    const big = join(sb.dir, 'big.yaml');
    writeFileSync(big, `jobs:\n  hello:\n    command: [echo, hi]\n#${'x'.repeat(17 * 1024 * 1024)}\n`);
    const cases: Array<[string, RegExp]> = [
      ['/dev/zero', /definitions file \/dev\/zero is a character device; expected a regular file or a pipe/],
      [sb.dir, /is a directory; expected a regular file or a pipe/],
      [big, /is larger than 16 MiB/],
    ];
    for (const [file, message] of cases) {
      for (const args of [['validate', file], ['submit', 'hello', '-f', file]]) {
        const r = runMeasured(sb, args);
        assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
        assert.match(r.stderr, message);
        assert.ok(r.stderr.includes(file), `names the file: ${r.stderr}`);
        assert.equal(r.stderr.split('\n').length, 1, `one line: ${r.stderr}`);
        assert.ok(r.rssMb < 250, `${args.join(' ')}: peak RSS ${r.rssMb.toFixed(0)} MB`);
      }
    }
    assert.ok(!existsSync(sb.home), 'no HOME was created');
  } finally {
    sb.cleanup();
  }
});

test('definitions from a pipe: a FIFO or stdin with a valid file works; an endless pipe is refused after 16 MiB (exit 2, small RSS)', T, (t) => {
  if (!hasTime()) {
    t.skip('/usr/bin/time is not installed');
    return;
  }
  const sb = new Sandbox(YAML);
  try {
    const fifo = join(sb.dir, 'defs.fifo');
    assert.equal(spawnSync('mkfifo', [fifo]).status, 0);
    // "$@" is uwsrun and its arguments; the writer runs in the background of the same shell.
    const viaFifo = runMeasured(sb, ['submit', 'hello', '-f', fifo, '-p', 'name=fifo'], `cat "${sb.jobsFile}" > "${fifo}" & "$@"; s=$?; wait; exit $s`);
    assert.equal(viaFifo.code, 0, viaFifo.stderr);
    const viaStdin = runMeasured(sb, ['validate', '/dev/stdin'], `"$@" < "${sb.jobsFile}"`);
    assert.equal(viaStdin.code, 0, viaStdin.stderr);
    const endless = runMeasured(sb, ['validate', fifo], `(cat "${sb.jobsFile}"; yes '# filler line') > "${fifo}" 2> /dev/null & "$@"; s=$?; wait; exit $s`);
    assert.equal(endless.code, 2, endless.stderr);
    assert.match(endless.stderr, /definitions file .*defs\.fifo is larger than 16 MiB/);
    assert.ok(endless.rssMb < 250, `peak RSS ${endless.rssMb.toFixed(0)} MB`);
    const endlessStdin = runMeasured(sb, ['submit', 'hello', '-f', '/dev/stdin'], `yes '# filler line' | "$@"`);
    assert.equal(endlessStdin.code, 2, endlessStdin.stderr);
    assert.match(endlessStdin.stderr, /definitions file \/dev\/stdin is larger than 16 MiB/);
    assert.equal(sb.json<any[]>(['list']).length, 1, 'only the job from the FIFO exists');
  } finally {
    sb.cleanup();
  }
});

test('a YAML bomb (aliases nested nine deep) is refused at once (exit 2)', T, () => {
  const sb = new Sandbox(YAML);
  try {
    let text = 'a: &a ["x","x","x","x","x","x","x","x","x"]\n';
    let prev = 'a';
    for (const n of 'bcdefghi') {
      text += `${n}: &${n} [${Array(9).fill(`*${prev}`).join(',')}]\n`;
      prev = n;
    }
    const bomb = join(sb.dir, 'bomb.yaml');
    writeFileSync(bomb, `${text}jobs:\n  hello:\n    command: [echo, hi]\n`);
    const t0 = Date.now();
    const r = sb.run(['validate', bomb]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /bomb\.yaml:1:1: .*alias/i);
    assert.ok(Date.now() - t0 < 30_000, 'refused without expanding it');
  } finally {
    sb.cleanup();
  }
});

test('a parameter value over 128 KiB is refused at submit (exit 2 naming it, nothing written); 120 KiB is accepted and reaches the job whole', T, async () => {
  const sb = new Sandbox(YAML);
  try {
    const big = join(sb.dir, 'big.jsonl');
    writeFileSync(big, `${JSON.stringify({ name: 'x'.repeat(1024 * 1024) })}\n`);
    const refused = sb.run(['submit', 'hello', '--run', '--params-from', big]);
    assert.equal(refused.code, 2, refused.stderr);
    assert.match(refused.stderr, /parameter name: the value is 1024 KiB; a value may have at most 128 KiB/);
    assert.ok(!existsSync(sb.home), 'nothing written: no HOME');

    const id0 = submitJob(sb, ['hello']);
    const stateBefore = readFileSync(join(sb.home, 'state.json'), 'utf8');
    writeFileSync(big, `${JSON.stringify({ name: 'x'.repeat(128 * 1024 + 1) })}\n`);
    const over = sb.run(['submit', 'hello', '--run', '--params-from', big]);
    assert.equal(over.code, 2, over.stderr);
    assert.match(over.stderr, /parameter name: .*at most 128 KiB/);
    assert.equal(readFileSync(join(sb.home, 'state.json'), 'utf8'), stateBefore, 'state.json untouched');
    assert.deepEqual(readdirSync(join(sb.home, 'records')), [id0], 'no job directory created');

    const value = 'v'.repeat(120 * 1024);
    writeFileSync(big, `${JSON.stringify({ name: value })}\n`);
    const id = lines(sb.ok(['submit', 'hello', '--run', '--params-from', big]))[0]!;
    const w = sb.run(['wait', id, '--timeout', '60']);
    assert.equal(w.code, 0, w.stderr);
    assert.equal(sb.job(id).phase, 'COMPLETED');
    assert.equal(readFileSync(join(sb.jobDir(id), 'stdout.log'), 'utf8'), `Hello, ${value}!\n`);
  } finally {
    sb.cleanup();
  }
});

/**
 * `uwsrun ARGS` in a process of its own whose argv is set before the CLI loads: execve(2) on
 * Linux with 4 KiB pages refuses any one argument over 128 KiB (MAX_ARG_STRLEN, asserted
 * below), so only this way does a value over 128 KiB reach `set -p` here, as it does through
 * a plain exec on systems with 64 KiB pages (MAX_ARG_STRLEN 2 MiB).
 */
function runWithArgv(sb: Sandbox, args: string[]): { code: number; stdout: string; stderr: string } {
  const argsFile = join(sb.dir, 'argv.json');
  writeFileSync(argsFile, JSON.stringify(args));
  const loader = `process.argv = [process.argv[0], ${JSON.stringify(BIN)}, ...JSON.parse(require('fs').readFileSync(${JSON.stringify(argsFile)}, 'utf8'))]; require(${JSON.stringify(BIN)});`;
  const r = spawnSync(process.execPath, ['-e', loader], { env: sb.env, encoding: 'utf8', timeout: 60_000 });
  return { code: r.status ?? 128, stdout: r.stdout, stderr: r.stderr };
}

test('set -p with a value over 128 KiB is refused (exit 2 naming it, nothing changed), as submit is; 120 KiB is accepted', T, () => {
  const sb = new Sandbox(YAML);
  try {
    const id = submitJob(sb, ['hello']);
    const over = `name=${'x'.repeat(128 * 1024 + 1)}`;
    // The kernel itself takes no such argument from a plain exec on this machine.
    const exec = spawnSync(BIN, ['set', id, '-p', over], { env: sb.env, encoding: 'utf8' });
    assert.equal((exec.error as NodeJS.ErrnoException | undefined)?.code, 'E2BIG', 'a plain exec cannot pass it (MAX_ARG_STRLEN)');
    const stateBefore = readFileSync(join(sb.home, 'state.json'), 'utf8');
    const recordBefore = readFileSync(join(sb.recordDir(id), 'job.json'), 'utf8');
    for (const value of [over, `name=${'y'.repeat(1024 * 1024)}`]) {
      const r = runWithArgv(sb, ['set', id, '-p', value]);
      assert.equal(r.code, 2, `${r.stdout}${r.stderr}`);
      assert.match(r.stderr, /parameter name: the value is \d+ KiB; a value may have at most 128 KiB/);
      assert.equal(r.stderr.trim().split('\n').length, 1, `one line: ${r.stderr}`);
      assert.equal(r.stdout, '');
      assert.equal(readFileSync(join(sb.home, 'state.json'), 'utf8'), stateBefore, 'state.json untouched');
      assert.equal(readFileSync(join(sb.recordDir(id), 'job.json'), 'utf8'), recordBefore, 'job.json untouched');
      assert.deepEqual(sb.job(id).parameters, { name: 'world' }, 'the parameter is unchanged');
    }
    // The same path with a value within the bound changes the job (so the refusal above is the bound's).
    const value = 'v'.repeat(120 * 1024);
    const ok = runWithArgv(sb, ['set', id, '-p', `name=${value}`]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(sb.job(id).parameters.name, value);
  } finally {
    sb.cleanup();
  }
});

test("a job's argv + environment beyond ARG_MAX is refused at submit and at set -p (exit 2); half of it is accepted and runs", T, async () => {
  const argMax = Number(spawnSync('getconf', ['ARG_MAX'], { encoding: 'utf8' }).stdout.trim());
  assert.ok(argMax > 0, 'getconf ARG_MAX');
  const valueBytes = 100 * 1024;
  const copies = Math.ceil(argMax / valueBytes) + 1; // over the limit by at least one copy
  const half = Math.floor(copies / 2);
  const sb = new Sandbox(`
jobs:
  many:
    command: [sh, -c, 'echo "$#" args', sh, ${Array(copies).fill('"{v}"').join(', ')}]
    parameters:
      v: { type: string, default: small }
  fewer:
    command: [sh, -c, 'echo "$#" args', sh, ${Array(half).fill('"{v}"').join(', ')}]
    parameters:
      v: { type: string, default: small }
`);
  try {
    const value = 'a'.repeat(valueBytes);
    const file = join(sb.dir, 'v.jsonl');
    writeFileSync(file, `${JSON.stringify({ v: value })}\n`);
    const refused = sb.run(['submit', 'many', '--run', '--params-from', file]);
    assert.equal(refused.code, 2, refused.stderr);
    assert.match(refused.stderr, /command line and environment together are \d+ KiB, more than the system's limit of \d+ KiB \(ARG_MAX\)/);
    assert.ok(!existsSync(sb.home), 'nothing written');

    const small = submitJob(sb, ['many']);
    const set = sb.run(['set', small, '-p', `v=${'b'.repeat(valueBytes)}`]);
    assert.equal(set.code, 2, set.stderr);
    assert.match(set.stderr, /ARG_MAX/);
    assert.deepEqual(sb.job(small).parameters, { v: 'small' }, 'the refused set changed nothing');

    const id = lines(sb.ok(['submit', 'fewer', '--run', '--params-from', file]))[0]!;
    const w = sb.run(['wait', id, '--timeout', '60']);
    assert.equal(w.code, 0, w.stderr);
    // (show --json would print the 1 MB command line: the table says enough.)
    assert.match(sb.ok(['list']), new RegExp(`${id}\\s+COMPLETED`));
    assert.equal(readFileSync(join(sb.jobDir(id), 'stdout.log'), 'utf8'), `${half} args\n`);
  } finally {
    sb.cleanup();
  }
});

// ---- lock fairness -----------------------------------------------------------------------

/**
 * Processes that take the HOME's lock again and again, each time for 2 ms, through the
 * lock code itself (build/src/store/lock.js), until the file `stop` exists: holders that
 * are all brief and come back at once, as a draining runner or a cron loop does.
 */
function startContenders(sb: Sandbox, n: number): ChildProcess[] {
  const lockModule = join(ROOT, 'build', 'src', 'store', 'lock.js');
  const script = `
    import { acquireLock, sleepSync } from ${JSON.stringify(lockModule)};
    import { existsSync } from 'node:fs';
    const [lockFile, stop] = process.argv.slice(1);
    while (!existsSync(stop)) { const release = acquireLock(lockFile); sleepSync(2); release(); }`;
  return Array.from({ length: n }, () => spawn(process.execPath, ['--input-type=module', '-e', script, join(sb.home, 'state.lock'), join(sb.dir, 'stop')], {
    env: sb.env, stdio: 'ignore',
  }));
}

test('brief holders that take the lock again at once starve no command: 30 commands beside 6 such holders all get the lock', T, async () => {
  const sb = new Sandbox(YAML);
  let contenders: ChildProcess[] = [];
  try {
    const id = submitJob(sb, ['hello']);
    contenders = startContenders(sb, 6);
    await waitFor('contenders hold the lock', () => existsSync(join(sb.home, 'state.lock')), 20_000);
    const kinds = [['submit', 'hello'], ['set', id, '--destruction', '1d'], ['limit', '3']];
    const runs = await Promise.all(Array.from({ length: 30 }, (_, i) => sb.start(kinds[i % kinds.length]!)));
    const failed = runs.filter((r) => r.code !== 0).map((r) => `${r.code}: ${r.stderr.trim()}`);
    assert.deepEqual(failed, [], 'every command got the lock within its 10 s');
    assert.equal(contenders.filter((c) => c.exitCode !== null).length, 0, 'the contenders were running all along');
  } finally {
    writeFileSync(join(sb.dir, 'stop'), '');
    await Promise.all(contenders.map((c) => new Promise((r) => (c.exitCode !== null ? r(null) : c.on('exit', r)))));
    sb.cleanup();
  }
});
