// The launcher's, wrapper's and Slurm batch script's Perl lives in .pl files of their own
// (bundled as text): each must compile under the perl every job runs with, and the bundle
// must carry it unchanged.

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ROOT } from '../helpers.js';

const EXECUTORS = join(ROOT, 'src', 'executors');
const WRAPPER = join(EXECUTORS, 'local', 'wrapper.pl');
const RUN_DIR = join(ROOT, 'src', 'run');
/**
 * Every .pl file, with the program perl runs it as: the wrapper is shared, the launcher and
 * the Slurm batch script each run as the wrapper's file followed by their own; the
 * notifier's (src/run/notify.pl) is a program of its own.
 */
const perlFiles = [
  ...readdirSync(EXECUTORS, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name).flatMap((d) =>
    readdirSync(join(EXECUTORS, d)).filter((f) => f.endsWith('.pl')).map((f) => join(EXECUTORS, d, f))),
  ...readdirSync(RUN_DIR).filter((f) => f.endsWith('.pl')).map((f) => join(RUN_DIR, f)),
];
const programOf = (file: string): string => {
  const own = readFileSync(file, 'utf8');
  if (file === WRAPPER || file.startsWith(RUN_DIR)) return own;
  const call = file.endsWith('batch.pl') ? '\nbatch(pack("H*", "2f746d70"));\n' : '';
  return `${readFileSync(WRAPPER, 'utf8')}\n${own}${call}`;
};

test('there is Perl to check (src/executors/*/*.pl, src/run/*.pl)', () => {
  const names = perlFiles.map((f) => f.slice(join(ROOT, 'src').length + 1)).sort();
  assert.deepEqual(names, ['executors/local/launcher.pl', 'executors/local/wrapper.pl', 'executors/slurm/batch.pl', 'run/notify.pl']);
});

for (const file of perlFiles) {
  const name = file.slice(join(ROOT, 'src').length + 1);
  test(`perl -c ${name}: syntax OK, without warnings`, () => {
    const dir = mkdtempSync(join(tmpdir(), 'uwsrun-perl-'));
    try {
      const program = join(dir, 'program.pl');
      writeFileSync(program, programOf(file));
      const r = spawnSync('/usr/bin/perl', ['-cw', program], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stderr.trim(), `${program} syntax OK`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test(`${name} is in the bundle as it is on disk`, () => {
    const bundle = readFileSync(join(ROOT, 'dist', 'uwsrun.cjs'), 'utf8');
    // esbuild writes a text file as a JS string literal: compare its distinctive lines.
    const lines = readFileSync(file, 'utf8').split('\n').filter((l) => /^\s*(sub |my )/.test(l) && !/[\\'"`]/.test(l));
    assert.ok(lines.length > 3, 'the file has code');
    for (const line of lines) assert.ok(bundle.includes(JSON.stringify(line).slice(1, -1).trim()), `the bundle carries ${line}`);
  });
}

test('a launcher whose runner never opens its FIFOs exits by itself (SIGALRM after 15 s) instead of blocking for good', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'uwsrun-launcher-'));
  try {
    const program = join(dir, 'launcher.pl');
    writeFileSync(program, programOf(join(EXECUTORS, 'local', 'launcher.pl')));
    const launcher = spawn('/usr/bin/perl', [program, join(dir, 'l.req'), join(dir, 'l.rep')], { stdio: 'ignore', cwd: dir });
    const ended = await new Promise<{ code: number | null; signal: string | null } | 'still running'>((resolve) => {
      const timer = setTimeout(() => { launcher.kill('SIGKILL'); resolve('still running'); }, 40_000);
      launcher.on('exit', (code, signal) => { clearTimeout(timer); resolve({ code, signal }); });
    });
    assert.deepEqual(ended, { code: null, signal: 'SIGALRM' });
    // It blocked on the FIFOs it was given (after a script file, perl passes `--` on as an argument).
    assert.ok(statSync(join(dir, 'l.req')).isFIFO(), 'the request FIFO was created where asked');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('notify.pl runs the notifier only if it creates the job\'s notified marker: of senders racing for one job, exactly one runs it; a job deleted meanwhile is still notified', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'uwsrun-notify-'));
  try {
    const program = join(dir, 'notify.pl');
    writeFileSync(program, readFileSync(join(RUN_DIR, 'notify.pl'), 'utf8'));
    const ran = join(dir, 'ran');
    const marker = join(dir, 'notified');
    const sender = (markerPath: string) => new Promise<number | null>((resolve) => {
      const p = spawn('/usr/bin/perl', [program, join(dir, 'runner.log'), 'JOB', 'ERROR', markerPath, 'sh', '-c', `echo once >> ${ran}`], { stdio: 'ignore' });
      p.on('exit', (code) => resolve(code));
    });
    // Four at once (a claimant and sweeps that claimed again), then one after them all.
    const codes = [...await Promise.all([1, 2, 3, 4].map(() => sender(marker))), await sender(marker)];
    assert.deepEqual(codes, [0, 0, 0, 0, 0], 'every sender exits 0');
    assert.equal(readFileSync(ran, 'utf8'), 'once\n', 'the notifier ran exactly once');
    assert.match(readFileSync(marker, 'utf8'), /^\d+\n$/, 'the marker names the sender that ran it');
    // The job's record directory is gone (deleted while its notification was on the way).
    assert.equal(await sender(join(dir, 'gone', 'notified')), 0);
    assert.equal(readFileSync(ran, 'utf8'), 'once\nonce\n', 'a deleted job is still notified');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
