import { describe, expect, it } from 'vitest';
import { EventBus } from 'kindling/events';
import { RegistryName } from 'kindling/boot';
import { bootTestApp } from 'kindling/testing';
import { getEventBus } from './index.js';

describe('events component', () => {
  it('binds the bus in the container under the EventBus token', async () => {
    await using app = await bootTestApp();
    expect(app.get<EventBus>(EventBus).state).toBe('started');
  });

  it('carries the registry changes as registry.entry.* events', async () => {
    await using app = await bootTestApp({ acceptKinds: ['app.note'] });
    const names: string[] = [];
    app.get<EventBus>(EventBus).on('registry.entry.*', (_payload, name) => void names.push(name));
    await app.apply('entries:\n  - { name: n, kind: app.note, data: { text: hi } }\n');
    await app.remove('test:n');
    expect(names).toEqual(['registry.entry.create', 'registry.entry.delete']);
  });

  it('re-publishes the $boot events of the loader on the bus', async () => {
    const names: string[] = [];
    await using _app = await bootTestApp({
      components: [
        {
          name: 'spy',
          dependsOn: [RegistryName],
          load: (ctx) => {
            getEventBus(ctx).on('$boot.**', (_payload, name) => void names.push(name));
          },
        },
      ],
    });
    expect(names).toEqual(expect.arrayContaining(['$boot.component_started', '$boot.started']));
  });

  it('stops the bus when it stops', async () => {
    const app = await bootTestApp();
    const bus = app.get<EventBus>(EventBus);
    await app.shutdown();
    expect(bus.state).toBe('stopped');
  });
});

describe('events component config', () => {
  it('refuses a nats.maxBatch below 1, naming the field and the component', async () => {
    const error = await bootTestApp({
      config: { events: { nats: { url: 'nats://127.0.0.1:4222', maxBatch: 0 } } },
    }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toMatchObject({ code: 'INVALID' });
    expect(String((error as Error).message)).toMatch(/events/);
    expect(String((error as Error).message)).toMatch(/maxBatch/);
  });
});

describe('events component preferLocal', () => {
  it('takes a boolean, and refuses anything else naming the field', async () => {
    await using app = await bootTestApp({ config: { events: { preferLocal: false } } });
    expect(app.get<EventBus>(EventBus).state).toBe('started');
    const error = await bootTestApp({ config: { events: { preferLocal: 'no' } } }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toMatchObject({ code: 'INVALID' });
    expect(String((error as Error).message)).toMatch(/preferLocal/);
  });
});

describe('events component limits', () => {
  it('refuses a nats.maxNodes below 1, naming the field', async () => {
    const error = await bootTestApp({
      config: { events: { nats: { url: 'nats://127.0.0.1:4222', maxNodes: 0 } } },
    }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toMatchObject({ code: 'INVALID', message: expect.stringMatching(/maxNodes/) });
  });

  it('refuses a negative logRepeatWindowMs, naming the field', async () => {
    const error = await bootTestApp({ config: { events: { logRepeatWindowMs: -5 } } }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toMatchObject({ code: 'INVALID', message: expect.stringMatching(/logRepeatWindowMs/) });
  });
});
