import { describe, expect, it } from 'vitest';
import { HandlerRegistry, Registry } from 'kindling';
import { diffValues, preview, revisionList, revisionView } from './inspector-data.js';
import { collectNodes } from './inspector-nodes.js';

describe('preview', () => {
  it('writes JSON-like text of plain values, indented on request', () => {
    expect(preview({ a: [1, 'x', null, true], b: {} }, 100)).toBe('{"a": [1, "x", null, true], "b": {}}');
    expect(preview({ a: [1] }, 100, 2)).toBe('{\n  "a": [\n    1\n  ]\n}');
  });

  it('cuts at the limit, marked with …', () => {
    const text = preview({ long: 'y'.repeat(1_000) }, 50);
    expect(text).toHaveLength(51);
    expect(text.endsWith('…')).toBe(true);
  });

  it('shows what JSON cannot hold, and never throws', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic['me'] = cyclic;
    const getter = Object.defineProperty({}, 'boom', {
      enumerable: true,
      get() {
        throw new Error('no');
      },
    });
    const revoked = Proxy.revocable({}, {});
    revoked.revoke();
    expect(preview(cyclic, 100)).toBe('{"me": [cycle]}');
    expect(preview({ n: 1n, f: () => 0, s: Symbol('s'), u: undefined, nan: NaN }, 100)).toBe(
      '{"n": 1n, "f": [function], "s": [symbol], "u": undefined, "nan": NaN}',
    );
    expect(preview(getter, 100)).toBe('{"boom": [unreadable]}');
    expect(preview(revoked.proxy, 100)).toBe('[unreadable]');
    // The same object twice, not nested in itself, is no cycle.
    const shared = { x: 1 };
    expect(preview([shared, shared], 100)).toBe('[{"x": 1}, {"x": 1}]');
  });
});

describe('diffValues', () => {
  it('lists each changed leaf with its path, before and after', () => {
    expect(diffValues({ data: { port: 1, hosts: ['a'] } }, { data: { port: 2, hosts: ['a', 'b'], tls: {} } })).toEqual({
      lines: [
        { path: 'data.port', before: '1', after: '2' },
        { path: 'data.hosts[1]', after: '"b"' },
      ],
      more: 0,
    });
    expect(diffValues({ a: [1] }, { a: { 0: 1 } }).lines).toEqual([{ path: 'a', before: '[1]', after: '{"0": 1}' }]);
  });

  it('counts the paths past its cap instead of listing them', () => {
    const after = Object.fromEntries(Array.from({ length: 70 }, (_, i) => [`k${i}`, i]));
    const { lines, more } = diffValues({}, after);
    expect(lines).toHaveLength(50);
    expect(more).toBe(20);
  });
});

describe('revisions', () => {
  it('summarises retained batches newest first, and diffs one', async () => {
    const registry = new Registry({ handlers: new HandlerRegistry(), acceptKinds: ['config.*'] });
    await registry.apply([{ op: 'create', entry: { id: 'a:x', kind: 'config.x', data: { v: 1 } } }], { source: 's1' });
    await registry.apply([{ op: 'delete', entry: { id: 'a:x' } }]);
    const list = revisionList(registry, undefined, 10);
    expect(list.revisions.map((r) => [r.revision, r.create, r.delete, r.source])).toEqual([
      [2, 0, 1, undefined],
      [1, 1, 0, 's1'],
    ]);
    expect(revisionList(registry, 2, 10).revisions.map((r) => r.revision)).toEqual([1]);
    expect(revisionView(registry, 1)?.changes[0]?.diff).toEqual([
      { path: 'kind', after: '"config.x"' },
      { path: 'data.v', after: '1' },
    ]);
    expect(revisionView(registry, 2)?.changes[0]?.diff).toEqual([
      { path: 'kind', before: '"config.x"' },
      { path: 'data.v', before: '1' },
    ]);
    expect(revisionView(registry, 3)).toBeUndefined();
  });
});

describe('collectNodes', () => {
  it('puts the local node first, lets a later source replace a row, and survives a throwing source', () => {
    const nodes = collectNodes([
      { nodes: () => [{ node: 'b', local: false, state: 'seen on the bus' }] },
      { nodes: () => [{ node: 'me', local: true, state: 'running' }] },
      { nodes: () => [{ node: 'b', local: false, state: 'in-sync', clusterRevision: 4 }] },
      {
        nodes: () => {
          throw new Error('down');
        },
      },
    ]);
    expect(nodes.map((n) => [n.node, n.state])).toEqual([
      ['me', 'running'],
      ['(a node source)', 'unreadable'],
      ['b', 'in-sync'],
    ]);
  });
});
