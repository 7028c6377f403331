import { describe, expect, it, vi } from 'vitest';
import { KindlingError } from '../common/errors.js';
import type { Entry } from '../entry/entry.js';
import {
  HandlerRegistry,
  type EntryListener,
  type EntryObserver,
  type ListenerContext,
} from '../handlers/handler-registry.js';
import { Registry, type RegistryOp } from './registry.js';

/** A listener that records every call and keeps its own view of the entries it accepted. */
class Recorder implements EntryListener {
  readonly calls: string[] = [];
  readonly view = new Map<string, Entry>();
  refuse: ((op: string, entry: Entry) => Error | undefined) | undefined;

  constructor(
    readonly label: string,
    private readonly log: string[] = [],
  ) {}

  private record(op: string, entry: Entry, ctx: ListenerContext): void {
    const line = `${this.label}:${op}${ctx.compensating ? '(undo)' : ''}:${entry.id}`;
    this.calls.push(line);
    this.log.push(line);
    const refusal = this.refuse?.(op, entry);
    if (refusal !== undefined) throw refusal;
  }

  add(ctx: ListenerContext, entry: Entry): void {
    this.record('add', entry, ctx);
    this.view.set(entry.id, entry);
  }

  update(ctx: ListenerContext, entry: Entry): void {
    this.record('update', entry, ctx);
    this.view.set(entry.id, entry);
  }

  delete(ctx: ListenerContext, entry: Entry): void {
    this.record('delete', entry, ctx);
    this.view.delete(entry.id);
  }
}

/** A recorder that also implements the transaction hooks. */
class TxRecorder extends Recorder {
  begin(): void {
    this.calls.push(`${this.label}:begin`);
  }

  commit(): void {
    this.calls.push(`${this.label}:commit`);
  }

  discard(): void {
    this.calls.push(`${this.label}:discard`);
  }
}

const entry = (id: string, kind = 'http.service', meta: Record<string, unknown> = {}, data: unknown = {}) => ({
  id,
  kind,
  meta,
  data,
});
const create = (id: string, kind?: string, meta?: Record<string, unknown>, data?: unknown): RegistryOp => ({
  op: 'create',
  entry: entry(id, kind, meta, data),
});

function setup(options: { acceptKinds?: string[]; listenerTimeoutMs?: number; historyLimit?: number } = {}) {
  const handlers = new HandlerRegistry();
  const sent: { system: string; kind: string; path: string; data: unknown }[] = [];
  const registry = new Registry({
    handlers,
    ...options,
    events: { send: (system, kind, path, data) => sent.push({ system, kind, path, data }) },
    logger: { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined },
  });
  return { handlers, registry, sent };
}

async function refusal(promise: Promise<unknown>): Promise<KindlingError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(KindlingError);
  return error as KindlingError;
}

describe('Registry', () => {
  describe('.apply', () => {
    it('commits a batch as one new revision', async () => {
      const { handlers, registry } = setup();
      const http = new Recorder('http');
      handlers.registerListener('http.*', http);
      const result = await registry.apply([create('app:a'), create('app:b', 'http.router')]);
      expect(result.revision).toBe(1);
      expect(registry.revision).toBe(1);
      expect(registry.entries().map((e) => e.id)).toEqual(['app:a', 'app:b']);
      expect(http.calls).toEqual(['http:add:app:a', 'http:add:app:b']);
    });

    it('stores entries deep-frozen', async () => {
      const { handlers, registry } = setup();
      handlers.registerListener('http.*', new Recorder('http'));
      await registry.apply([create('app:a', 'http.service', {}, { nested: { port: 1 } })]);
      const stored = registry.get('app:a') as Entry<{ nested: { port: number } }>;
      expect(Object.isFrozen(stored)).toBe(true);
      expect(Object.isFrozen(stored.data.nested)).toBe(true);
    });

    it('calls every matching listener in registration order', async () => {
      const { handlers, registry } = setup();
      const log: string[] = [];
      handlers.registerListener('http.**', new Recorder('first', log));
      handlers.registerListener('http.service', new Recorder('second', log));
      handlers.registerListener('**', new Recorder('third', log));
      await registry.apply([create('app:a')]);
      expect(log).toEqual(['first:add:app:a', 'second:add:app:a', 'third:add:app:a']);
    });

    it('passes the previous entry to update', async () => {
      const { handlers, registry } = setup();
      const update = vi.fn();
      handlers.registerListener('http.*', { add: () => undefined, update, delete: () => undefined });
      await registry.apply([create('app:a', 'http.service', {}, { v: 1 })]);
      await registry.apply([{ op: 'update', entry: entry('app:a', 'http.service', {}, { v: 2 }) }]);
      const [, next, previous] = update.mock.calls[0] as [unknown, Entry, Entry];
      expect(next.data).toEqual({ v: 2 });
      expect(previous.data).toEqual({ v: 1 });
    });

    describe('checks', () => {
      it('refuses a create of an existing id with CONFLICT', async () => {
        const { registry } = setup({ acceptKinds: ['x.*'] });
        await registry.apply([create('app:a', 'x.y')]);
        const error = await refusal(registry.apply([create('app:a', 'x.y')]));
        expect(error.code).toBe('CONFLICT');
        expect(error.message).toContain('app:a');
      });

      it('refuses an update or delete of a missing id with NOT_FOUND', async () => {
        const { registry } = setup({ acceptKinds: ['x.*'] });
        expect((await refusal(registry.apply([{ op: 'update', entry: entry('app:a', 'x.y') }]))).code).toBe(
          'NOT_FOUND',
        );
        expect((await refusal(registry.apply([{ op: 'delete', entry: { id: 'app:a' } }]))).code).toBe('NOT_FOUND');
      });

      it('refuses a kind change on update', async () => {
        const { registry } = setup({ acceptKinds: ['x.*'] });
        await registry.apply([create('app:a', 'x.y')]);
        const error = await refusal(registry.apply([{ op: 'update', entry: entry('app:a', 'x.z') }]));
        expect(error.code).toBe('INVALID');
        expect(error.message).toContain('cannot change kind from x.y to x.z');
      });

      it('refuses the same id twice in one batch', async () => {
        const { registry } = setup({ acceptKinds: ['x.*'] });
        const error = await refusal(registry.apply([create('app:a', 'x.y'), create('app:a', 'x.y')]));
        expect(error.code).toBe('INVALID');
        expect(error.message).toContain('appears twice');
      });

      it('reports every problem at once and calls nothing', async () => {
        const { handlers, registry } = setup();
        const http = new Recorder('http');
        handlers.registerListener('http.*', http);
        await registry.apply([create('app:a')]);
        const error = await refusal(
          registry.apply([
            create('app:a'),
            { op: 'delete', entry: { id: 'app:missing' } },
            create('bad id'),
            create('app:c', 'htp.service'),
          ]),
        );
        expect(error.code).toBe('INVALID');
        expect(error.details['errors']).toHaveLength(4);
        expect(error.message).toContain('4 problems');
        expect(http.calls).toEqual(['http:add:app:a']);
      });

      it('refuses an unknown kind and suggests the nearest pattern', async () => {
        const { handlers, registry } = setup();
        handlers.registerListener('http.*', new Recorder('http'));
        const error = await refusal(registry.apply([create('app:a', 'htp.service')]));
        expect(error.message).toContain('no listener handles kind "htp.service" of entry app:a');
        expect(error.message).toContain('Did you mean "http.*"?');
      });

      it('refuses a kind under a listener pattern that the listener does not know, naming the kind it knows', async () => {
        const { handlers, registry } = setup();
        const http = new Recorder('http');
        const registration = handlers.registerListener('http.*', http, { kinds: ['http.service', 'http.endpoint'] });
        await registry.apply([create('app:a', 'http.endpoint')]);
        const typo = await refusal(registry.apply([create('app:b', 'http.endpiont')]));
        expect(typo.message).toContain(
          'no listener handles kind "http.endpiont" of entry app:b. Did you mean "http.endpoint"?',
        );
        expect(http.calls).toEqual(['http:add:app:a']);
        registration.dispose();
        expect(handlers.nearestListenerPattern('http.endpiont')).toBeUndefined();
      });

      it('names a kind typo on an existing entry as the typo, not as a change of kind', async () => {
        const { handlers, registry } = setup({ acceptKinds: ['app.note'] });
        handlers.registerListener('http.*', new Recorder('http'), { kinds: ['http.endpoint'] });
        await registry.apply([create('app:a', 'http.endpoint'), create('app:n', 'app.note')]);
        const typo = await refusal(
          registry.apply([
            { op: 'update', entry: { id: 'app:a', kind: 'http.endpiont' } },
            { op: 'update', entry: { id: 'app:n', kind: 'app.nots' } },
          ]),
        );
        expect(typo.details['errors']).toHaveLength(2);
        expect(typo.message).toContain('"http.endpiont" of entry app:a. Did you mean "http.endpoint"?');
        expect(typo.message).toContain('"app.nots" of entry app:n. Did you mean "app.note"?');
        expect(typo.message).not.toContain('cannot change kind');
        // A change between two kinds that are both handled is still refused as one.
        handlers.registerListener('http.router', new Recorder('router'));
        const change = await refusal(registry.apply([{ op: 'update', entry: { id: 'app:a', kind: 'http.router' } }]));
        expect(change.message).toContain('cannot change kind from http.endpoint to http.router');
      });

      it('accepts registry.entry and kinds listed in acceptKinds without a listener', async () => {
        const { registry } = setup({ acceptKinds: ['config.*'] });
        await registry.apply([create('app:a', 'registry.entry'), create('app:b', 'config.db')]);
        expect(registry.entries()).toHaveLength(2);
      });

      it('counts the committed entries in size, as entries() does, and not those of a refused batch', async () => {
        const { registry } = setup({ acceptKinds: ['x.*'] });
        expect(registry.size).toBe(0);
        await registry.apply([create('app:a', 'x.y'), create('app:b', 'x.y'), create('app:c', 'x.y')]);
        expect(registry.size).toBe(3);
        await registry.apply([{ op: 'update', entry: { id: 'app:a', kind: 'x.y', data: { v: 2 } } }]);
        await registry.apply([{ op: 'delete', entry: { id: 'app:b' } }]);
        expect(registry.size).toBe(2);
        await refusal(registry.apply([create('app:d', 'x.y'), create('app:e', 'not.accepted')]));
        await registry.apply([create('app:d', 'x.y')], { dryRun: true });
        expect(registry.size).toBe(2);
        expect(registry.size).toBe(registry.entries().length);
      });

      it('refuses a stale expectRevision with CONFLICT', async () => {
        const { registry } = setup({ acceptKinds: ['x.*'] });
        await registry.apply([create('app:a', 'x.y')]);
        const error = await refusal(registry.apply([create('app:b', 'x.y')], { expectRevision: 0 }));
        expect(error.code).toBe('CONFLICT');
        await registry.apply([create('app:b', 'x.y')], { expectRevision: 1 });
        expect(registry.revision).toBe(2);
      });
    });

    describe('refusal', () => {
      it.each([0, 1, 2])('leaves entries and revision unchanged when the listener refuses op %i', async (position) => {
        const { handlers, registry, sent } = setup();
        const http = new Recorder('http');
        handlers.registerListener('http.*', http);
        await registry.apply([create('app:base')]);
        const before = registry.entries();
        const target = ['app:a', 'app:b', 'app:c'][position];
        http.refuse = (op, e) => (e.id === target ? new Error('no port') : undefined);
        const error = await refusal(registry.apply([create('app:a'), create('app:b'), create('app:c')]));
        expect(error.code).toBe('REJECTED');
        expect(error.details['entryId']).toBe(target);
        expect(error.details['listener']).toBe('Recorder(http.*)');
        expect((error.cause as Error).message).toBe('no port');
        expect(registry.entries()).toBe(before);
        expect(registry.revision).toBe(1);
        expect([...http.view.keys()]).toEqual(['app:base']);
        expect(sent.filter((s) => s.system === 'registry')).toHaveLength(1);
      });

      it('compensates non-transactional listeners in reverse order', async () => {
        const { handlers, registry } = setup();
        const log: string[] = [];
        const http = new Recorder('http', log);
        handlers.registerListener('http.*', http);
        await registry.apply([create('app:old', 'http.service', {}, { v: 1 }), create('app:gone')]);
        log.length = 0;
        http.refuse = (op, e) => (e.id === 'app:z' && op === 'add' ? new Error('refused') : undefined);
        await refusal(
          registry.apply([
            create('app:new'),
            { op: 'update', entry: entry('app:old', 'http.service', {}, { v: 2 }) },
            { op: 'delete', entry: { id: 'app:gone' } },
            create('app:z'),
          ]),
        );
        expect(log).toEqual([
          'http:delete:app:gone',
          'http:add:app:new',
          'http:update:app:old',
          'http:add:app:z',
          'http:update(undo):app:old',
          'http:delete(undo):app:new',
          'http:add(undo):app:gone',
        ]);
        expect((http.view.get('app:old')?.data as { v: number }).v).toBe(1);
        expect([...http.view.keys()].sort()).toEqual(['app:gone', 'app:old']);
      });

      it('sends discard, not compensation, to every transactional participant that began', async () => {
        const { handlers, registry } = setup();
        const tx = new TxRecorder('tx');
        const plain = new Recorder('plain');
        handlers.registerListener('http.*', tx);
        handlers.registerListener('http.*', plain);
        plain.refuse = (op, e) => (e.id === 'app:b' ? new Error('nope') : undefined);
        await refusal(registry.apply([create('app:a'), create('app:b')]));
        expect(tx.calls).toEqual(['tx:begin', 'tx:add:app:a', 'tx:add:app:b', 'tx:discard']);
        expect(plain.calls).toEqual(['plain:add:app:a', 'plain:add:app:b', 'plain:delete(undo):app:a']);
      });

      it('discards the participants that began when a begin fails', async () => {
        const { handlers, registry } = setup({ acceptKinds: ['x.*'] });
        const first = new TxRecorder('first');
        const second = new TxRecorder('second');
        second.begin = () => {
          throw new Error('cannot begin');
        };
        handlers.registerListener('x.*', first);
        handlers.registerListener('x.*', second);
        const error = await refusal(registry.apply([create('app:a', 'x.y')]));
        expect(error.code).toBe('REJECTED');
        expect(error.message).toContain('cannot begin');
        expect(first.calls).toEqual(['first:begin', 'first:discard']);
      });

      it('reports a compensation that fails as desynced', async () => {
        const { handlers, registry } = setup();
        const http = new Recorder('http');
        handlers.registerListener('http.*', http);
        http.refuse = (op, e) => (e.id === 'app:b' || op === 'delete' ? new Error(`fail ${op}`) : undefined);
        const error = await refusal(registry.apply([create('app:a'), create('app:b')]));
        expect(error.code).toBe('REJECTED');
        expect(error.details['desynced']).toMatchObject([
          { listener: 'Recorder(http.*)', entryId: 'app:a', phase: 'compensate' },
        ]);
        expect(error.message).toContain('may be out of step');
      });

      it('reports a discard that throws as desynced and keeps the refusal as the cause', async () => {
        const { handlers, registry } = setup();
        const tx = new TxRecorder('tx');
        tx.discard = () => {
          throw new Error('discard broke');
        };
        const plain = new Recorder('plain');
        plain.refuse = () => new Error('refused');
        handlers.registerListener('http.*', tx);
        handlers.registerListener('http.*', plain);
        const error = await refusal(registry.apply([create('app:a')]));
        expect(error.code).toBe('REJECTED');
        expect((error.cause as Error).message).toBe('refused');
        expect(error.details['desynced']).toMatchObject([{ listener: 'TxRecorder(http.*)', phase: 'discard' }]);
        expect(error.message).toContain('discard broke');
        expect(registry.revision).toBe(0);
      });

      it('never calls observers for a discarded batch', async () => {
        const { handlers, registry } = setup();
        const http = new Recorder('http');
        http.refuse = () => new Error('no');
        const observer = { add: vi.fn() };
        handlers.registerListener('http.*', http);
        handlers.registerObserver('http.*', observer);
        await refusal(registry.apply([create('app:a')]));
        expect(observer.add).not.toHaveBeenCalled();
      });
    });

    describe('timeouts', () => {
      it('refuses with TIMEOUT when a listener overruns and aborts its signal', async () => {
        const { handlers, registry } = setup({ listenerTimeoutMs: 20 });
        let signal: AbortSignal | undefined;
        handlers.registerListener('http.*', {
          add: (ctx) => {
            signal = ctx.signal;
            return new Promise<void>((resolve) => ctx.signal.addEventListener('abort', () => resolve()));
          },
          update: () => undefined,
          delete: () => undefined,
        });
        const error = await refusal(registry.apply([create('app:a')]));
        expect(error.code).toBe('TIMEOUT');
        expect(error.message).toContain('add of entry app:a');
        expect(signal?.aborted).toBe(true);
        expect(registry.revision).toBe(0);
      });

      it('gives a signal first read after the batch was abandoned already aborted, with the reason', async () => {
        const { handlers, registry } = setup();
        const seen: { phase: string; aborted: boolean; reason: unknown; same: boolean }[] = [];
        const look = (phase: string, ctx: ListenerContext): void => {
          seen.push({ phase, aborted: ctx.signal.aborted, reason: ctx.signal.reason, same: ctx.signal === ctx.signal });
        };
        handlers.registerListener('http.*', {
          add: () => undefined,
          update: () => undefined,
          delete: () => undefined,
          discard: (ctx) => look('discard', ctx),
        });
        handlers.registerListener('http.*', {
          add: () => {
            throw new Error('no');
          },
          update: () => undefined,
          delete: () => undefined,
        });
        let kept: ListenerContext | undefined;
        handlers.registerListener('http.*', {
          begin: (ctx) => void (kept = ctx),
          add: () => undefined,
          update: () => undefined,
          delete: () => undefined,
        });
        await refusal(registry.apply([create('app:a')]));
        // The undo's own context: a signal nobody aborts.
        expect(seen).toEqual([{ phase: 'discard', aborted: false, reason: undefined, same: true }]);
        // The batch's context, read for the first time after the refusal.
        expect(kept?.signal.aborted).toBe(true);
        expect(kept?.signal.reason).toMatchObject({ code: 'ABORTED', message: expect.stringMatching(/discarded/) });
      });

      it('uses the per-listener timeout over the registry default', async () => {
        const { handlers, registry } = setup({ listenerTimeoutMs: 60_000 });
        handlers.registerListener(
          'http.*',
          { add: () => new Promise<void>(() => undefined), update: () => undefined, delete: () => undefined },
          { timeoutMs: 10, name: 'slow' },
        );
        const error = await refusal(registry.apply([create('app:a')]));
        expect(error.code).toBe('TIMEOUT');
        expect(error.details['listener']).toBe('slow');
      });
    });

    describe('ordering', () => {
      const kinds = { acceptKinds: [] as string[] };
      function ordered(ops: RegistryOp[]) {
        const { handlers, registry } = setup(kinds);
        const log: string[] = [];
        handlers.registerListener('**', new Recorder('l', log));
        return { registry, log, run: () => registry.apply(ops) };
      }

      it.each([
        ['name', 'db'],
        ['ns:name', 'app:db'],
        ['ns:<namespace>', 'ns:app'],
      ])('creates a dependency named by %s before its dependant', async (_form, ref) => {
        const ops = [create('web:server', 'x.y', { depends_on: [ref] }), create('app:db', 'x.y')];
        if (ref === 'db') ops[0] = create('app:server', 'x.y', { depends_on: 'db' });
        const { log, run } = ordered(ops);
        await run();
        expect(log[0]).toBe('l:add:app:db');
      });

      it('creates a group before its dependants', async () => {
        const { log, run } = ordered([
          create('a:api', 'x.y', { depends_on: ['group:storage'] }),
          create('z:db', 'x.y', { groups: ['storage'] }),
          create('z:cache', 'x.y', { groups: 'storage' }),
        ]);
        await run();
        expect(log).toEqual(['l:add:z:cache', 'l:add:z:db', 'l:add:a:api']);
      });

      it('deletes dependants before their dependencies', async () => {
        const { handlers, registry } = setup();
        const log: string[] = [];
        handlers.registerListener('**', new Recorder('l', log));
        await registry.apply([create('app:db', 'x.y'), create('app:api', 'x.y', { depends_on: 'db' })]);
        log.length = 0;
        await registry.apply([
          { op: 'delete', entry: { id: 'app:db' } },
          { op: 'delete', entry: { id: 'app:api' } },
        ]);
        expect(log).toEqual(['l:delete:app:api', 'l:delete:app:db']);
      });

      it('gives the same order whatever the input order', async () => {
        const ops = [
          create('n:e', 'x.y', { depends_on: ['d'] }),
          create('n:d', 'x.y', { depends_on: ['group:g'] }),
          create('n:c', 'x.y', { groups: ['g'] }),
          create('n:b', 'x.y'),
          create('n:a', 'x.y', { depends_on: ['n:b'] }),
        ];
        const orders = new Set<string>();
        for (const permutation of [ops, [...ops].reverse(), [ops[2], ops[0], ops[4], ops[1], ops[3]] as RegistryOp[]]) {
          const { log, run } = ordered(permutation);
          await run();
          orders.add(log.join(','));
        }
        expect([...orders]).toEqual(['l:add:n:b,l:add:n:a,l:add:n:c,l:add:n:d,l:add:n:e']);
      });

      it('refuses a dependency cycle with the cycle as a path', async () => {
        const { run, log } = ordered([
          create('n:a', 'x.y', { depends_on: 'b' }),
          create('n:b', 'x.y', { depends_on: 'c' }),
          create('n:c', 'x.y', { depends_on: 'a' }),
        ]);
        const error = await refusal(run());
        expect(error.code).toBe('INVALID');
        expect(error.details['cycle']).toEqual(['n:a', 'n:b', 'n:c', 'n:a']);
        expect(error.message).toContain('n:a → n:b → n:c → n:a');
        expect(log).toEqual([]);
      });
    });

    describe('NOT_FOUND retries', () => {
      it('retries a NOT_FOUND refusal after the other operations of the batch', async () => {
        const { handlers, registry } = setup();
        const log: string[] = [];
        handlers.registerListener('http.*', {
          add: (ctx, e) => {
            const router = (e.data as { router?: string }).router;
            if (router !== undefined && ctx.get(router) === undefined) {
              throw new KindlingError('NOT_FOUND', `router ${router} not found`);
            }
            log.push(e.id);
          },
          update: () => undefined,
          delete: () => undefined,
        });
        // "app:a-endpoint" sorts before "app:z-router", so it runs first and must wait for it.
        await registry.apply([
          create('app:a-endpoint', 'http.endpoint', {}, { router: 'app:z-router' }),
          create('app:z-router', 'http.router'),
        ]);
        expect(log).toEqual(['app:z-router', 'app:a-endpoint']);
      });

      it('reports changes in the order they completed, retries included', async () => {
        const { handlers, registry } = setup();
        const seen: string[] = [];
        handlers.registerListener('http.*', {
          add: (ctx, e) => {
            const router = (e.data as { router?: string }).router;
            if (router !== undefined && ctx.get(router) === undefined) throw new KindlingError('NOT_FOUND', 'later');
          },
          update: () => undefined,
          delete: () => undefined,
        });
        handlers.registerObserver('http.*', { add: (_ctx, e) => void seen.push(e.id) });
        const result = await registry.apply([
          create('app:a-endpoint', 'http.endpoint', {}, { router: 'app:z-router' }),
          create('app:z-router', 'http.router'),
        ]);
        expect(result.changes.map((c) => c.entry.id)).toEqual(['app:z-router', 'app:a-endpoint']);
        expect(seen).toEqual(['app:z-router', 'app:a-endpoint']);
      });

      it('fails with UNRESOLVED when a later listener of an op keeps refusing NOT_FOUND (regression: endless loop)', async () => {
        const { handlers, registry } = setup();
        handlers.registerListener('http.*', new Recorder('first'));
        handlers.registerListener('http.*', {
          add: () => {
            throw new KindlingError('NOT_FOUND', 'never there');
          },
          update: () => undefined,
          delete: () => undefined,
        });
        const error = await refusal(registry.apply([create('app:a')]));
        expect(error.code).toBe('UNRESOLVED');
      });

      it('fails with UNRESOLVED and the list when no progress is possible', async () => {
        const { handlers, registry } = setup();
        handlers.registerListener('http.*', {
          add: () => {
            throw new KindlingError('NOT_FOUND', 'sibling missing');
          },
          update: () => undefined,
          delete: () => undefined,
        });
        const error = await refusal(registry.apply([create('app:a'), create('app:b')]));
        expect(error.code).toBe('UNRESOLVED');
        expect(error.details['unresolved']).toMatchObject([{ entryId: 'app:a' }, { entryId: 'app:b' }]);
        expect(registry.revision).toBe(0);
      });
    });

    describe('dryRun', () => {
      it('runs the listeners with ctx.dryRun, then discards', async () => {
        const { handlers, registry, sent } = setup();
        const tx = new TxRecorder('tx');
        const seen: boolean[] = [];
        handlers.registerListener('http.*', tx);
        handlers.registerListener('http.*', {
          add: (ctx) => void seen.push(ctx.dryRun),
          update: () => undefined,
          delete: () => undefined,
        });
        const result = await registry.apply([create('app:a')], { dryRun: true });
        expect(result.dryRun).toBe(true);
        expect(result.changes.map((c) => `${c.op} ${c.entry.id}`)).toEqual(['create app:a']);
        expect(seen).toEqual([true]);
        expect(tx.calls).toEqual(['tx:begin', 'tx:add:app:a', 'tx:discard']);
        expect(registry.revision).toBe(0);
        expect(registry.entries()).toEqual([]);
        expect(sent).toEqual([]);
      });

      it('reports a refusal as the real apply would', async () => {
        const { handlers, registry } = setup();
        const http = new Recorder('http');
        http.refuse = () => new Error('bad');
        handlers.registerListener('http.*', http);
        expect((await refusal(registry.apply([create('app:a')], { dryRun: true }))).code).toBe('REJECTED');
      });
    });

    describe('commit', () => {
      it('reports a throwing commit hook as a fault and stays committed', async () => {
        const { handlers, registry, sent } = setup();
        const tx = new TxRecorder('tx');
        tx.commit = () => {
          throw new Error('commit broke');
        };
        handlers.registerListener('http.*', tx);
        const result = await registry.apply([create('app:a')]);
        expect(result.revision).toBe(1);
        expect(result.faults).toMatchObject([{ phase: 'commit', name: 'TxRecorder(http.*)' }]);
        expect(sent.some((s) => s.system === '$registry' && s.kind === 'commit_error')).toBe(true);
      });

      it('notifies observers after commit with the committed revision, and contains their throws', async () => {
        const { handlers, registry, sent } = setup();
        handlers.registerListener('http.*', new Recorder('http'));
        const seen: string[] = [];
        const good: EntryObserver = { add: (ctx, e) => void seen.push(`${ctx.revision}:${e.id}:${registry.revision}`) };
        const bad: EntryObserver = {
          add: () => {
            throw new Error('observer broke');
          },
        };
        handlers.registerObserver('http.*', bad);
        handlers.registerObserver('http.*', good);
        const result = await registry.apply([create('app:a')]);
        expect(seen).toEqual(['1:app:a:1']);
        expect(result.faults).toMatchObject([{ phase: 'observer', entryId: 'app:a' }]);
        expect(sent.find((s) => s.kind === 'observer_error')).toMatchObject({ system: '$registry', path: 'app:a' });
      });

      it('publishes entry.create, entry.update and entry.delete with the entry id as path', async () => {
        const { handlers, registry, sent } = setup();
        handlers.registerListener('http.*', new Recorder('http'));
        await registry.apply([create('app:a')]);
        await registry.apply([{ op: 'update', entry: entry('app:a', 'http.service', {}, { v: 2 }) }]);
        await registry.apply([{ op: 'delete', entry: { id: 'app:a' } }]);
        expect(sent.map((s) => `${s.system} ${s.kind} ${s.path}`)).toEqual([
          'registry entry.create app:a',
          'registry entry.update app:a',
          'registry entry.delete app:a',
        ]);
        expect(sent[1]?.data).toMatchObject({ revision: 2, previous: { data: {} } });
      });
    });

    describe('concurrency', () => {
      it('serializes concurrent applies and loses none', async () => {
        const { handlers, registry } = setup();
        let active = 0;
        let maxActive = 0;
        handlers.registerListener('http.*', {
          add: async () => {
            active++;
            maxActive = Math.max(maxActive, active);
            await Promise.resolve();
            active--;
          },
          update: () => undefined,
          delete: () => undefined,
        });
        const results = await Promise.all(Array.from({ length: 20 }, (_, i) => registry.apply([create(`app:e${i}`)])));
        expect(results.map((r) => r.revision).sort((a, b) => a - b)).toEqual(
          Array.from({ length: 20 }, (_, i) => i + 1),
        );
        expect(registry.entries()).toHaveLength(20);
        expect(maxActive).toBe(1);
      });

      it('fails fast when a listener starts an apply of its own', async () => {
        const { handlers, registry } = setup({ acceptKinds: ['x.*'] });
        handlers.registerListener('http.*', {
          add: async () => {
            await registry.apply([create('app:inner', 'x.y')]);
          },
          update: () => undefined,
          delete: () => undefined,
        });
        const error = await refusal(registry.apply([create('app:a')]));
        expect(error.code).toBe('REJECTED');
        expect((error.cause as KindlingError).code).toBe('INVALID');
        expect((error.cause as KindlingError).message).toContain('from inside a listener');
        await registry.apply([create('app:later', 'x.y')]);
        expect(registry.revision).toBe(1);
      });
    });
  });

  describe('initialRevision', () => {
    it('starts counting from it, and treats earlier revisions as gone', async () => {
      const handlers = new HandlerRegistry();
      const registry = new Registry({ handlers, acceptKinds: ['x.*'], initialRevision: 41 });
      expect(registry.revision).toBe(41);
      expect((await registry.apply([create('app:a', 'x.y')])).revision).toBe(42);
      expect(() => registry.watch({ fromRevision: 40 })).toThrow(expect.objectContaining({ code: 'GONE' }));
      await expect(registry.rollbackTo(40)).rejects.toMatchObject({ code: 'GONE' });
      await registry.rollbackTo(41);
      expect(registry.entries()).toEqual([]);
    });

    it('refuses a negative initialRevision', () => {
      expect(() => new Registry({ handlers: new HandlerRegistry(), initialRevision: -1 })).toThrow(/initialRevision/);
    });
  });

  describe('the revision option (batches of a shared log)', () => {
    it('numbers a batch as asked, skipping the revisions between, and an empty batch moves the revision', async () => {
      const registry = new Registry({ handlers: new HandlerRegistry(), acceptKinds: ['x.*'] });
      expect((await registry.apply([create('app:a', 'x.y')], { revision: 3 })).revision).toBe(3);
      expect((await registry.apply([], { revision: 5 })).revision).toBe(5);
      expect((await registry.apply([], { revision: 6, dryRun: true })).revision).toBe(5);
      expect((await registry.apply([create('app:b', 'x.y')], { revision: 7, dryRun: true })).changes).toMatchObject([
        { op: 'create', revision: 7 },
      ]);
      expect(registry.revision).toBe(5);
      expect((await registry.apply([create('app:b', 'x.y')])).revision).toBe(6);
      expect(registry.historyRecords().map((record) => record.revision)).toEqual([3, 6]);
      await registry.rollbackTo(3);
      expect(registry.entries().map((e) => e.id)).toEqual(['app:a']);
    });

    it('refuses a revision that is not ahead of the registry, and changes nothing', async () => {
      const registry = new Registry({ handlers: new HandlerRegistry(), acceptKinds: ['x.*'] });
      await registry.apply([create('app:a', 'x.y')], { revision: 4 });
      for (const revision of [4, 2, 4.5, Number.NaN]) {
        await expect(registry.apply([create('app:b', 'x.y')], { revision })).rejects.toMatchObject({
          code: 'CONFLICT',
          message: `a batch cannot make revision ${revision}: the registry is already at 4`,
        });
      }
      expect(registry.revision).toBe(4);
      expect(registry.entries().map((e) => e.id)).toEqual(['app:a']);
    });
  });

  describe('.rollbackTo', () => {
    it('applies the inverse of later batches as a new revision', async () => {
      const { handlers, registry } = setup();
      const http = new Recorder('http');
      handlers.registerListener('http.*', http);
      await registry.apply([create('app:a', 'http.service', {}, { v: 1 }), create('app:b')]);
      await registry.apply([
        { op: 'update', entry: entry('app:a', 'http.service', {}, { v: 2 }) },
        { op: 'delete', entry: { id: 'app:b' } },
      ]);
      await registry.apply([create('app:c')]);
      const result = await registry.rollbackTo(1);
      expect(result.revision).toBe(4);
      expect(registry.entries().map((e) => [e.id, e.data])).toEqual([
        ['app:a', { v: 1 }],
        ['app:b', {}],
      ]);
      expect([...http.view.keys()].sort()).toEqual(['app:a', 'app:b']);
      expect(registry.historyRecords().at(-1)?.source).toBe('rollback to 1');
    });

    it('refuses with GONE when the batches are no longer retained', async () => {
      const { registry } = setup({ acceptKinds: ['x.*'], historyLimit: 2 });
      for (let i = 0; i < 4; i++) await registry.apply([create(`app:e${i}`, 'x.y')]);
      expect((await refusal(registry.rollbackTo(1))).code).toBe('GONE');
      await registry.rollbackTo(2);
      expect(registry.entries().map((e) => e.id)).toEqual(['app:e0', 'app:e1']);
    });
  });

  describe('.watch', () => {
    it('replays retained history, then follows new commits', async () => {
      const { registry } = setup({ acceptKinds: ['x.*'] });
      await registry.apply([create('app:a', 'x.y')]);
      const watch = registry.watch({ fromRevision: 0 });
      const first = await watch.next();
      expect(first.value).toMatchObject({ op: 'create', revision: 1, entry: { id: 'app:a' } });
      const pending = watch.next();
      await registry.apply([{ op: 'delete', entry: { id: 'app:a' } }]);
      expect((await pending).value).toMatchObject({ op: 'delete', revision: 2 });
      await watch.return?.();
      expect((await watch.next()).done).toBe(true);
    });

    it('ends a for-await loop when the reader breaks', async () => {
      const { registry } = setup({ acceptKinds: ['x.*'] });
      await registry.apply([create('app:a', 'x.y'), create('app:b', 'x.y')]);
      const ids: string[] = [];
      for await (const change of registry.watch({ fromRevision: 0 })) {
        ids.push(change.entry.id);
        if (ids.length === 2) break;
      }
      expect(ids).toEqual(['app:a', 'app:b']);
    });

    it('throws GONE for a revision older than the retained history', async () => {
      const { registry } = setup({ acceptKinds: ['x.*'], historyLimit: 1 });
      await registry.apply([create('app:a', 'x.y')]);
      await registry.apply([create('app:b', 'x.y')]);
      expect(() => registry.watch({ fromRevision: 0 })).toThrow(expect.objectContaining({ code: 'GONE' }));
    });

    it('fails with GONE instead of dropping changes when the reader falls behind', async () => {
      const { registry } = setup({ acceptKinds: ['x.*'] });
      const watch = registry.watch({ maxBuffered: 1 });
      await registry.apply([create('app:a', 'x.y'), create('app:b', 'x.y')]);
      expect((await watch.next()).value).toMatchObject({ entry: { id: 'app:a' } });
      await expect(watch.next()).rejects.toMatchObject({ code: 'GONE' });
    });
  });
});
