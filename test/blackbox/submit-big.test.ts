// A big submit (--params-from of WORKER_FROM lines or more, store/job-dirs.ts): the
// submitter reserves each id with records/ID and jobs/ID and writes the record, a worker
// thread fills each jobs/ID (results/, stdout.log, stderr.log), and the queue entries are
// hard links of one file. What must hold, for real:
//   - every job has its whole directory and its queue entry once the ids are printed;
//   - the worker dying half-way fails the submit (exit 5, one line) and leaves nothing;
//   - a full disk (a tmpfs out of inodes, at several points of the submit) exits 5 and
//     leaves nothing, and the next submit works;
//   - a submit killed while the worker fills: nothing visible, and `tick` removes the
//     records and the directories;
//   - a new id whose job directory exists already is given back, the directory untouched.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BIN, ID_RE, Sandbox, canUnshare, waitFor } from '../helpers.js';
import { state, stateOrEmpty } from '../runner-state.js';

const T = { timeout: 240_000 };

const YAML = `
jobs:
  where:
    command: [sh, -c, 'echo "$0 $UWS_JOB_ID $UWS_JOB_DIR $UWS_RESULTS_DIR $UWS_PARAM_N"', "{jobDir}"]
    parameters:
      n: { type: integer, default: 0 }
`;

const N = 600;
const linesOf = (n: number): string => Array.from({ length: n }, (_, i) => JSON.stringify({ n: i })).join('\n');
const names = (dir: string): string[] => (existsSync(dir) ? readdirSync(dir) : []);

function listIds(sb: Sandbox): string[] {
  return sb.json<{ jobId: string }[]>(['list']).map((j) => j.jobId);
}

/** Nothing of a failed submit is left: no record, job directory, queue entry or reservation. */
function assertNothingLeft(sb: Sandbox, before: string[] = []): void {
  const keep = new Set(before);
  assert.deepEqual(names(join(sb.home, 'records')).filter((d) => !keep.has(d)), [], 'no record directory left');
  assert.deepEqual(names(join(sb.home, 'jobs')).filter((d) => !keep.has(d)), [], 'no job directory left');
  assert.deepEqual(names(join(sb.home, 'queue')), [], 'no queue entry left');
  assert.deepEqual(state(sb).batches, {}, 'no reservation left');
  assert.deepEqual(listIds(sb), before, 'no job of it is listed');
}

test(`a --params-from of ${N} jobs: each has its whole directory (empty logs 0600, results/ 0700) and its queue entry, hard links of one file`, T, () => {
  const sb = new Sandbox(YAML);
  try {
    sb.ok(['limit', '0']); // queued, but nothing starts: the directories stay as the submit made them
    const r = sb.run(['submit', 'where', '--run', '--params-from', '-'], {}, linesOf(N));
    assert.equal(r.code, 0, r.stderr);
    const ids = r.stdout.trim().split('\n');
    assert.equal(ids.length, N);
    assert.ok(ids.every((id) => ID_RE.test(id)));
    assert.equal(new Set(ids).size, N, 'no id twice');
    for (const id of ids) {
      const dir = sb.jobDir(id);
      for (const log of ['stdout.log', 'stderr.log']) {
        const st = statSync(join(dir, log));
        assert.ok(st.isFile() && st.size === 0, `${id}/${log} is an empty file`);
        assert.equal(st.mode & 0o777, 0o600, `${id}/${log} is 0600`);
      }
      const results = statSync(join(dir, 'results'));
      assert.ok(results.isDirectory(), `${id}/results is a directory`);
      assert.equal(results.mode & 0o777, 0o700);
      assert.deepEqual(readdirSync(join(dir, 'results')), []);
      assert.ok(existsSync(join(sb.recordDir(id), 'job.json')), `${id} has its record`);
    }
    for (const id of [ids[0]!, ids[N / 2]!, ids.at(-1)!]) {
      const job = sb.job(id);
      assert.equal(job.phase, 'QUEUED');
      assert.equal(job.command[3], sb.jobDir(id), 'the command names its own directory');
    }
    const queue = join(sb.home, 'queue');
    const entries = readdirSync(queue);
    assert.equal(entries.length, N, 'one queue entry per job');
    assert.deepEqual(new Set(entries.map((e) => e.split('.')[1])), new Set(ids), 'each job has its entry');
    const inodes = new Set(entries.map((e) => statSync(join(queue, e)).ino));
    assert.ok(inodes.size < 5, `the entries are hard links of a few files, not ${inodes.size} files`);
    assert.equal(listIds(sb).length, N);
    // They run, each once, when the HOME is no longer paused (and their entries go).
    sb.ok(['limit', '8']);
    // Its command and environment name its own id and directories, and its parameter.
    for (const [i, id] of [[0, ids[0]!], [N - 1, ids.at(-1)!]] as const) {
      const w = sb.run(['wait', id, '--timeout', '120']);
      assert.equal(w.code, 0, w.stderr);
      const dir = sb.jobDir(id);
      assert.equal(readFileSync(join(dir, 'stdout.log'), 'utf8'), `${dir} ${id} ${dir} ${dir}/results ${i}\n`);
    }
  } finally {
    sb.cleanup();
  }
});

test('the worker filling the job directories dies half-way: the submit exits 5 on one line, prints no id, leaves nothing; the next one works', T, () => {
  const sb = new Sandbox(YAML);
  try {
    const before = [sb.ok(['submit', 'where'])];
    const r = sb.run(['submit', 'where', '--run', '--params-from', '-'], { UWSRUN_TEST_FILLER_DIES_AFTER: '100' }, linesOf(N));
    assert.equal(r.code, 5, `exit 5: ${r.stderr}`);
    assert.equal(r.stdout, '', 'no id printed');
    assert.equal(r.stderr.trim().split('\n').length, 1, `one line: ${r.stderr}`);
    assert.match(r.stderr, /worker making job directories/);
    assertNothingLeft(sb, before);
    const again = sb.run(['submit', 'where', '--params-from', '-'], {}, linesOf(N));
    assert.equal(again.code, 0, again.stderr);
    assert.equal(listIds(sb).length, N + 1);
  } finally {
    sb.cleanup();
  }
});

test('a full disk (a tmpfs out of inodes) at several points of a big submit: exit 5 saying so, nothing left or visible, state whole; then a submit works', T, (t) => {
  if (!canUnshare()) {
    t.skip('unshare -m is not available');
    return;
  }
  const sb = new Sandbox(YAML);
  try {
    const out = join(sb.dir, 'out');
    mkdirSync(out, { recursive: true });
    mkdirSync(sb.home, { recursive: true, mode: 0o700 });
    writeFileSync(join(sb.dir, 'lines'), linesOf(N));
    // ~6 inodes a job: 600 jobs need ~3,600; these run out in the first jobs, half-way, and
    // near the end, in the submitter's or the worker's files, whichever comes first.
    const limits = [300, 1200, 2400, 3300];
    const script = limits.map((n) => `
      mount -t tmpfs -o size=64m,nr_inodes=${n},mode=0700 tmpfs "$H" || exit 99
      "$B" submit where --run --params-from "$D/lines" > "$O/ids.${n}" 2> "$O/err.${n}"; echo $? > "$O/code.${n}"
      "$B" list --json > "$O/list.${n}" 2>&1
      find "$H/records" "$H/jobs" "$H/queue" -mindepth 1 -maxdepth 1 2> /dev/null | wc -l > "$O/left.${n}"
      ls -a "$H" | grep '\\.tmp$' > "$O/temps.${n}"
      cp "$H/state.json" "$O/state.${n}"
      "$B" submit where -p n=1 > "$O/after.${n}" 2>&1; echo $? >> "$O/after.${n}"
      umount "$H"
    `).join('\n');
    const r = spawnSync('unshare', ['-m', 'sh', '-c', `set -u\nH="$1" O="$2" B="$3" D="$4"\n${script}`, 'sh', sb.home, out, BIN, sb.dir], {
      env: { ...sb.env, UWSRUN_RUNNER_IDLE_MS: '100' }, encoding: 'utf8', timeout: 200_000,
    });
    assert.equal(r.status, 0, `scenario failed (${r.status}): ${r.stderr}`);
    const read = (name: string) => readFileSync(join(out, name), 'utf8');
    for (const n of limits) {
      assert.equal(read(`code.${n}`).trim(), '5', `nr_inodes=${n}: exit 5: ${read(`err.${n}`)}`);
      assert.equal(read(`ids.${n}`), '', `nr_inodes=${n}: no id printed`);
      assert.equal(read(`err.${n}`).trim().split('\n').length, 1, `one line: ${read(`err.${n}`)}`);
      assert.match(read(`err.${n}`), /is full \(no space left on device\)/);
      assert.deepEqual(JSON.parse(read(`list.${n}`)), [], `nr_inodes=${n}: no job visible`);
      assert.equal(read(`left.${n}`).trim(), '0', `nr_inodes=${n}: no record, directory or entry left`);
      assert.equal(read(`temps.${n}`), '', `nr_inodes=${n}: no temp file left`);
      assert.deepEqual(JSON.parse(read(`state.${n}`)).batches, {}, `nr_inodes=${n}: no reservation left`);
      const after = read(`after.${n}`).trim().split('\n');
      assert.equal(after.at(-1), '0', `nr_inodes=${n}: a submit after it works: ${after.join(' | ')}`);
      assert.match(after[0]!, ID_RE);
    }
  } finally {
    sb.cleanup();
  }
});

test('a big submit killed with SIGKILL while its job directories are filled: nothing visible; tick removes its records and directories', T, async () => {
  const sb = new Sandbox(YAML);
  try {
    const before = [sb.ok(['submit', 'where'])];
    const child = spawn(BIN, ['submit', 'where', '--run', '--params-from', '-'], { env: sb.env, stdio: ['pipe', 'pipe', 'pipe'] });
    let printed = '';
    child.stdout.on('data', (d) => (printed += d));
    const exited = new Promise<void>((resolve) => child.on('close', () => resolve()));
    child.stdin.end(linesOf(20_000));
    await waitFor('the submit to have written some hundreds of jobs', () =>
      Object.keys(stateOrEmpty(sb).batches ?? {}).length === 1 && names(join(sb.home, 'records')).length > 400
        && names(join(sb.home, 'jobs')).length > 400, 90_000);
    child.kill('SIGKILL');
    await exited;
    assert.equal(printed, '', 'no id printed');
    assert.ok(names(join(sb.home, 'jobs')).length > 400, 'it left job directories');
    assert.deepEqual(listIds(sb), before, 'none of its jobs is visible');
    const t = sb.run(['tick']);
    assert.equal(t.code, 0, t.stderr);
    assert.match(t.stdout + t.stderr, /submit that died half-way/);
    // The id being reserved when it was killed has no record yet: the one-minute rule of
    // half-created directories takes it later.
    const records = names(join(sb.home, 'records')).filter((d) => !before.includes(d));
    const jobs = names(join(sb.home, 'jobs')).filter((d) => !before.includes(d));
    assert.ok(records.length <= 1 && jobs.length <= 1, `at most the id being reserved is left: ${records.length} records, ${jobs.length} directories`);
    for (const d of records) assert.equal(existsSync(join(sb.recordDir(d), 'job.json')), false, `${d} has no record`);
    assert.deepEqual(names(join(sb.home, 'queue')), [], 'no queue entry left');
    assert.deepEqual(state(sb).batches, {}, 'the reservation is gone');
    assert.deepEqual(listIds(sb), before);
  } finally {
    sb.cleanup();
  }
});

test('a new id whose job directory exists already is given back: that directory is untouched and no job gets its id', T, () => {
  const sb = new Sandbox(YAML);
  try {
    sb.ok(['submit', 'where']); // makes the HOME
    const stray = 'StrayStrayStray1';
    mkdirSync(sb.jobDir(stray));
    writeFileSync(join(sb.jobDir(stray), 'data'), 'not yours\n');
    const r = sb.run(['submit', 'where', '--params-from', '-'], { UWSRUN_TEST_IDS: `${stray},FreshFreshFresh1` }, linesOf(N));
    assert.equal(r.code, 0, r.stderr);
    const ids = r.stdout.trim().split('\n');
    assert.equal(ids.length, N);
    assert.equal(ids.includes(stray), false, 'no job has the id of the existing directory');
    assert.equal(ids[0], 'FreshFreshFresh1', 'the first job has the next id drawn');
    assert.deepEqual(readdirSync(sb.jobDir(stray)), ['data'], 'the existing directory got nothing');
    assert.equal(readFileSync(join(sb.jobDir(stray), 'data'), 'utf8'), 'not yours\n');
    assert.equal(existsSync(sb.recordDir(stray)), false, 'its record directory was given back');
    assert.equal(sb.job('FreshFreshFresh1').command[3], sb.jobDir('FreshFreshFresh1'));
    assert.ok(existsSync(join(sb.jobDir('FreshFreshFresh1'), 'results')));
  } finally {
    sb.cleanup();
  }
});
