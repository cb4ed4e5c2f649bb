// API tokens of `uwsrun serve` (SPEC §12), kept in HOME/tokens.json (mode 0600):
//   { "version": 1, "tokens": [ { "name", "admin", "created", "sha256" } ] }
// Only a hash of each token is stored. A token is 32 random bytes (256 bits, base64url), so
// an unsalted SHA-256 is enough: salts and slow key derivation protect guessable passwords,
// and nobody can guess or enumerate 2^256 values, with or without the hash. A fast hash also
// keeps checking a request cheap (one SHA-256, no KDF on every request).
//
// Writers (token create/revoke) run under HOME/tokens.lock, a lock of its own: token changes
// never wait for a long drain holding the state lock, and the server never takes a lock to
// read. They replace the file through durable.ts (temp file, fsync, rename), so a reader
// sees the old list or the new one. The server keeps the parsed list and stats the file at
// every request; a different inode, size or mtime (every rename gives a new inode) makes it
// read the file again, so a revocation counts from the next request on, for one stat(2).
//
// verify() compares the presented token's hash with every stored hash by
// crypto.timingSafeEqual, without stopping at a match: how long it takes does not tell which
// token, or whether any, matched.

import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { EXIT, UserError, storeError, usageError } from '../errors.js';
import { readOwnFile, writeError, writeFileDurable } from '../store/durable.js';
import { HomeLayout } from '../store/home.js';
import { withLock } from '../store/lock.js';
import type { Caller } from './caller.js';

export interface TokenInfo {
  name: string;
  admin: boolean;
  /** ISO 8601 UTC with Z. */
  created: string;
}

interface StoredToken extends TokenInfo {
  /** hex SHA-256 of the token text. */
  sha256: string;
}

interface TokenFile {
  version: 1;
  tokens: StoredToken[];
}

/**
 * A token NAME: 1 to 64 of letters, digits and `. _ @ -`, starting with a letter or digit.
 * It becomes the ownerId of the jobs the token creates, and the user of HTTP Basic, whose
 * user:password form is why ':' (and anything a shell or URL would have to quote) is out.
 */
export const TOKEN_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/;

export const tokensFile = (home: string): string => join(home, 'tokens.json');
const tokensLock = (home: string): string => join(home, 'tokens.lock');

const sha256 = (text: string): Buffer => createHash('sha256').update(text, 'utf8').digest();

export function checkTokenName(name: string): void {
  if (!TOKEN_NAME_RE.test(name)) {
    throw usageError(`bad token name ${JSON.stringify(name)}: 1 to 64 letters, digits, '.', '_', '@' or '-', starting with a letter or digit`);
  }
}

function parseTokenFile(text: string, file: string): TokenFile {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    throw storeError(`token file ${file} is damaged (not JSON); remove it and create the tokens again`);
  }
  const tokens = (data as TokenFile | null)?.tokens;
  const valid = Array.isArray(tokens) && tokens.every((t) => t && typeof t.name === 'string' && typeof t.admin === 'boolean'
    && typeof t.created === 'string' && typeof t.sha256 === 'string' && /^[0-9a-f]{64}$/.test(t.sha256));
  if (!valid) throw storeError(`token file ${file} is damaged (not a list of tokens); remove it and create the tokens again`);
  return { version: 1, tokens };
}

/** The stored tokens; none when the file does not exist. */
function readTokenFile(home: string): TokenFile {
  const file = tokensFile(home);
  let text: string;
  try {
    text = readOwnFile(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { version: 1, tokens: [] };
    throw storeError(`cannot read token file ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  return parseTokenFile(text, file);
}

/** Runs `change` on the token list under the tokens lock and writes the list it returns. */
function changeTokens<T>(home: string, change: (file: TokenFile) => T): T {
  const layout = new HomeLayout(home);
  layout.ensure();
  return withLock(tokensLock(home), () => {
    const file = readTokenFile(home);
    const result = change(file);
    try {
      writeFileDurable(tokensFile(home), `${JSON.stringify(file, null, 1)}\n`, 0o600);
    } catch (err) {
      throw writeError(err, home, 'the token file');
    }
    return result;
  });
}

const info = (t: StoredToken): TokenInfo => ({ name: t.name, admin: t.admin, created: t.created });

/** Makes a new token for NAME; returns its text (shown once: only its hash is kept). */
export function createToken(home: string, name: string, admin: boolean): { token: string; info: TokenInfo } {
  checkTokenName(name);
  return changeTokens(home, (file) => {
    if (file.tokens.some((t) => t.name === name)) {
      throw usageError(`a token named ${name} exists already; \`uwsrun token revoke ${name}\` first to replace it`);
    }
    const token = randomBytes(32).toString('base64url');
    const stored: StoredToken = { name, admin, created: new Date().toISOString(), sha256: sha256(token).toString('hex') };
    file.tokens.push(stored);
    return { token, info: info(stored) };
  });
}

/** Removes NAME's token (exit 3 when there is none); returns what it was. */
export function revokeToken(home: string, name: string): TokenInfo {
  const unknown = (): UserError => new UserError(`no such token: ${name}`, EXIT.noSuchJob);
  if (!new HomeLayout(home).exists()) throw unknown();
  return changeTokens(home, (file) => {
    const at = file.tokens.findIndex((t) => t.name === name);
    if (at < 0) throw unknown();
    const [gone] = file.tokens.splice(at, 1);
    return info(gone!);
  });
}

export function listTokens(home: string): TokenInfo[] {
  return readTokenFile(home).tokens.map(info);
}

// ---- verification, for the server ----

interface Loaded {
  /** ino/size/mtime of the file read, or 'none' when it did not exist. */
  key: string;
  tokens: { name: string; admin: boolean; hash: Buffer }[];
}

const loaded = new Map<string, Loaded>();

function fileKeyOf(file: string): string {
  try {
    const st = statSync(file, { bigint: true });
    return `${st.ino}/${st.size}/${st.mtimeNs}/${st.ctimeNs}`;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'none';
    throw err;
  }
}

/** The tokens as they are on disk now: re-read only when the file changed since last time. */
function currentTokens(home: string): Loaded['tokens'] {
  const key = fileKeyOf(tokensFile(home));
  const have = loaded.get(home);
  if (have && have.key === key) return have.tokens;
  const tokens = key === 'none' ? [] : readTokenFile(home).tokens.map((t) => ({ name: t.name, admin: t.admin, hash: Buffer.from(t.sha256, 'hex') }));
  loaded.set(home, { key, tokens });
  return tokens;
}

/** What an Authorization header presents: a token, and for Basic the user name given. */
function presented(header: string): { token: string; user?: string } | null {
  const bearer = /^Bearer +([A-Za-z0-9._~+/=-]+) *$/i.exec(header);
  if (bearer) return { token: bearer[1]! };
  const basic = /^Basic +([A-Za-z0-9+/=]+) *$/i.exec(header);
  if (!basic) return null;
  const text = Buffer.from(basic[1]!, 'base64').toString('utf8');
  const colon = text.indexOf(':');
  if (colon < 0) return null;
  return { user: text.slice(0, colon), token: text.slice(colon + 1) };
}

/**
 * The caller an Authorization header authenticates, or null (no header, a malformed one, an
 * unknown or revoked token, a Basic user that is not the token's NAME). Throws a UserError
 * (exit 5) when the token file cannot be read.
 */
export function verify(home: string, authorization: string | undefined): Caller | null {
  if (!authorization) return null;
  const cred = presented(authorization);
  if (!cred || !cred.token) return null;
  const hash = sha256(cred.token);
  let found: Caller | null = null;
  for (const t of currentTokens(home)) {
    if (timingSafeEqual(t.hash, hash) && !found) found = { name: t.name, admin: t.admin };
  }
  if (found && cred.user !== undefined && cred.user !== found.name) return null;
  return found;
}
