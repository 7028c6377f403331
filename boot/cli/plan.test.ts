import { describe, expect, it } from 'vitest';
import { createEntry } from 'kindling';
import type { Entry } from 'kindling';
import { changedPaths, planRegistry } from './plan.js';

const SOURCE = 'yaml:/srv/app';
const entry = (id: string, data: unknown = {}, meta: Record<string, unknown> = {}, kind = 'app.note'): Entry =>
  createEntry({ id, kind, meta, data });

describe('planRegistry', () => {
  it('plans a create for each declared id the registry does not hold', () => {
    const plan = planRegistry({
      desired: [entry('app:a'), entry('app:b')],
      current: [entry('app:a')],
      owners: {},
      source: SOURCE,
      prune: false,
    });
    expect(plan.changes).toEqual([{ op: 'create', id: 'app:b', kind: 'app.note' }]);
    expect(plan.ops).toEqual([{ op: 'create', entry: entry('app:b') }]);
  });

  it('plans an update with the changed field paths for each changed entry', () => {
    const before = entry('app:a', { routes: [{ path: '/a' }], port: 1 }, { groups: ['web'] });
    const after = entry('app:a', { routes: [{ path: '/b' }], port: 1 }, { groups: ['api'] });
    const plan = planRegistry({ desired: [after], current: [before], owners: {}, source: SOURCE, prune: false });
    expect(plan.changes).toEqual([
      { op: 'update', id: 'app:a', kind: 'app.note', paths: ['meta.groups[0]', 'data.routes[0].path'] },
    ]);
  });

  it('plans nothing for an entry equal to the one the registry holds', () => {
    const plan = planRegistry({
      desired: [entry('app:a', { x: [1, { y: 2 }] })],
      current: [entry('app:a', { x: [1, { y: 2 }] })],
      owners: {},
      source: SOURCE,
      prune: false,
    });
    expect(plan.ops).toEqual([]);
  });

  it('deletes nothing without prune, and lists the ids this source owns and no longer declares', () => {
    const plan = planRegistry({
      desired: [],
      current: [entry('app:mine'), entry('app:theirs')],
      owners: { 'app:mine': SOURCE, 'app:theirs': 'kindling apply' },
      source: SOURCE,
      prune: false,
    });
    expect(plan.ops).toEqual([]);
    expect(plan.unpruned).toEqual(['app:mine']);
  });

  it('with prune, deletes only the ids this source owns and no longer declares', () => {
    const plan = planRegistry({
      desired: [entry('app:kept')],
      current: [entry('app:kept'), entry('app:mine'), entry('app:theirs'), entry('app:nobody')],
      owners: { 'app:kept': SOURCE, 'app:mine': SOURCE, 'app:theirs': 'yaml:/srv/other' },
      source: SOURCE,
      prune: true,
    });
    expect(plan.changes).toEqual([{ op: 'delete', id: 'app:mine', kind: 'app.note' }]);
    expect(plan.ops).toEqual([{ op: 'delete', entry: { id: 'app:mine' } }]);
  });

  it('orders the changes by id and the batch as declared, deletes last', () => {
    const plan = planRegistry({
      desired: [entry('app:z'), entry('app:a')],
      current: [entry('app:m')],
      owners: { 'app:m': SOURCE },
      source: SOURCE,
      prune: true,
    });
    expect(plan.changes.map((change) => change.id)).toEqual(['app:a', 'app:m', 'app:z']);
    expect(plan.ops.map((op) => `${op.op} ${op.entry.id}`)).toEqual(['create app:z', 'create app:a', 'delete app:m']);
  });
});

describe('changedPaths', () => {
  it('names a kind change', () => {
    expect(changedPaths(entry('app:a', {}, {}, 'app.note'), entry('app:a', {}, {}, 'app.other'))).toEqual(['kind']);
  });

  it('names added and removed keys and list items', () => {
    expect(changedPaths(entry('app:a', { a: 1, list: [1] }), entry('app:a', { b: 1, list: [1, 2] }))).toEqual([
      'data.a',
      'data.b',
      'data.list[1]',
    ]);
  });

  it('quotes keys that are not plain names', () => {
    expect(changedPaths(entry('app:a', { 'a.b': 1 }), entry('app:a', { 'a.b': 2 }))).toEqual(['data["a.b"]']);
  });

  it('names the whole value when its type changed', () => {
    expect(changedPaths(entry('app:a', { x: [1] }), entry('app:a', { x: { 0: 1 } }))).toEqual(['data.x']);
  });
});
