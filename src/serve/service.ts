// One request's way through the server: the path is routed (router.ts; 404, and 405 with
// Allow for a method the resource does not take), the caller resolved (caller.ts; 401), and
// the resource's handler (resources.ts) answers. Whatever a handler throws becomes its
// status: an HttpError or a UserError as http-error.ts maps it, anything else 500 with
// "internal error" as the body and the stack trace in the log. One access-log line per
// request on stderr when it is done (time, caller, method, path, status, milliseconds).

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Store } from '../store/state.js';
import { printableLines } from '../cli/printable.js';
import { type Caller, type CallerConfig, resolveCaller } from './caller.js';
import type { LiveDefinitions } from './definitions.js';
import type { Documents } from './documents.js';
import { HttpError, badRequest, httpErrorOf, methodNotAllowed } from './http-error.js';
import { type Route, allowedMethods, route } from './router.js';
import { sendText } from './respond.js';
import { refuseBody } from './form.js';
import type { WaitHub } from './wait-hub.js';
import type { Creations } from './creations.js';
import { handleRoute } from './resources.js';
import { IDLE_SOCKET_MS, WRITE_SOCKET_MS } from './timeouts.js';
import { superviseIfOrphaned } from '../run/ensure-runner.js';

const RUNNER_CHECK_MS = 2_000;

export interface ServiceConfig {
  store: Store;
  baseUrl: string;
  callers: CallerConfig;
  /** Seconds: the longest a WAIT blocks. */
  maxWait: number;
  definitions: LiveDefinitions;
  documents: Documents;
  hub: WaitHub;
  /** Job creation (grouped into shared submits: creations.ts). */
  creations: Creations;
  /** Access log and server problems (stderr); the access log is off with -q. */
  accessLog: boolean;
}

/** What a handler gets. */
export interface Request {
  req: IncomingMessage;
  res: ServerResponse;
  route: Route;
  search: URLSearchParams;
  caller: Caller;
  /** The path as received, for messages. */
  path: string;
}

export class Service {
  stopping = false;

  constructor(readonly config: ServiceConfig) {}

  private lastRunnerCheck = 0;

  /**
   * An active job was asked about: if its runner is gone (killed, the machine rebooted),
   * start one, as `show` does (SPEC §2: lost jobs are found by the next uwsrun call). At
   * most once per RUNNER_CHECK_MS: it reads state.json and /proc.
   */
  lookAfterRunner(): void {
    const now = Date.now();
    if (now - this.lastRunnerCheck < RUNNER_CHECK_MS) return;
    this.lastRunnerCheck = now;
    const store = this.config.store;
    void Promise.resolve().then(() => superviseIfOrphaned(store.home, store.readState())).catch((err: Error) => this.log(`cannot start a runner: ${err.message}`));
  }

  /** stderr: the access log, server problems and stack traces (escaped: no control characters). */
  log(line: string): void {
    process.stderr.write(`${printableLines(line)}\n`);
  }

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = process.hrtime.bigint();
    let callerName = '-';
    const target = req.url ?? '/';
    res.on('close', () => {
      if (!this.config.accessLog) return;
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      const status = res.headersSent ? res.statusCode : 0;
      this.log(`${new Date().toISOString()} ${callerName} ${req.method} ${target} ${status || '-'} ${ms.toFixed(1)}ms${res.writableFinished ? '' : ' (client gone)'}`);
    });
    if (this.stopping) res.setHeader('Connection', 'close');
    try {
      const { pathname, search } = splitTarget(target);
      const r = route(pathname);
      const allowed = allowedMethods(r);
      const method = req.method ?? '';
      const caller = resolveCaller(req, this.config.callers);
      callerName = caller.name;
      if (!allowed.includes(method)) throw methodNotAllowed(method, pathname, allowed);
      if (method === 'POST' || method === 'DELETE') {
        // It may wait for the state lock (up to 10 s, then 503) with nothing moving on the socket.
        req.socket.setTimeout(WRITE_SOCKET_MS);
        res.once('finish', () => req.socket.setTimeout(IDLE_SOCKET_MS));
      }
      await handleRoute(this, { req, res, route: r, search, caller, path: pathname });
    } catch (err) {
      this.answerError(res, err);
    }
  }

  private answerError(res: ServerResponse, err: unknown): void {
    const http = httpErrorOf(err);
    if (res.headersSent) {
      // Part of a file was sent already: all the client can be told is that it is cut short.
      res.destroy();
      if (!http) this.log(`internal error after the answer began: ${(err as Error)?.stack ?? String(err)}`);
      return;
    }
    if (http) {
      if (http.status === 413) refuseBody(res.req, res, http.message);
      else sendText(res, http.status, http.message, http.headers);
      return;
    }
    this.log(`internal error: ${(err as Error)?.stack ?? String(err)}`);
    sendText(res, 500, 'internal error (logged by the server)');
  }
}

/** The path and query of a request target: origin-form (/path?q) or absolute-form (http://host/path?q). */
function splitTarget(target: string): { pathname: string; search: URLSearchParams } {
  let rest = target;
  if (!rest.startsWith('/')) {
    const m = /^https?:\/\/[^/?#]*(.*)$/i.exec(rest);
    if (!m) throw badRequest(`malformed request target ${JSON.stringify(target.slice(0, 100))}`);
    rest = m[1] || '/';
  }
  const hash = rest.indexOf('#');
  if (hash >= 0) rest = rest.slice(0, hash);
  const q = rest.indexOf('?');
  const pathname = q >= 0 ? rest.slice(0, q) : rest;
  if (!pathname.startsWith('/')) throw new HttpError(400, `malformed request target ${JSON.stringify(target.slice(0, 100))}`);
  return { pathname, search: new URLSearchParams(q >= 0 ? rest.slice(q + 1) : '') };
}
