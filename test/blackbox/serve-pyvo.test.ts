// A real UWS client drives `uwsrun serve`: Debian's pyvo (python3-pyvo, /usr/bin/python3),
// `pyvo.dal.tap.AsyncTAPJob(JOB_URL, session=requests.Session())` on jobs created by POST.
// pyvo 1.2.1 sends WAIT=-1 in a loop and busy-polls a server that answers at once, so the
// requests its wait() makes for a 3 s job are counted in the server's access log: only a
// handful when WAIT really blocks.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { Sandbox } from '../helpers.js';
import { ServeProcess, startServed, stopServed } from '../serve-helpers.js';

const JOBS = `
jobs:
  nap:
    description: Sleeps, then writes a result
    command: [sh, -c, 'sleep "$UWS_PARAM_SECONDS"; printf "42\\n" > "$UWS_RESULTS_DIR/answer.txt"; echo napped']
    parameters:
      seconds: { type: float, default: 0 }
  forever:
    command: [sleep, '300']
`;

/** Runs a Python script with Debian's pyvo; its last stdout line is JSON. */
function python(script: string, args: string[]): Promise<any> {
  return new Promise((resolve, reject) => {
    const child = spawn('/usr/bin/python3', ['-W', 'ignore', '-c', script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) reject(new Error(`python exited ${code}:\n${err}\n${out}`));
      else resolve(JSON.parse(out.trim().split('\n').at(-1)!));
    });
  });
}

const CREATE = `
import json, sys, time, requests, pyvo
session = requests.Session()
def create(service, **fields):
    r = session.post(sys.argv[1] + '/' + service, data=fields, allow_redirects=False)
    assert r.status_code == 303, (r.status_code, r.text)
    return pyvo.dal.tap.AsyncTAPJob(r.headers['Location'], session=session)
`;

describe('pyvo drives uwsrun serve', () => {
  let sb: Sandbox;
  let sp: ServeProcess;

  before(async () => ({ sb, sp } = await startServed(JOBS)));
  after(() => stopServed(sb, sp));

  test('phase, owner, quote, execution_duration, destruction (set and read back), run, wait, results fetched, delete', async () => {
    const out = await python(`${CREATE}
job = create('nap', seconds='0.2')
seen = {'created': job.phase, 'owner': job.owner, 'quote': job.quote, 'version': job.uws_version}
job.execution_duration = 600
seen['execution_duration'] = float(job.execution_duration.to_value('s'))
job.destruction = '2031-05-06T07:08:09.123456Z'
seen['destruction'] = job.destruction.isot
job.run()
job.wait()
seen['phase'] = job.phase
seen['result_uris'] = job.result_uris
seen['results'] = [session.get(u).text for u in job.result_uris]
seen['result_ids'] = [r.id_ for r in job.results]
url = job.url
job.delete()
seen['after_delete'] = session.get(url).status_code
print(json.dumps(seen))
`, [sp.base]);
    assert.equal(out.created, 'PENDING');
    assert.equal(out.owner, sb.env.USER);
    assert.equal(out.quote, null);
    assert.equal(out.version, '1.1');
    assert.equal(out.execution_duration, 600);
    assert.match(out.destruction, /^2031-05-06T07:08:09\.123/);
    assert.equal(out.phase, 'COMPLETED');
    assert.equal(out.result_uris.length, 1);
    assert.match(out.result_uris[0], new RegExp(`^${sp.base}/nap/[A-Za-z0-9]+/results/answer\\.txt$`));
    assert.deepEqual(out.results, ['42\n']);
    assert.deepEqual(out.result_ids, ['answer.txt']);
    assert.equal(out.after_delete, 404);
  });

  test('wait() of a job that takes 3 s costs only a handful of requests', async () => {
    const out = await python(`${CREATE}
job = create('nap', seconds='3', PHASE='RUN')
t0 = time.time()
job.wait()
print(json.dumps({'phase': job.phase, 'seconds': time.time() - t0, 'url': job.url}))
`, [sp.base]);
    assert.equal(out.phase, 'COMPLETED');
    assert.ok(out.seconds >= 2.5, `wait() returned after ${out.seconds} s`);
    const path = new URL(out.url).pathname;
    const waits = sp.logLines.filter((l) => l.includes(` GET ${path}?WAIT=-1 `));
    assert.ok(waits.length >= 1 && waits.length <= 6, `pyvo sent ${waits.length} WAIT requests:\n${waits.join('\n')}`);
  });

  test('abort() of a running job: it ends ABORTED', async () => {
    const out = await python(`${CREATE}
job = create('forever', PHASE='RUN')
# Blocking as pyvo's wait() does, with a read timeout of a minute as it passes (the default
# of _update, 10 s, is less than a start can take on a loaded machine: it timed out once at
# load 60 while the job was still QUEUED).
while job.phase != 'EXECUTING':
    job._update(wait_for_statechange=True, timeout=60)
job.abort()
# pyvo's wait() refuses to wait for ABORTED (not an "active" phase): block as it does.
deadline = time.time() + 60
while job.phase == 'EXECUTING' and time.time() < deadline:
    job._update(wait_for_statechange=True, timeout=60)
print(json.dumps({'phase': job.phase}))
`, [sp.base]);
    assert.equal(out.phase, 'ABORTED');
  });
});
