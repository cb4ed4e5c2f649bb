// Black-box: submit remembers a definitions file that validated (HOME/cache/), and any edit
// of the file is seen at once: a changed command, a new error, a file replaced by rename.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Sandbox, submitJob } from '../helpers.js';

const V1 = `jobs:
  greet:
    command: [echo, "one {name}"]
    parameters:
      name: { type: string, default: x }
`;

test('a cached definitions file is re-read after every edit, and its errors still name file:line:column', () => {
  const sb = new Sandbox(V1);
  try {
    // The first submit creates HOME only after the file validated; the second caches it.
    const first = submitJob(sb, ['greet']);
    assert.deepEqual(sb.job(first).command, ['echo', 'one x']);
    submitJob(sb, ['greet']);
    assert.ok(readdirSync(join(sb.home, 'cache')).some((f) => f.startsWith('defs-')), 'the validated file was cached');

    writeFileSync(sb.jobsFile, V1.replace('one', 'two'));
    const second = submitJob(sb, ['greet']);
    assert.deepEqual(sb.job(second).command, ['echo', 'two x'], 'an edit in place is seen');

    writeFileSync(sb.jobsFile, V1.replace('default: x', 'default: x, min: 3'));
    const bad = sb.run(['submit', 'greet']);
    assert.equal(bad.code, 2, bad.stderr);
    assert.match(bad.stderr, /jobs\.yaml:\d+:\d+: .*jobs\.greet\.parameters\.name/, bad.stderr);

    const next = join(sb.dir, 'next.yaml');
    writeFileSync(next, V1.replace('one', 'three'));
    renameSync(next, sb.jobsFile);
    const third = submitJob(sb, ['greet']);
    assert.deepEqual(sb.job(third).command, ['echo', 'three x'], 'a file replaced by rename is seen');
  } finally {
    sb.cleanup();
  }
});
