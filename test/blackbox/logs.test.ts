// Black-box tests of `uwsrun logs` (SPEC §9): stdout.log / stderr.log as written by the job;
// `--follow` streams until the job is final and its log drained, then exits 0; -q never
// touches data on stdout.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FINAL, Sandbox, submitOk, waitFor, type Run } from '../helpers.js';
import { listPids } from '../procfs.js';

const YAML = `
defaults:
  destruction: 0
jobs:
  both:
    command: [sh, -c, 'echo out1; echo "err 1" >&2; printf "out2 no newline"; echo err2 >&2']
  gated:
    description: waits for the test to say go, then prints five lines over about a second
    command: [sh, -c, 'while [ ! -e "$UWS_JOB_DIR/go" ]; do sleep 0.05; done; for i in 1 2 3 4 5; do echo line$i; sleep 0.2; done']
`;

const T = { timeout: 60_000 };

function withDeadline<T>(what: string, p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not return within ${ms} ms`)), ms);
  });
  return Promise.race([p, deadline]).finally(() => clearTimeout(timer));
}

/** Pid of a running `uwsrun logs ID --follow` that has `file` open, if any. */
function followerWithFileOpen(id: string, file: string): number | undefined {
  for (const pid of listPids()) {
    try {
      const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      if (!(argv.includes('logs') && argv.includes(id) && argv.includes('--follow'))) continue;
      for (const fd of readdirSync(`/proc/${pid}/fd`)) {
        try {
          if (readlinkSync(`/proc/${pid}/fd/${fd}`) === file) return pid;
        } catch { /* fd closed meanwhile */ }
      }
    } catch { /* process gone meanwhile */ }
  }
  return undefined;
}

test('logs prints stdout.log; --stderr prints stderr.log; -q changes nothing on stdout', T, async () => {
  const sb = new Sandbox(YAML);
  try {
    const id = submitOk(sb, ['both', '--run']);
    await waitFor('COMPLETED', () => sb.job(id).phase === 'COMPLETED', 25_000);
    const outFile = readFileSync(join(sb.jobDir(id), 'stdout.log'), 'utf8');
    const errFile = readFileSync(join(sb.jobDir(id), 'stderr.log'), 'utf8');
    assert.equal(outFile, 'out1\nout2 no newline');
    assert.equal(errFile, 'err 1\nerr2\n');

    const out = sb.run(['logs', id]);
    assert.equal(out.code, 0, out.stderr);
    assert.equal(out.stdout, outFile);
    const err = sb.run(['logs', id, '--stderr']);
    assert.equal(err.code, 0, err.stderr);
    assert.equal(err.stdout, errFile);

    for (const args of [['-q', 'logs', id], ['logs', id, '-q'], ['logs', id, '--quiet']]) {
      const r = sb.run(args);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, outFile, args.join(' '));
    }
    const q = sb.run(['logs', id, '--stderr', '-q']);
    assert.equal(q.code, 0);
    assert.equal(q.stdout, errFile);
  } finally {
    sb.cleanup();
  }
});

test('logs of an unknown job exits 3', T, () => {
  const sb = new Sandbox(YAML);
  try {
    const r = sb.run(['logs', 'Zz9unknownJob42']);
    assert.equal(r.code, 3, r.stderr);
    assert.equal(r.stdout, '');
  } finally {
    sb.cleanup();
  }
});

test('logs --follow on a running job streams every line and exits 0 once the job is final', T, async () => {
  const sb = new Sandbox(YAML);
  try {
    const id = submitOk(sb, ['gated', '--run']);
    await waitFor('EXECUTING with startTime', () => {
      const j = sb.job(id);
      return j.phase === 'EXECUTING' && j.startTime !== null;
    }, 25_000);
    const stdoutLog = join(sb.jobDir(id), 'stdout.log');
    let result: Run | undefined;
    const follow = sb.start(['logs', id, '--follow']).then((r) => {
      result = r;
      return { r, phase: sb.job(id).phase as string };
    });
    // Let the job print only once `logs --follow` is reading the log.
    await waitFor('logs --follow to open stdout.log', () => result !== undefined || followerWithFileOpen(id, stdoutLog), 25_000);
    assert.equal(result, undefined, `logs --follow returned while the job was still waiting: ${JSON.stringify(result)}`);
    writeFileSync(join(sb.jobDir(id), 'go'), '');

    const { r, phase } = await withDeadline('logs --follow', follow, 30_000);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'line1\nline2\nline3\nline4\nline5\n');
    assert.ok(FINAL.includes(phase), `logs --follow returned while the job was ${phase}`);
    assert.equal(phase, 'COMPLETED');
  } finally {
    sb.cleanup();
  }
});

test('logs --follow on a final job returns at once with the whole log', T, async () => {
  const sb = new Sandbox(YAML);
  try {
    const id = submitOk(sb, ['both', '--run']);
    await waitFor('COMPLETED', () => sb.job(id).phase === 'COMPLETED', 25_000);
    const outFile = readFileSync(join(sb.jobDir(id), 'stdout.log'), 'utf8');
    for (const args of [['logs', id, '--follow'], ['logs', id, '--follow', '-q']]) {
      const t0 = Date.now();
      const r = await withDeadline('logs --follow', sb.start(args), 15_000);
      const took = Date.now() - t0;
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, outFile, args.join(' '));
      assert.ok(took < 10_000, `logs --follow on a final job took ${took} ms`);
    }
    const err = await withDeadline('logs --follow --stderr', sb.start(['logs', id, '--follow', '--stderr']), 15_000);
    assert.equal(err.code, 0);
    assert.equal(err.stdout, readFileSync(join(sb.jobDir(id), 'stderr.log'), 'utf8'));
    assert.ok(existsSync(sb.jobDir(id)));
  } finally {
    sb.cleanup();
  }
});
