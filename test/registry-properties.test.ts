// Property tests of the transaction promises (docs/registry.md, docs/handlers.md): random batches against random
// listeners that accept, refuse, throw NOT_FOUND, or hang past their timeout.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  HandlerRegistry,
  KindlingError,
  matchKind,
  Registry,
  type Entry,
  type EntryListener,
  type ListenerContext,
  type RegistryOp,
} from 'kindling';
import { deepEqual } from '../src/common/deep-freeze.js';

type Behaviour = 'accept' | 'refuse' | 'notfound-once' | 'notfound-always' | 'hang';
const IDS = ['n1:a', 'n1:b', 'n1:c', 'n1:d', 'n2:e', 'n2:f', 'n2:g', 'n2:h'] as const;
const KINDS = ['x.a', 'x.b', 'y.c'] as const;
const PATTERNS = ['x.*', 'x.a', '**', '(x|y).*', 'y.c'] as const;
const REFS = ['a', 'b', 'n2:e', 'ns:n1', 'group:g1'] as const;
const silent = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

interface ListenerSpec {
  readonly pattern: string;
  readonly transactional: boolean;
  readonly behaviour: Readonly<Record<string, Behaviour>>;
}

interface Scenario {
  readonly initial: readonly { id: string; kind: string }[];
  readonly listeners: readonly ListenerSpec[];
  readonly batch: readonly {
    id: string;
    op: 'write' | 'delete' | 'bogus';
    kind: string;
    depends: string[];
    groups: string[];
    v: number;
  }[];
  readonly permutation: readonly number[];
  readonly observerThrows: boolean;
}

/** A listener that keeps its own view of the entries of its kinds, as a real manager would. */
class ModelListener implements EntryListener {
  view = new Map<string, Entry>();
  private staging: Map<string, Entry> | undefined;
  readonly calls: string[] = [];
  private readonly attempts = new Map<string, number>();
  hardRefusals = 0;
  begin?: () => void;
  commit?: () => void;
  discard?: () => void;

  constructor(readonly spec: ListenerSpec) {
    if (spec.transactional) {
      this.begin = () => void (this.staging = new Map(this.view));
      this.commit = () => {
        this.view = this.staging as Map<string, Entry>;
        this.staging = undefined;
      };
      this.discard = () => void (this.staging = undefined);
    }
  }

  private target(): Map<string, Entry> {
    return this.staging ?? this.view;
  }

  private act(ctx: ListenerContext, op: string, entry: Entry): Promise<void> | void {
    this.calls.push(`${op}${ctx.compensating ? '!' : ''}:${entry.id}`);
    if (!ctx.compensating) {
      const behaviour = this.spec.behaviour[entry.id] ?? 'accept';
      const attempt = (this.attempts.get(entry.id) ?? 0) + 1;
      this.attempts.set(entry.id, attempt);
      if (behaviour === 'refuse') {
        this.hardRefusals++;
        throw new Error(`refused ${entry.id}`);
      }
      if (behaviour === 'notfound-always' || (behaviour === 'notfound-once' && attempt === 1)) {
        throw new KindlingError('NOT_FOUND', `sibling of ${entry.id} missing`);
      }
      if (behaviour === 'hang') {
        this.hardRefusals++;
        return new Promise<void>(() => undefined);
      }
    }
    if (op === 'delete') this.target().delete(entry.id);
    else this.target().set(entry.id, entry);
  }

  add(ctx: ListenerContext, entry: Entry) {
    return this.act(ctx, 'add', entry);
  }
  update(ctx: ListenerContext, entry: Entry) {
    return this.act(ctx, 'update', entry);
  }
  delete(ctx: ListenerContext, entry: Entry) {
    return this.act(ctx, 'delete', entry);
  }
}

const scenario: fc.Arbitrary<Scenario> = fc
  .record({
    initial: fc.uniqueArray(fc.record({ id: fc.constantFrom(...IDS), kind: fc.constantFrom(...KINDS) }), {
      selector: (e) => e.id,
      maxLength: 6,
    }),
    listeners: fc.array(
      fc.record({
        pattern: fc.constantFrom(...PATTERNS),
        transactional: fc.boolean(),
        behaviour: fc.dictionary(
          fc.constantFrom(...IDS),
          fc.constantFrom<Behaviour>(
            'accept',
            'accept',
            'accept',
            'accept',
            'refuse',
            'notfound-once',
            'notfound-always',
            'hang',
          ),
          { maxKeys: 3 },
        ),
      }),
      { minLength: 1, maxLength: 4 },
    ),
    batch: fc.uniqueArray(
      fc.record({
        id: fc.constantFrom(...IDS),
        op: fc.constantFrom<'write' | 'delete' | 'bogus'>('write', 'write', 'write', 'delete', 'delete', 'bogus'),
        kind: fc.constantFrom(...KINDS),
        depends: fc.subarray([...REFS], { maxLength: 2 }),
        groups: fc.subarray(['g1', 'g2'], { maxLength: 1 }),
        v: fc.nat(3),
      }),
      { selector: (e) => e.id, minLength: 1, maxLength: 6 },
    ),
    observerThrows: fc.boolean(),
  })
  .chain((s) =>
    fc
      .shuffledSubarray([...s.batch.keys()], { minLength: s.batch.length, maxLength: s.batch.length })
      .map((permutation) => ({ ...s, permutation })),
  );

interface World {
  registry: Registry;
  listeners: ModelListener[];
  observed: string[];
}

async function world(s: Scenario): Promise<World> {
  const handlers = new HandlerRegistry();
  const registry = new Registry({ handlers, acceptKinds: ['**'], listenerTimeoutMs: 2, logger: silent });
  // The initial state is loaded before the listeners under test arrive, through accepting twins.
  const listeners = s.listeners.map((spec) => new ModelListener(spec));
  await registry.apply(s.initial.map((e) => ({ op: 'create', entry: { id: e.id, kind: e.kind, data: { v: -1 } } })));
  for (const listener of listeners) {
    for (const entry of registry.entries())
      if (matchKind(listener.spec.pattern, entry.kind)) listener.view.set(entry.id, entry);
    handlers.registerListener(listener.spec.pattern, listener);
  }
  const observed: string[] = [];
  handlers.registerObserver('**', {
    add: (ctx, e) => record(ctx.revision, 'create', e.id),
    update: (ctx, e) => record(ctx.revision, 'update', e.id),
    delete: (ctx, e) => record(ctx.revision, 'delete', e.id),
  });
  function record(revision: number, op: string, id: string): void {
    observed.push(`${revision}:${op}:${id}`);
    if (s.observerThrows) throw new Error('observer failure');
  }
  return { registry, listeners, observed };
}

function opsOf(s: Scenario, registry: Registry): RegistryOp[] {
  return s.batch.map((item) => {
    const exists = registry.has(item.id);
    const kind = exists ? (registry.get(item.id) as Entry).kind : item.kind;
    const entry = { id: item.id, kind, meta: { depends_on: item.depends, groups: item.groups }, data: { v: item.v } };
    if (item.op === 'delete') return { op: 'delete', entry: { id: item.id } };
    if (item.op === 'bogus') return { op: exists ? 'create' : 'update', entry };
    return { op: exists ? 'update' : 'create', entry };
  });
}

async function outcome(w: World, ops: RegistryOp[]): Promise<string> {
  try {
    const result = await w.registry.apply(ops);
    return `committed@${result.revision}`;
  } catch (error) {
    return `refused:${(error as KindlingError).code}`;
  }
}

describe('Registry transactions (property-based)', () => {
  it('keep every promise of a batch over random batches and listeners', async () => {
    await fc.assert(
      fc.asyncProperty(scenario, async (s) => {
        const w = await world(s);
        const before = { entries: w.registry.entries(), revision: w.registry.revision };
        const ops = opsOf(s, w.registry);
        const result = await outcome(w, ops);
        const committed = result.startsWith('committed');

        // committed ⇔ no refusal: a hard refusal or hang always refuses; a clean run always commits
        // unless the checks or the ordering refused the batch before any listener ran.
        const hard = w.listeners.some((l) => l.hardRefusals > 0);
        if (hard) expect(committed).toBe(false);
        if (!committed) {
          expect(w.registry.entries()).toBe(before.entries);
          expect(w.registry.revision).toBe(before.revision);
        } else {
          expect(w.registry.revision).toBe(before.revision + 1);
        }

        // Every listener's own view equals the registry's entries of its kinds.
        for (const listener of w.listeners) {
          const expected = w.registry.entries().filter((e) => matchKind(listener.spec.pattern, e.kind));
          expect([...listener.view.keys()].sort()).toEqual(expected.map((e) => e.id));
          for (const entry of expected) expect(deepEqual(listener.view.get(entry.id), entry)).toBe(true);
        }

        // Observers saw exactly the committed batch, in the order it was applied.
        const history = w.registry.historyRecords().filter((r) => r.revision > before.revision);
        expect(w.observed).toEqual(history.flatMap((r) => r.changes.map((c) => `${r.revision}:${c.op}:${c.entry.id}`)));

        // Input order never changes the outcome.
        const twin = await world(s);
        const permuted = s.permutation.map((i) => opsOf(s, twin.registry)[i] as RegistryOp);
        expect(await outcome(twin, permuted)).toBe(result);
        expect(twin.registry.entries()).toEqual(w.registry.entries());
        expect(twin.listeners.map((l) => l.calls)).toEqual(w.listeners.map((l) => l.calls));
      }),
      { numRuns: 1000 },
    );
  }, 120_000);
});
