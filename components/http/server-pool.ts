import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { KindlingError, describeThrown, messageOf } from 'kindling';
import type { Entry, LogThrottle, Logger } from 'kindling';
import { formatUrl } from './http-config.js';
import type { HttpServerAddress } from './http-types.js';
import { refusal } from './entry-refusals.js';
import type { Refusal } from './entry-refusals.js';
import { LiveServer, createLimitedServer } from './live-server.js';
import type { ServiceLimits } from './live-server.js';
import type { RequestHandler } from './request-handler.js';
import { FAULT_CHARS, sendError } from './response-encoding.js';

/** An `http.service`: where it listens and what one client may hold of it. */
export interface ServiceSpec {
  readonly id: string;
  readonly host: string;
  readonly port: number;
  readonly limits: ServiceLimits;
}

/** Options of a {@link ServerPool}. */
export interface ServerPoolOptions {
  readonly logger: Logger;
  readonly storms: LogThrottle;
  /** Serves each request a bound server receives. */
  readonly requests: RequestHandler;
  /** How long a retired server (and stop) waits for in-flight requests before cutting connections (ms). */
  readonly shutdownGraceMs: number;
}

/**
 * The listening sockets, one per service. A server is bound for a batch ({@link bind}) before the
 * batch commits, so that an address in use refuses the batch; {@link install} makes a set of them
 * the live one and retires the servers it no longer holds.
 */
export class ServerPool {
  private live = new Map<string, LiveServer>();
  private readonly closing = new Set<Promise<void>>();
  private stopped = false;

  constructor(private readonly options: ServerPoolOptions) {}

  /** The live server of a service. */
  get(id: string): LiveServer | undefined {
    return this.live.get(id);
  }

  addresses(): HttpServerAddress[] {
    return [...this.live.values()].sort((a, b) => (a.id < b.id ? -1 : 1)).map(toAddress);
  }

  address(id: string): HttpServerAddress | undefined {
    const live = this.live.get(id);
    return live === undefined ? undefined : toAddress(live);
  }

  /**
   * Binds a server for `spec`; it answers 503 until its table is set. Refuses (naming the entry's
   * `addr`) an address in use, a privileged port, or a host that is not this machine's.
   */
  async bind(entry: Entry, spec: ServiceSpec): Promise<LiveServer> {
    if (this.stopped) throw new KindlingError('UNAVAILABLE', 'the http component has stopped');
    const { logger, storms, requests } = this.options;
    // Set once the server listens: a request before that is answered 503.
    let live: LiveServer | undefined = undefined;
    const server = createLimitedServer(spec.id, spec.limits, storms, (request, response) => {
      if (live === undefined) return sendError(response, 503, 'the server is starting');
      // handle never rejects; the catch is for a fault in it that still would.
      requests.handle(live, request, response).catch((error: unknown) => {
        logger.error(`http.service ${spec.id}: internal error: ${describeThrown(error, FAULT_CHARS)}`);
        sendError(response, 500, 'internal error');
      });
    });
    try {
      await listen(server, spec.host, spec.port);
    } catch (error) {
      throw refusal(entry, ['data', 'addr'], { ...listenFailure(error, spec), cause: error });
    }
    server.on('error', (error) => logger.error(`http.service ${spec.id}: ${messageOf(error)}`, { error }));
    const port = (server.address() as AddressInfo).port;
    live = new LiveServer({ id: spec.id, host: spec.host, server, port, limits: spec.limits });
    return live;
  }

  /**
   * Makes `next` the live servers, in one synchronous step: a server no longer in it is retired
   * (in-flight requests get `shutdownGraceMs`), a new one is logged.
   */
  install(next: Map<string, LiveServer>): void {
    for (const [id, old] of this.live) {
      if (next.get(id) !== old) this.retire(old, `http.service ${id} ${next.has(id) ? 'moved' : 'was deleted'}`);
    }
    for (const [id, live] of next) {
      if (this.live.get(id) !== live) this.options.logger.info(`http.service ${id} listening on ${live.url}`);
    }
    this.live = next;
  }

  /** Closes servers bound for a batch that did not commit, without waiting for their requests. */
  async release(servers: Iterable<LiveServer>): Promise<void> {
    await Promise.all([...servers].map((live) => closeServer(live.server, 0)));
  }

  /** Closes every live server and `bound` ones (in-flight requests get `shutdownGraceMs`); binds no more. */
  async stop(bound: Iterable<LiveServer>): Promise<void> {
    this.stopped = true;
    const servers = [...this.live.values(), ...bound];
    this.live = new Map();
    await Promise.all([
      ...servers.map((live) => closeServer(live.server, this.options.shutdownGraceMs)),
      ...this.closing,
    ]);
  }

  private retire(live: LiveServer, why: string): void {
    this.options.logger.info(`${why}: closing ${live.url}`);
    const closing = closeServer(live.server, this.options.shutdownGraceMs).finally(() => this.closing.delete(closing));
    this.closing.add(closing);
  }
}

function toAddress(live: LiveServer): HttpServerAddress {
  return { id: live.id, host: live.host, port: live.port, url: live.url };
}

/** Why a server could not listen, and the code of the refusal. */
function listenFailure(error: unknown, spec: ServiceSpec): Refusal {
  const code = (error as NodeJS.ErrnoException).code;
  const what = formatUrl(spec.host, spec.port).slice('http://'.length);
  if (code === 'EADDRINUSE')
    return {
      reason: `address ${what} is already in use (stop what listens there, or choose another port)`,
      code: 'CONFLICT',
    };
  if (code === 'EACCES')
    return { reason: `no permission to listen on ${what} (ports below 1024 need privileges)`, code: 'UNAVAILABLE' };
  if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND')
    return { reason: `host ${spec.host} is not an address of this machine`, code: 'UNAVAILABLE' };
  return { reason: `cannot listen on ${what}: ${messageOf(error)}`, code: 'UNAVAILABLE' };
}

function listen(server: Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error): void => {
      server.off('listening', onListening);
      reject(error);
    };
    const onListening = (): void => {
      server.off('error', onError);
      resolve();
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen({ host, port, exclusive: true });
  });
}

/** Closes a server: idle connections now, busy ones after `graceMs` at the latest. */
export function closeServer(server: Server, graceMs: number): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) {
      server.closeAllConnections();
      resolve();
      return;
    }
    const timer = setTimeout(() => server.closeAllConnections(), graceMs);
    server.close(() => {
      clearTimeout(timer);
      resolve();
    });
    server.closeIdleConnections();
    if (graceMs <= 0) server.closeAllConnections();
  });
}
