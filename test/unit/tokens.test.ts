// serve/tokens.ts verify(): Bearer and Basic against a real token file in a temporary HOME,
// and a revocation seen by the very next call (the file is re-read when it changed).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createToken, revokeToken, verify } from '../../src/serve/tokens.js';

const basic = (user: string, pass: string): string => `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;

test('verify: Bearer and Basic NAME:TOKEN give the caller; anything else gives null', () => {
  const home = join(mkdtempSync(join(tmpdir(), 'uwsrun-tokens-')), 'home');
  try {
    const alice = createToken(home, 'alice', false).token;
    const ops = createToken(home, 'ops', true).token;
    assert.deepEqual(verify(home, `Bearer ${alice}`), { name: 'alice', admin: false });
    assert.deepEqual(verify(home, `bearer ${ops}`), { name: 'ops', admin: true }, 'the scheme is case-insensitive');
    assert.deepEqual(verify(home, basic('alice', alice)), { name: 'alice', admin: false });
    assert.equal(verify(home, basic('ops', alice)), null, 'Basic: the user must be the token\'s NAME');
    assert.equal(verify(home, basic('alice', '')), null);
    assert.equal(verify(home, undefined), null);
    assert.equal(verify(home, ''), null);
    assert.equal(verify(home, 'Bearer'), null);
    assert.equal(verify(home, `Bearer ${alice}x`), null);
    assert.equal(verify(home, `Bearer ${alice.slice(0, -1)}`), null);
    assert.equal(verify(home, `Token ${alice}`), null);
    assert.equal(verify(home, 'Basic !!!'), null);
    assert.equal(verify(home, `Basic ${Buffer.from(alice).toString('base64')}`), null, 'Basic without a colon');
  } finally {
    rmSync(join(home, '..'), { recursive: true, force: true });
  }
});

test('verify: a revoked token fails at the next call, a new one works at once', () => {
  const home = join(mkdtempSync(join(tmpdir(), 'uwsrun-tokens-')), 'home');
  try {
    const alice = createToken(home, 'alice', false).token;
    assert.ok(verify(home, `Bearer ${alice}`));
    revokeToken(home, 'alice');
    assert.equal(verify(home, `Bearer ${alice}`), null);
    const again = createToken(home, 'alice', true).token;
    assert.equal(verify(home, `Bearer ${alice}`), null, 'the old token stays dead');
    assert.deepEqual(verify(home, `Bearer ${again}`), { name: 'alice', admin: true });
  } finally {
    rmSync(join(home, '..'), { recursive: true, force: true });
  }
});

test('verify: a HOME without a token file authenticates nobody', () => {
  const home = mkdtempSync(join(tmpdir(), 'uwsrun-tokens-'));
  try {
    assert.equal(verify(home, 'Bearer abc'), null);
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
});
