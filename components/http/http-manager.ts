import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import Router from 'find-my-way';
import type { HTTPMethod, HTTPVersion, Instance } from 'find-my-way';
import { KindlingError, decodeEntryConfig, formatEntryLocation, matchKind, messageOf, resolveEntryRef } from 'kindling';
import type { Entry, EntryListener, ListenerContext, Logger } from 'kindling';
import { HttpEndpointConfig, HttpRouterConfig, HttpServiceConfig, formatUrl, parseListenAddress } from './http-config.js';
import type { HttpMethodName } from './http-config.js';
import type { HttpRequest, HttpResponse, HttpServerAddress, HttpServers } from './http-types.js';

type Table = Instance<HTTPVersion.V1>;

interface ServiceSpec {
  readonly id: string;
  readonly host: string;
  readonly port: number;
  readonly bodyLimit: number;
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

/** What a route of the table points at. */
interface RouteStore {
  readonly endpointId: string;
  readonly funcId: string;
  readonly timeoutMs: number;
}

/** A route as placed in a service's table. */
interface Route {
  readonly service: string;
  readonly method: HttpMethodName;
  readonly path: string;
  readonly store: RouteStore;
}

/** One bound server. Its routing table is swapped whole at commit. */
class LiveServer {
  /** Undefined until the batch that bound the server commits: requests get 503 until then. */
  table: Table | undefined;
  bodyLimit: number;

  constructor(
    readonly id: string,
    readonly host: string,
    readonly server: Server,
    readonly port: number,
    bodyLimit: number,
  ) {
    this.bodyLimit = bodyLimit;
  }

  get url(): string {
    return formatUrl(this.host, this.port);
  }
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
}

const SERVICE = 'http.service';
const ROUTER = 'http.router';
const ENDPOINT = 'http.endpoint';

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

  constructor(private readonly options: HttpManagerOptions) {}

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
      live.bodyLimit = spec.bodyLimit;
      next.set(id, live);
    }
    // All swaps happen in this one synchronous step: no request sees half of the batch.
    for (const [id, live] of next) {
      live.table = staging.tables.get(id) ?? live.table ?? this.live.get(id)?.table ?? newTable();
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
  }

  // ---- operations --------------------------------------------------------------------------

  private stage(ctx: ListenerContext): Staging {
    if (this.staging === undefined || this.staging.transactionId !== ctx.transactionId) this.begin(ctx);
    return this.staging as Staging;
  }

  private async putService(staging: Staging, entry: Entry, previous: ServiceSpec | undefined): Promise<void> {
    const config = decodeEntryConfig(HttpServiceConfig, entry);
    const { host, port } = parseListenAddress(config.addr);
    const spec: ServiceSpec = { id: entry.id, host, port, bodyLimit: config.bodyLimit };
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
      for (const route of added) {
        const table = this.tableOf(staging, route.service);
        const existing = table.findRoute(route.method, route.path) as { store?: RouteStore } | null;
        if (existing !== null) {
          throw refusal(entry, ['data', 'path'], `route ${route.method} ${route.path} on ${route.service} is already taken by endpoint ${existing.store?.endpointId ?? '?'}`, 'CONFLICT');
        }
        try {
          table.on(route.method, route.path, noop, route.store);
        } catch (error) {
          throw refusal(entry, ['data', 'path'], `route ${route.method} ${route.path} is not valid: ${messageOf(error)}`, 'INVALID');
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
      table = newTable();
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
    const server = createServer((request, response) => {
      if (live === undefined) return void sendJson(response, 503, { error: 'the server is starting' });
      void this.handle(live, request, response);
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
    live = new LiveServer(spec.id, spec.host, server, port, spec.bodyLimit);
    return live;
  }

  private retire(live: LiveServer, why: string): void {
    this.options.logger.info(`${why}: closing ${live.url}`);
    const closing = closeServer(live.server, this.options.shutdownGraceMs).finally(() => this.closing.delete(closing));
    this.closing.add(closing);
  }

  // ---- requests ----------------------------------------------------------------------------

  private async handle(live: LiveServer, request: IncomingMessage, response: ServerResponse): Promise<void> {
    const table = live.table;
    if (table === undefined) return sendJson(response, 503, { error: 'the server is starting' });
    const method = (request.method ?? 'GET').toUpperCase();
    const url = new URL(request.url ?? '/', 'http://localhost');
    // A GET route answers HEAD too (headers, no body), unless a HEAD route of its own is declared.
    const found = table.find(method as HTTPMethod, url.pathname) ?? (method === 'HEAD' ? table.find('GET', url.pathname) : null);
    if (found === null) return sendJson(response, 404, { error: `no route for ${method} ${url.pathname}` });
    const store = found.store as RouteStore;
    let body: unknown;
    try {
      body = await readBody(request, live.bodyLimit);
    } catch (error) {
      const status = (error as { status?: number }).status ?? 400;
      return sendJson(response, status, { error: messageOf(error) });
    }
    const input: HttpRequest = {
      method,
      path: url.pathname,
      params: Object.fromEntries(Object.entries(found.params).filter((pair): pair is [string, string] => pair[1] !== undefined)),
      query: queryOf(url.searchParams),
      headers: request.headers,
      body,
    };
    const loaded = this.options.functions.get(store.funcId);
    if (loaded === undefined) {
      this.options.logger.error(`endpoint ${store.endpointId}: function ${store.funcId} is not loaded`);
      return sendJson(response, 502, { error: `function ${store.funcId} is not available` });
    }
    let result: unknown;
    let timer: NodeJS.Timeout | undefined;
    try {
      result = await Promise.race([
        this.options.functions.call(store.funcId, input, { endpoint: store.endpointId }),
        new Promise((_resolve, reject) => {
          timer = setTimeout(() => reject(new KindlingError('TIMEOUT', `function ${store.funcId} did not answer within ${store.timeoutMs} ms`)), store.timeoutMs);
        }),
      ]);
    } catch (error) {
      const status = statusOf(error);
      if (status !== undefined && status < 500) return sendJson(response, status, { error: messageOf(error) });
      this.options.logger.error(`endpoint ${store.endpointId}: function ${store.funcId} failed: ${messageOf(error)}`, { error });
      const timedOut = error instanceof KindlingError && error.code === 'TIMEOUT';
      return sendJson(response, timedOut ? 504 : (status ?? 500), { error: timedOut ? 'the function did not answer in time' : 'internal error' });
    } finally {
      clearTimeout(timer);
    }
    const problem = checkResponse(result);
    if (problem !== undefined) {
      this.options.logger.error(`endpoint ${store.endpointId}: function ${store.funcId} ${problem}`);
      return sendJson(response, 500, { error: 'internal error' });
    }
    sendResponse(response, method, result as HttpResponse);
  }
}

function toAddress(live: LiveServer): HttpServerAddress {
  return { id: live.id, host: live.host, port: live.port, url: live.url };
}

function newTable(): Table {
  return Router({ ignoreTrailingSlash: true, ignoreDuplicateSlashes: true });
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

class BodyError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

async function readBody(request: IncomingMessage, limit: number): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw new BodyError(`the request body is larger than ${limit} bytes`, 413);
    chunks.push(chunk);
  }
  if (size === 0) return undefined;
  const raw = Buffer.concat(chunks);
  const type = (request.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  if (type === 'application/json' || type.endsWith('+json')) {
    try {
      return JSON.parse(raw.toString('utf8')) as unknown;
    } catch (error) {
      throw new BodyError(`the request body is not valid JSON: ${messageOf(error)}`, 400);
    }
  }
  if (type.startsWith('text/') || type === 'application/x-www-form-urlencoded' || type === '') return raw.toString('utf8');
  return new Uint8Array(raw);
}

function queryOf(params: URLSearchParams): Record<string, string | string[]> {
  const query: Record<string, string | string[]> = Object.create(null) as Record<string, string | string[]>;
  for (const [key, value] of params) {
    const before = query[key];
    query[key] = before === undefined ? value : Array.isArray(before) ? [...before, value] : [before, value];
  }
  return query;
}

function statusOf(error: unknown): number | undefined {
  const status = (error as { status?: unknown; statusCode?: unknown } | undefined)?.status ?? (error as { statusCode?: unknown } | undefined)?.statusCode;
  return typeof status === 'number' && Number.isInteger(status) && status >= 400 && status <= 599 ? status : undefined;
}

function checkResponse(result: unknown): string | undefined {
  if (typeof result !== 'object' || result === null || Array.isArray(result)) {
    return `returned ${result === null ? 'null' : Array.isArray(result) ? 'an array' : typeof result}; an http function returns { status?, headers?, body? }`;
  }
  const extra = Object.keys(result).filter((key) => key !== 'status' && key !== 'headers' && key !== 'body');
  if (extra.length > 0) return `returned unknown keys ${extra.join(', ')}; an http function returns { status?, headers?, body? }`;
  const { status, headers } = result as HttpResponse;
  if (status !== undefined && !(Number.isInteger(status) && status >= 100 && status <= 599)) return `returned status ${String(status)}, not an HTTP status`;
  if (headers !== undefined && (typeof headers !== 'object' || headers === null)) return 'returned headers that are not an object';
  return undefined;
}

function sendJson(response: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  response.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  response.end(text);
}

function sendResponse(response: ServerResponse, method: string, result: HttpResponse): void {
  const headers: Record<string, string | number | readonly string[]> = {};
  for (const [key, value] of Object.entries(result.headers ?? {})) headers[key.toLowerCase()] = value;
  let payload: Buffer | undefined;
  const body = result.body;
  if (body === undefined) {
    payload = undefined;
  } else if (typeof body === 'string') {
    payload = Buffer.from(body, 'utf8');
    headers['content-type'] ??= 'text/plain; charset=utf-8';
  } else if (body instanceof Uint8Array) {
    payload = Buffer.from(body);
    headers['content-type'] ??= 'application/octet-stream';
  } else {
    payload = Buffer.from(JSON.stringify(body), 'utf8');
    headers['content-type'] ??= 'application/json; charset=utf-8';
  }
  const status = result.status ?? (payload === undefined ? 204 : 200);
  if (payload !== undefined) headers['content-length'] = payload.length;
  response.writeHead(status, headers as Record<string, string | number | string[]>);
  response.end(method === 'HEAD' ? undefined : payload);
}
