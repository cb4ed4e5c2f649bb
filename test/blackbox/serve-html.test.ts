// The HTML pages of `uwsrun serve` in a real browser (SPEC §12): Debian's chromium, headless,
// loads the index, a job list and a job page from a real server and dumps the DOM it built;
// the DOM shows the definitions with their parameters, the jobs with ids and phases, and a
// job's parameters and result links. A value with markup in it stays text. A client that
// does not ask for HTML (curl, pyvo) still gets the XML; the browser's credentials in the
// URL (http://NAME:TOKEN@host/) work through Basic.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { Sandbox, submitJob, waitFor } from '../helpers.js';
import { http, startServer } from '../serve-process.js';

const YAML = `
defaults:
  destruction: 0
jobs:
  report:
    description: writes a report
    command: [sh, -c, 'echo "night {night}" > "$UWS_RESULTS_DIR/report.txt"; echo done']
    parameters:
      night: { type: string, required: true, description: the night to reduce }
      sigma: { type: float, default: 2.5 }
`;

const T = { timeout: 180_000 };

const haveChromium = spawnSync('sh', ['-c', 'command -v chromium']).status === 0;

/** The DOM chromium builds from `url` (headless, its own profile in the sandbox). */
function dumpDom(sb: Sandbox, url: string): string {
  const r = spawnSync('chromium', ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', `--user-data-dir=${join(sb.dir, 'chromium')}`, '--dump-dom', url], {
    encoding: 'utf8', timeout: 90_000, env: { ...process.env, HOME: sb.dir },
  });
  assert.equal(r.status, 0, `chromium: ${r.stderr.slice(-500)}`);
  return r.stdout;
}

test('chromium shows the index with parameters, the job list with ids and phases, and a job page with parameters and result links', { ...T, skip: !haveChromium && 'no chromium' }, async () => {
  const sb = new Sandbox(YAML);
  const server = await startServer(sb);
  try {
    const done = submitJob(sb, ['report', '-p', 'night=<b>2026-11-30</b>', '--run']);
    await waitFor('the job to complete', () => sb.job(done).phase === 'COMPLETED', 60_000);
    const pending = submitJob(sb, ['report', '-p', 'night=2026-12-01']);

    const index = dumpDom(sb, `${server.url}/`);
    assert.match(index, /<a href="[^"]*\/report">report<\/a>/, 'the definition, linked');
    assert.match(index, /writes a report/);
    assert.match(index, /<code>night<\/code>/);
    assert.match(index, /the night to reduce/);
    assert.match(index, /<code>sigma<\/code><\/td><td>float<\/td><td>no<\/td><td>2\.5<\/td>/);

    const list = dumpDom(sb, `${server.url}/report`);
    for (const [id, phase] of [[done, 'COMPLETED'], [pending, 'PENDING']]) {
      assert.match(list, new RegExp(`<a href="${server.url}/report/${id}">${id}</a>`), `job ${id} linked`);
      assert.match(list, new RegExp(`${id}</a></td><td><span class="phase ${phase}">${phase}</span>`), `job ${id} is ${phase}`);
    }

    const page = dumpDom(sb, `${server.url}/report/${done}`);
    assert.match(page, /class="phase COMPLETED">COMPLETED</);
    assert.match(page, /<code>night<\/code><\/td><td>&lt;b&gt;2026-11-30&lt;\/b&gt;<\/td>/, 'the parameter, its markup shown as text');
    assert.doesNotMatch(page, /<b>2026-11-30<\/b>/, 'no markup from a value');
    assert.match(page, new RegExp(`<a href="${server.url}/report/${done}/results/report.txt">report.txt</a>`), 'a result link');
    assert.match(page, new RegExp(`href="${server.url}/report/${done}/stdout"`), 'a link to stdout');
    assert.match(page, new RegExp(`href="${server.url}/report/${done}/stderr"`), 'a link to stderr');
    // The links lead somewhere: the result's bytes and the XML.
    assert.equal((await http(`${server.url}/report/${done}/results/report.txt`)).body, 'night <b>2026-11-30</b>\n');
    const xml = await http(`${server.url}/report/${done}`);
    assert.match(String(xml.headers['content-type']), /^text\/xml/, 'no Accept: the XML');
    const curlLike = await http(`${server.url}/report/${done}`, { headers: { accept: '*/*' } });
    assert.match(curlLike.body, /^<\?xml/);
    const browser = await http(`${server.url}/report/${done}`, { headers: { accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8' } });
    assert.match(String(browser.headers['content-type']), /^text\/html/);
  } finally {
    await server.stop();
    sb.cleanup();
  }
});

test('chromium with NAME:TOKEN in the URL sees its own jobs over Basic', { ...T, skip: !haveChromium && 'no chromium' }, async () => {
  const sb = new Sandbox(YAML);
  const token = sb.ok(['token', 'create', 'alice']);
  const server = await startServer(sb, []);
  try {
    const f = new URLSearchParams({ night: 'n1' }).toString();
    const r = await http(`${server.url}/report`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Bearer ${token}` }, body: f });
    assert.equal(r.status, 303);
    const id = String(r.headers.location).split('/').pop()!;
    const other = submitJob(sb, ['report', '-p', 'night=n2']);
    const withCreds = server.url.replace('http://', `http://alice:${token}@`);
    const list = dumpDom(sb, `${withCreds}/report`);
    assert.match(list, new RegExp(`>${id}</a>`), 'alice sees her job');
    assert.ok(!list.includes(other), 'not the CLI job of the OS user');
  } finally {
    await server.stop();
    sb.cleanup();
  }
});
