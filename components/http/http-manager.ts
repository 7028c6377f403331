import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Router from 'find-my-way';
import { KindlingError, LogThrottle, decodeEntryConfig, describeThrown, formatEntryLocation, matchKind, messageOf, resolveEntryRef } from 'kindling';
import type { Entry, EntryListener, ListenerContext, Logger } from 'kindling';
import { HttpEndpointConfig, HttpRouterConfig, HttpServiceConfig, formatUrl, parseListenAddress } from './http-config.js';
import type { HttpMethodName } from './http-config.js';
import type { HttpServerAddress, HttpServers } from './http-types.js';
import { LiveServer, createLimitedServer } from './live-server.js';
import type { ServiceLimits, Table } from './live-server.js';
import { RequestHandler } from './request-handler.js';
import type { RouteStore } from './request-handler.js';
import { FAULT_CHARS, sendError } from './response-encoding.js';
import { RouteRegexCheck } from './route-regex-check.js';
import { HttpKind } from './kinds.js';

interface ServiceSpec {
  readonly id: string;
  readonly host: string;
  readonly port: number;
  readonly limits: ServiceLimits;
}

interface RouterSpec {
  readonly id: string;
  readonly server: string;
  readonly prefix: string;
}

interface EndpointSpec {
  readonly id: string;
  readonly router: string;
  readonly method: HttpMethodName;
  readonly path: string;
  readonly func: string;
  readonly timeoutMs: number;
}

/** A route as placed in a service's table. */
interface Route {
  readonly service: string;
  readonly method: HttpMethodName;
  readonly path: string;
  readonly store: RouteStore;
}

/** The desired state of one batch, built up operation by operation. */
class Staging {
  readonly services: Map<string, ServiceSpec>;
  readonly routers: Map<string, RouterSpec>;
  readonly endpoints: Map<string, EndpointSpec>;
  /** Servers bound during this batch (new services, or changed addresses). */
  readonly bound = new Map<string, LiveServer>();
  /** Tables of the services this batch touched; the others keep their live table. */
  readonly tables = new Map<string, Table>();

  constructor(
    readonly transactionId: string,
    committed: { services: Map<string, ServiceSpec>; routers: Map<string, RouterSpec>; endpoints: Map<string, EndpointSpec> },
  ) {
    this.services = new Map(committed.services);
    this.routers = new Map(committed.routers);
    this.endpoints = new Map(committed.endpoints);
  }
}

/** Options of an {@link HttpManager}. */
export interface HttpManagerOptions {
  readonly logger: Logger;
  /** Finds the committed function an endpoint calls. */
  readonly functions: {
    get(id: string): unknown;
    call(id: string, input: unknown, context?: Record<string, unknown>): Promise<unknown>;
  };
  /** How long stop waits for in-flight requests before cutting connections (ms). */
  readonly shutdownGraceMs: number;
  /** Longest value a route parameter matches (find-my-way's maxParamLength). */
  readonly maxParamLength: number;
  /** Steps the ReDoS check may take per route regex. */
  readonly regexCheckSteps: number;
  /** Log lines per minute for one kind of refused request (default 10). */
  readonly logLinesPerMinute?: number;
}

const SERVICE = HttpKind.service;
const ROUTER = HttpKind.router;
const ENDPOINT = HttpKind.endpoint;

/**
 * The listener of the `http.*` kinds (and a guard on `function.*` deletes). Transactional: a batch
 * builds a staged copy of the routing tables; `commit` swaps them in at once; a refused or discarded
 * batch leaves the running routes untouched. Listening sockets of new services are bound during the
 * batch, so an address in use refuses it, and closed again on discard.
 */
export class HttpManager implements EntryListener, HttpServers {
  private services = new Map<string, ServiceSpec>();
  private routers = new Map<string, RouterSpec>();
  private endpoints = new Map<string, EndpointSpec>();
  private live = new Map<string, LiveServer>();
  private staging: Staging | undefined;
  private readonly closing = new Set<Promise<void>>();
  private stopped = false;
  private readonly storms: LogThrottle;
  private readonly requests: RequestHandler;
  private readonly regexCheck: RouteRegexCheck;

  constructor(private readonly options: HttpManagerOptions) {
    this.storms = new LogThrottle(options.logger, { linesPerWindow: options.logLinesPerMinute ?? 10, windowMs: 60_000 });
    this.requests = new RequestHandler({ logger: options.logger, storms: this.storms, functions: options.functions });
    this.regexCheck = new RouteRegexCheck({ maxParamLength: options.maxParamLength, steps: options.regexCheckSteps });
  }

  // ---- HttpServers -------------------------------------------------------------------------

  addresses(): HttpServerAddress[] {
    return [...this.live.values()].sort((a, b) => (a.id < b.id ? -1 : 1)).map(toAddress);
  }

  address(id: string): HttpServerAddress | undefined {
    const live = this.live.get(id);
    return live === undefined ? undefined : toAddress(live);
  }

  // ---- transaction -------------------------------------------------------------------------

  begin(ctx: ListenerContext): void {
    this.staging = new Staging(ctx.transactionId, { services: this.services, routers: this.routers, endpoints: this.endpoints });
  }

  async add(ctx: ListenerContext, entry: Entry): Promise<void> {
    const staging = this.stage(ctx);
    switch (entry.kind) {
      case SERVICE:
        return this.putService(staging, entry, undefined);
      case ROUTER:
        return this.putRouter(ctx, staging, entry);
      case ENDPOINT:
        return this.putEndpoint(ctx, staging, entry);
      default:
        return undefined; // a function: only its deletion concerns us
    }
  }

  async update(ctx: ListenerContext, entry: Entry): Promise<void> {
    const staging = this.stage(ctx);
    switch (entry.kind) {
      case SERVICE:
        return this.putService(staging, entry, staging.services.get(entry.id));
      case ROUTER:
        return this.putRouter(ctx, staging, entry);
      case ENDPOINT:
        return this.putEndpoint(ctx, staging, entry);
      default:
        return undefined;
    }
  }

  delete(ctx: ListenerContext, entry: Entry): void {
    const staging = this.stage(ctx);
    switch (entry.kind) {
      case SERVICE: {
        const users = [...staging.routers.values()].filter((router) => router.server === entry.id).map((router) => router.id);
        // NOT_FOUND makes the registry retry after the rest of the batch (which may delete the users).
        if (users.length > 0) throw stillUsed(entry, `routers ${users.join(', ')} still use it`);
        staging.services.delete(entry.id);
        return;
      }
      case ROUTER: {
        const users = [...staging.endpoints.values()].filter((endpoint) => endpoint.router === entry.id).map((endpoint) => endpoint.id);
        if (users.length > 0) throw stillUsed(entry, `endpoints ${users.join(', ')} still use it`);
        staging.routers.delete(entry.id);
        return;
      }
      case ENDPOINT: {
        const spec = staging.endpoints.get(entry.id);
        if (spec !== undefined) this.moveRoutes(staging, entry, [this.routeOf(staging, spec)], []);
        staging.endpoints.delete(entry.id);
        return;
      }
      default: {
        const users = [...staging.endpoints.values()].filter((endpoint) => endpoint.func === entry.id).map((endpoint) => endpoint.id);
        if (users.length > 0) throw stillUsed(entry, `endpoints ${users.join(', ')} still call it`);
      }
    }
  }

  commit(ctx: ListenerContext): void {
    const staging = this.staging;
    if (staging === undefined || staging.transactionId !== ctx.transactionId) return;
    this.staging = undefined;
    const next = new Map<string, LiveServer>();
    for (const [id, spec] of staging.services) {
      const live = staging.bound.get(id) ?? (this.live.get(id) as LiveServer);
      if (live.limits !== spec.limits) live.limits = spec.limits;
      next.set(id, live);
    }
    // All swaps happen in this one synchronous step: no request sees half of the batch.
    for (const [id, live] of next) {
      live.table = staging.tables.get(id) ?? live.table ?? this.live.get(id)?.table ?? newTable(this.options.maxParamLength);
    }
    for (const [id, old] of this.live) {
      if (next.get(id) !== old) this.retire(old, `http.service ${id} ${next.has(id) ? 'moved' : 'was deleted'}`);
    }
    for (const [id, live] of next) {
      if (this.live.get(id) !== live) this.options.logger.info(`http.service ${id} listening on ${live.url}`);
    }
    this.live = next;
    this.services = staging.services;
    this.routers = staging.routers;
    this.endpoints = staging.endpoints;
  }

  async discard(ctx: ListenerContext): Promise<void> {
    const staging = this.staging;
    if (staging === undefined || staging.transactionId !== ctx.transactionId) return;
    this.staging = undefined;
    await Promise.all([...staging.bound.values()].map((live) => closeServer(live.server, 0)));
  }

  /** Closes every server (in-flight requests get `shutdownGraceMs` to finish). */
  async stop(): Promise<void> {
    this.stopped = true;
    const servers = [...this.live.values(), ...(this.staging?.bound.values() ?? [])];
    this.live = new Map();
    this.staging = undefined;
    await Promise.all([...servers.map((live) => closeServer(live.server, this.options.shutdownGraceMs)), ...this.closing]);
    this.storms.flush();
  }

  // ---- operations --------------------------------------------------------------------------

  private stage(ctx: ListenerContext): Staging {
    if (this.staging === undefined || this.staging.transactionId !== ctx.transactionId) this.begin(ctx);
    return this.staging as Staging;
  }

  private async putService(staging: Staging, entry: Entry, previous: ServiceSpec | undefined): Promise<void> {
    const config = decodeEntryConfig(HttpServiceConfig, entry);
    const { host, port } = parseListenAddress(config.addr);
    const { addr: _addr, ...limits } = { ...config };
    const previousLimits = previous?.limits;
    // Keep the committed limits object when nothing changed, so commit knows not to touch the server.
    const same = previousLimits !== undefined && (Object.keys(limits) as (keyof ServiceLimits)[]).every((key) => previousLimits[key] === limits[key]);
    const spec: ServiceSpec = { id: entry.id, host, port, limits: same ? previousLimits : limits };
    const sameAddress = previous !== undefined && previous.host === host && previous.port === port;
    if (!sameAddress) {
      if (this.stopped) throw new KindlingError('UNAVAILABLE', 'the http component has stopped');
      const live = await this.bind(entry, spec);
      const replaced = staging.bound.get(entry.id);
      staging.bound.set(entry.id, live);
      if (replaced !== undefined) await closeServer(replaced.server, 0);
      // The new server takes over the routes of the old one at commit.
      const table = staging.tables.get(entry.id) ?? this.live.get(entry.id)?.table;
      if (table !== undefined) staging.tables.set(entry.id, table);
    }
    staging.services.set(entry.id, spec);
  }

  private putRouter(ctx: ListenerContext, staging: Staging, entry: Entry): void {
    const config = decodeEntryConfig(HttpRouterConfig, entry);
    const server = resolveEntryRef(config.server, namespaceOf(entry.id));
    requireReference(ctx, entry, ['data', 'server'], server, SERVICE);
    if (!staging.services.has(server)) throw missing(entry, ['data', 'server'], `http.service ${server}`);
    const spec: RouterSpec = { id: entry.id, server, prefix: config.prefix };
    const before = staging.routers.get(entry.id);
    if (before !== undefined && (before.server !== spec.server || before.prefix !== spec.prefix)) {
      const users = [...staging.endpoints.values()].filter((endpoint) => endpoint.router === entry.id);
      const removed = users.map((endpoint) => this.routeOf(staging, endpoint));
      const added = users.map((endpoint) => routeFor(spec, endpoint));
      this.moveRoutes(staging, entry, removed, added);
    }
    staging.routers.set(entry.id, spec);
  }

  private putEndpoint(ctx: ListenerContext, staging: Staging, entry: Entry): void {
    const config = decodeEntryConfig(HttpEndpointConfig, entry);
    const namespace = namespaceOf(entry.id);
    const routerId = resolveEntryRef(config.router, namespace);
    const funcId = resolveEntryRef(config.func, namespace);
    requireReference(ctx, entry, ['data', 'router'], routerId, ROUTER);
    requireReference(ctx, entry, ['data', 'func'], funcId, 'function.*');
    const router = staging.routers.get(routerId);
    if (router === undefined) throw missing(entry, ['data', 'router'], `http.router ${routerId}`);
    const spec: EndpointSpec = { id: entry.id, router: routerId, method: config.method, path: config.path, func: funcId, timeoutMs: config.timeoutMs };
    const before = staging.endpoints.get(entry.id);
    this.moveRoutes(staging, entry, before === undefined ? [] : [this.routeOf(staging, before)], [routeFor(router, spec)]);
    staging.endpoints.set(entry.id, spec);
  }

  private routeOf(staging: Staging, endpoint: EndpointSpec): Route {
    return routeFor(staging.routers.get(endpoint.router) as RouterSpec, endpoint);
  }

  /**
   * Takes `removed` out of the staged tables and puts `added` in; on a conflict puts everything
   * back as it was and refuses, naming the endpoint already on that route.
   */
  private moveRoutes(staging: Staging, entry: Entry, removed: readonly Route[], added: readonly Route[]): void {
    for (const route of [...removed, ...added]) this.tableOf(staging, route.service);
    for (const route of removed) this.tableOf(staging, route.service).off(route.method, route.path);
    const done: Route[] = [];
    try {
      // A router's prefix moves its endpoints' routes: a refusal is about the prefix then.
      const field = ['data', entry.kind === ROUTER ? 'prefix' : 'path'];
      for (const route of added) {
        const table = this.tableOf(staging, route.service);
        let existing: { store?: RouteStore } | null;
        let unsafe: string | undefined;
        try {
          existing = table.findRoute(route.method, route.path) as { store?: RouteStore } | null;
          unsafe = existing === null ? this.regexCheck.problemOf(route.method, route.path) : undefined;
        } catch (error) {
          throw refusal(entry, field, `route ${route.method} ${route.path} is not valid: ${messageOf(error)}`, 'INVALID');
        }
        if (existing !== null) {
          throw refusal(entry, field, `route ${route.method} ${route.path} on ${route.service} is already taken by endpoint ${existing.store?.endpointId ?? '?'}`, 'CONFLICT');
        }
        if (unsafe !== undefined) throw refusal(entry, field, `route ${route.method} ${route.path} is refused: ${unsafe}`, 'INVALID');
        try {
          table.on(route.method, route.path, noop, route.store);
        } catch (error) {
          throw refusal(entry, field, `route ${route.method} ${route.path} is not valid: ${messageOf(error)}`, 'INVALID');
        }
        done.push(route);
      }
    } catch (error) {
      for (const route of done) this.tableOf(staging, route.service).off(route.method, route.path);
      for (const route of removed) this.tableOf(staging, route.service).on(route.method, route.path, noop, route.store);
      throw error;
    }
  }

  /** The staged table of a service, built on first use from the staged endpoints. */
  private tableOf(staging: Staging, service: string): Table {
    let table = staging.tables.get(service);
    if (table === undefined) {
      table = newTable(this.options.maxParamLength);
      for (const endpoint of staging.endpoints.values()) {
        const route = this.routeOf(staging, endpoint);
        if (route.service === service) table.on(route.method, route.path, noop, route.store);
      }
      staging.tables.set(service, table);
    }
    return table;
  }

  private async bind(entry: Entry, spec: ServiceSpec): Promise<LiveServer> {
    let live: LiveServer | undefined;
    const server = createLimitedServer(spec.id, spec.limits, this.storms, (request, response) => {
      if (live === undefined) return sendError(response, 503, 'the server is starting');
      // handle never rejects; the catch is for a fault in it that still would.
      this.requests.handle(live, request, response).catch((error: unknown) => {
        this.options.logger.error(`http.service ${spec.id}: internal error: ${describeThrown(error, FAULT_CHARS)}`);
        sendError(response, 500, 'internal error');
      });
    });
    try {
      await listen(server, spec.host, spec.port);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      const what = `${formatUrl(spec.host, spec.port).slice('http://'.length)}`;
      const reason =
        code === 'EADDRINUSE'
          ? `address ${what} is already in use (stop what listens there, or choose another port)`
          : code === 'EACCES'
            ? `no permission to listen on ${what} (ports below 1024 need privileges)`
            : code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND'
              ? `host ${spec.host} is not an address of this machine`
              : `cannot listen on ${what}: ${messageOf(error)}`;
      throw refusal(entry, ['data', 'addr'], reason, code === 'EADDRINUSE' ? 'CONFLICT' : 'UNAVAILABLE', error);
    }
    server.on('error', (error) => this.options.logger.error(`http.service ${spec.id}: ${messageOf(error)}`, { error }));
    const port = (server.address() as AddressInfo).port;
    live = new LiveServer(spec.id, spec.host, server, port, spec.limits);
    return live;
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

function newTable(maxParamLength: number): Table {
  return Router({ ignoreTrailingSlash: true, ignoreDuplicateSlashes: true, maxParamLength });
}

function noop(): void {}

function routeFor(router: RouterSpec, endpoint: EndpointSpec): Route {
  const prefix = router.prefix.replace(/\/+$/, '');
  const path = `${prefix}${endpoint.path}` || '/';
  return { service: router.server, method: endpoint.method, path, store: { endpointId: endpoint.id, funcId: endpoint.func, timeoutMs: endpoint.timeoutMs } };
}

function namespaceOf(id: string): string {
  return id.slice(0, id.indexOf(':'));
}

function where(entry: Entry, path: readonly (string | number)[]): string {
  const at = formatEntryLocation(entry, path);
  return `${at === undefined ? '' : `${at}: `}${entry.kind} ${entry.id}`;
}

function refusal(entry: Entry, path: readonly (string | number)[], reason: string, code: 'INVALID' | 'CONFLICT' | 'UNAVAILABLE', cause?: unknown): KindlingError {
  return new KindlingError(code, `${where(entry, path)}: ${reason}`, { cause, details: { entryId: entry.id } });
}

function missing(entry: Entry, path: readonly (string | number)[], what: string): KindlingError {
  return new KindlingError('NOT_FOUND', `${where(entry, path)}: ${what} does not exist`, { details: { entryId: entry.id } });
}

function stillUsed(entry: Entry, reason: string): KindlingError {
  return new KindlingError('NOT_FOUND', `${where(entry, [])} cannot be deleted: ${reason} (delete or change them in the same batch)`, {
    details: { entryId: entry.id },
  });
}

/** Refuses a reference to a missing entry (NOT_FOUND: retried later in the batch) or one of the wrong kind. */
function requireReference(ctx: ListenerContext, entry: Entry, path: readonly (string | number)[], id: string, kind: string): void {
  const target = ctx.get(id);
  if (target === undefined) throw missing(entry, path, `${kind.replace('.*', '')} entry ${id}`);
  if (!matchKind(kind, target.kind)) {
    throw refusal(entry, path, `${id} is a ${target.kind}, not a ${kind}`, 'INVALID');
  }
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

function closeServer(server: Server, graceMs: number): Promise<void> {
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
