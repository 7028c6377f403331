import { STATUS_CODES, createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { escapeInvisible } from 'kindling';
import type { LogThrottle } from 'kindling';
import { formatUrl } from './http-config.js';
import type { RouteTable } from './route-table.js';

/** What one client may hold of a service (the limits of `http.service`). */
export interface ServiceLimits {
  readonly bodyLimit: number;
  readonly maxUrlLength: number;
  readonly maxHeaderBytes: number;
  readonly maxHeaders: number;
  readonly headersTimeoutMs: number;
  readonly requestTimeoutMs: number;
  readonly keepAliveTimeoutMs: number;
  readonly maxConnections: number;
}

/** What a {@link LiveServer} is made of. */
export interface LiveServerOptions {
  /** The `http.service` entry it serves. */
  readonly id: string;
  /** The host it listens on, as configured. */
  readonly host: string;
  /** The listening node:http server. */
  readonly server: Server;
  /** The port it listens on (the one chosen by the system when the entry asked for 0). */
  readonly port: number;
  readonly limits: ServiceLimits;
}

/** One bound server, serving its service's routing table (changed in place at commit). */
export class LiveServer {
  /** Undefined until the batch that bound the server commits: requests get 503 until then. */
  table: RouteTable | undefined;
  readonly id: string;
  readonly host: string;
  readonly server: Server;
  readonly port: number;
  private current: ServiceLimits;

  constructor(options: LiveServerOptions) {
    this.id = options.id;
    this.host = options.host;
    this.server = options.server;
    this.port = options.port;
    this.current = options.limits;
  }

  get url(): string {
    return formatUrl(this.host, this.port);
  }

  get limits(): ServiceLimits {
    return this.current;
  }

  /** Takes new limits; connections opened from now on get the new head size limit. */
  set limits(limits: ServiceLimits) {
    this.current = limits;
    applyLimits(this.server, limits);
  }
}

/**
 * A node:http server with the limits of a service, whose malformed requests, refused CONNECTs and
 * dropped connections are answered and logged (through `storms`) naming the service.
 */
export function createLimitedServer(
  id: string,
  limits: ServiceLimits,
  storms: LogThrottle,
  onRequest: (request: IncomingMessage, response: ServerResponse) => void,
): Server {
  const server = createServer(
    {
      maxHeaderSize: limits.maxHeaderBytes,
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      keepAliveTimeout: limits.keepAliveTimeoutMs,
      // How often the head and request time limits are checked (Node's default is 30 s).
      connectionsCheckingInterval: Math.max(100, Math.min(1_000, Math.floor(limits.headersTimeoutMs / 2))),
    },
    onRequest,
  );
  applyLimits(server, limits);
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Duplex) =>
    answerClientError({ id, server, storms }, error, socket),
  );
  server.on('connect', (request: IncomingMessage, socket: Duplex) => {
    socket.on('error', () => undefined);
    storms.log(
      'warn',
      `${id}:connect`,
      `http.service ${id}: refused a CONNECT request (this server is not a proxy); answered 405`,
    );
    writeRaw(socket, 405, 'CONNECT is not served: this server is not a proxy');
  });
  server.on('drop', () => {
    storms.log(
      'warn',
      `${id}:drop`,
      `http.service ${id}: closed a new connection: maxConnections (${server.maxConnections}) are open`,
    );
  });
  return server;
}

function applyLimits(server: Server, limits: ServiceLimits): void {
  // Read by node:http for each new connection (the createServer option only sets it).
  (server as Server & { maxHeaderSize: number }).maxHeaderSize = limits.maxHeaderBytes;
  // One more than allowed, so that a request over the limit is seen and refused, not cut silently.
  server.maxHeadersCount = limits.maxHeaders + 1;
  server.headersTimeout = limits.headersTimeoutMs;
  server.requestTimeout = limits.requestTimeoutMs;
  server.keepAliveTimeout = limits.keepAliveTimeoutMs;
  server.maxConnections = limits.maxConnections;
}

/**
 * Answers a request node:http could not parse (or that ran out of time) as node:http would — 400,
 * 408, 413 or 431, then closes — but with a body that says what was wrong, and logs it.
 */
function answerClientError(
  { id, server, storms }: { id: string; server: Server; storms: LogThrottle },
  error: NodeJS.ErrnoException,
  socket: Duplex,
): void {
  socket.on('error', () => undefined);
  const code = typeof error.code === 'string' ? error.code : 'unknown';
  if (code === 'ECONNRESET' || code === 'EPIPE' || code === 'HPE_INVALID_EOF_STATE' || !socket.writable) {
    storms.log(
      'info',
      `${id}:reset`,
      `http.service ${id}: a client closed its connection mid-request (${escapeInvisible(code, 40)}); no answer possible`,
    );
    socket.destroy();
    return;
  }
  const [status, reason] =
    code === 'HPE_HEADER_OVERFLOW'
      ? [
          431,
          `the request head is larger than maxHeaderBytes (${(server as Server & { maxHeaderSize?: number }).maxHeaderSize ?? 16_384} bytes)`,
        ]
      : code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [
            408,
            `the request did not arrive in time (headersTimeoutMs ${server.headersTimeout} ms for the head, requestTimeoutMs ${server.requestTimeout} ms in all)`,
          ]
        : code === 'HPE_CHUNK_EXTENSIONS_OVERFLOW'
          ? [413, 'the chunk extensions of the request body are too large']
          : [400, `malformed request (${escapeInvisible(code, 40)}: ${escapeInvisible(parserReason(error), 120)})`];
  storms.log(
    status === 408 ? 'info' : 'warn',
    `${id}:client-error:${status}`,
    `http.service ${id}: ${reason}; answered ${status}`,
  );
  // An answer already under way on this connection cannot be followed by another one.
  const inFlight = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
  if (inFlight?.headersSent === true) {
    socket.destroy();
    return;
  }
  writeRaw(socket, status, reason);
}

/** What node:http's parser says was wrong (its `reason`), else the error's message. */
function parserReason(error: NodeJS.ErrnoException): string {
  const reason = (error as { reason?: unknown }).reason;
  return typeof reason === 'string' ? reason : error.message;
}

/** Writes a whole JSON error response on a raw socket and closes it. */
function writeRaw(socket: Duplex, status: number, message: string): void {
  const body = JSON.stringify({ error: message });
  const head = `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\nconnection: close\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n`;
  try {
    socket.end(head + body);
  } catch {
    // The socket is gone: nothing to answer.
  }
  // end() waits for the client to read; a client that never does must not keep the socket.
  const timer = setTimeout(() => socket.destroy(), 1_000).unref();
  socket.once('close', () => clearTimeout(timer));
}
