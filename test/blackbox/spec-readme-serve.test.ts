// The README's "Serving UWS over HTTP" examples, run as written (SPEC §12 as a new user
// meets it): the curl block and the pyvo snippet are read out of README.md itself, so the
// documentation cannot drift from the server. Only what a reader substitutes is replaced:
// the address (a free port instead of 8080), the token, and ID (the job the block creates).
// uwsrun is put on PATH as the README assumes (bin/ of this checkout).

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ROOT, Sandbox } from '../helpers.js';
import { ServeProcess, assertValidUws } from '../serve-helpers.js';

const README = readFileSync(join(ROOT, 'README.md'), 'utf8');

/** The first fenced block of `lang` in the README section that starts with `heading`. */
function block(heading: string, lang: string): string {
  const section = README.slice(README.indexOf(`\n${heading}\n`));
  assert.ok(section.length < README.length, `README has a section ${heading}`);
  const m = new RegExp('```' + lang + '\\n([\\s\\S]*?)\\n```').exec(section);
  assert.ok(m, `README's ${heading} has a ${lang} block`);
  return m[1]!;
}

const PATH = `${join(ROOT, 'bin')}:${process.env.PATH}`;

describe('README: Serving UWS over HTTP, as written', () => {
  let sb: Sandbox;
  let sp: ServeProcess;
  before(async () => {
    sb = new Sandbox();
    sp = await ServeProcess.start(sb, []);
  });
  after(async () => {
    await sp?.stop();
    sb?.cleanup();
  });

  test('the curl block: token, definitions, creation (303), WAIT, phase, results, stdout, list, abort, delete', () => {
    const lines = block('### With curl', 'sh').split('\n');
    // Its own user: the block before it made alice's token, and a NAME has one token only.
    const user = /^T=\$\(uwsrun token create (\S+)\)/.exec(lines[0]!)?.[1];
    assert.ok(user && user !== 'alice', lines[0]);
    assert.match(lines[1]!, /^B=http:\/\/127\.0\.0\.1:8080$/);
    const env = { ...sb.env, PATH };
    const sh = (script: string) => spawnSync('bash', ['-c', script], { env, encoding: 'utf8', timeout: 90_000 });
    // The serve block before it, run first: alice's token exists when the curl block starts.
    assert.equal(sb.run(['token', 'create', 'alice']).code, 0);
    const token = sh(lines[0]!.replace(/^T=\$\((.*?)\).*$/, '$1'));
    assert.equal(token.status, 0, token.stderr);
    const T = token.stdout.trim();
    const prelude = `T='${T}'\nB=${sp.base}\n`;
    const outs: string[] = [];
    let id = '';
    for (const line of lines.slice(2)) {
      const r = sh(prelude + line.replace(/\/ID\b/g, `/${id}`));
      assert.equal(r.status, 0, `${line}: curl exited ${r.status}: ${r.stderr}`);
      outs.push(r.stdout);
      if (!id) {
        const created = /^Location: \S+\/hello\/([A-Za-z0-9_-]+)\r?$/m.exec(r.stdout);
        if (created) id = created[1]!;
      }
    }
    const [defs, create, wait, waitPhase, phase, results, stdout, list, abort, del] = outs as [string, ...string[]];
    assert.deepEqual(JSON.parse(defs).services.map((s: { name: string }) => s.name), ['hello', 'reduce', 'wrap']);
    assert.match(create!, /^HTTP\/1\.1 303 See Other\r?$/m);
    assert.ok(id, `the creation line gave a Location: ${create}`);
    assertValidUws(sb, wait!, 'WAIT=30');
    assert.match(wait!, new RegExp(`<uws:ownerId>${user}</uws:ownerId>`));
    assert.match(wait!, /<uws:parameter id="name">Ada<\/uws:parameter>/);
    assertValidUws(sb, waitPhase!, 'WAIT=-1&PHASE=EXECUTING');
    // The job ran (PHASE=RUN): by the time WAIT has answered twice it is EXECUTING or done.
    assert.match(phase!, /^(EXECUTING|COMPLETED)\n?$/);
    assertValidUws(sb, results!, 'results');
    assert.match(stdout!, /^(Hello, Ada!\n)?$/);
    assertValidUws(sb, list!, 'filtered list');
    // Aborting a job is 303 while it runs and 403 once it is final (this one is quick).
    assert.match(abort!, /^HTTP\/1\.1 (303 See Other|403 Forbidden)\r?$/m);
    assert.match(del!, new RegExp(`^HTTP/1\\.1 303 See Other\\r?\\n[\\s\\S]*^Location: ${sp.base.replace(/[.]/g, '\\.')}/hello\\r?$`, 'm'));
    assert.equal(sb.run(['show', id]).code, 3, 'the job is deleted');
  });

  test('the pyvo snippet prints "COMPLETED alice" and "Hello, Ada!" and deletes its job', () => {
    const code = block('### With pyvo', 'python');
    assert.match(code, /BASE, NAME, TOKEN = 'http:\/\/127\.0\.0\.1:8080', 'alice', '\.\.\.'/);
    const created = sb.run(['token', 'create', 'pyvouser']);
    assert.equal(created.code, 0, created.stderr);
    const script = code.replace("'http://127.0.0.1:8080', 'alice', '...'", `'${sp.base}', 'pyvouser', '${created.stdout.trim()}'`);
    const r = spawnSync('/usr/bin/python3', ['-c', script], { encoding: 'utf8', timeout: 120_000, env: { ...process.env, PYTHONWARNINGS: 'ignore' } });
    assert.equal(r.status, 0, `python3: ${r.stderr}`);
    const lines = r.stdout.split('\n');
    assert.equal(lines[0], 'COMPLETED pyvouser');
    assert.equal(lines[1], 'Hello, Ada!');
    const left = sb.json<{ ownerId: string }[]>(['list']).filter((j) => j.ownerId === 'pyvouser');
    assert.equal(left.length, 0, 'job.delete() removed it');
  });
});
