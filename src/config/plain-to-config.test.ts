import 'reflect-metadata';
import { Exclude, plainToInstance, Transform, Type } from 'class-transformer';
import { describe, expect, it } from 'vitest';
import { deepFreeze } from '../common/deep-freeze.js';
import { plainToConfig } from './plain-to-config.js';

class Leaf {
  path = '/';
  method?: string;
  get upper(): string {
    return this.path.toUpperCase();
  }
  describe(): string {
    return this.path;
  }
}

class Base {
  @Type(() => Leaf) inherited?: Leaf;
  level = 1;
}

class Tree extends Base {
  name = 'tree';
  @Type(() => Leaf) leaves: Leaf[] = [];
  @Type(() => Leaf) main?: Leaf;
  @Type(() => String) label?: string;
  @Type(() => Number) size?: number;
  @Type(() => Boolean) on?: boolean;
  free?: unknown;
}

class Excluding {
  @Exclude() secret = 'kept';
}

class Transforming {
  @Transform(({ value }: { value: unknown }) => String(value)) text = '';
}

class WithSet {
  @Type(() => Leaf) leaves = new Set<Leaf>();
}

const cases: unknown[] = [
  {},
  { name: 'x', level: 3 },
  { leaves: [{ path: '/a' }, { path: '/b', method: 'GET', extra: [1, { deep: true }] }] },
  { leaves: [[{ path: '/nested' }]] },
  { leaves: ['text', 3, null] },
  { main: { path: '/m', upper: 'ignored', describe: 'ignored' } },
  { main: null },
  { main: 'text' },
  { inherited: { path: '/i' } },
  { label: 12, size: '7', on: 0 },
  { label: null, size: undefined },
  { free: { toString: 'skipped', valueOf: 1, ok: [1, 'two'] } },
  { free: Object.assign(Object.create(null) as object, { a: 1 }) },
  { name: undefined },
  { upper: 'x', describe: 'y' },
];

function same(actual: unknown, expected: unknown): void {
  expect(actual).toEqual(expected);
  expect(actual?.constructor).toBe((expected as object | undefined)?.constructor);
  expect(JSON.stringify(actual)).toBe(JSON.stringify(expected));
}

describe('plainToConfig', () => {
  it('builds what plainToInstance builds, classes of nested values included', () => {
    for (const data of cases) {
      const expected = plainToInstance(Tree, data, { exposeDefaultValues: true });
      const actual = plainToConfig(Tree, data as object);
      expect(actual).toBeDefined();
      same(actual, expected);
      if (expected.main instanceof Leaf) expect(actual?.main).toBeInstanceOf(Leaf);
      for (const [i, leaf] of expected.leaves.entries()) {
        expect((actual?.leaves[i] as object | null)?.constructor).toBe((leaf as object | null)?.constructor);
      }
    }
  });

  it('takes the untyped parts of deep-frozen JSON data as they are, and still builds the typed ones', () => {
    const json = [
      { free: { ok: [1, 'two', { deep: true }] }, leaves: [{ path: '/a', extra: { x: [1] } }], main: { path: '/m' } },
      { free: ['a', ['b']], label: 12, size: '7', on: 0, inherited: { path: '/i' } },
      { leaves: [[{ path: '/nested' }]], name: 'x' },
    ];
    for (const plain of json) {
      const data = deepFreeze(structuredClone(plain));
      const expected = plainToInstance(Tree, data, { exposeDefaultValues: true });
      const actual = plainToConfig(Tree, data, true);
      same(actual, expected);
      if ('free' in data) expect(actual?.free).toBe(data.free);
      if ('main' in data) expect(actual?.main).toBeInstanceOf(Leaf);
      for (const [i, leaf] of expected.leaves.entries()) {
        expect((actual?.leaves[i] as object | null)?.constructor).toBe((leaf as object | null)?.constructor);
      }
    }
    // Data that is not frozen is copied as before.
    const open = { free: { ok: 1 } };
    expect(plainToConfig(Tree, open, true)?.free).not.toBe(open.free);
  });

  it('leaves classes with exclude or transform rules, Set fields and odd values to class-transformer', () => {
    expect(plainToConfig(Excluding, { secret: 'x' })).toBeUndefined();
    expect(plainToConfig(Transforming, { text: 1 })).toBeUndefined();
    // A Set field is known by its emitted design type; without one class-transformer builds a list too.
    const set = { leaves: [{ path: '/a' }] };
    const reflected: unknown = Reflect.getMetadata('design:type', WithSet.prototype, 'leaves');
    if (reflected === Set) expect(plainToConfig(WithSet, set)).toBeUndefined();
    else same(plainToConfig(WithSet, set), plainToInstance(WithSet, set, { exposeDefaultValues: true }));
    expect(plainToConfig(Tree, { free: new Date(0) })).toBeUndefined();
    expect(plainToConfig(Tree, { free: new Map() })).toBeUndefined();
  });

  it('sees a type rule added after its first use', () => {
    class Late {
      child?: unknown;
    }
    expect(plainToConfig(Late, { child: { path: '/x' } })?.child).not.toBeInstanceOf(Leaf);
    Type(() => Leaf)(Late.prototype, 'child');
    expect(plainToConfig(Late, { child: { path: '/x' } })?.child).toBeInstanceOf(Leaf);
  });
});
