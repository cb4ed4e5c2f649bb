// SPEC §12 and §9 at the start of `uwsrun serve`, as a new user meets them: every refusal
// is exit 2 with one line naming the culprit and writes nothing (not even the HOME), also
// when the address cannot be bound (a port another server holds, an address that is not
// this machine's) and when the definitions file is missing (whose hint must not send the
// user to a -f that serve does not take).

import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { Sandbox } from '../helpers.js';
import { ServeProcess, request } from '../serve-helpers.js';

const T = { timeout: 120_000 };

/** Exit 2, a single line on stderr, nothing on stdout, and no HOME left behind. */
function refusedCleanly(sb: Sandbox, args: string[], message: RegExp, env: NodeJS.ProcessEnv = {}): string {
  const r = sb.run(['serve', ...args], env);
  assert.equal(r.code, 2, `serve ${args.join(' ')}: exit ${r.code}: ${r.stderr}`);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, message);
  assert.equal(r.stderr.trim().split('\n').length, 1, `one line: ${r.stderr}`);
  assert.doesNotMatch(r.stderr, /internal error|\n\s+at /);
  assert.equal(existsSync(sb.home), false, `serve ${args.join(' ')} created the HOME`);
  return r.stderr;
}

test('a port another server holds is exit 2 naming the address, and creates no HOME', T, async () => {
  const holder = new Sandbox();
  const sb = new Sandbox();
  const sp = await ServeProcess.start(holder);
  try {
    const hostPort = sp.base.replace('http://', '');
    refusedCleanly(sb, ['--listen', hostPort, '--no-auth'], new RegExp(`--listen ${hostPort.replace(/\./g, '\\.')}: cannot listen there: the address is already in use`));
    // The server that holds the port is not disturbed.
    assert.equal((await request(sp.url('/'))).status, 200);
  } finally {
    await sp.stop();
    holder.cleanup();
    sb.cleanup();
  }
});

test('an address that is not this machine\'s, or an unknown host name, is exit 2 and creates no HOME', T, () => {
  const sb = new Sandbox();
  try {
    // 192.0.2.0/24 is TEST-NET-1: never an address of this machine.
    refusedCleanly(sb, ['--listen', '192.0.2.1:0'], /--listen 192\.0\.2\.1:0: cannot listen there: the address is not one of this machine's/);
    refusedCleanly(sb, ['--listen', 'no-such-host.invalid:0'], /--listen no-such-host\.invalid:0: cannot listen there: (no such host|the host name cannot be resolved now)/);
  } finally {
    sb.cleanup();
  }
});

test('a missing definitions file is exit 2 naming it and UWSRUN_JOBS (serve takes no -f), and creates no HOME', T, () => {
  const sb = new Sandbox();
  try {
    const env = { UWSRUN_JOBS: undefined };
    const err = refusedCleanly(sb, ['--listen', '127.0.0.1:0', '--no-auth'], new RegExp(`cannot read definitions file ${join(sb.home, 'jobs.yaml')}: no such file; set UWSRUN_JOBS`), env);
    assert.doesNotMatch(err, /-f FILE/);
    refusedCleanly(sb, ['--listen', '127.0.0.1:0', '--no-auth'], /cannot read definitions file \/nonexistent\/jobs\.yaml: no such file/, { UWSRUN_JOBS: '/nonexistent/jobs.yaml' });
    // serve really takes no -f: the option is refused as any unknown one.
    refusedCleanly(sb, ['-f', sb.jobsFile, '--listen', '127.0.0.1:0', '--no-auth'], /unknown option '-f'/);
  } finally {
    sb.cleanup();
  }
});

test('the other refusals (--no-auth off loopback, a bad --listen, --base-url or --max-wait) create no HOME either', T, () => {
  const sb = new Sandbox();
  try {
    refusedCleanly(sb, ['--listen', '0.0.0.0:0', '--no-auth'], /--no-auth is allowed only on a loopback address/);
    refusedCleanly(sb, ['--listen', '127.0.0.1:65536'], /--listen: "127\.0\.0\.1:65536" is not HOST:PORT/);
    refusedCleanly(sb, ['--listen', '127.0.0.1:0', '--base-url', 'ftp://x/uws'], /--base-url: "ftp:\/\/x\/uws" is not an http:\/\/ or https:\/\/ URL/);
    refusedCleanly(sb, ['--listen', '127.0.0.1:0', '--max-wait', '-1'], /--max-wait: "-1" is not a duration/);
  } finally {
    sb.cleanup();
  }
});

test('a good start creates the HOME and serves it: the first request finds it in place', T, async () => {
  const sb = new Sandbox();
  assert.equal(existsSync(sb.home), false);
  const sp = await ServeProcess.start(sb);
  try {
    assert.equal(existsSync(join(sb.home, 'jobs')), true);
    const r = await request(sp.url('/hello'));
    assert.equal(r.status, 200);
    assert.match(await r.text(), /<uws:jobs version="1\.1"/);
  } finally {
    await sp.stop();
    sb.cleanup();
  }
});
