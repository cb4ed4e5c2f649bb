// The server and raw HTTP of the auth, HTML and fault tests of `uwsrun serve`: the server
// is serve-helpers.ts's ServeProcess (a real bin/uwsrun serve on a free port); requests go
// through node:http without an agent, so hundreds of parallel waiters each have a socket of
// their own and the tests see every status and header as sent.

import type { ChildProcess } from 'node:child_process';
import { request } from 'node:http';
import type { Sandbox } from './helpers.js';
import { ServeProcess } from './serve-helpers.js';

export interface Server {
  child: ChildProcess;
  /** http://127.0.0.1:PORT */
  url: string;
  port: number;
  stderr: () => string;
  /** The exit code once it exited, else undefined. */
  exited: () => { code: number | null } | undefined;
  /** SIGTERM, then SIGKILL if it has not exited after 10 s. */
  stop: () => Promise<void>;
}

/** serve-helpers.ts's ServeProcess, as these tests use it (default --no-auth, a free port). */
export async function startServer(sb: Sandbox, args: string[] = ['--no-auth'], env: NodeJS.ProcessEnv = {}): Promise<Server> {
  const sp = await ServeProcess.start(sb, args, env);
  const exited = () => (sp.exitCode === undefined ? undefined : { code: sp.exitCode });
  const stop = async (): Promise<void> => {
    if (exited()) return;
    const hung = setTimeout(() => sp.kill(), 10_000);
    await sp.stop();
    clearTimeout(hung);
  };
  return { child: sp.child, url: sp.base, port: Number(new URL(sp.base).port), stderr: () => sp.stderr, exited, stop };
}

export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/**
 * One HTTP request with node:http (no connection reuse: an agent of its own per call would
 * hide nothing, and `agent: false` keeps hundreds of parallel waiters on their own sockets).
 */
export function http(url: string, opts: { method?: string; headers?: Record<string, string>; body?: string | Buffer; timeoutMs?: number } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: opts.method ?? 'GET', headers: opts.headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    if (opts.timeoutMs) req.setTimeout(opts.timeoutMs, () => req.destroy(new Error(`no answer from ${url} in ${opts.timeoutMs} ms`)));
    if (opts.body !== undefined) req.end(opts.body);
    else req.end();
  });
}

export const form = (fields: Record<string, string>): { headers: Record<string, string>; body: string } => ({
  headers: { 'content-type': 'application/x-www-form-urlencoded' },
  body: new URLSearchParams(fields).toString(),
});

/** The phase in a uws:job document. */
export const phaseIn = (xml: string): string | undefined => /<uws:phase>([A-Z]+)<\/uws:phase>/.exec(xml)?.[1];
