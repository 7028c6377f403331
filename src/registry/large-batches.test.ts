// Behaviour at sizes where a quadratic path used to hide: results are asserted, never time.
import { describe, expect, it } from 'vitest';
import { KindlingError } from '../common/errors.js';
import { HandlerRegistry, type EntryListener } from '../handlers/handler-registry.js';
import { Registry, type RegistryOp, type RegistryOptions } from './registry.js';

const silent = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };
const pad = (i: number): string => String(i).padStart(5, '0');
const create = (id: string, meta: Record<string, unknown> = {}, data: unknown = {}): RegistryOp => ({ op: 'create', entry: { id, kind: 'x.y', meta, data } });

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
      for (let b = 0; b < 5; b++) await registry.apply(Array.from({ length: 2_000 }, (_, i) => create(`app:b${b}-${pad(i)}`)));
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
});
