import fc from 'fast-check';
import Router from 'find-my-way';
import type { HTTPMethod } from 'find-my-way';
import { describe, expect, it } from 'vitest';
import type { HttpMethodName } from './http-config.js';
import { RouteTable, type Route } from './route-table.js';

const MAX_PARAM = 100;

const route = (method: HttpMethodName, path: string, endpoint = `${method} ${path}`): Route => ({
  service: 's',
  method,
  path,
  store: { endpointId: endpoint, funcId: 'f', timeoutMs: 1000, route: path },
});

/** What a fresh find-my-way tree of `routes` answers: the reference the table must agree with. */
function reference(routes: Iterable<Route>): (method: HTTPMethod, path: string) => string | null {
  const tree = Router({ ignoreTrailingSlash: true, ignoreDuplicateSlashes: true, maxParamLength: MAX_PARAM });
  for (const r of routes) tree.on(r.method, r.path, () => undefined, r.store);
  return (method, path) => {
    const found = tree.find(method, path);
    if (found === null) return null;
    return `${(found.store as Route['store']).endpointId} ${JSON.stringify(found.params)}`;
  };
}

const answer = (table: RouteTable, method: HTTPMethod, path: string): string | null => {
  const found = table.find(method, path);
  return found === null ? null : `${found.store.endpointId} ${JSON.stringify(found.params)}`;
};

// Static, parametric and wildcard routes that overlap, and pairs of one shape written differently.
const PATHS = [
  '/a',
  '/a/b',
  '/a/:x',
  '/a/:y',
  '/a/b/c',
  '/a/:x/c',
  '/a/*',
  '/b/:id(^\\d+$)',
  '/b/:name',
  '/b/7',
  '/c/:from-:to',
  '/*',
];
const PROBES = ['/a', '/a/b', '/a/z', '/a/b/c', '/a/z/c', '/a/b/d', '/b/7', '/b/8', '/b/x', '/c/1-2', '/d', '/'];
const METHODS: HttpMethodName[] = ['GET', 'POST'];

describe('RouteTable', () => {
  it('answers as a tree built afresh from its routes, through commits that take routes out and put them back', () => {
    const step = fc.record({
      removals: fc.array(fc.nat(), { maxLength: 3 }),
      additions: fc.array(fc.record({ method: fc.constantFrom(...METHODS), path: fc.constantFrom(...PATHS) }), {
        maxLength: 3,
      }),
    });
    fc.assert(
      fc.property(fc.array(step, { maxLength: 25 }), (steps) => {
        const table = new RouteTable(MAX_PARAM);
        const live = new Map<string, Route>();
        let version = 0;
        for (const { removals, additions } of steps) {
          const keys = [...live.keys()];
          const removed = new Map<string, Route>();
          for (const pick of removals) {
            const key = keys[pick % Math.max(1, keys.length)];
            if (key !== undefined) removed.set(key, live.get(key) as Route);
          }
          const remaining = [...live.values()].filter((r) => !removed.has(`${r.method} ${r.path}`));
          // Only what staging would let through: no two routes of one shape.
          const added: Route[] = [];
          const shapes = Router({ ignoreTrailingSlash: true, ignoreDuplicateSlashes: true, maxParamLength: MAX_PARAM });
          for (const r of remaining) shapes.on(r.method, r.path, () => undefined);
          for (const { method, path } of additions) {
            if (shapes.findRoute(method, path) !== null) continue;
            shapes.on(method, path, () => undefined);
            added.push(route(method, path, `e${version++}`));
          }
          table.apply(removed.values(), added);
          for (const key of removed.keys()) live.delete(key);
          for (const r of added) live.set(`${r.method} ${r.path}`, r);
          const expected = reference(live.values());
          for (const method of METHODS)
            for (const probe of PROBES) expect(answer(table, method, probe)).toBe(expected(method, probe));
          expect(table.size).toBe(live.size);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('changes one route of many without rebuilding its tree', () => {
    const table = new RouteTable(MAX_PARAM);
    table.apply(
      [],
      Array.from({ length: 1_000 }, (_, i) => route('GET', `/p${i}/v0`, `e${i}`)),
    );
    for (let v = 1; v <= 60; v++)
      table.apply([route('GET', `/p${v}/v${v - 1}`)], [route('GET', `/p${v}/v${v}`, `e${v}`)]);
    expect(table.rebuildCount).toBe(0);
    expect(table.find('GET', '/p5/v5')?.store.endpointId).toBe('e5');
    expect(table.find('GET', '/p5/v4')).toBeNull();
  });

  it('rebuilds once the routes taken out outnumber those it serves', () => {
    const table = new RouteTable(MAX_PARAM);
    const routes = Array.from({ length: 200 }, (_, i) => route('GET', `/p${i}`));
    table.apply([], routes);
    table.apply(routes.slice(0, 150), []);
    expect(table.rebuildCount).toBe(1);
    expect(table.size).toBe(50);
    expect(table.find('GET', '/p10')).toBeNull();
    expect(table.find('GET', '/p160')?.store.endpointId).toBe('GET /p160');
  });

  it('finds what a route taken out hid, when a parametric route of the method can match', () => {
    const table = new RouteTable(MAX_PARAM);
    table.apply([], [route('GET', '/a/b', 'static'), route('GET', '/a/:x', 'param')]);
    table.apply([route('GET', '/a/b')], []);
    expect(table.find('GET', '/a/b')).toEqual({
      store: expect.objectContaining({ endpointId: 'param' }),
      params: { x: 'b' },
    });
  });

  it('names a parameter as the route put back writes it, not as the route taken out did', () => {
    const table = new RouteTable(MAX_PARAM);
    table.apply([], [route('GET', '/a/:x', 'old')]);
    table.apply([route('GET', '/a/:x')], [route('GET', '/a/:y', 'new')]);
    expect(table.find('GET', '/a/q')).toEqual({
      store: expect.objectContaining({ endpointId: 'new' }),
      params: { y: 'q' },
    });
  });
});
