// How long the server gives a client (SPEC §12: an idle or stalled connection is closed
// after a timeout). A socket with no traffic in either direction is closed after
// IDLE_SOCKET_MS, except while a WAIT blocks on it (no traffic is then expected): for that
// request the socket's timeout is the WAIT's own time plus WAIT_MARGIN_MS; and while a
// write is handled (it may wait for the state lock), WRITE_SOCKET_MS.

/** The headers of a request must arrive within this. */
export const HEADERS_TIMEOUT_MS = 10_000;
/** The whole request, body included, within this. */
export const REQUEST_TIMEOUT_MS = 30_000;
/** A kept-alive connection between requests. */
export const KEEP_ALIVE_MS = 5_000;
/**
 * A socket on which nothing moves (a client that connects and sends nothing, or stops
 * reading). Below HEADERS_TIMEOUT_MS on purpose: Node 20 (its connection checker) never
 * fires a socket timeout longer than headersTimeout on a connection that sent nothing
 * (measured: 9 s fires, 15 s does not), so a longer one would leave such a client
 * connected for good.
 */
export const IDLE_SOCKET_MS = 8_000;
/** Beyond a blocked WAIT's own time. */
export const WAIT_MARGIN_MS = 15_000;
/**
 * A request that writes (POST, DELETE) may wait for the state lock up to its 10 s deadline
 * (then 503) with nothing moving on its socket: its socket's timeout is that plus the margin.
 */
export const WRITE_SOCKET_MS = 10_000 + WAIT_MARGIN_MS;
