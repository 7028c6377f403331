import { LogThrottle, entryConfig, resolveEntryRef } from 'kindling';
import type { Entry, EntryListener, ListenerContext, Logger } from 'kindling';
import { HttpEndpointConfig, HttpRouterConfig, HttpServiceConfig, parseListenAddress } from './http-config.js';
import type { HttpServerAddress, HttpServers } from './http-types.js';
import { missing, namespaceOf, requireReference, stillUsed } from './entry-refusals.js';
import { HttpKind } from './kinds.js';
import type { LiveServer, ServiceLimits } from './live-server.js';
import { RequestHandler } from './request-handler.js';
import { RouteRegexCheck } from './route-regex-check.js';
import { RouteTable, StagedRoutes, routeFor } from './route-table.js';
import type { EndpointSpec, RouterSpec } from './route-table.js';
import { ServerPool, closeServer } from './server-pool.js';
import { Referrers, StagedMap } from '../staging/index.js';
import type { ServiceSpec } from './server-pool.js';

/**
 * The committed entries of the three kinds, and who names whom among them: endpoints by the
 * function they call and by their router, routers by their service.
 */
class Committed {
  readonly services = new Map<string, ServiceSpec>();
  readonly routers = new Map<string, RouterSpec>();
  readonly endpoints = new Map<string, EndpointSpec>();
  readonly callers = new Referrers<EndpointSpec>((endpoint) => [endpoint.func]);
  readonly routed = new Referrers<EndpointSpec>((endpoint) => [endpoint.router]);
  readonly served = new Referrers<RouterSpec>((router) => [router.server]);
}

/**
 * The desired state of one batch, built up operation by operation as changes over the committed
 * entries: a batch costs what it changes, however many entries are committed. A delete that the
 * indexes say is in use still scans, to list the users in the order the maps hold them, as its
 * refusal always has.
 */
class Staging {
  readonly services: StagedMap<ServiceSpec>;
  readonly routers: StagedMap<RouterSpec>;
  readonly endpoints: StagedMap<EndpointSpec>;
  /** Servers bound during this batch (new services, or changed addresses). */
  readonly bound = new Map<string, LiveServer>();
  /** The route changes of this batch; the live tables change at commit. */
  readonly routes: StagedRoutes;

  constructor(
    readonly transactionId: string,
    private readonly committed: Committed,
    tables: { live: (service: string) => RouteTable | undefined; maxParamLength: number; regexCheck: RouteRegexCheck },
  ) {
    this.services = new StagedMap(committed.services);
    this.routers = new StagedMap(committed.routers, [committed.served]);
    this.endpoints = new StagedMap(committed.endpoints, [committed.callers, committed.routed]);
    this.routes = new StagedRoutes({ routers: this.routers, ...tables });
  }

  /** Whether an endpoint calls the function `id`. */
  isCalled(id: string): boolean {
    return this.committed.callers.has(id, this.endpoints);
  }

  /** Whether an endpoint is on the router `id`. */
  isRouted(id: string): boolean {
    return this.committed.routed.has(id, this.endpoints);
  }

  /** Whether a router is on the service `id`. */
  isServed(id: string): boolean {
    return this.committed.served.has(id, this.routers);
  }

  /** Makes the batch's changes the committed entries. */
  commit(): void {
    this.services.commit();
    this.routers.commit();
    this.endpoints.commit();
  }

  /** Drops the batch's changes. */
  discard(): void {
    this.services.discard();
    this.routers.discard();
    this.endpoints.discard();
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
  /** Where this node listens for a service, by entry id, over the entry's `addr`. */
  readonly listen?: Readonly<Record<string, string>>;
}

const SERVICE = HttpKind.service;
const ROUTER = HttpKind.router;
const ENDPOINT = HttpKind.endpoint;

/**
 * The listener of the `http.*` kinds (and a guard on `function.*` deletes). Transactional: a batch
 * stages its route changes ({@link StagedRoutes}), checked as they come; `commit` applies them to
 * the live tables in one step; a refused or discarded batch leaves the running routes untouched. Listening sockets of new
 * services are bound during the batch ({@link ServerPool}), so an address in use refuses it, and
 * closed again on discard.
 */
export class HttpManager implements EntryListener, HttpServers {
  private readonly committed = new Committed();
  /** The live routing table of each committed service. */
  private readonly tables = new Map<string, RouteTable>();
  private staging: Staging | undefined;
  private readonly storms: LogThrottle;
  private readonly servers: ServerPool;
  private readonly regexCheck: RouteRegexCheck;

  constructor(private readonly options: HttpManagerOptions) {
    this.storms = new LogThrottle(options.logger, {
      linesPerWindow: options.logLinesPerMinute ?? 10,
      windowMs: 60_000,
    });
    const requests = new RequestHandler({ logger: options.logger, storms: this.storms, functions: options.functions });
    this.servers = new ServerPool({
      logger: options.logger,
      storms: this.storms,
      requests,
      shutdownGraceMs: options.shutdownGraceMs,
    });
    this.regexCheck = new RouteRegexCheck({ maxParamLength: options.maxParamLength, steps: options.regexCheckSteps });
  }

  // ---- HttpServers -------------------------------------------------------------------------

  addresses(): HttpServerAddress[] {
    return this.servers.addresses();
  }

  address(id: string): HttpServerAddress | undefined {
    return this.servers.address(id);
  }

  // ---- transaction -------------------------------------------------------------------------

  begin(ctx: ListenerContext): void {
    this.staging = new Staging(ctx.transactionId, this.committed, {
      live: (service) => this.tables.get(service),
      maxParamLength: this.options.maxParamLength,
      regexCheck: this.regexCheck,
    });
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
        // The index rules out most deletes at once; a refusal lists the users in the maps' order.
        const users = !staging.isServed(entry.id)
          ? []
          : [...staging.routers.values()].filter((router) => router.server === entry.id).map((router) => router.id);
        // NOT_FOUND makes the registry retry after the rest of the batch (which may delete the users).
        if (users.length > 0) throw stillUsed(entry, `routers ${users.join(', ')} still use it`);
        staging.services.delete(entry.id);
        return;
      }
      case ROUTER: {
        const users = !staging.isRouted(entry.id)
          ? []
          : [...staging.endpoints.values()]
              .filter((endpoint) => endpoint.router === entry.id)
              .map((endpoint) => endpoint.id);
        if (users.length > 0) throw stillUsed(entry, `endpoints ${users.join(', ')} still use it`);
        staging.routers.delete(entry.id);
        return;
      }
      case ENDPOINT: {
        const spec = staging.endpoints.get(entry.id);
        if (spec !== undefined) staging.routes.move(entry, [staging.routes.routeOf(spec)], []);
        staging.endpoints.delete(entry.id);
        return;
      }
      default: {
        const users = !staging.isCalled(entry.id)
          ? []
          : [...staging.endpoints.values()]
              .filter((endpoint) => endpoint.func === entry.id)
              .map((endpoint) => endpoint.id);
        if (users.length > 0) throw stillUsed(entry, `endpoints ${users.join(', ')} still call it`);
      }
    }
  }

  commit(ctx: ListenerContext): void {
    const staging = this.staging;
    if (staging === undefined || staging.transactionId !== ctx.transactionId) return;
    this.staging = undefined;
    const next = new Map<string, LiveServer>();
    for (const [id, spec] of staging.services.entries()) {
      const live = staging.bound.get(id) ?? this.servers.get(id);
      // A staged service was bound in this batch or is live from an earlier one.
      if (live === undefined) throw new Error(`http.service ${id} has no server to commit`);
      if (live.limits !== spec.limits) live.limits = spec.limits;
      next.set(id, live);
    }
    // All changes happen in this one synchronous step: no request sees half of the batch.
    for (const [service, changes] of staging.routes.changed) {
      let table = this.tables.get(service);
      if (table === undefined) this.tables.set(service, (table = new RouteTable(this.options.maxParamLength)));
      table.apply(changes.removed.values(), changes.added.values());
    }
    for (const [id, , after] of staging.services.changed()) if (after === undefined) this.tables.delete(id);
    for (const [id, live] of next) {
      let table = this.tables.get(id);
      if (table === undefined) this.tables.set(id, (table = new RouteTable(this.options.maxParamLength)));
      live.table = table;
    }
    this.servers.install(next);
    staging.commit();
  }

  async discard(ctx: ListenerContext): Promise<void> {
    const staging = this.staging;
    if (staging === undefined || staging.transactionId !== ctx.transactionId) return;
    this.staging = undefined;
    staging.discard();
    await this.servers.release(staging.bound.values());
  }

  /** Closes every server (in-flight requests get `shutdownGraceMs` to finish). */
  async stop(): Promise<void> {
    const bound = this.staging?.bound.values() ?? [];
    this.staging?.discard();
    this.staging = undefined;
    await this.servers.stop(bound);
    this.storms.flush();
  }

  // ---- operations --------------------------------------------------------------------------

  private stage(ctx: ListenerContext): Staging {
    if (this.staging?.transactionId !== ctx.transactionId) this.begin(ctx);
    return this.staging as Staging;
  }

  private async putService(staging: Staging, entry: Entry, previous: ServiceSpec | undefined): Promise<void> {
    const config = entryConfig(HttpServiceConfig, entry);
    const { host, port } = parseListenAddress(this.options.listen?.[entry.id] ?? config.addr);
    const { addr: _addr, ...limits } = { ...config };
    const previousLimits = previous?.limits;
    // Keep the committed limits object when nothing changed, so commit knows not to touch the server.
    const same =
      previousLimits !== undefined &&
      (Object.keys(limits) as (keyof ServiceLimits)[]).every((key) => previousLimits[key] === limits[key]);
    const spec: ServiceSpec = { id: entry.id, host, port, limits: same ? previousLimits : limits };
    const sameAddress = previous !== undefined && previous.host === host && previous.port === port;
    if (!sameAddress) {
      const live = await this.servers.bind(entry, spec);
      const replaced = staging.bound.get(entry.id);
      staging.bound.set(entry.id, live);
      // The new server takes over the service's routing table at commit.
      if (replaced !== undefined) await closeServer(replaced.server, 0);
    }
    staging.services.set(entry.id, spec);
  }

  private putRouter(ctx: ListenerContext, staging: Staging, entry: Entry): void {
    const config = entryConfig(HttpRouterConfig, entry);
    const server = resolveEntryRef(config.server, namespaceOf(entry.id));
    requireReference(ctx, entry, { path: ['data', 'server'], id: server, kind: SERVICE });
    if (!staging.services.has(server)) throw missing(entry, ['data', 'server'], `http.service ${server}`, server);
    const spec: RouterSpec = { id: entry.id, server, prefix: config.prefix };
    const before = staging.routers.get(entry.id);
    if (
      before !== undefined &&
      (before.server !== spec.server || before.prefix !== spec.prefix) &&
      staging.isRouted(entry.id)
    ) {
      const users = [...staging.endpoints.values()].filter((endpoint) => endpoint.router === entry.id);
      const removed = users.map((endpoint) => staging.routes.routeOf(endpoint));
      const added = users.map((endpoint) => routeFor(spec, endpoint));
      staging.routes.move(entry, removed, added);
    }
    staging.routers.set(spec.id, spec);
  }

  private putEndpoint(ctx: ListenerContext, staging: Staging, entry: Entry): void {
    const config = entryConfig(HttpEndpointConfig, entry);
    const namespace = namespaceOf(entry.id);
    const routerId = resolveEntryRef(config.router, namespace);
    const funcId = resolveEntryRef(config.func, namespace);
    requireReference(ctx, entry, { path: ['data', 'router'], id: routerId, kind: ROUTER });
    requireReference(ctx, entry, { path: ['data', 'func'], id: funcId, kind: 'function.*' });
    const router = staging.routers.get(routerId);
    if (router === undefined) throw missing(entry, ['data', 'router'], `http.router ${routerId}`, routerId);
    const spec: EndpointSpec = {
      id: entry.id,
      router: routerId,
      method: config.method,
      path: config.path,
      func: funcId,
      timeoutMs: config.timeoutMs,
    };
    const before = staging.endpoints.get(entry.id);
    staging.routes.move(entry, before === undefined ? [] : [staging.routes.routeOf(before)], [routeFor(router, spec)]);
    staging.endpoints.set(spec.id, spec);
  }
}
