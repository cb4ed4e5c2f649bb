// A real `uwsrun serve` for black-box tests: started from bin/uwsrun in a Sandbox's HOME on
// a free port (--listen 127.0.0.1:0), its address read from the `listening on` line on
// stderr, its access log collected, and stopped with SIGTERM (SIGKILL if it hangs).

import { spawn, type ChildProcess } from 'node:child_process';
import { request } from 'node:http';
import { BIN, type Sandbox, waitFor } from './helpers.js';

export interface Server {
  child: ChildProcess;
  /** http://127.0.0.1:PORT */
  url: string;
  port: number;
  stderr: () => string;
  /** The exit code once it exited, else undefined. */
  exited: () => { code: number | null; signal: NodeJS.Signals | null } | undefined;
  stop: () => Promise<void>;
}

export async function startServer(sb: Sandbox, args: string[] = ['--no-auth'], env: NodeJS.ProcessEnv = {}): Promise<Server> {
  const child = spawn(BIN, ['serve', '--listen', '127.0.0.1:0', ...args], { env: { ...sb.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (d: string) => (stderr += d));
  child.on('exit', (code, signal) => (exit = { code, signal }));
  const url = await waitFor('the server to listen', () => {
    if (exit) throw new Error(`uwsrun serve exited ${exit.code ?? exit.signal}: ${stderr}`);
    return /listening on (http:\/\/[^\s]+)/.exec(stderr)?.[1];
  }, 30_000);
  const stop = async (): Promise<void> => {
    if (exit) return;
    child.kill('SIGTERM');
    try {
      await waitFor('the server to exit', () => exit, 10_000);
    } catch {
      child.kill('SIGKILL');
      await waitFor('the server to die', () => exit, 10_000);
    }
  };
  return { child, url, port: Number(new URL(url).port), stderr: () => stderr, exited: () => exit, stop };
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
