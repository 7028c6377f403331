import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeEvent } from 'kindling/events';
import { createNatsEventBus } from 'kindling/nats';
import { ChildNode, until } from './support/nats-harness.js';
import { freePort, haveNatsServer, startNatsServer as startServer } from './support/nats-server.js';

describe.skipIf(!haveNatsServer)('resilientPublish through a NATS outage', () => {
  it('loses nothing when nats-server is killed and restarted during a stream of events', async () => {
    const port = await freePort();
    const url = `nats://127.0.0.1:${port}`;
    const store = mkdtempSync(join(tmpdir(), 'kindling-nats-'));
    let server = await startServer(port, store);
    const timing = { heartbeatMs: 100, nodeTimeoutMs: 3000, reconnectTimeWaitMs: 50 };
    const consumer = new ChildNode({
      url,
      prefix: 'kindling',
      nodeID: 'consumer',
      ...timing,
      consumers: [{ queue: 'q', type: 'tick-sent' }],
    });
    const bus = createNatsEventBus({
      nodeID: 'publisher',
      nats: { url, ...timing },
      resilient: { bufferSize: 10_000, initialDelayMs: 20, maxDelayMs: 200 },
      logger: { debug() {}, info() {}, warn() {}, error() {} },
    });
    let outages = 0;
    bus.on('$transporter.disconnected', () => outages++);
    const total = 300;
    const received = (): Set<number> =>
      new Set(consumer.lines.filter((l) => 'consumed' in l).map((l) => (l['body'] as { n: number }).n));
    try {
      await consumer.ready();
      await bus.start();
      await new Promise<void>((resolve) => {
        const off = bus.on('$node.connected', () => {
          off.dispose();
          resolve();
        });
        if (bus.nodes().length > 0) {
          off.dispose();
          resolve();
        }
      });
      for (let n = 0; n < total; n++) {
        expect(bus.broker.resilientPublish(makeEvent(`a${n}`, 'tick-sent', { n }))).toBeUndefined();
        if (n === 100) {
          server.process.kill('SIGKILL');
          await server.exited;
        }
        if (n === 200) server = await startServer(port, store);
        // Let the client see its socket close before more events go out.
        if (n % 10 === 0) await new Promise<void>((resolve) => setImmediate(resolve));
      }
      await bus.broker.flush();
      await consumer.until(() => received().size === total, `all ${total} events at the consumer`, 20_000);
      expect(received().size).toBe(total);
      expect(outages).toBeGreaterThanOrEqual(1);
    } finally {
      await bus.stop();
      await consumer.stop();
      server.process.kill('SIGTERM');
      await server.exited;
      rmSync(store, { recursive: true, force: true });
    }
  }, 60_000);
});

describe.skipIf(!haveNatsServer)('batches and a server with a small max_payload', () => {
  it('keeps every batch under max_payload, and refuses a single event over it with INVALID', async () => {
    const port = await freePort();
    const url = `nats://127.0.0.1:${port}`;
    const store = mkdtempSync(join(tmpdir(), 'kindling-nats-'));
    const config = join(store, 'server.conf');
    writeFileSync(config, 'max_payload: 2048\n');
    const server = await startServer(port, store, ['-c', config]);
    const quiet = { debug() {}, info() {}, warn() {}, error() {} };
    const sender = createNatsEventBus({ nodeID: 'sender', nats: { url }, logger: quiet });
    const sink = createNatsEventBus({ nodeID: 'sink', nats: { url }, logger: quiet });
    const got: number[] = [];
    sink.on('big.*', (payload) => void got.push((payload as { n: number }).n));
    try {
      await sink.start();
      await sender.start();
      // 40 events of ~300 bytes in one turn: ~12 KB, which one message could not carry.
      const fill = 'y'.repeat(280);
      for (let n = 0; n < 40; n++) sender.emit('big.part', { n, fill });
      await until(() => got.length === 40, 'the 40 events');
      expect(got).toEqual(Array.from({ length: 40 }, (_, n) => n));
      await expect(
        sender.broker.publish(makeEvent('big', 'big-sent', { fill: 'z'.repeat(4096) })),
      ).rejects.toMatchObject({
        code: 'INVALID',
        message: expect.stringMatching(/max_payload 2048 bytes/),
      });
    } finally {
      await sender.stop();
      await sink.stop();
      server.process.kill('SIGTERM');
      await server.exited;
      rmSync(store, { recursive: true, force: true });
    }
  });
});
