// Behaviour at sizes where a quadratic path used to hide: results are asserted, never time.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { KindlingError } from '../common/errors.js';
import { HandlerRegistry, type EntryListener } from '../handlers/handler-registry.js';
import { Registry, type RegistryOp, type RegistryOptions } from './registry.js';

const silent = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };
const pad = (i: number): string => String(i).padStart(5, '0');
const create = (id: string, meta: Record<string, unknown> = {}, data: unknown = {}): RegistryOp => ({
  op: 'create',
  entry: { id, kind: 'x.y', meta, data },
});

function setup(options: Partial<RegistryOptions> = {}, listener?: EntryListener) {
  const handlers = new HandlerRegistry();
  if (listener !== undefined) handlers.registerListener('x.*', listener);
  const registry = new Registry({ handlers, acceptKinds: ['x.*'], logger: silent, ...options });
  return { handlers, registry };
}

describe('Registry at scale', () => {
  describe('.watch', () => {
    it('gives each of 10 watchers every change of a 20,000-change batch, in order', async () => {
      const { registry } = setup();
      const watches = Array.from({ length: 10 }, () => registry.watch());
      const ops = Array.from({ length: 20_000 }, (_, i) => create(`app:e${pad(i)}`));
      const result = await registry.apply(ops);
      const expected = result.changes.map((change) => change.entry.id);
      for (const watch of watches) {
        const seen: string[] = [];
        for (let i = 0; i < expected.length; i++) {
          const next = await watch.next();
          seen.push((next.value as { entry: { id: string } }).entry.id);
        }
        expect(seen).toEqual(expected);
        await watch.return?.();
      }
    });

    it('replays a long history in order while new commits arrive', async () => {
      const { registry } = setup();
      for (let b = 0; b < 5; b++)
        await registry.apply(Array.from({ length: 2_000 }, (_, i) => create(`app:b${b}-${pad(i)}`)));
      const watch = registry.watch({ fromRevision: 0 });
      const seen: number[] = [];
      for (let i = 0; i < 3_000; i++) seen.push(((await watch.next()).value as { revision: number }).revision);
      await registry.apply([create('app:last')]);
      for (let i = 3_000; i < 10_001; i++) seen.push(((await watch.next()).value as { revision: number }).revision);
      expect(seen.length).toBe(10_001);
      expect(seen.every((revision, i) => revision === Math.min(6, Math.floor(i / 2_000) + 1))).toBe(true);
      await watch.return?.();
    });
  });

  describe('ordering', () => {
    function logging() {
      const log: string[] = [];
      const listener: EntryListener = {
        add: (_ctx, e) => void log.push(`add ${e.id}`),
        update: (_ctx, e) => void log.push(`update ${e.id}`),
        delete: (_ctx, e) => void log.push(`delete ${e.id}`),
      };
      return { log, ...setup({}, listener) };
    }

    it('creates a group of 20,000 before its 10 dependants, and deletes it after them', async () => {
      const { registry, log } = logging();
      const members = Array.from({ length: 20_000 }, (_, i) => create(`b:m${pad(i)}`, { groups: ['g'] }));
      // The dependants' ids sort before the members': only the dependency puts them last.
      const dependants = Array.from({ length: 10 }, (_, i) =>
        create(`a:d${i}`, { depends_on: ['group:g', 'group:g', `b:m${pad(i)}`] }),
      );
      await registry.apply([...dependants, ...members]);
      expect(log.slice(0, 20_000)).toEqual(members.map((op) => `add ${op.entry.id}`));
      expect(log.slice(20_000)).toEqual(dependants.map((op) => `add ${op.entry.id}`));
      log.length = 0;
      await registry.apply(
        [...members, ...dependants].map((op) => ({ op: 'delete' as const, entry: { id: op.entry.id } })),
      );
      expect(log.slice(0, 10)).toEqual(dependants.map((op) => `delete ${op.entry.id}`));
      expect(log.length).toBe(20_010);
    });

    it('reports exactly the cycle of 3 hidden in a random batch of 5,000', async () => {
      const { registry, log } = logging();
      let state = 14;
      const random = (): number => (state = (state * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
      // Each entry depends on up to 4 entries created earlier: no cycle until three edges close one.
      const deps = Array.from({ length: 5_000 }, (_, i) =>
        Array.from({ length: i === 0 ? 0 : Math.floor(random() * 5) }, () => `e${pad(Math.floor(random() * i))}`),
      );
      (deps[1_000] as string[]).push(`e${pad(4_000)}`);
      (deps[4_000] as string[]).push(`e${pad(2_500)}`);
      (deps[2_500] as string[]).push(`e${pad(1_000)}`);
      const ops = deps.map((depends_on, i) => create(`app:e${pad(i)}`, { depends_on }));
      let error: KindlingError | undefined;
      try {
        await registry.apply(ops);
      } catch (caught) {
        error = caught as KindlingError;
      }
      expect(error?.code).toBe('INVALID');
      expect(error?.details['cycle']).toEqual(['app:e01000', 'app:e04000', 'app:e02500', 'app:e01000']);
      expect(error?.details['cycles']).toEqual([error?.details['cycle']]);
      expect(error?.message).toBe('dependency cycle in batch: app:e01000 → app:e04000 → app:e02500 → app:e01000');
      expect(log).toEqual([]);
    });

    it('reports one shortest cycle per cyclic group, each from its first id', async () => {
      const { registry } = logging();
      const error = await registry
        .apply([
          // One group: a → b → c → a and the shortcut b → a.
          create('n:a', { depends_on: 'b' }),
          create('n:b', { depends_on: ['c', 'a'] }),
          create('n:c', { depends_on: 'a' }),
          // Another group, and an entry merely downstream of it.
          create('n:x', { depends_on: 'y' }),
          create('n:y', { depends_on: 'x' }),
          create('n:z', { depends_on: 'x' }),
        ])
        .then(
          () => undefined,
          (caught: unknown) => caught as KindlingError,
        );
      expect(error?.details['cycles']).toEqual([
        ['n:a', 'n:b', 'n:a'],
        ['n:x', 'n:y', 'n:x'],
      ]);
      expect(error?.message).toBe('dependency cycles in batch: n:a → n:b → n:a; n:x → n:y → n:x');
    });
  });

  describe('NOT_FOUND that names the missing id', () => {
    /** A listener that needs the entry named by `data.needs` to exist, as a router needs its server. */
    function needing(naming: boolean) {
      const calls: string[] = [];
      const listener: EntryListener = {
        add: (ctx, e) => {
          calls.push(e.id);
          const needs = (e.data as { needs?: string }).needs;
          if (needs !== undefined && ctx.get(needs) === undefined) {
            throw new KindlingError(
              'NOT_FOUND',
              `${e.id} needs ${needs}`,
              naming ? { details: { missing: needs } } : {},
            );
          }
        },
        update: () => undefined,
        delete: () => undefined,
      };
      return { calls, ...setup({}, listener) };
    }
    const chain = (length: number): RegistryOp[] =>
      Array.from({ length }, (_, i) =>
        create(`app:e${pad(i)}`, {}, i + 1 < length ? { needs: `app:e${pad(i + 1)}` } : {}),
      );

    it('applies a chain of 2,000 where each entry waits for the next, calling each listener at most twice', async () => {
      const { registry, calls } = needing(true);
      const result = await registry.apply(chain(2_000));
      // The last entry goes first; then each one as soon as the entry it waits for exists.
      expect(result.changes.map((c) => c.entry.id)).toEqual(
        Array.from({ length: 2_000 }, (_, i) => `app:e${pad(1_999 - i)}`),
      );
      expect(calls.length).toBe(2 * 2_000 - 1);
      expect(registry.entries().length).toBe(2_000);
    });

    it('fails with UNRESOLVED, as before, when the missing id never appears in the batch', async () => {
      const { registry } = needing(true);
      const ops = [...chain(3), create('app:lone', {}, { needs: 'app:nowhere' })];
      (ops[2] as { entry: { data: unknown } }).entry.data = { needs: 'app:absent' };
      const error = await registry.apply(ops).then(
        () => undefined,
        (caught: unknown) => caught as KindlingError,
      );
      expect(error?.code).toBe('UNRESOLVED');
      expect(error?.details['unresolved']).toEqual([
        { entryId: 'app:e00000', listener: expect.any(String), message: 'app:e00000 needs app:e00001' },
        { entryId: 'app:e00001', listener: expect.any(String), message: 'app:e00001 needs app:e00002' },
        { entryId: 'app:e00002', listener: expect.any(String), message: 'app:e00002 needs app:absent' },
        { entryId: 'app:lone', listener: expect.any(String), message: 'app:lone needs app:nowhere' },
      ]);
      expect(registry.revision).toBe(0);
    });

    it('retries in the next pass when the named id already exists (the listener wants something else)', async () => {
      const handlers = new HandlerRegistry();
      let attempts = 0;
      handlers.registerListener('x.*', {
        add: (_ctx, e) => {
          if (e.id === 'app:b' && ++attempts === 1)
            throw new KindlingError('NOT_FOUND', 'not yet', { details: { missing: 'app:a' } });
        },
        update: () => undefined,
        delete: () => undefined,
      });
      const registry = new Registry({ handlers, logger: silent });
      await registry.apply([create('app:a')]);
      const result = await registry.apply([create('app:b'), create('app:c')]);
      expect(result.changes.map((c) => c.entry.id)).toEqual(['app:c', 'app:b']);
      expect(attempts).toBe(2);
    });

    it('gives the same outcome as retrying everything, for random needs (property)', async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.array(fc.option(fc.nat(11), { nil: undefined }), { minLength: 1, maxLength: 10 }),
          async (needs) => {
            const ops = needs.map((need, i) =>
              create(`app:e${pad(i)}`, {}, need === undefined || need === i ? {} : { needs: `app:e${pad(need)}` }),
            );
            const outcomes = await Promise.all(
              [true, false].map(async (naming) => {
                const { registry } = needing(naming);
                return registry.apply(ops).then(
                  (result) => ({ ids: result.changes.map((c) => c.entry.id).sort(), code: undefined }),
                  (error: KindlingError) => ({
                    ids: (error.details['unresolved'] as { entryId: string }[]).map((u) => u.entryId),
                    code: error.code,
                  }),
                );
              }),
            );
            expect(outcomes[0]).toEqual(outcomes[1]);
          },
        ),
        { numRuns: 300 },
      );
    });
  });
});
