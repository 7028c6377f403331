// The `events` component's NATS configuration really connects: from a boot manifest
// (`components: [{ name: events, config: { nats: { url, prefix } } }]`) and from KINDLING_NATS_URL.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from 'nats';
import { silentLogger } from 'kindling';
import { type EventBus, type EventContext } from 'kindling/events';
import { createNatsEventBus, type JetStreamChannels } from 'kindling/nats';
import { Application } from 'kindling/boot';
import { bootTestApp } from 'kindling/testing';
import { builtinComponents, getEventBus } from 'kindling/components';
import { NATS_URL, skipNats, uniquePrefix, until } from './support/nats-harness.js';

describe.skipIf(skipNats)('events component over NATS', () => {
  const prefix = uniquePrefix();
  let peer: EventBus;
  const received: { name: string; params: unknown; from: string }[] = [];

  beforeAll(async () => {
    peer = createNatsEventBus({
      nodeID: 'boot-peer',
      nats: { url: NATS_URL, prefix, heartbeatMs: 200, nodeTimeoutMs: 2000 },
      logger: silentLogger,
    });
    peer.createService({
      name: 'sink',
      events: {
        'booted.*': (ctx: EventContext) =>
          void received.push({ name: ctx.eventName, params: ctx.params, from: ctx.nodeID }),
      },
    });
    await peer.start();
  });

  afterAll(async () => {
    const store = peer?.channels as JetStreamChannels | undefined;
    if (store !== undefined) {
      const nc = await connect({ servers: NATS_URL });
      const jsm = await nc.jetstreamManager();
      await jsm.streams.delete(store.stream).catch(() => undefined);
      await jsm.streams.delete(store.dlqStream).catch(() => undefined);
      await nc.close();
    }
    await peer?.stop();
  });

  it('a boot manifest with events.config.nats.url connects the bus to NATS', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'kindling-nats-boot-'));
    const manifest = [
      'name: nats-boot',
      'log: silent',
      'components:',
      '  - name: events',
      `    config: { nodeID: manifest-node, nats: { url: "${NATS_URL}", prefix: "${prefix}", maxBatch: 4 } }`,
      '  - registry',
      '',
    ].join('\n');
    await writeFile(join(dir, 'kindling.yaml'), manifest);
    const app = await Application.load(dir, { builtins: builtinComponents, logger: silentLogger });
    try {
      await app.start();
      const bus = getEventBus(app.boot.context);
      expect(bus.nodeID).toBe('manifest-node');
      await until(() => peer.nodes().some((n) => n.id === 'manifest-node'), 'the peer to see manifest-node');
      await until(() => bus.nodes().some((n) => n.id === 'boot-peer'), 'manifest-node to see the peer');
      bus.emit('booted.manifest', { via: 'manifest' });
      await until(() => received.some((e) => e.name === 'booted.manifest'), 'the event on the peer');
      expect(received.find((e) => e.name === 'booted.manifest')).toEqual({
        name: 'booted.manifest',
        params: { via: 'manifest' },
        from: 'manifest-node',
      });
      await expect(bus.channels.send('boot-check', { ok: true })).resolves.toBeUndefined();
    } finally {
      await app.shutdown();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('KINDLING_NATS_URL alone connects the bus (prefix from the config)', async () => {
    const saved = process.env['KINDLING_NATS_URL'];
    process.env['KINDLING_NATS_URL'] = NATS_URL;
    try {
      await using app = await bootTestApp({ config: { events: { nodeID: 'env-node', nats: { prefix } } } });
      const bus = getEventBus(app.boot.context);
      await until(() => peer.nodes().some((n) => n.id === 'env-node'), 'the peer to see env-node');
      bus.emit('booted.env', { via: 'env' });
      await until(() => received.some((e) => e.name === 'booted.env'), 'the event on the peer');
      expect(received.find((e) => e.name === 'booted.env')?.from).toBe('env-node');
    } finally {
      if (saved === undefined) delete process.env['KINDLING_NATS_URL'];
      else process.env['KINDLING_NATS_URL'] = saved;
    }
  });

  it('events.config.preferLocal reaches the bus: true serves this node at once, false goes through NATS', async () => {
    for (const preferLocal of [true, false]) {
      await using app = await bootTestApp({
        config: { events: { nodeID: `local-${preferLocal}`, preferLocal, nats: { url: NATS_URL, prefix } } },
      });
      const bus = getEventBus(app.boot.context);
      const here: unknown[] = [];
      // A member of the peer's group, on this node.
      bus.createService({ name: 'sink', events: { 'booted.*': (ctx: EventContext) => void here.push(ctx.params) } });
      await until(() => peer.nodes().some((n) => n.id === `local-${preferLocal}`), 'the peer to see this node');
      const name = `booted.prefer-${preferLocal}`;
      bus.emit(name, { preferLocal });
      // Local preference is synchronous; without it the emit is handed to NATS, which balances it.
      expect(here).toHaveLength(preferLocal ? 1 : 0);
      if (!preferLocal)
        await until(
          () => here.length + received.filter((e) => e.name === name).length === 1,
          'one member of the group to get it',
        );
    }
  });

  it('without a NATS URL the bus stays in-process, durable channels too', async () => {
    const saved = process.env['KINDLING_NATS_URL'];
    delete process.env['KINDLING_NATS_URL'];
    try {
      await using app = await bootTestApp();
      const bus = getEventBus(app.boot.context);
      expect(bus.nodes()).toEqual([]);
      const seen: unknown[] = [];
      const sub = await bus.channels.subscribe('x', { group: 'g', handler: (m) => void seen.push(m.data) });
      await bus.channels.send('x', 1);
      await until(() => seen.length === 1, 'the in-process channel message');
      await sub.close();
    } finally {
      if (saved !== undefined) process.env['KINDLING_NATS_URL'] = saved;
    }
  });
});
