// Black-box tests of `uwsrun token` (SPEC §12): a token is printed once, only its hash is
// kept (mode 0600), names are checked, a duplicate is exit 2 and an unknown name on revoke
// exit 3, and a refused command changes nothing on disk.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Sandbox } from '../helpers.js';
import { homeSnapshot } from '../home-snapshot.js';

const tokensFile = (sb: Sandbox): string => join(sb.home, 'tokens.json');

test('token create prints a 256-bit token once and keeps only its hash, mode 0600', () => {
  const sb = new Sandbox();
  try {
    const r = sb.run(['token', 'create', 'alice']);
    assert.equal(r.code, 0, r.stderr);
    const token = r.stdout.trim();
    assert.match(token, /^[A-Za-z0-9_-]{43}$/, '32 bytes, base64url');
    assert.match(r.stderr, /shown only this once/);
    const text = readFileSync(tokensFile(sb), 'utf8');
    assert.ok(!text.includes(token), 'the token itself is not stored');
    assert.equal(statSync(tokensFile(sb)).mode & 0o777, 0o600);
    const other = sb.ok(['token', 'create', 'bob', '--admin']);
    assert.notEqual(other, token, 'every token is new');
    assert.deepEqual(sb.json(['token', 'list']).map((t: any) => [t.name, t.admin]), [['alice', false], ['bob', true]]);
    assert.ok(sb.json(['token', 'list']).every((t: any) => /Z$/.test(t.created) && !('sha256' in t)), 'list shows no hashes');
    const table = sb.ok(['token', 'list']);
    assert.match(table, /^NAME +ADMIN +CREATED/);
    assert.match(table, /\nalice +no /);
    assert.match(table, /\nbob +yes /);
    const json = JSON.parse(sb.ok(['token', 'create', 'carol', '--json']));
    assert.equal(json.name, 'carol');
    assert.match(json.token, /^[A-Za-z0-9_-]{43}$/);
  } finally {
    sb.cleanup();
  }
});

test('token revoke removes the token; an unknown name is exit 3', () => {
  const sb = new Sandbox();
  try {
    sb.ok(['token', 'create', 'alice']);
    sb.ok(['token', 'create', 'bob']);
    const before = homeSnapshot(sb);
    const r = sb.run(['token', 'revoke', 'nobody']);
    assert.equal(r.code, 3);
    assert.equal(r.stderr, 'uwsrun: no such token: nobody\n');
    assert.deepEqual(homeSnapshot(sb), before, 'nothing changed');
    assert.equal(sb.run(['token', 'revoke', 'alice']).code, 0);
    assert.deepEqual(sb.json(['token', 'list']).map((t: any) => t.name), ['bob']);
    assert.equal(sb.run(['token', 'revoke', 'alice']).code, 3, 'revoked once');
  } finally {
    sb.cleanup();
  }
});

test('token: bad names, a duplicate name and misused options are exit 2 and change nothing', () => {
  const sb = new Sandbox();
  try {
    sb.ok(['token', 'create', 'alice']);
    const before = homeSnapshot(sb);
    const cases: [string[], RegExp][] = [
      [['token', 'create', 'alice'], /token named alice exists already/],
      [['token', 'create', 'a:b'], /bad token name "a:b"/],
      [['token', 'create', ''], /bad token name ""/],
      [['token', 'create', '-x'], /unknown option '-x'/],
      [['token', 'create', 'x'.repeat(65)], /bad token name/],
      [['token', 'create', 'sp ace'], /bad token name "sp ace"/],
      [['token', 'create'], /token create needs a NAME/],
      [['token', 'revoke'], /token revoke needs a NAME/],
      [['token', 'list', 'alice'], /token list takes no name/],
      [['token', 'list', '--admin'], /does not take --admin/],
      [['token', 'frob'], /unknown action "frob"/],
      [['token', 'list', '--xml'], /does not take --xml/],
    ];
    for (const [args, message] of cases) {
      const r = sb.run(args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message, args.join(' '));
      assert.equal(r.stderr.trim().split('\n').length, 1, `one line: ${r.stderr}`);
      assert.equal(r.stdout, '');
    }
    assert.deepEqual(homeSnapshot(sb), before, 'nothing changed');
  } finally {
    sb.cleanup();
  }
});

test('token revoke and list on a HOME that does not exist create nothing', () => {
  const sb = new Sandbox();
  try {
    assert.equal(sb.run(['token', 'revoke', 'alice']).code, 3);
    assert.equal(sb.ok(['token', 'list']), '');
    assert.deepEqual(sb.json(['token', 'list']), []);
    assert.ok(!existsSync(sb.home));
  } finally {
    sb.cleanup();
  }
});

test('a damaged token file is exit 5, named', () => {
  const sb = new Sandbox();
  try {
    sb.ok(['token', 'create', 'alice']);
    writeFileSync(tokensFile(sb), '{"tokens": [');
    const r = sb.run(['token', 'list']);
    assert.equal(r.code, 5);
    assert.match(r.stderr, /token file .*tokens\.json is damaged/);
    assert.equal(sb.run(['token', 'create', 'bob']).code, 5, 'no write over a damaged file');
  } finally {
    sb.cleanup();
  }
});

