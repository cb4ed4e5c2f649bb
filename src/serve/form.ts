// Form fields of a request (SPEC §12): the query string, and for POST the body as
// application/x-www-form-urlencoded (URLSearchParams) or multipart/form-data (busboy; a file
// part's content is its field's value, as text). Names are case-insensitive: a Form keys
// them by their lower-case form and remembers each as it was sent, for messages. A body is
// at most MAX_BODY bytes: a Content-Length above that is refused before anything is read, a
// body that grows past it while arriving is refused when it does (413). The rest of a refused
// body is read and thrown away (for at most LINGER_MS) before the connection may close: a
// lingering close, as nginx does, since closing a socket with unread bytes sends a TCP reset,
// and a client still sending its body would lose the 413 to it.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { HttpError, badRequest } from './http-error.js';
import { TEXT, sendText, sendUnended } from './respond.js';

export const MAX_BODY = 1024 * 1024;
/** How long the rest of a refused body is read and discarded before the connection is cut. */
export const LINGER_MS = 5_000;

export interface Field {
  /** The name as the client sent it (first occurrence). */
  name: string;
  values: string[];
}

export class Form {
  private readonly fields = new Map<string, Field>();

  add(name: string, value: string): void {
    const key = name.toLowerCase();
    const field = this.fields.get(key);
    if (field) field.values.push(value);
    else this.fields.set(key, { name, values: [value] });
  }

  /** Every value of a field, in order; [] when absent. */
  all(name: string): string[] {
    return this.fields.get(name.toLowerCase())?.values ?? [];
  }

  /** The one value of a field; undefined when absent; 400 when given more than once. */
  one(name: string): string | undefined {
    const field = this.fields.get(name.toLowerCase());
    if (!field) return undefined;
    if (field.values.length > 1) throw badRequest(`${name} given more than once`);
    return field.values[0];
  }

  has(name: string): boolean {
    return this.fields.has(name.toLowerCase());
  }

  /**
   * 400 for a field that `resource` does not take: a request is never half applied with the
   * rest silently dropped (as an option a command does not take is exit 2, SPEC §9).
   */
  only(resource: string, ...names: string[]): void {
    const taken = new Set(names.map((n) => n.toLowerCase()));
    for (const [key, field] of this.fields) {
      if (!taken.has(key)) throw badRequest(`${field.name}: not taken by POST ${resource} (it takes ${names.join(' or ')})`);
    }
  }

  /** Every field, with its name as sent. */
  entries(): Field[] {
    return [...this.fields.values()];
  }

  static fromSearch(search: URLSearchParams, into = new Form()): Form {
    for (const [name, value] of search) into.add(name, value);
    return into;
  }
}

/** The client went away in the middle of its body: nobody reads the answer, but it is no server fault. */
const cutShort = (): HttpError => new HttpError(400, 'the request body was cut short', { Connection: 'close' });

const tooLarge = (): HttpError => new HttpError(413, `request body larger than ${MAX_BODY} bytes (1 MiB)`);

/** A body whose Content-Length is above MAX_BODY. */
export const declaredTooLarge = (req: IncomingMessage): boolean => Number(req.headers['content-length'] ?? NaN) > MAX_BODY;

/** Whether the client waits for "100 Continue" before it sends its body (Expect: 100-continue). */
export const expectsContinue = (req: IncomingMessage): boolean => /\b100-continue\b/i.test(String(req.headers.expect ?? ''));

/**
 * Answers 413. The answer is written at once, but its response is ended (which closes the
 * connection when the request said "Connection: close") only once the rest of the body has
 * been read and discarded, or after LINGER_MS, when the connection is cut. A client that
 * asked "Expect: 100-continue" for a body declared too large was never told to send it
 * (server.ts): its answer ends at once, closing the connection.
 */
export function refuseBody(req: IncomingMessage, res: ServerResponse, line: string): void {
  if (expectsContinue(req) && declaredTooLarge(req)) {
    sendText(res, 413, line, { Connection: 'close' });
    return;
  }
  req.unpipe();
  req.removeAllListeners('data');
  if (!sendUnended(res, 413, TEXT, `${line}\n`)) return;
  if (req.complete) {
    res.end();
    return;
  }
  const cut = setTimeout(() => {
    res.end();
    req.socket.destroy();
  }, LINGER_MS);
  req.once('end', () => {
    clearTimeout(cut);
    res.end();
  });
  req.socket.once('close', () => clearTimeout(cut));
  req.on('data', () => undefined);
  req.resume();
}

/** The form of a POST: query fields first, then the body's. */
export async function readForm(req: IncomingMessage, search: URLSearchParams): Promise<Form> {
  const form = Form.fromSearch(search);
  if (declaredTooLarge(req)) throw tooLarge();
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type === 'multipart/form-data') {
    await readMultipart(req, form);
    return form;
  }
  const body = await readBody(req);
  // curl -d without -H sends urlencoded; a body without a type is read as such too.
  if (type === 'application/x-www-form-urlencoded' || type === '') Form.fromSearch(new URLSearchParams(body.toString('utf8')), form);
  else if (body.length > 0) throw badRequest(`unsupported Content-Type ${JSON.stringify(type)}: send application/x-www-form-urlencoded or multipart/form-data`);
  return form;
}

/** The whole body, refused (413) as soon as it passes MAX_BODY. */
function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY) {
        req.removeAllListeners('data');
        req.pause();
        reject(tooLarge());
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
    req.on('aborted', () => reject(cutShort()));
  });
}

async function readMultipart(req: IncomingMessage, form: Form): Promise<void> {
  const { default: busboy } = await import('busboy');
  await new Promise<void>((resolve, reject) => {
    let parser: ReturnType<typeof busboy>;
    try {
      parser = busboy({ headers: req.headers, limits: { fieldSize: MAX_BODY, fileSize: MAX_BODY } });
    } catch (err) {
      reject(badRequest(`malformed multipart/form-data: ${(err as Error).message}`));
      return;
    }
    let size = 0;
    let failed = false;
    const fail = (err: Error) => {
      if (failed) return;
      failed = true;
      req.unpipe(parser);
      req.pause();
      reject(err);
    };
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY) fail(tooLarge());
    });
    parser.on('field', (name, value, info) => {
      if (info.valueTruncated) fail(tooLarge());
      else form.add(name, value);
    });
    parser.on('file', (name, stream) => {
      const parts: Buffer[] = [];
      stream.on('data', (d: Buffer) => parts.push(d));
      stream.on('limit', () => fail(tooLarge()));
      stream.on('end', () => form.add(name, Buffer.concat(parts).toString('utf8')));
    });
    parser.on('error', (err: Error) => fail(badRequest(`malformed multipart/form-data: ${err.message}`)));
    parser.on('close', () => {
      if (!failed) resolve();
    });
    req.on('aborted', () => fail(cutShort()));
    req.on('error', () => fail(cutShort()));
    req.pipe(parser);
  });
}
