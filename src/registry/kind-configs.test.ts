// Kinds that declare their config class (`registerListener(..., { configs })`): the registry decodes
// each created or updated entry once, before any listener, and refuses a bad one in the declaring
// listener's name.
import 'reflect-metadata';
import { IsInt, IsString, Min } from 'class-validator';
import { describe, expect, it } from 'vitest';
import { KindlingError } from '../common/errors.js';
import { ConfigError } from '../config/config-error.js';
import { entryConfig } from '../config/entry-config.js';
import type { Entry } from '../entry/entry.js';
import { HandlerRegistry, type EntryListener, type ListenerContext } from '../handlers/handler-registry.js';
import { Registry } from './registry.js';

let decodes = 0;

class ServerConfig {
  @IsString() addr = ':0';
  @IsInt() @Min(1) port = 8080;
  initDefaults(): void {
    decodes++;
  }
}

class OtherConfig {
  @IsString() name = '';
}

/** Reads each entry's config with entryConfig, and records what it saw. */
class Reader implements EntryListener {
  readonly seen: { op: string; id: string; config: object | undefined }[] = [];
  constructor(private readonly refuseFirst?: (entry: Entry) => KindlingError | undefined) {}

  private read(op: string, entry: Entry): void {
    const refusal = this.refuseFirst?.(entry);
    if (refusal !== undefined) throw refusal;
    this.seen.push({ op, id: entry.id, config: op === 'delete' ? undefined : entryConfig(ServerConfig, entry) });
  }
  add(_ctx: ListenerContext, entry: Entry): void {
    this.read('add', entry);
  }
  update(_ctx: ListenerContext, entry: Entry): void {
    this.read('update', entry);
  }
  delete(_ctx: ListenerContext, entry: Entry): void {
    this.read('delete', entry);
  }
}

function setup(): { handlers: HandlerRegistry; registry: Registry; first: Reader; second: Reader } {
  const handlers = new HandlerRegistry();
  const first = new Reader();
  const second = new Reader();
  handlers.registerListener('net.*', first, {
    name: 'net',
    kinds: ['net.server'],
    configs: { 'net.server': ServerConfig },
  });
  handlers.registerListener('net.server', second, { name: 'audit' });
  return { handlers, registry: new Registry({ handlers }), first, second };
}

describe('kinds with a declared config class', () => {
  it('decodes each entry once before the listeners, which all read that one config', async () => {
    const { registry, first, second } = setup();
    decodes = 0;
    await registry.apply([
      { op: 'create', entry: { id: 'app:a', kind: 'net.server', data: { port: 81 } } },
      { op: 'create', entry: { id: 'app:b', kind: 'net.server', data: { addr: 'x:1' } } },
    ]);
    expect(decodes).toBe(2);
    expect(first.seen.map((s) => s.config)).toEqual([
      { addr: ':0', port: 81 },
      { addr: 'x:1', port: 8080 },
    ]);
    // The same frozen instance reaches every listener: nothing decoded it again.
    expect(second.seen[0]?.config).toBe(first.seen[0]?.config);
    expect(Object.isFrozen(first.seen[0]?.config)).toBe(true);
    expect(first.seen[0]?.config).toBeInstanceOf(ServerConfig);
  });

  it('does not decode again when a listener defers the entry with NOT_FOUND', async () => {
    const handlers = new HandlerRegistry();
    let refusals = 1;
    const reader = new Reader(() =>
      refusals-- > 0 ? new KindlingError('NOT_FOUND', 'waiting for a sibling') : undefined,
    );
    handlers.registerListener('net.server', reader, { configs: { 'net.server': ServerConfig } });
    handlers.registerListener('net.other', { add: () => undefined, update: () => undefined, delete: () => undefined });
    const registry = new Registry({ handlers });
    decodes = 0;
    await registry.apply([
      { op: 'create', entry: { id: 'app:a', kind: 'net.server', data: { port: 2 } } },
      { op: 'create', entry: { id: 'app:z', kind: 'net.other', data: {} } },
    ]);
    expect(reader.seen.map((s) => s.id)).toEqual(['app:a']);
    expect(decodes).toBe(1);
  });

  it('refuses a bad config before any listener runs, naming the entry, the field and the declaring listener', async () => {
    const { registry, first, second } = setup();
    const refusal: unknown = await registry
      .apply([
        { op: 'create', entry: { id: 'app:a-good', kind: 'net.server', data: {} } },
        { op: 'create', entry: { id: 'app:b-bad', kind: 'net.server', data: { port: 0, colour: 'red' } } },
      ])
      .catch((error: unknown) => error);
    expect(refusal).toMatchObject({
      code: 'REJECTED',
      details: { entryId: 'app:b-bad', listener: 'net', op: 'create' },
    });
    expect((refusal as Error).message).toMatch(/^create of entry app:b-bad by net was refused: invalid configuration/);
    const cause = (refusal as { cause?: unknown }).cause;
    expect(cause).toBeInstanceOf(ConfigError);
    expect((cause as ConfigError).issues.map((issue) => issue.path).sort()).toEqual(['data.colour', 'data.port']);
    // app:a-good ran through both listeners (and was undone); app:b-bad reached neither.
    const adds = [...first.seen, ...second.seen].filter((s) => s.op === 'add').map((s) => s.id);
    expect(adds).toEqual(['app:a-good', 'app:a-good']);
    expect(registry.revision).toBe(0);
  });

  it('decodes in a dry run too, and an update; a delete needs no config', async () => {
    const { registry, first } = setup();
    await expect(
      registry.apply([{ op: 'create', entry: { id: 'app:a', kind: 'net.server', data: { port: 'x' } } }], {
        dryRun: true,
      }),
    ).rejects.toThrow(/data\.port: port must be an integer number/);
    await registry.apply([{ op: 'create', entry: { id: 'app:a', kind: 'net.server', data: { port: 5 } } }]);
    decodes = 0;
    await registry.apply([{ op: 'update', entry: { id: 'app:a', kind: 'net.server', data: { port: 6 } } }]);
    await registry.apply([{ op: 'delete', entry: { id: 'app:a' } }]);
    expect(decodes).toBe(1);
    expect(first.seen.map((s) => [s.op, s.config])).toEqual([
      ['add', { addr: ':0', port: 5 }],
      ['update', { addr: ':0', port: 6 }],
      ['delete', undefined],
    ]);
  });
});

describe('HandlerRegistry configs', () => {
  const listener: EntryListener = { add: () => undefined, update: () => undefined, delete: () => undefined };

  it('maps each kind to its class and lists the kinds it knows', () => {
    const handlers = new HandlerRegistry();
    handlers.registerListener('net.*', listener, {
      name: 'net',
      kinds: ['net.server', 'net.route'],
      configs: { 'net.server': ServerConfig },
    });
    handlers.registerListener('fn.js', listener);
    handlers.registerListener('any.*', listener);
    expect(handlers.configFor('net.server')).toEqual({
      kind: 'net.server',
      configClass: ServerConfig,
      listener: 'net',
    });
    expect(handlers.configFor('net.route')).toBeUndefined();
    expect(handlers.kindConfigs().map((c) => c.kind)).toEqual(['net.server']);
    expect(handlers.knownKinds()).toEqual(['fn.js', 'net.route', 'net.server']);
  });

  it('refuses a key the pattern does not match, a kind outside kinds, a wildcard and a second class for a kind', () => {
    const handlers = new HandlerRegistry();
    expect(() => handlers.registerListener('net.*', listener, { configs: { 'web.server': ServerConfig } })).toThrow(
      /pattern net\.\* does not match that kind/,
    );
    expect(() =>
      handlers.registerListener('net.*', listener, { kinds: ['net.a'], configs: { 'net.b': ServerConfig } }),
    ).toThrow(/not one of the listener's kinds/);
    expect(() => handlers.registerListener('net.*', listener, { configs: { 'net.*': ServerConfig } })).toThrow(
      KindlingError,
    );
    handlers.registerListener('net.*', listener, { name: 'one', configs: { 'net.server': ServerConfig } });
    expect(() =>
      handlers.registerListener('net.server', listener, { name: 'two', configs: { 'net.server': OtherConfig } }),
    ).toThrow(
      expect.objectContaining({
        code: 'CONFLICT',
        message: expect.stringMatching(/already has config class ServerConfig \(listener one\)/),
      }),
    );
    // The refused registrations left nothing behind.
    expect(handlers.listenersFor('net.server').map((r) => r.name)).toEqual(['one']);
  });

  it('keeps a kind mapped while any registration that declared it remains', () => {
    const handlers = new HandlerRegistry();
    const a = handlers.registerListener('net.*', listener, { configs: { 'net.server': ServerConfig } });
    const b = handlers.registerListener('net.server', listener, { configs: { 'net.server': ServerConfig } });
    a.dispose();
    expect(handlers.configFor('net.server')?.configClass).toBe(ServerConfig);
    b.dispose();
    expect(handlers.configFor('net.server')).toBeUndefined();
    expect(handlers.knownKinds()).toEqual([]);
  });
});
