import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Referrers, StagedMap } from './index.js';

/** A spec that names other ids, as an endpoint names its function and router. */
interface Spec {
  readonly v: number;
  readonly names: readonly string[];
}

const spec = (v: number, ...names: string[]): Spec => ({ v, names });

describe('StagedMap', () => {
  it('shows the batch its changes and leaves the committed map alone until commit', () => {
    const committed = new Map([
      ['a', spec(1)],
      ['b', spec(2)],
    ]);
    const staged = new StagedMap(committed);
    staged.set('a', spec(10));
    staged.set('c', spec(3));
    staged.delete('b');
    expect(staged.get('a')?.v).toBe(10);
    expect(staged.has('b')).toBe(false);
    expect([...staged.entries()].map(([id, s]) => `${id}=${s.v}`)).toEqual(['a=10', 'c=3']);
    expect([...committed.keys()]).toEqual(['a', 'b']);
    expect(committed.get('a')?.v).toBe(1);
    staged.commit();
    expect([...committed].map(([id, s]) => `${id}=${s.v}`)).toEqual(['a=10', 'c=3']);
  });

  it('drops its changes on discard', () => {
    const committed = new Map([['a', spec(1)]]);
    const staged = new StagedMap(committed);
    staged.delete('a');
    staged.set('b', spec(2));
    staged.discard();
    expect([...committed.keys()]).toEqual(['a']);
  });

  it('moves an entry deleted and set again to the end, as a copy of the map would', () => {
    const committed = new Map([
      ['a', spec(1)],
      ['b', spec(2)],
    ]);
    const staged = new StagedMap(committed);
    staged.delete('a');
    staged.set('a', spec(3));
    expect([...staged.entries()].map(([id]) => id)).toEqual(['b', 'a']);
    staged.commit();
    expect([...committed.keys()]).toEqual(['b', 'a']);
  });

  it('lists what changed with the value before and after', () => {
    const committed = new Map([
      ['a', spec(1)],
      ['b', spec(2)],
    ]);
    const staged = new StagedMap(committed);
    staged.set('a', spec(5));
    staged.delete('b');
    staged.set('n', spec(7));
    staged.set('gone', spec(8));
    staged.delete('gone');
    expect([...staged.changed()].map(([id, before, after]) => [id, before?.v, after?.v])).toEqual([
      ['a', 1, 5],
      ['b', 2, undefined],
      ['n', undefined, 7],
    ]);
  });
});

describe('Referrers', () => {
  it('answers through the staged changes, and keeps the answer of a discarded batch out', () => {
    const callers = new Referrers<Spec>((s) => s.names);
    const committed = new Map<string, Spec>();
    let staged = new StagedMap(committed, [callers]);
    staged.set('e1', spec(1, 'f'));
    expect(callers.has('f', staged)).toBe(true);
    staged.commit();

    staged = new StagedMap(committed, [callers]);
    staged.set('e1', spec(2, 'g'));
    expect(callers.has('f', staged)).toBe(false);
    expect(callers.has('g', staged)).toBe(true);
    staged.discard();

    staged = new StagedMap(committed, [callers]);
    expect(callers.has('f', staged)).toBe(true);
    expect(callers.has('g', staged)).toBe(false);
  });

  it('forgets a batch that was neither committed nor discarded', () => {
    const callers = new Referrers<Spec>((s) => s.names);
    const committed = new Map<string, Spec>();
    new StagedMap(committed, [callers]).set('e1', spec(1, 'f'));
    expect(callers.has('f', new StagedMap(committed, [callers]))).toBe(false);
  });

  // Batches of random sets and deletes, each committed or discarded, beside a model that copies
  // the committed map for every batch (what the components did before) and scans it to answer.
  it('agrees with a copy of the map and a full scan, through committed and discarded batches', () => {
    const ids = ['a', 'b', 'c', 'd', 'e'];
    const names = ['f', 'g', 'h'];
    const op = fc.oneof(
      fc.record({
        op: fc.constant('set' as const),
        id: fc.constantFrom(...ids),
        v: fc.nat(9),
        names: fc.subarray(names),
      }),
      fc.record({ op: fc.constant('delete' as const), id: fc.constantFrom(...ids) }),
    );
    const batch = fc.record({ ops: fc.array(op, { maxLength: 8 }), commit: fc.boolean() });
    fc.assert(
      fc.property(fc.array(batch, { maxLength: 12 }), (batches) => {
        const callers = new Referrers<Spec>((s) => s.names);
        const committed = new Map<string, Spec>();
        let model = new Map<string, Spec>();
        for (const { ops, commit } of batches) {
          const staged = new StagedMap(committed, [callers]);
          const copy = new Map(model);
          for (const step of ops) {
            if (step.op === 'set') {
              staged.set(step.id, spec(step.v, ...step.names));
              copy.set(step.id, spec(step.v, ...step.names));
            } else {
              staged.delete(step.id);
              copy.delete(step.id);
            }
            expect([...staged.entries()]).toEqual([...copy.entries()]);
            for (const name of names) {
              const scanned = [...copy.values()].some((s) => s.names.includes(name));
              expect(callers.has(name, staged)).toBe(scanned);
            }
          }
          if (commit) {
            staged.commit();
            model = copy;
          } else {
            staged.discard();
          }
          expect([...committed.entries()]).toEqual([...model.entries()]);
        }
      }),
    );
  });
});
