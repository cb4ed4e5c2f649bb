// The launcher's and wrapper's Perl lives in .pl files of its own (bundled as text): each
// must compile under the perl every job runs with, and the bundle must carry it unchanged.

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ROOT } from '../helpers.js';

const RUN_DIR = join(ROOT, 'src', 'run');
const perlFiles = readdirSync(RUN_DIR).filter((f) => f.endsWith('.pl'));

test('there is Perl to check (src/run/*.pl)', () => {
  assert.ok(perlFiles.includes('launcher.pl'), `found: ${perlFiles.join(', ')}`);
});

for (const file of perlFiles) {
  test(`perl -c ${file}: syntax OK, without warnings`, () => {
    const r = spawnSync('/usr/bin/perl', ['-cw', join(RUN_DIR, file)], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr.trim(), `${join(RUN_DIR, file)} syntax OK`);
  });

  test(`${file} is in the bundle as it is on disk`, () => {
    const bundle = readFileSync(join(ROOT, 'dist', 'uwsrun.cjs'), 'utf8');
    // esbuild writes a text file as a JS string literal: compare a distinctive line.
    const line = readFileSync(join(RUN_DIR, file), 'utf8').split('\n').find((l) => l.includes('POSIX::setsid()'));
    assert.ok(line, 'the wrapper calls setsid()');
    assert.ok(bundle.includes(JSON.stringify(line).slice(1, -1).trim()), 'the bundled launcher carries the line');
  });
}

test('a launcher whose runner never opens its FIFOs exits by itself (SIGALRM after 15 s) instead of blocking for good', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'uwsrun-launcher-'));
  try {
    const launcher = spawn('/usr/bin/perl', [join(RUN_DIR, 'launcher.pl'), '--', join(dir, 'l.req'), join(dir, 'l.rep')], { stdio: 'ignore' });
    const ended = await new Promise<{ code: number | null; signal: string | null } | 'still running'>((resolve) => {
      const timer = setTimeout(() => { launcher.kill('SIGKILL'); resolve('still running'); }, 40_000);
      launcher.on('exit', (code, signal) => { clearTimeout(timer); resolve({ code, signal }); });
    });
    assert.deepEqual(ended, { code: null, signal: 'SIGALRM' });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
