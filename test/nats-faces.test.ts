// The bus over NATS, two nodes in this process (two connections): the Wippy face, a trailing `**`
// mapped to NATS `>`, `$node.updated`, and an undecodable message on a kindling subject.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type NatsConnection } from 'nats';
import { silentLogger } from 'kindling';
import { createEventBus, SENT, type EventBus, type EventContext, type WippyEvent } from 'kindling/events';
import { createNatsEventBus, NatsTransport, type JetStreamChannels } from 'kindling/nats';
import { decodeEnvelopes } from '../src/transport/nats/wire-format.js';
import { NATS_URL, removeStreams, skipNats, uniquePrefix, until } from './support/nats-harness.js';

describe.skipIf(skipNats)('NatsTransport: faces, patterns, presence updates, undecodable messages', () => {
  const prefix = uniquePrefix();
  const warnings: string[] = [];
  const logger = { ...silentLogger, warn: (message: string) => void warnings.push(message) };
  const transportB = new NatsTransport({ url: NATS_URL, prefix, heartbeatMs: 200, nodeTimeoutMs: 2000, logger });
  let a: EventBus;
  let b: EventBus;
  let raw: NatsConnection;
  const onB: { name: string; params: unknown; from: string }[] = [];
  const onA: { name: string; payload: unknown }[] = [];

  beforeAll(async () => {
    a = createNatsEventBus({
      nodeID: 'face-a',
      nats: { url: NATS_URL, prefix, heartbeatMs: 200, nodeTimeoutMs: 2000 },
      logger: silentLogger,
    });
    b = createEventBus({ nodeID: 'face-b', transport: transportB, logger });
    b.createService({
      name: 'audit',
      events: {
        'audit.**': (ctx: EventContext) => void onB.push({ name: ctx.eventName, params: ctx.params, from: ctx.nodeID }),
        'dlq.probe': (ctx: EventContext) =>
          void onB.push({ name: ctx.eventName, params: ctx.params, from: ctx.nodeID }),
      },
    });
    a.on('$node.updated', (payload) => void onA.push({ name: '$node.updated', payload }));
    a.on('$node.connected', (payload) => void onA.push({ name: '$node.connected', payload }));
    await b.start();
    await a.start();
    raw = await connect({ servers: NATS_URL });
    await until(
      () => a.nodes().some((n) => n.id === 'face-b') && b.nodes().some((n) => n.id === 'face-a'),
      'the nodes to see each other',
    );
  });

  afterAll(async () => {
    const store = a?.channels as JetStreamChannels | undefined;
    if (raw !== undefined && store !== undefined) {
      const jsm = await raw.jetstreamManager();
      await jsm.streams.delete(store.stream).catch(() => undefined);
      await jsm.streams.delete(store.dlqStream).catch(() => undefined);
    }
    await raw?.close();
    await a?.stop();
    await b?.stop();
  });

  it('Wippy send on one node reaches a Wippy subscription on the other, path and dotted system intact', async () => {
    const sub = b.events.subscribe('orders.*', 'order.created');
    try {
      // The subscription's NATS subject is on the server once a round trip of b's connection is done.
      await transportB.connection?.flush();
      await a.events.send('orders.eu', 'order.created', '/orders/123', { total: 99.5 });
      await a.events.send('orders.eu', 'order.cancelled', '/orders/124', { total: 1 });
      await a.events.send('orders.us', 'order.created', '/orders/125', { total: 7 });
      const received: WippyEvent[] = [];
      for (let i = 0; i < 2; i++) {
        let timer: ReturnType<typeof setTimeout> | undefined;
        const next = await Promise.race([
          sub.channel().receive(),
          new Promise<never>(
            (_, reject) => (timer = setTimeout(() => reject(new Error('no Wippy event within 5 s')), 5_000)),
          ),
        ]).finally(() => clearTimeout(timer));
        expect(next.ok).toBe(true);
        received.push(next.value as WippyEvent);
      }
      expect(received.map((e) => [e.system, e.kind, e.path, e.data, e.source])).toEqual([
        ['orders.eu', 'order.created', '/orders/123', { total: 99.5 }, 'face-a'],
        ['orders.us', 'order.created', '/orders/125', { total: 7 }, 'face-a'],
      ]);
      expect(received[0]?.name).toBe('orders.eu.order.created');
    } finally {
      sub.close();
    }
  });

  it('a trailing ** is the NATS > wildcard: any depth arrives, nothing is filtered locally, no fallback warning', async () => {
    a.emit('audit.user', { n: 1 });
    a.emit('audit.user.created.v2', { n: 2 });
    a.emit('auditx.user', { n: 3 });
    a.emit('audit', { n: 4 }); // `audit.**` needs at least one more segment, as NATS `audit.>` does
    a.emit('audit.a b..é~', { n: 6 }); // escaped tokens: the name travels in the message, not read from the subject
    a.emit('audit.order.paid', { n: 5 });
    await until(() => onB.some((e) => (e.params as { n: number }).n === 5), 'the audit events on b');
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(
      onB.filter((e) => e.name.startsWith('audit')).map((e) => [e.name, (e.params as { n: number }).n, e.from]),
    ).toEqual([
      ['audit.user', 1, 'face-a'],
      ['audit.user.created.v2', 2, 'face-a'],
      ['audit.a b..é~', 6, 'face-a'],
      ['audit.order.paid', 5, 'face-a'],
    ]);
    expect(warnings.filter((w) => w.includes('audit.**'))).toEqual([]);
  });

  it('updateNodeInfo on one node is $node.updated with the new fields on the other', async () => {
    transportB.updateNodeInfo({ metadata: { role: 'auditor' }, version: 2 });
    await until(() => onA.some((e) => e.name === '$node.updated'), '$node.updated on a');
    const update = onA.find((e) => e.name === '$node.updated')?.payload as { node: Record<string, unknown> };
    expect(update.node).toMatchObject({ id: 'face-b', metadata: { role: 'auditor' }, version: 2 });
    expect(a.nodes().find((n) => n.id === 'face-b')).toMatchObject({ metadata: { role: 'auditor' }, version: 2 });
  });

  it('an undecodable message on a kindling subject goes to the dead-letter stream with its reason; the node carries on', async () => {
    const undecodable: { subject: string; reason: string }[] = [];
    const listener = b.on(
      '$transporter.undecodable',
      (payload) => void undecodable.push(payload as { subject: string; reason: string }),
    );
    const before = warnings.length;
    const subject = `${prefix}.emit.dlq.probe`;
    raw.publish(subject, new TextEncoder().encode('{"this is": not json'));
    raw.publish(subject, new TextEncoder().encode('99 e 1 1 x\n{}'));
    // A batch is all or nothing: its good first envelope is not delivered either.
    raw.publish(subject, new TextEncoder().encode('2* 2\n2 e 1 1 x\n{"n":-1}\n2 e 2 1 x\n{bad\n'));
    await raw.flush();
    await until(() => undecodable.length >= 3, 'three $transporter.undecodable reports');
    expect(undecodable.map((u) => u.subject)).toEqual([subject, subject, subject]);
    expect(undecodable[0]?.reason).toMatch(/the message is not JSON/);
    expect(undecodable[1]?.reason).toMatch(/format version 99 is not supported/);
    expect(undecodable[2]?.reason).toMatch(/envelope 2 of 2: the data is not JSON/);
    // One storm: the first is logged, the other two counted (and summed up when the window ends).
    expect(warnings.slice(before).filter((w) => w.includes('undecodable'))).toHaveLength(1);
    expect(transportB.stats().undecodable).toBe(3);
    listener.dispose();

    // Stored on <PREFIX>_DLQ under <prefix>.dlq.~events, the reason and the subject in headers.
    const jsm = await raw.jetstreamManager();
    const dlqStream = (b.channels as JetStreamChannels).dlqStream;
    let stored: { data: Uint8Array; header: { get(key: string): string } }[] = [];
    for (let attempt = 0; attempt < 50 && stored.length < 3; attempt++) {
      const info = await jsm.streams.info(dlqStream);
      stored = [];
      for (let seq = info.state.first_seq; seq <= info.state.last_seq && info.state.messages > 0; seq++) {
        const m = await jsm.streams.getMessage(dlqStream, { seq }).catch(() => undefined);
        if (m !== undefined && m.subject === `${prefix}.dlq.~events`) stored.push(m);
      }
      if (stored.length < 3) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(stored).toHaveLength(3);
    expect(new TextDecoder().decode(stored[0]?.data)).toBe('{"this is": not json');
    expect(stored[0]?.header.get('Kindling-Error')).toMatch(/the message is not JSON/);
    expect(stored[0]?.header.get('Kindling-Subject')).toBe(subject);
    expect(stored[1]?.header.get('Kindling-Error')).toMatch(/format version 99/);
    expect(stored[2]?.header.get('Kindling-Error')).toMatch(/envelope 2 of 2/);
    // The same, as tools read them.
    const letters = await (b.channels as JetStreamChannels).undecodable();
    expect(letters.map((l) => [l.headers['Kindling-Subject'], l.error.slice(0, 20)])).toEqual(
      stored.map((m) => [subject, m.header.get('Kindling-Error').slice(0, 20)]),
    );
    expect(letters[0]?.body).toBe('{"this is": not json');

    // The node still works: a good event on the same subject is handled.
    a.emit('dlq.probe', { n: 42 });
    await until(() => onB.some((e) => e.name === 'dlq.probe'), 'the good event after the bad ones');
    expect(onB.filter((e) => e.name === 'dlq.probe')).toEqual([
      { name: 'dlq.probe', params: { n: 42 }, from: 'face-a' },
    ]);
  });
});

describe.skipIf(skipNats)('NatsTransport: plain sends are fire-and-forget, confirmed sends wait for the server', () => {
  it('a plain send settles at once, a confirmed one after the server answered; both refuse once the connection is gone', async () => {
    const prefix = uniquePrefix();
    const transport = new NatsTransport({ url: NATS_URL, prefix, logger: silentLogger });
    const bus = createEventBus({ nodeID: 'fire', transport, logger: silentLogger });
    const errors: { type: string; error: unknown }[] = [];
    bus.on('$broker.error', (payload) => void errors.push(payload as { type: string; error: unknown }));
    await bus.start();
    try {
      const envelope = {
        id: 'fire-1',
        name: 'x.y',
        system: 'x',
        kind: 'y',
        path: '',
        data: 1,
        meta: {},
        time: Date.now(),
        trace: { requestID: 'fire-1', parentID: undefined, caller: undefined },
        source: 'fire',
        eventType: 'emit' as const,
        groups: undefined,
      };
      expect(transport.send(envelope)).toBe(SENT);
      let confirmed = false;
      const confirming = transport.send(envelope, true).then(() => (confirmed = true));
      expect(confirming).not.toBe(SENT);
      await Promise.resolve();
      expect(confirmed).toBe(false); // still waiting for the PONG
      await confirming;
      expect(confirmed).toBe(true);

      await transport.connection?.close();
      await expect(transport.send(envelope)).rejects.toMatchObject({ code: 'UNAVAILABLE' });
      await expect(transport.send(envelope, true)).rejects.toMatchObject({ code: 'UNAVAILABLE' });
      // A plain emit's refusal is reported, never thrown.
      expect(() => bus.emit('x.y', 2)).not.toThrow();
      await until(() => errors.some((e) => e.type === 'failedSendEventPacket'), 'the transport failure report');
    } finally {
      await bus.stop();
      await removeStreams(prefix);
    }
  });
});

describe.skipIf(skipNats)('NatsTransport: consecutive events of one subject leave as one message', () => {
  /**
   * Runs `send` (one turn, `count` events) on a bus of `maxBatch` beside a sink node; returns the NATS
   * messages seen on the wire (`subject×events`) and what the sink handled, in order.
   */
  async function wire(
    maxBatch: number | undefined,
    count: number,
    send: (bus: EventBus) => void,
  ): Promise<{ messages: string[]; events: unknown[] }> {
    const prefix = uniquePrefix();
    const raw = await connect({ servers: NATS_URL });
    const messages: string[] = [];
    raw.subscribe(`${prefix}.emit.>`, {
      callback: (_e, m) =>
        void messages.push(
          `${m.subject.slice(prefix.length + 6)}×${decodeEnvelopes(m.data, m.subject.slice(prefix.length + 6)).length}`,
        ),
    });
    await raw.flush();
    const events: unknown[] = [];
    const sink = createNatsEventBus({ nodeID: 'sink', nats: { url: NATS_URL, prefix }, logger: silentLogger });
    sink.createService({ name: 's', events: { 'a.*': (ctx: EventContext) => void events.push(ctx.params) } });
    const bus = createNatsEventBus({
      nodeID: 'src',
      nats: { url: NATS_URL, prefix, ...(maxBatch === undefined ? {} : { maxBatch }) },
      logger: silentLogger,
    });
    try {
      await sink.start();
      await bus.start();
      send(bus);
      const onWire = (): number => messages.reduce((n, m) => n + Number(m.split('×')[1]), 0);
      await until(() => onWire() === count && events.length === count, `${count} events on the wire and at the sink`);
      return { messages, events };
    } finally {
      await bus.stop();
      await sink.stop();
      await raw.close();
      await removeStreams(prefix);
    }
  }

  it('a loop of 100 emits is 4 messages (32 + 32 + 32 + 4) by default, one per event with maxBatch 1', async () => {
    const loop = (bus: EventBus): void => {
      for (let i = 0; i < 100; i++) bus.emit('a.x', i);
    };
    const batched = await wire(undefined, 100, loop);
    expect(batched.messages).toEqual(['a.x×32', 'a.x×32', 'a.x×32', 'a.x×4']);
    expect(batched.events).toEqual(Array.from({ length: 100 }, (_, i) => i));
    const single = await wire(1, 100, loop);
    expect(single.messages).toHaveLength(100);
    expect(single.events).toEqual(Array.from({ length: 100 }, (_, i) => i));
  });

  it('another subject in between closes the batch: the order across subjects is kept', async () => {
    const { messages, events } = await wire(undefined, 4, (bus) => {
      bus.emit('a.x', 1);
      bus.emit('a.x', 2);
      bus.emit('a.y', 3);
      bus.emit('a.x', 4);
    });
    expect(messages).toEqual(['a.x×2', 'a.y×1', 'a.x×1']);
    expect(events).toEqual([1, 2, 3, 4]);
  });

  it('events without data, and events whose time changes, keep their place and their fields', async () => {
    const { messages, events } = await wire(undefined, 6, (bus) => {
      bus.emit('a.x', 1);
      bus.emit('a.x');
      bus.emit('a.x', 3);
      const until = Date.now() + 2;
      while (Date.now() < until); // the clock ticks within the turn
      bus.emit('a.x', 4);
      bus.emit('a.x', null);
      bus.emit('a.x', { six: 6 });
    });
    expect(events).toEqual([1, undefined, 3, 4, null, { six: 6 }]);
    expect(messages).toEqual(['a.x×6']);
  });

  it('refuses a maxBatch that is not a whole number ≥ 1', () => {
    for (const maxBatch of [0, 1.5, -1, Number.NaN]) {
      expect(() => new NatsTransport({ url: NATS_URL, maxBatch })).toThrow(
        expect.objectContaining({ code: 'INVALID', message: expect.stringMatching(/maxBatch/) }),
      );
    }
  });
});
