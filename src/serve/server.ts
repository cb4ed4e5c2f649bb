// `uwsrun serve`: the HOME as UWS 1.1 services over HTTP (SPEC §12), on node:http.
// Lifetimes (timeouts.ts): the headers of a request must arrive within HEADERS_TIMEOUT_MS
// and the whole request (its body) within REQUEST_TIMEOUT_MS, a keep-alive connection may
// idle for KEEP_ALIVE_MS, and a socket with no traffic at all is closed after
// IDLE_SOCKET_MS (a blocked WAIT lengthens it for its own request); so a slow or half-open
// client holds a socket for a bounded time and never a request handler. A request Node cannot parse (garbage bytes, oversized headers) gets its
// 4xx from the clientError handler and the socket is closed; nothing a client sends reaches
// the process as an exception.
// Stopping (SIGTERM, SIGINT): the listening socket is closed, blocked WAITs answer at once
// with the job as it is, answers carry `Connection: close`, and after STOP_GRACE_MS whatever
// is left is cut; the process exits 0. Jobs are not touched: the runner is a process of its
// own.

import { type Server, createServer } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { Service, type ServiceConfig } from './service.js';
import { declaredTooLarge } from './form.js';
import { HEADERS_TIMEOUT_MS, IDLE_SOCKET_MS, KEEP_ALIVE_MS, REQUEST_TIMEOUT_MS } from './timeouts.js';

const STOP_GRACE_MS = 1_500;

export interface RunningServer {
  server: Server;
  service: Service;
  address: AddressInfo;
  stop: () => Promise<void>;
}

const CLIENT_ERRORS: Record<string, string> = {
  HPE_HEADER_OVERFLOW: '431 Request Header Fields Too Large',
  ERR_HTTP_REQUEST_TIMEOUT: '408 Request Timeout',
};

/** Where a server listens, as a URL origin (an IPv6 address in brackets). */
export function originOf(address: AddressInfo): string {
  const host = address.family === 'IPv6' || address.address.includes(':') ? `[${address.address}]` : address.address;
  return `http://${host}:${address.port}`;
}

/**
 * Listens on host:port, then builds the service's configuration from the origin really
 * bound (port 0 is any free port), before any request is handled.
 */
export async function startServer(configure: (origin: string) => ServiceConfig, host: string, port: number): Promise<RunningServer> {
  let service: Service | undefined;
  const server = createServer({
    headersTimeout: HEADERS_TIMEOUT_MS,
    requestTimeout: REQUEST_TIMEOUT_MS,
    keepAliveTimeout: KEEP_ALIVE_MS,
    connectionsCheckingInterval: 1_000,
  }, (req, res) => {
    void service!.handle(req, res);
  });
  // Expect: 100-continue (curl sends it for bodies over 1 MiB): a body declared too large is
  // refused (413) before the client sends it; any other is asked for.
  server.on('checkContinue', (req, res) => {
    if (!declaredTooLarge(req)) res.writeContinue();
    void service!.handle(req, res);
  });
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    if (socket.writable && !socket.writableEnded && (err.code !== 'ECONNRESET')) {
      const status = CLIENT_ERRORS[err.code ?? ''] ?? '400 Bad Request';
      const body = `malformed request: ${status.slice(4)}\n`;
      socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
    }
    socket.destroy();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  let config: ServiceConfig;
  try {
    config = configure(originOf(address));
  } catch (err) {
    server.close(); // a configuration that failed (the HOME cannot be created) serves nothing
    throw err;
  }
  const svc = new Service(config);
  service = svc;
  server.setTimeout(IDLE_SOCKET_MS, (socket: Socket) => socket.destroy());
  server.on('error', (err) => svc.log(`server error: ${err.stack ?? err.message}`));
  config.hub.start();
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= new Promise<void>((resolve) => {
      svc.stopping = true;
      const done = () => {
        clearTimeout(cut);
        config.hub.close();
        resolve();
      };
      const cut = setTimeout(() => {
        server.closeAllConnections();
        done();
      }, STOP_GRACE_MS);
      server.close(() => done());
      config.hub.releaseAll();
      server.closeIdleConnections();
    });
    return stopping;
  };
  return { server, service: svc, address, stop };
}
