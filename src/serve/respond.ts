// Writing answers: each status, type and header the server sends goes through these few
// functions, so every text answer is one line and every 303 carries an absolute Location.

import type { ServerResponse } from 'node:http';

export const XML = 'text/xml';
export const TEXT = 'text/plain; charset=utf-8';
export const JSON_TYPE = 'application/json';
export const HTML = 'text/html; charset=utf-8';

export function send(res: ServerResponse, status: number, type: string, body: string | Buffer, headers: Record<string, string | string[]> = {}): void {
  if (sendUnended(res, status, type, body, headers)) res.end();
}

/**
 * The whole answer (headers and body, with its Content-Length) written but the response not
 * ended: Node closes a connection when its response ends, and sometimes that must wait.
 * False when nothing could be written (an answer began already, or the client is gone).
 */
export function sendUnended(res: ServerResponse, status: number, type: string, body: string | Buffer, headers: Record<string, string | string[]> = {}): boolean {
  if (res.headersSent || res.destroyed) return false;
  const bytes = typeof body === 'string' ? Buffer.from(body) : body;
  res.writeHead(status, { ...headers, 'Content-Type': type, 'Content-Length': String(bytes.length) });
  res.write(bytes);
  return true;
}

/** One line of text/plain, newline-terminated; an empty value (a null quote, no destruction) is an empty body. */
export const sendText = (res: ServerResponse, status: number, line: string, headers: Record<string, string | string[]> = {}): void =>
  send(res, status, TEXT, line === '' || line.endsWith('\n') ? line : `${line}\n`, headers);

/** 303 See Other to an absolute URL (SPEC §12: after every successful POST or DELETE). */
export const redirect = (res: ServerResponse, location: string): void =>
  sendText(res, 303, `see ${location}`, { Location: location });
