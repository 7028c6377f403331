import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createEntry, type Entry, type RegistryOp } from 'kindling';
import { setEntrySource } from '../../src/entry/entry.js';
import { deepEqual } from '../../src/common/deep-freeze.js';
import { AppliedSources } from './applied-sources.js';

const FILES = ['/app/a.yaml', '/app/b.yaml', '/app/c.yaml', '/app/d.yaml'];
const IDS = ['app:n0', 'app:n1', 'app:n2', 'app:n3', 'app:n4', 'app:n5'];

function entry(id: string, v: number, file: string): Entry {
  return createEntry(setEntrySource({ id, kind: 'a.b', data: { v } }, { file, line: 1, column: 1 }));
}

const same = (a: Entry, b: Entry): boolean =>
  a.kind === b.kind && deepEqual(a.meta, b.meta) && deepEqual(a.data, b.data);

/** What a reload did before it compared file by file: a walk over every entry and every id applied. */
function everything(
  applied: ReadonlyMap<string, Entry>,
  entries: readonly Entry[],
  touched: ReadonlySet<string>,
  registry: ReadonlyMap<string, Entry>,
): { ops: RegistryOp[]; changes: string[]; next: Map<string, Entry> } {
  const next = new Map(entries.map((e) => [e.id, e]));
  const ops: RegistryOp[] = [];
  const changes: string[] = [];
  for (const e of entries) {
    const before = applied.get(e.id);
    if (before !== undefined && same(before, e) && !touched.has(e.id)) continue;
    const current = registry.get(e.id);
    if (current === undefined) {
      ops.push({ op: 'create', entry: e });
      changes.push(`+${e.id}`);
    } else if (!same(current, e) || touched.has(e.id)) {
      ops.push({ op: 'update', entry: e });
      changes.push(`~${e.id}`);
    }
  }
  for (const id of applied.keys()) {
    if (!next.has(id) && registry.has(id)) {
      ops.push({ op: 'delete', entry: { id } });
      changes.push(`-${id}`);
    }
  }
  return { ops, changes, next };
}

/** One read of the sources: for each file, kept as it was (the same array), rewritten, or gone. */
const round = fc.record({
  files: fc.array(
    fc.record({ keep: fc.boolean(), gone: fc.nat(4).map((n) => n === 0), ids: fc.subarray(IDS), v: fc.nat(1) }),
    { minLength: FILES.length, maxLength: FILES.length },
  ),
  touched: fc.subarray(IDS),
  /** Changes made to the registry by others (an admin client): ids set to another value, ids deleted. */
  others: fc.array(fc.record({ id: fc.constantFrom(...IDS), v: fc.option(fc.nat(1)) }), { maxLength: 2 }),
  /** Whether the batch is refused (nothing is remembered then). */
  refused: fc.nat(5).map((n) => n === 0),
});

describe('AppliedSources', () => {
  it('finds the ops a walk over every entry finds, looking only at the files that changed', () => {
    fc.assert(
      fc.property(fc.array(round, { minLength: 1, maxLength: 8 }), (rounds) => {
        const sources = new AppliedSources();
        let applied = new Map<string, Entry>();
        const registry = new Map<string, Entry>();
        let read = new Map<string, readonly Entry[]>();
        for (const r of rounds) {
          // Each id in at most one file: a read with a duplicate never gets this far.
          const taken = new Set<string>();
          const now = new Map<string, readonly Entry[]>();
          r.files.forEach((plan, i) => {
            const file = FILES[i] as string;
            const before = read.get(file);
            if (plan.gone) return;
            if (plan.keep && before !== undefined && before.every((e) => !taken.has(e.id))) {
              for (const e of before) taken.add(e.id);
              now.set(file, before);
              return;
            }
            const ids = plan.ids.filter((id) => !taken.has(id));
            for (const id of ids) taken.add(id);
            now.set(
              file,
              ids.map((id) => entry(id, plan.v, file)),
            );
          });
          read = now;
          for (const other of r.others) {
            if (other.v === null) registry.delete(other.id);
            else registry.set(other.id, entry(other.id, other.v, '/elsewhere'));
          }
          const touched = new Set(r.touched);
          const expected = everything(applied, [...now.values()].flat(), touched, registry);
          const found = sources.compare(now, touched, registry);
          expect({ ops: found.ops, changes: found.changes }).toEqual({
            ops: expected.ops,
            changes: expected.changes,
          });
          for (const id of IDS) expect(found.declares(id)).toBe(expected.next.has(id));
          if (r.refused) continue;
          for (const op of found.ops) {
            if (op.op === 'delete') registry.delete(op.entry.id);
            // The sources' ops carry the entries they read.
            else registry.set(op.entry.id, op.entry as Entry);
          }
          sources.accept(found);
          applied = expected.next;
          for (const id of IDS) expect(sources.has(id)).toBe(applied.has(id));
        }
      }),
      { numRuns: 400 },
    );
  });
});
