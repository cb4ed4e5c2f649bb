// Black-box test: `doctor --repair` restoring a good copy older than the state it replaces
// (its last write failed, or an operator put back a backup) undoes nothing that happened
// since. Jobs created after the copy keep their creation number (their line in HOME/index,
// their place in `list` and `list --last`) and stay listed; a job created after the repair
// never takes one of theirs; jobs queued after the copy keep their place before new ones.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Sandbox, submitJob } from '../helpers.js';

const YAML = `
defaults:
  destruction: 0
jobs:
  quick:
    command: [echo, done]
`;

const T = { timeout: 60_000 };

test('doctor --repair from an older good copy: later jobs keep their numbers and places, new ones get fresh ones', T, () => {
  const sb = new Sandbox(YAML);
  try {
    sb.ok(['limit', '0']); // nothing starts: the queue order stays observable
    const a = submitJob(sb, ['quick']);
    const q1 = submitJob(sb, ['quick', '--run']);
    const old = join(sb.dir, 'good.old');
    copyFileSync(join(sb.home, 'state.good.json'), old);
    const later = [submitJob(sb, ['quick']), submitJob(sb, ['quick'])];
    const q2 = submitJob(sb, ['quick', '--run']);
    const seqOf = (id: string): number => JSON.parse(readFileSync(join(sb.recordDir(id), 'job.json'), 'utf8')).seq as number;
    const laterSeqs = [...later, q2].map(seqOf);

    // state.json is damaged, and the good copy is the older one.
    writeFileSync(join(sb.home, 'state.json'), 'garbage');
    copyFileSync(old, join(sb.home, 'state.good.json'));
    const repair = sb.run(['doctor', '--repair']);
    assert.match(repair.stdout, /restored from the last good copy/, repair.stdout + repair.stderr);
    assert.match(repair.stdout, /its job counter was advanced from 2 to 5/, repair.stdout);

    const fresh = [submitJob(sb, ['quick']), submitJob(sb, ['quick', '--run'])];
    const freshSeqs = fresh.map(seqOf);
    for (const s of freshSeqs) assert.ok(!laterSeqs.includes(s) && s > Math.max(...laterSeqs), `new seq ${s} is none of the later jobs' ${laterSeqs}`);

    const all = [a, q1, ...later, q2, ...fresh];
    assert.deepEqual(sb.json<any[]>(['list']).map((j) => j.jobId), all, 'every job listed once, in creation order');
    assert.deepEqual(sb.ok(['list', '--last', '4', '-q']).split('\n').slice(1).map((l) => l.split(/\s+/)[0]), all.slice(-4),
      'list --last reads every later job from its own index line');
    for (const id of all) assert.equal(sb.run(['show', id]).code, 0, `${id} is there`);

    // The queue keeps its order: q1, then q2 (queued after the copy), then the new one.
    sb.ok(['limit', '1']);
    for (const id of [q1, q2, fresh[1]!]) {
      const w = sb.run(['wait', id, '--timeout', '30']);
      assert.equal(w.code, 0, w.stderr);
    }
    // runner.log's start lines, in the order the runner started them (limit 1: one at a time).
    const started = readFileSync(join(sb.home, 'runner.log'), 'utf8').split('\n')
      .map((l) => / job (\S+): started /.exec(l)?.[1]).filter((id): id is string => id !== undefined);
    assert.deepEqual(started, [q1, q2, fresh[1]!], 'started in queue order');
  } finally {
    sb.cleanup();
  }
});
