import { describe, expect, it } from 'vitest';
import type { EntryListener, HandlerRegistry, Registry } from 'kindling';
import { BootLoader, RegistryName, defineComponent, getHandlerRegistry, getRegistry } from 'kindling/boot';
import { bootTestApp } from 'kindling/testing';
import { eventsComponent } from '../events/index.js';
import { registryComponent } from './index.js';

const accept: EntryListener = { add: () => undefined, update: () => undefined, delete: () => undefined };

describe('registry component', () => {
  it('gives components that depend on it the handler registry and the registry (like GetHandlerRegistry in Wippy)', async () => {
    const seen: { handlers?: HandlerRegistry; registry?: Registry } = {};
    const myservice = defineComponent({
      name: 'myservice',
      dependsOn: [RegistryName],
      load: (ctx) => {
        seen.handlers = getHandlerRegistry(ctx);
        seen.handlers.registerListener('myservice.*', accept);
        seen.registry = getRegistry(ctx);
        return ctx;
      },
    });
    const boot = new BootLoader();
    boot.register(eventsComponent);
    boot.register(registryComponent);
    boot.register(myservice);
    await boot.start();
    const result = await seen.registry?.apply([
      { op: 'create', entry: { id: 'app:one', kind: 'myservice.thing', data: {} } },
    ]);
    expect(result?.revision).toBe(1);
    await boot.shutdown();
  });

  it('refuses getHandlerRegistry before the registry component loaded, saying what to do', async () => {
    const boot = new BootLoader();
    boot.register({ name: 'early', load: (ctx) => void getHandlerRegistry(ctx) });
    await expect(boot.load()).rejects.toThrow(
      'boot context has no "handler registry" (load the "registry" component first: add it to dependsOn)',
    );
  });

  it('accepts the kinds its config lists without a listener', async () => {
    await using app = await bootTestApp({ config: { registry: { acceptKinds: ['app.note'] } } });
    await app.expectAccepted('entries:\n  - { name: n, kind: app.note, data: { text: hi } }\n');
  });

  it('refuses a kind no listener handles, naming it', async () => {
    await using app = await bootTestApp();
    await app.expectRefused('entries:\n  - { name: n, kind: app.note, data: {} }\n', {
      code: 'INVALID',
      message: 'no listener handles kind "app.note"',
    });
  });

  it('bounds history by the changes its config allows', async () => {
    await using app = await bootTestApp({ config: { registry: { acceptKinds: ['app.note'], historyChangeLimit: 3 } } });
    for (const text of ['a', 'b', 'c']) {
      await app.expectAccepted(
        `entries:\n  - { name: n${text}, kind: app.note, data: { text: ${text} } }\n  - { name: m${text}, kind: app.note, data: { text: ${text} } }\n`,
      );
    }
    // Three batches of two changes each: only the newest one fits in three changes.
    expect(app.registry.historyRecords().map((record) => record.changes.length)).toEqual([2]);
  });

  it('refuses a config that is not valid, naming the component and the field', async () => {
    await expect(bootTestApp({ config: { registry: { acceptKinds: 'app.note' } } })).rejects.toThrow(
      /component registry failed to load: invalid configuration .*\n\s+data\.acceptKinds/,
    );
  });
});
