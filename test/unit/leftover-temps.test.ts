// The temp names durable.ts makes, as store/leftover-temps.ts reads them back: the exact
// shape `.NAME.PID.COUNTER.tmp` and nothing else.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatBytes, parseTempName } from '../../src/store/leftover-temps.js';

test('a temp name gives its target and its writer\'s pid, the last pid and counter winning', () => {
  assert.deepEqual(parseTempName('.state.json.123.0.tmp'), { target: 'state.json', pid: 123 });
  assert.deepEqual(parseTempName('.state.good.json.4194304.1z.tmp'), { target: 'state.good.json', pid: 4194304 });
  assert.deepEqual(parseTempName('.job.json.7.8.9.tmp'), { target: 'job.json.7', pid: 8 });
});

test('anything not of the exact shape is no temp name', () => {
  for (const name of ['state.json.123.0.tmp', '.state.json.123.tmp', '.state.json.0123.0.tmp', '.state.json.123.0.TMP',
    '.state.json.123.0.tmp~', '.state.json.123.A.tmp', '..123.0.tmp', '.state.json.12345678901.0.tmp', '.state.json.-1.0.tmp', 'state.json']) {
    assert.equal(parseTempName(name), undefined, name);
  }
});

test('sizes read as people say them', () => {
  assert.equal(formatBytes(1), '1 byte');
  assert.equal(formatBytes(1023), '1023 bytes');
  assert.equal(formatBytes(1536), '1.5 KiB');
  assert.equal(formatBytes(3 * 1024 * 1024), '3.0 MiB');
});
