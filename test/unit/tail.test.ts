// `logs --tail`: where the last N lines of a file begin, read backwards in chunks; counted
// as tail(1) counts (a final newline ends the last line; a last line without one counts).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { tailOffset } from '../../src/cli/tail.js';

function lastLines(text: string | Buffer, n: number): string {
  const dir = mkdtempSync(join(tmpdir(), 'uwsrun-tail-'));
  try {
    const file = join(dir, 'log');
    writeFileSync(file, text);
    const fd = openSync(file, 'r');
    try {
      const buf = Buffer.from(text);
      return buf.subarray(tailOffset(fd, buf.length, n)).toString('latin1');
    } finally {
      closeSync(fd);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** What tail -n N prints for the same bytes. */
function tailOf(text: string | Buffer, n: number): string {
  return spawnSync('tail', ['-n', String(n)], { input: text, encoding: 'latin1' }).stdout;
}

test('the same lines as tail -n, for edge cases and across 64 KiB chunk borders', () => {
  const long = Array.from({ length: 40_000 }, (_, i) => `line ${i}`).join('\n');
  const cases: (string | Buffer)[] = ['', '\n', '\n\n\n', 'a', 'a\n', 'a\nb', 'a\nb\n', 'a\n\nb\n\n', long, `${long}\n`,
    'x'.repeat(200_000), `${'y'.repeat(65_535)}\n${'z'.repeat(10)}\n`, Buffer.from([0x0a, 0xff, 0x00, 0x0a, 0x80])];
  for (const text of cases) {
    for (const n of [0, 1, 2, 3, 10, 20_000, 40_001]) {
      assert.equal(lastLines(text, n), tailOf(text, n), `${JSON.stringify(String(text).slice(0, 20))}... (${text.length} bytes), ${n} lines`);
    }
  }
});
