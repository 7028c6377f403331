import { describe, expect, it } from 'vitest';
import { createEntry, HandlerRegistry, KindlingError, Registry } from 'kindling';
import type { Entry } from 'kindling';
import { ClusterState } from './cluster-state.js';

const wire = (id: string, data: unknown, kind = 'http.endpoint'): object => ({ id, kind, meta: {}, data });
const entry = (id: string, data: unknown, kind = 'http.endpoint'): Entry => createEntry({ id, kind, data });

function messageOf(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    return KindlingError.is(error) ? `${error.code}: ${error.message}` : String(error);
  }
  return 'no error';
}

describe('ClusterState', () => {
  it('folds batches in revision order into the entries they leave', () => {
    const state = new ClusterState();
    state.fold(1, [
      { op: 'create', entry: wire('app:a', { port: 1 }) },
      { op: 'create', entry: wire('app:b', { port: 2 }) },
    ]);
    state.fold(2, [
      { op: 'update', entry: wire('app:a', { port: 3 }) },
      { op: 'delete', entry: { id: 'app:b' } },
      { op: 'create', entry: wire('app:c', {}) },
    ]);
    expect(state.revision).toBe(2);
    expect(state.snapshot()).toEqual({
      revision: 2,
      entries: [
        { id: 'app:a', kind: 'http.endpoint', meta: {}, data: { port: 3 } },
        { id: 'app:c', kind: 'http.endpoint', meta: {}, data: {} },
      ],
      owners: {},
    });
  });

  it('folds the owner of each entry from the sources of the batches, and keeps it in a snapshot', () => {
    const state = new ClusterState();
    state.fold(
      1,
      [
        { op: 'create', entry: wire('app:a', {}) },
        { op: 'create', entry: wire('app:b', {}) },
      ],
      'yaml:/a',
    );
    state.fold(2, [{ op: 'update', entry: wire('app:b', { x: 1 }) }], 'kindling apply');
    state.fold(3, [{ op: 'delete', entry: { id: 'app:a' } }], 'yaml:/a');
    expect(state.owners.toJSON()).toEqual({ 'app:b': 'kindling apply' });
    // A rollback gives what it restores back to the owner it had then.
    state.fold(
      4,
      [
        { op: 'create', entry: wire('app:a', {}) },
        { op: 'update', entry: wire('app:b', {}) },
      ],
      'rollback to 1',
    );
    expect(state.owners.toJSON()).toEqual({ 'app:a': 'yaml:/a', 'app:b': 'yaml:/a' });
    const copy = ClusterState.fromSnapshot(JSON.parse(JSON.stringify(state.snapshot())));
    expect(copy.owners.toJSON()).toEqual({ 'app:a': 'yaml:/a', 'app:b': 'yaml:/a' });
    expect(messageOf(() => ClusterState.fromSnapshot({ revision: 1, entries: [], owners: { 'app:a': 3 } }))).toBe(
      'INVALID: owners.app:a: the owner must be a non-empty string',
    );
  });

  it('refuses a batch that does not fit, or comes out of order, and changes nothing', () => {
    const state = new ClusterState();
    state.fold(1, [{ op: 'create', entry: wire('app:a', {}) }]);
    const before = state.snapshot();
    expect(
      messageOf(() =>
        state.fold(2, [
          { op: 'delete', entry: { id: 'app:a' } },
          { op: 'update', entry: wire('app:a', {}) },
        ]),
      ),
    ).toBe('INVALID: revision 2, ops[1]: update of app:a, which does not exist');
    expect(messageOf(() => state.fold(2, [{ op: 'create', entry: wire('app:a', {}) }]))).toBe(
      'INVALID: revision 2, ops[0]: create of app:a, which exists',
    );
    expect(messageOf(() => state.fold(3, []))).toBe(
      'INVALID: the batch of revision 3 does not follow revision 1: the log was read out of order',
    );
    expect(messageOf(() => state.fold(2, [{ op: 'rename', entry: { id: 'app:a' } }]))).toBe(
      'INVALID: ops[0].op must be create, update or delete, not "rename"',
    );
    expect(state.snapshot()).toEqual(before);
    // An empty batch is a revision too.
    state.fold(2, []);
    expect(state.revision).toBe(2);
  });

  it('gives the target from which a registry computes the one batch that reaches the state', async () => {
    const state = new ClusterState();
    state.fold(1, [
      { op: 'create', entry: wire('app:same', { a: [1, { b: 2 }] }) },
      { op: 'create', entry: { ...wire('app:moved', {}), at: { file: 'registry/x.yaml', line: 9, column: 3 } } },
      { op: 'create', entry: wire('app:changed', { port: 2 }) },
      { op: 'create', entry: wire('app:new', {}) },
    ]);
    const registry = new Registry({ handlers: new HandlerRegistry(), acceptKinds: ['http.*', 'function.*'] });
    await registry.apply(
      [
        entry('app:same', { a: [1, { b: 2 }] }),
        entry('app:moved', {}),
        entry('app:changed', { port: 1 }),
        entry('app:gone', {}),
      ].map((e) => ({ op: 'create' as const, entry: e })),
    );
    const ops = registry.opsToReach(state.targetFor(registry.entries().map((e) => e.id)));
    expect(ops.map((op) => [op.op, op.entry.id]).sort()).toEqual([
      ['create', 'app:new'],
      ['delete', 'app:gone'],
      ['update', 'app:changed'],
    ]);
    await registry.apply(ops);
    expect(registry.opsToReach(state.targetFor(registry.entries().map((e) => e.id)))).toEqual([]);
    expect(registry.get('app:changed')?.data).toEqual({ port: 2 });
  });

  it('round-trips through a snapshot, and decodes one strictly', () => {
    const state = new ClusterState();
    state.fold(1, [{ op: 'create', entry: wire('app:a', { n: 1 }) }]);
    const copy = ClusterState.fromSnapshot(JSON.parse(JSON.stringify(state.snapshot())));
    expect(copy.revision).toBe(1);
    expect(copy.snapshot()).toEqual(state.snapshot());
    copy.fold(2, [{ op: 'delete', entry: { id: 'app:a' } }]);
    expect(copy.size).toBe(0);

    expect(messageOf(() => ClusterState.fromSnapshot([]))).toBe(
      'INVALID: a cluster snapshot must be an object { revision, entries }',
    );
    expect(messageOf(() => ClusterState.fromSnapshot({ revision: -1, entries: [] }))).toBe(
      'INVALID: a cluster snapshot needs a revision, a whole number from 0',
    );
    expect(messageOf(() => ClusterState.fromSnapshot({ revision: 1, entries: [{ id: 'app:a' }] }))).toMatch(
      /^INVALID: entries\[0\]\.kind/,
    );
    expect(
      messageOf(() => ClusterState.fromSnapshot({ revision: 1, entries: [wire('app:a', {}), wire('app:a', {})] })),
    ).toBe('INVALID: entries[1]: app:a is in the snapshot twice');
  });
});
