import Router from 'find-my-way';
import { messageOf } from 'kindling';
import type { Entry } from 'kindling';
import type { HttpMethodName } from './http-config.js';
import { refusal } from './entry-refusals.js';
import { HttpKind } from './kinds.js';
import type { Table } from './live-server.js';
import type { RouteStore } from './request-handler.js';
import type { RouteRegexCheck } from './route-regex-check.js';

/** An `http.router`: the service it is on and the prefix of its endpoints' paths. */
export interface RouterSpec {
  readonly id: string;
  readonly server: string;
  readonly prefix: string;
}

/** An `http.endpoint`: its router, its method and path, and the function it calls. */
export interface EndpointSpec {
  readonly id: string;
  readonly router: string;
  readonly method: HttpMethodName;
  readonly path: string;
  readonly func: string;
  readonly timeoutMs: number;
}

/** A route as placed in a service's table. */
export interface Route {
  readonly service: string;
  readonly method: HttpMethodName;
  readonly path: string;
  readonly store: RouteStore;
}

/** An empty routing table. */
export function newTable(maxParamLength: number): Table {
  return Router({ ignoreTrailingSlash: true, ignoreDuplicateSlashes: true, maxParamLength });
}

/** The route an endpoint has under a router. */
export function routeFor(router: RouterSpec, endpoint: EndpointSpec): Route {
  const prefix = router.prefix.replace(/\/+$/, '');
  const path = `${prefix}${endpoint.path}` || '/';
  return {
    service: router.server,
    method: endpoint.method,
    path,
    store: { endpointId: endpoint.id, funcId: endpoint.func, timeoutMs: endpoint.timeoutMs, route: path },
  };
}

/** Options of {@link StagedRoutes}. */
export interface StagedRoutesOptions {
  /** The routers and endpoints of the batch, as staged so far (read, never written, here). */
  readonly routers: ReadonlyMap<string, RouterSpec>;
  readonly endpoints: ReadonlyMap<string, EndpointSpec>;
  readonly maxParamLength: number;
  readonly regexCheck: RouteRegexCheck;
}

function noop(): void {}

/** A route's key in a service's route set: its method and path as written. */
function keyOf(route: Route): string {
  return `${route.method} ${route.path}`;
}

/**
 * The routing tables of one batch: only the services the batch touches get a table here, built on
 * first use from the staged endpoints; the others keep their live table. A route goes in only when
 * it is free, valid and passes the ReDoS check.
 *
 * find-my-way rebuilds its whole tree for every route taken out (`off`), which would make a batch
 * that deletes n endpoints cost n rebuilds. A route taken out leaves the service's route set and
 * marks its table stale instead; the table is rebuilt once, from the set, when a route must be
 * placed or the batch reads its tables.
 */
export class StagedRoutes {
  /** Tables of the services this batch touched (some may be stale: see {@link tables}). */
  private readonly built = new Map<string, Table>();
  /** The routes of each touched service, by method and path: what its table holds once rebuilt. */
  private readonly routes = new Map<string, Map<string, Route>>();
  /** Services whose table lacks the removals of its route set. */
  private readonly stale = new Set<string>();

  constructor(private readonly options: StagedRoutesOptions) {}

  /** The tables of the services this batch touched, each up to date. */
  get tables(): Map<string, Table> {
    for (const service of [...this.stale]) this.tableOf(service);
    return this.built;
  }

  /** The route of a staged endpoint (its router is staged too). */
  routeOf(endpoint: EndpointSpec): Route {
    return routeFor(this.options.routers.get(endpoint.router) as RouterSpec, endpoint);
  }

  /**
   * Takes `removed` out of the staged tables and puts `added` in; on a conflict puts everything
   * back as it was and refuses, naming the endpoint already on that route.
   */
  move(entry: Entry, removed: readonly Route[], added: readonly Route[]): void {
    for (const route of [...removed, ...added]) this.routesOf(route.service);
    for (const route of removed) this.take(route);
    const done: Route[] = [];
    try {
      // A router's prefix moves its endpoints' routes: a refusal is about the prefix then.
      const field = ['data', entry.kind === HttpKind.router ? 'prefix' : 'path'];
      for (const route of added) {
        this.place(entry, field, route);
        done.push(route);
      }
    } catch (error) {
      for (const route of done) this.take(route);
      for (const route of removed) this.routesOf(route.service).set(keyOf(route), route);
      for (const route of removed) this.stale.add(route.service);
      throw error;
    }
  }

  /** Takes a route out of its service's set; the table catches up when it is next needed. */
  private take(route: Route): void {
    this.routesOf(route.service).delete(keyOf(route));
    this.stale.add(route.service);
  }

  private place(entry: Entry, field: readonly string[], route: Route): void {
    const table = this.tableOf(route.service);
    let existing: { store?: RouteStore } | null;
    let unsafe: string | undefined;
    try {
      existing = table.findRoute(route.method, route.path);
      unsafe = existing === null ? this.options.regexCheck.problemOf(route.method, route.path) : undefined;
    } catch (error) {
      throw refusal(entry, field, {
        reason: `route ${route.method} ${route.path} is not valid: ${messageOf(error)}`,
        code: 'INVALID',
      });
    }
    if (existing !== null) {
      const taken = `route ${route.method} ${route.path} on ${route.service} is already taken by endpoint ${existing.store?.endpointId ?? '?'}`;
      throw refusal(entry, field, { reason: taken, code: 'CONFLICT' });
    }
    if (unsafe !== undefined)
      throw refusal(entry, field, {
        reason: `route ${route.method} ${route.path} is refused: ${unsafe}`,
        code: 'INVALID',
      });
    try {
      table.on(route.method, route.path, noop, route.store);
    } catch (error) {
      throw refusal(entry, field, {
        reason: `route ${route.method} ${route.path} is not valid: ${messageOf(error)}`,
        code: 'INVALID',
      });
    }
    this.routesOf(route.service).set(keyOf(route), route);
  }

  /** The routes of a service, built on first use from the staged endpoints (with its table). */
  private routesOf(service: string): Map<string, Route> {
    let routes = this.routes.get(service);
    if (routes === undefined) {
      routes = new Map();
      // A table the batch handed over (a service that moved keeps its routes) is kept as it is.
      const given = this.built.get(service);
      const table = given ?? newTable(this.options.maxParamLength);
      for (const endpoint of this.options.endpoints.values()) {
        const route = this.routeOf(endpoint);
        if (route.service !== service) continue;
        routes.set(keyOf(route), route);
        if (given === undefined) table.on(route.method, route.path, noop, route.store);
      }
      this.routes.set(service, routes);
      this.built.set(service, table);
    }
    return routes;
  }

  /** The staged table of a service, rebuilt from its route set when routes were taken out. */
  private tableOf(service: string): Table {
    const routes = this.routesOf(service);
    if (this.stale.delete(service)) {
      const table = newTable(this.options.maxParamLength);
      for (const route of routes.values()) table.on(route.method, route.path, noop, route.store);
      this.built.set(service, table);
    }
    return this.built.get(service) as Table;
  }
}
