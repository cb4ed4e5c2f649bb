// A job's directory (HOME/jobs/ID with empty stdout.log and stderr.log and results/) is made
// at submit (SPEC §2, §8), by the CLI, resubmit and the server alike, but never synced: a
// crash can lose it, and the job makes it again when it starts (README "Where things are").
// So every reader takes a missing directory as empty, never as an error: logs, show (human,
// JSON, XML), results, resubmit, doctor, tick (destruction, archive), delete, and the
// server's job document and its stdout, stderr and results resources; these tests remove
// it by hand to check that. Once it runs the directory is there, with the modes of the
// HOME's other files.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Sandbox, submitOk } from '../helpers.js';
import { ServeProcess, assertValidUws, createJob, jobIdOf, request } from '../serve-helpers.js';

const YAML = `
defaults:
  destruction: 0
jobs:
  hello:
    command: [sh, -c, 'echo out; echo err >&2; echo r > "$UWS_RESULTS_DIR/r.txt"']
  shortlived:
    command: [echo, never]
    destruction: 1s
    archive: true
`;

const T = { timeout: 90_000 };

/** A just-created job's directory: there, 0700, empty logs 0600, empty results/; then removed (a crash lost it). */
function checkAndLoseJobDir(sb: Sandbox, id: string): void {
  const dir = sb.jobDir(id);
  assert.ok(existsSync(dir), `${id}: its job directory is made at submit`);
  assert.equal(statSync(dir).mode & 0o777, 0o700);
  for (const log of ['stdout.log', 'stderr.log']) {
    assert.equal(statSync(join(dir, log)).mode & 0o777, 0o600, log);
    assert.equal(statSync(join(dir, log)).size, 0, log);
  }
  assert.equal(statSync(join(dir, 'results')).mode & 0o777, 0o700);
  assert.deepEqual(readdirSync(join(dir, 'results')), []);
  rmSync(dir, { recursive: true });
}

test('a job gets its directory at submit; one that never started and lost it is read as empty by every command', T, async () => {
  const sb = new Sandbox(YAML);
  try {
    const id = submitOk(sb, ['hello']);
    assert.ok(existsSync(join(sb.recordDir(id), 'job.json')), 'its record is there');
    checkAndLoseJobDir(sb, id);
    for (const args of [['logs', id], ['logs', id, '--stderr'], ['logs', id, '--tail', '5'], ['results', id]]) {
      const r = sb.run(args);
      assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
      assert.equal(r.stdout, '', `${args.join(' ')} prints nothing`);
    }
    const show = sb.run(['show', id]);
    assert.equal(show.code, 0, show.stderr);
    assert.ok(show.stdout.includes(id));
    assert.equal(sb.job(id).phase, 'PENDING');
    const xml = sb.run(['show', id, '--xml']);
    assert.equal(xml.code, 0, xml.stderr);
    assertValidUws(sb, xml.stdout, 'show --xml of a job without a directory');
    // tick keeps it (a PENDING job is not a half-created one), doctor finds nothing wrong.
    assert.equal(sb.run(['tick']).code, 0);
    assert.equal(sb.job(id).phase, 'PENDING');
    const doctor = sb.run(['doctor']);
    assert.equal(doctor.code, 0, doctor.stdout + doctor.stderr);
    // resubmit copies it (a new PENDING job, with a directory of its own, lost too).
    const again = sb.run(['resubmit', id]);
    assert.equal(again.code, 0, again.stderr);
    const copy = again.stdout.trim();
    assert.equal(sb.job(copy).phase, 'PENDING');
    checkAndLoseJobDir(sb, copy);
    // Destruction of a job that never ran: ARCHIVED, nothing to remove, no error.
    const doomed = submitOk(sb, ['shortlived']);
    const due = Date.parse(sb.job(doomed).destruction);
    while (Date.now() <= due) await new Promise((r) => setTimeout(r, 50));
    const tick = sb.run(['tick']);
    assert.equal(tick.code, 0, tick.stderr);
    assert.equal(sb.job(doomed).phase, 'ARCHIVED');
    // delete of one that never ran: gone, exit 0.
    const del = sb.run(['delete', copy]);
    assert.equal(del.code, 0, del.stderr);
    assert.equal(sb.run(['show', copy]).code, 3);
    assert.equal(existsSync(sb.recordDir(copy)), false);

    // Run it: now the directory is there, 0700, with its logs (0600) and results.
    assert.equal(sb.run(['run', id]).code, 0);
    assert.equal(sb.run(['wait', id, '--timeout', '60']).code, 0);
    assert.equal(sb.job(id).phase, 'COMPLETED');
    assert.equal(statSync(sb.jobDir(id)).mode & 0o777, 0o700);
    assert.equal(statSync(join(sb.jobDir(id), 'results')).mode & 0o777, 0o700);
    assert.equal(statSync(join(sb.jobDir(id), 'stdout.log')).mode & 0o777, 0o600);
    assert.equal(readFileSync(join(sb.jobDir(id), 'stdout.log'), 'utf8'), 'out\n');
    assert.equal(sb.run(['logs', id, '--stderr']).stdout, 'err\n');
    assert.deepEqual(sb.job(id).results.map((r: any) => r.id), ['r.txt']);
  } finally {
    sb.cleanup();
  }
});

test('over HTTP, a job gets its directory at creation; one that never started and lost it serves an empty stdout, stderr and result list, and is deleted', T, async () => {
  const sb = new Sandbox(YAML);
  const sp = await ServeProcess.start(sb);
  try {
    const jobUrl = await createJob(sp, 'hello');
    const id = jobIdOf(jobUrl);
    checkAndLoseJobDir(sb, id);
    const doc = await request(jobUrl);
    assert.equal(doc.status, 200);
    assertValidUws(sb, await doc.text(), 'the job document of a job without a directory');
    for (const stream of ['stdout', 'stderr']) {
      const r = await request(`${jobUrl}/${stream}`);
      assert.equal(r.status, 200, stream);
      assert.equal(r.headers.get('content-length'), '0', stream);
      assert.equal(await r.text(), '', stream);
    }
    const results = await request(`${jobUrl}/results`);
    assert.equal(results.status, 200);
    const xml = await results.text();
    assertValidUws(sb, xml, 'the results of a job without a directory');
    assert.doesNotMatch(xml, /<uws:result /);
    const gone = await request(jobUrl, { method: 'DELETE' });
    assert.equal(gone.status, 303);
    assert.equal((await request(jobUrl)).status, 404);
    assert.equal(existsSync(sb.recordDir(id)), false);
  } finally {
    await sp.stop();
    sb.cleanup();
  }
});
