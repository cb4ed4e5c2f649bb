// Helpers for the black-box tests of `uwsrun serve`: the server runs as a real process
// (bin/uwsrun serve) in a Sandbox HOME; its address is read from the line it prints on
// stderr, its access log counted from the same stream. XML answers are validated with
// xmllint against the UWS 1.1 schema.

import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { BIN, ROOT, Sandbox, waitFor } from './helpers.js';

export const SCHEMA = join(ROOT, 'test', 'fixtures', 'uws', 'UWS-v1.1.xsd');

export class ServeProcess {
  stderr = '';
  exitCode: number | null | undefined;
  private exited: Promise<number | null>;

  private constructor(readonly child: ChildProcess, readonly base: string) {
    this.exited = new Promise((resolve) => child.on('exit', (code) => {
      this.exitCode = code;
      resolve(code);
    }));
  }

  /** Starts `uwsrun serve ARGS` (default --listen 127.0.0.1:0 --no-auth) and waits for its address. */
  static async start(sb: Sandbox, args: string[] = ['--no-auth'], env: NodeJS.ProcessEnv = {}): Promise<ServeProcess> {
    const listen = args.includes('--listen') ? [] : ['--listen', '127.0.0.1:0'];
    const child = spawn(BIN, ['serve', ...listen, ...args], { env: { ...sb.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr!.on('data', (d) => (err += d));
    const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
    let gone = false;
    void exited.then(() => (gone = true));
    const base = await waitFor('the server to say where it listens', () => {
      if (gone) throw new Error(`serve exited before listening: ${err}`);
      return /listening on (http:\/\/\S+)\n/.exec(err)?.[1];
    }, 30_000);
    const sp = new ServeProcess(child, base);
    sp.stderr = err;
    child.stderr!.on('data', (d) => (sp.stderr += d));
    return sp;
  }

  /** Access-log lines so far (every line after the first). */
  get logLines(): string[] {
    return this.stderr.split('\n').filter((l) => /^\d{4}-\d\d-\d\dT\S+Z \S+ [A-Z]+ \S+ (\d{3}|-) [\d.]+ms/.test(l));
  }

  url(path: string): string {
    return `${this.base}${path}`;
  }

  /** Stops it with `signal`; resolves with its exit code and how long it took. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<{ code: number | null; ms: number }> {
    const t0 = Date.now();
    if (this.exitCode === undefined) this.child.kill(signal);
    const code = await this.exited;
    return { code, ms: Date.now() - t0 };
  }

  /** For after(): kills it if it still runs. */
  kill(): void {
    if (this.exitCode === undefined) this.child.kill('SIGKILL');
  }
}

/**
 * For a describe block's before(): a Sandbox with `jobs` and a server in it. The sandbox is
 * removed again when the server does not start.
 */
export async function startServed(jobs: string, args?: string[]): Promise<{ sb: Sandbox; sp: ServeProcess }> {
  const sb = new Sandbox(jobs);
  try {
    return { sb, sp: await ServeProcess.start(sb, args) };
  } catch (err) {
    sb.cleanup();
    throw err;
  }
}

/** For its after(): stops the server and removes the sandbox (either may be missing). */
export async function stopServed(sb: Sandbox | undefined, sp: ServeProcess | undefined): Promise<void> {
  await sp?.stop();
  sb?.cleanup();
}

/**
 * A request that does not follow redirects, each on a connection of its own. Not fetch's
 * pool: a test that runs bin/uwsrun synchronously for a few seconds (spawnSync) keeps the
 * pool from noticing that the server closed an idle kept-alive socket meanwhile, and its next
 * POST, written into that closed socket, fails with "fetch failed" (seen under load). The
 * request is still built by fetch's Request (form and multipart bodies, headers) and the
 * answer is a fetch Response.
 */
export async function request(url: string, init: RequestInit = {}): Promise<Response> {
  const req = new Request(url, init);
  const body = init.body === undefined || init.body === null ? undefined : Buffer.from(await req.arrayBuffer());
  const signal = init.signal ?? undefined;
  signal?.throwIfAborted();
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = Object.fromEntries(req.headers);
    if (body !== undefined) headers['content-length'] = String(body.length);
    const out = httpRequest(url, { method: req.method, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (d: Buffer) => chunks.push(d));
      res.on('error', reject);
      res.on('end', () => {
        const answer = new Headers();
        for (let i = 0; i < res.rawHeaders.length; i += 2) answer.append(res.rawHeaders[i]!, res.rawHeaders[i + 1]!);
        const status = res.statusCode!;
        const noBody = status === 204 || status === 205 || status === 304;
        resolve(new Response(noBody ? null : Buffer.concat(chunks), { status, statusText: res.statusMessage, headers: answer }));
      });
    });
    out.on('error', reject);
    signal?.addEventListener('abort', () => {
      out.destroy();
      reject(signal.reason);
    }, { once: true });
    out.end(body);
  });
}

/** POST of urlencoded fields. */
export const postForm = (url: string, fields: Record<string, string> | [string, string][], init: RequestInit = {}): Promise<Response> =>
  request(url, { method: 'POST', body: new URLSearchParams(fields), ...init });

/** Creates a job over HTTP: asserts the 303 and returns its URL (the Location). */
export async function createJob(sp: ServeProcess, definition: string, fields: Record<string, string> | [string, string][] = {}): Promise<string> {
  const r = await postForm(sp.url(`/${definition}`), fields);
  const body = await r.text();
  assert.equal(r.status, 303, `POST /${definition}: ${r.status} ${body}`);
  const location = r.headers.get('location');
  assert.ok(location?.startsWith(`${sp.base}/${definition}/`), `Location ${location}`);
  return location!;
}

export const jobIdOf = (jobUrl: string): string => jobUrl.split('/').at(-1)!;

let xmlCount = 0;

/** Asserts that `xml` validates against the UWS 1.1 schema (xmllint --nonet). */
export function assertValidUws(sb: Sandbox, xml: string, what: string): void {
  const file = join(sb.dir, `doc-${++xmlCount}.xml`);
  writeFileSync(file, xml);
  const r = spawnSync('/usr/bin/xmllint', ['--noout', '--nonet', '--schema', SCHEMA, file], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, `xmllint rejected ${what}:\n${r.stderr}\n${xml}`);
}

/** The text of the first <uws:NAME> element of a document. */
export const elementText = (xml: string, name: string): string | undefined => new RegExp(`<uws:${name}>([^<]*)</uws:${name}>`).exec(xml)?.[1];

/** GET {job} and its phase. */
export async function phaseOf(jobUrl: string): Promise<string> {
  const r = await request(`${jobUrl}/phase`);
  assert.equal(r.status, 200);
  return (await r.text()).trim();
}
