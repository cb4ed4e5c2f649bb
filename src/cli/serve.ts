// `uwsrun serve`: parses the options, refuses --no-auth off loopback (exit 2), loads the
// definitions (exit 2 on errors, as submit), starts the server (src/serve/) and says where
// it listens, on stderr, also with -q. SIGTERM and SIGINT stop it (exit 0).
// A refusal writes nothing: the HOME is created only once the address is bound (a port in
// use or an address not of this machine is exit 2 with one line, like any bad --listen).

import { existsSync } from 'node:fs';
import { isIP } from 'node:net';
import type { Command } from 'commander';
import { Context } from './context.js';
import { definitionsPath } from './definitions-file.js';
import { parseDuration } from '../core/duration.js';
import { ownerName } from '../core/submit.js';
import { usageError } from '../errors.js';

/** How long a stopping server may wait for the lock to give its reserved places back (SIGTERM: exit within 2 s). */
const STOP_RELEASE_MS = 300;

interface ServeFlags {
  listen: string;
  baseUrl?: string;
  auth: boolean;
  maxWait: string;
}

/** HOST:PORT, [IPv6]:PORT; port 0 = any free port. */
export function parseListen(text: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(text);
  const host = m ? (m[1] ?? m[2]!) : '';
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535 || (m[1] !== undefined && isIP(m[1]) !== 6)) {
    throw usageError(`--listen: ${JSON.stringify(text)} is not HOST:PORT (for example 127.0.0.1:8080, [::1]:8080, or port 0 for any free port)`);
  }
  return { host, port };
}

/** 127.0.0.0/8, ::1 (also as ::ffff:127.x.y.z) and localhost. */
export function isLoopback(host: string): boolean {
  const h = host.toLowerCase();
  if (h === 'localhost' || h === '::1' || h === '0:0:0:0:0:0:0:1') return true;
  const v4 = h.startsWith('::ffff:') ? h.slice(7) : h;
  return isIP(v4) === 4 && v4.startsWith('127.');
}

function parseBaseUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw usageError(`--base-url: ${JSON.stringify(text)} is not a URL (for example https://example.org/uws)`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw usageError(`--base-url: ${JSON.stringify(text)} is not an http:// or https:// URL`);
  if (url.search || url.hash) throw usageError(`--base-url: ${JSON.stringify(text)} must not have a query or fragment`);
  return `${url.origin}${url.pathname}`.replace(/\/+$/, '');
}

/**
 * $UWSRUN_JOBS, else HOME/jobs.yaml: serve takes no -f, so a missing file gets a hint of
 * its own instead of the loader's "give -f FILE".
 */
function servedDefinitionsPath(ctx: Context): string {
  const path = definitionsPath(ctx, undefined);
  if (!existsSync(path)) {
    throw usageError(`cannot read definitions file ${path}: no such file; set UWSRUN_JOBS to the definitions file, or put it at ${path}`);
  }
  return path;
}

/** Why the address could not be bound, in one line; anything else is not the user's doing. */
function listenError(err: unknown, listen: string): unknown {
  const why: Record<string, string> = {
    EADDRINUSE: 'the address is already in use (by another server, or another uwsrun serve)',
    EADDRNOTAVAIL: 'the address is not one of this machine\'s',
    EACCES: 'permission denied (ports below 1024 need privileges)',
    ENOTFOUND: 'no such host',
    EAI_AGAIN: 'the host name cannot be resolved now',
  };
  const reason = why[(err as NodeJS.ErrnoException).code ?? ''];
  return reason === undefined ? err : usageError(`--listen ${listen}: cannot listen there: ${reason}`);
}

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('serve the HOME as UWS 1.1 services over HTTP (one job list per definition)')
    .option('--listen <host:port>', 'address to listen on (port 0: any free port)', '127.0.0.1:8080')
    .option('--base-url <url>', 'prefix of every URL written (Location, xlink:href), for a reverse proxy (default http://HOST:PORT)')
    .option('--no-auth', 'serve every caller as the HOME\'s OS user with admin rights (loopback addresses only)')
    .option('--max-wait <seconds>', 'the longest a WAIT request blocks (90s, 5m or whole seconds)', '50')
    .action(async (flags: ServeFlags, cmd: Command) => {
      const ctx = Context.of(cmd);
      const { host, port } = parseListen(flags.listen);
      if (!flags.auth && !isLoopback(host)) {
        throw usageError(`--no-auth is allowed only on a loopback address (127.0.0.0/8, ::1, localhost), not ${host}: anyone who can reach it would act as ${ownerName()}`);
      }
      const maxWait = parseDuration(flags.maxWait, '--max-wait');
      const base = flags.baseUrl === undefined ? undefined : parseBaseUrl(flags.baseUrl);
      const store = ctx.store;
      const log = (line: string) => process.stderr.write(`${line}\n`);
      const { LiveDefinitions } = await import('../serve/definitions.js');
      // No cache in a HOME that does not exist yet: a refusal below must leave nothing behind.
      const definitions = await LiveDefinitions.load(servedDefinitionsPath(ctx), store.layout.exists() ? store.layout.cacheDir : null, log);
      const { Documents } = await import('../serve/documents.js');
      const { WaitHub } = await import('../serve/wait-hub.js');
      const { Creations } = await import('../serve/creations.js');
      const { originOf, startServer } = await import('../serve/server.js');
      const creations = new Creations(store);
      await import('../serve/html.js'); // registers the HTML pages
      const running = await startServer((origin) => {
        store.layout.ensure();
        const baseUrl = base ?? origin;
        return {
          store,
          baseUrl,
          callers: { noAuth: !flags.auth, osUser: ownerName(), home: store.home },
          maxWait,
          definitions,
          documents: new Documents(store, baseUrl),
          hub: new WaitHub(store),
          creations,
          accessLog: !ctx.quiet,
        };
      }, host, port).catch((err: unknown) => {
        throw listenError(err, flags.listen);
      });
      process.stderr.write(`listening on ${originOf(running.address)}\n`);
      const { Housekeeping } = await import('../serve/housekeeping.js');
      const housekeeping = new Housekeeping(store.home, log, !ctx.quiet);
      await new Promise<void>((resolve) => {
        // The block of places reserved for creations goes back (serve/places.ts), briefly.
        const stop = () => {
          housekeeping.stop();
          void running.stop().then(() => creations.close(STOP_RELEASE_MS)).then(resolve, resolve);
        };
        process.once('SIGTERM', stop);
        process.once('SIGINT', stop);
      });
      process.exit(0);
    });
}
