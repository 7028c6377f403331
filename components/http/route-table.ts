import Router from 'find-my-way';
import type { HTTPMethod, HTTPVersion, Instance } from 'find-my-way';
import { messageOf } from 'kindling';
import type { Entry } from 'kindling';
import type { StagedMap } from '../staging/index.js';
import type { HttpMethodName } from './http-config.js';
import { refusal } from './entry-refusals.js';
import { HttpKind } from './kinds.js';
import type { RouteRegexCheck } from './route-regex-check.js';

/** What a route of a table points at. */
export interface RouteStore {
  readonly endpointId: string;
  readonly funcId: string;
  readonly timeoutMs: number;
  /** The route template (`/users/:id`), for `http.route`. */
  readonly route: string;
}

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

/** A find-my-way routing tree. */
type Tree = Instance<HTTPVersion.V1>;

function newTree(maxParamLength: number): Tree {
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

function noop(): void {}

/** A route's key: its method and path as written. */
function keyOf(route: Route): string {
  return `${route.method} ${route.path}`;
}

/** Whether a path has a parameter or a wildcard (what can match a path another route also matches). */
function isDynamic(path: string): boolean {
  return path.includes(':') || path.includes('*');
}

/** A route in a {@link RouteTable}'s tree; one taken out keeps its place without a route. */
interface Slot {
  route: Route | undefined;
}

/** A matched route: what the request handler needs of it. */
export interface RouteMatch {
  readonly store: RouteStore;
  readonly params: Readonly<Record<string, string | undefined>>;
}

/** Taken-out routes a table keeps at least before it rebuilds its tree (see {@link RouteTable}). */
const REBUILD_FROM = 64;

/**
 * The live routing table of one service: a find-my-way tree that a commit changes in place, in one
 * synchronous step, by the routes its batch took out and put in.
 *
 * find-my-way rebuilds its whole tree for every route taken out (`off`), and building a tree costs
 * about 15 µs a route: a batch that changes one endpoint of a service with 10,000 cost a rebuild of
 * all of them. A route taken out here stays in the tree with its slot emptied instead; a route put
 * back on the same method and path fills the slot again. The tree is rebuilt once the empty slots
 * outnumber the routes (and number more than 64), so a commit costs about what it changed.
 *
 * An empty slot matched by a request hides nothing when the method has no route with a parameter
 * or a wildcard: only those can match a path that another route also matches (find-my-way tries
 * static segments first, then parameters, then wildcards). Otherwise the tree is rebuilt then and
 * the request matched again: once per such request after a batch that took routes out.
 */
export class RouteTable {
  private tree: Tree;
  /** Every route in the tree, by key; a slot without a route was taken out. */
  private readonly slots = new Map<string, Slot>();
  private routes = 0;
  private emptySlots = 0;
  /** How many routes of each method have a parameter or a wildcard. */
  private readonly dynamic = new Map<string, number>();
  private rebuilds = 0;

  constructor(private readonly maxParamLength: number) {
    this.tree = newTree(maxParamLength);
  }

  /** How many routes the table serves. */
  get size(): number {
    return this.routes;
  }

  /** @internal How many times the tree was rebuilt (for tests). */
  get rebuildCount(): number {
    return this.rebuilds;
  }

  /** The route that serves `method` and `path`, with the parameters it took from the path. */
  find(method: HTTPMethod, path: string): RouteMatch | null {
    const found = this.tree.find(method, path);
    if (found === null) return null;
    const route = (found.store as Slot).route;
    if (route !== undefined) return { store: route.store, params: found.params };
    if ((this.dynamic.get(method) ?? 0) === 0) return null;
    this.rebuild();
    const again = this.tree.find(method, path);
    const routeAgain = (again?.store as Slot | undefined)?.route;
    return again === null || routeAgain === undefined ? null : { store: routeAgain.store, params: again.params };
  }

  /**
   * The route of the same shape as `method` and `path` (what putting it in would clash with:
   * `/a/:x` and `/a/:y` are one shape), or undefined. Throws for a path find-my-way refuses.
   */
  findRoute(method: HttpMethodName, path: string): Route | undefined {
    return (this.tree.findRoute(method, path)?.store as Slot | undefined)?.route;
  }

  /** Takes `removed` out and puts `added` in, in one step; a staged batch checked that they fit. */
  apply(removed: Iterable<Route>, added: Iterable<Route>): void {
    for (const route of removed) {
      const slot = this.slots.get(keyOf(route));
      const served = slot?.route;
      if (slot === undefined || served === undefined) continue;
      slot.route = undefined;
      this.emptySlots++;
      this.count(served, -1);
    }
    let rebuild = false;
    for (const route of added) {
      const key = keyOf(route);
      const slot = this.slots.get(key);
      if (slot !== undefined) {
        if (slot.route === undefined) this.emptySlots--;
        else this.count(slot.route, -1);
        slot.route = route;
      } else {
        const fresh: Slot = { route };
        this.slots.set(key, fresh);
        try {
          this.tree.on(route.method, route.path, noop, fresh);
        } catch {
          // An empty slot of the same shape, written differently (`/a/:x` for `/a/:y`): a rebuild
          // leaves it out.
          rebuild = true;
        }
      }
      this.count(route, 1);
    }
    if (rebuild || (this.emptySlots > REBUILD_FROM && this.emptySlots > this.routes)) this.rebuild();
  }

  private count(route: Route, delta: 1 | -1): void {
    this.routes += delta;
    if (isDynamic(route.path)) this.dynamic.set(route.method, (this.dynamic.get(route.method) ?? 0) + delta);
  }

  /** A new tree of the routes served, without the empty slots. */
  private rebuild(): void {
    const tree = newTree(this.maxParamLength);
    for (const [key, slot] of this.slots) {
      if (slot.route === undefined) this.slots.delete(key);
      else tree.on(slot.route.method, slot.route.path, noop, slot);
    }
    this.tree = tree;
    this.emptySlots = 0;
    this.rebuilds++;
  }
}

/** Options of {@link StagedRoutes}. */
export interface StagedRoutesOptions {
  /** The routers of the batch, as staged so far (read, never written, here). */
  readonly routers: StagedMap<RouterSpec>;
  /** The live table of a service, if it has one. */
  readonly live: (service: string) => RouteTable | undefined;
  readonly maxParamLength: number;
  readonly regexCheck: RouteRegexCheck;
}

/** What one batch changes in one service's routes. */
export interface RouteChanges {
  /** Live routes taken out, by key. */
  readonly removed: Map<string, Route>;
  /** Routes put in, by key. */
  readonly added: Map<string, Route>;
}

/**
 * The route changes of one batch, checked as they are staged: a route goes in only when it is
 * valid, free and passes the ReDoS check. Free means that no live route of its shape stays (one the
 * batch took out does not count) and that no route the batch put in has it. The live tables are
 * not touched until commit ({@link RouteTable.apply}); a refused batch is dropped.
 *
 * The routes the batch put in are kept in a find-my-way tree of their own per service, for the
 * same shape test as the live one; it is rebuilt, from the batch's routes only, when one of them is
 * taken out again.
 */
export class StagedRoutes {
  private readonly changes = new Map<string, RouteChanges>();
  /** Per service, a tree of the routes this batch put in. */
  private readonly trees = new Map<string, Tree>();
  /** Services whose tree still holds a route the batch took out again. */
  private readonly stale = new Set<string>();

  constructor(private readonly options: StagedRoutesOptions) {}

  /** What the batch changed, by service. */
  get changed(): ReadonlyMap<string, RouteChanges> {
    return this.changes;
  }

  /** The route of a staged endpoint (its router is staged too). */
  routeOf(endpoint: EndpointSpec): Route {
    return routeFor(this.options.routers.get(endpoint.router) as RouterSpec, endpoint);
  }

  /**
   * Takes `removed` out of the staged routes and puts `added` in; on a conflict puts everything
   * back as it was and refuses, naming the endpoint already on that route.
   */
  move(entry: Entry, removed: readonly Route[], added: readonly Route[]): void {
    const undo: (() => void)[] = [];
    try {
      for (const route of removed) undo.push(this.take(route));
      // A router's prefix moves its endpoints' routes: a refusal is about the prefix then.
      const field = ['data', entry.kind === HttpKind.router ? 'prefix' : 'path'];
      for (const route of added) undo.push(this.place(entry, field, route));
    } catch (error) {
      for (const step of undo.reverse()) step();
      throw error;
    }
  }

  private changesOf(service: string): RouteChanges {
    let changes = this.changes.get(service);
    if (changes === undefined) this.changes.set(service, (changes = { removed: new Map(), added: new Map() }));
    return changes;
  }

  /** Takes a route out; returns how to put it back. */
  private take(route: Route): () => void {
    const { removed, added } = this.changesOf(route.service);
    const key = keyOf(route);
    if (added.delete(key)) {
      this.stale.add(route.service);
      return () => {
        added.set(key, route);
        this.stale.add(route.service);
      };
    }
    removed.set(key, route);
    return () => removed.delete(key);
  }

  /** Puts a route in, or refuses it; returns how to take it out again. */
  private place(entry: Entry, field: readonly string[], route: Route): () => void {
    const tree = this.treeOf(route.service);
    const { removed, added } = this.changesOf(route.service);
    let taken: string | undefined;
    let unsafe: string | undefined;
    try {
      const staged = tree.findRoute(route.method, route.path);
      if (staged !== null) {
        taken = (staged.store as RouteStore | undefined)?.endpointId ?? '?';
      } else {
        const live = this.options.live(route.service)?.findRoute(route.method, route.path);
        if (live !== undefined && !removed.has(keyOf(live))) taken = live.store.endpointId;
      }
      unsafe = taken === undefined ? this.options.regexCheck.problemOf(route.method, route.path) : undefined;
    } catch (error) {
      throw refusal(entry, field, {
        reason: `route ${route.method} ${route.path} is not valid: ${messageOf(error)}`,
        code: 'INVALID',
      });
    }
    if (taken !== undefined) {
      const message = `route ${route.method} ${route.path} on ${route.service} is already taken by endpoint ${taken}`;
      throw refusal(entry, field, { reason: message, code: 'CONFLICT' });
    }
    if (unsafe !== undefined)
      throw refusal(entry, field, {
        reason: `route ${route.method} ${route.path} is refused: ${unsafe}`,
        code: 'INVALID',
      });
    try {
      tree.on(route.method, route.path, noop, route.store);
    } catch (error) {
      throw refusal(entry, field, {
        reason: `route ${route.method} ${route.path} is not valid: ${messageOf(error)}`,
        code: 'INVALID',
      });
    }
    const key = keyOf(route);
    added.set(key, route);
    return () => {
      added.delete(key);
      this.stale.add(route.service);
    };
  }

  /** The tree of the routes this batch put in on `service`, rebuilt if one was taken out again. */
  private treeOf(service: string): Tree {
    let tree = this.trees.get(service);
    if (tree === undefined || this.stale.delete(service)) {
      tree = newTree(this.options.maxParamLength);
      for (const route of this.changes.get(service)?.added.values() ?? [])
        tree.on(route.method, route.path, noop, route.store);
      this.trees.set(service, tree);
    }
    return tree;
  }
}
