// NATS floods: a hostile peer on the same server (a raw connection, the "attacker") takes every
// path into a running node it can reach — garbage and malformed envelopes and batches, oversized
// messages, floods of distinct names, presence floods and forgeries, replies nobody asked for,
// forged consumer status, full streams. After each flood the node is still up and still delivers a
// legitimate event from a real peer, its stores are within their limits (sizes and counts), nothing
// else changed, and its log holds a bounded number of lines with counts.
import { connect, headers, Empty, type NatsConnection } from 'nats';
import { describe, expect, it } from 'vitest';
import { createConsoleLogger, silentLogger } from 'kindling';
import { createEventBus, type EventBus, type EventContext } from 'kindling/events';
import { createNatsEventBus, NatsTransport, type JetStreamChannels, type NatsTransportOptions } from 'kindling/nats';
import { bootTestApp } from 'kindling/testing';
import { getEventBus } from 'kindling/components';
import { NATS_URL, deleteStreams, skipNats, uniquePrefix, until } from './support/nats-harness.js';

const encoder = new TextEncoder();
const bytes = (text: string): Uint8Array => encoder.encode(text);

/** Longer than any flood here takes: storms are summed up when the victim stops. */
const WINDOW_MS = 60_000;

type Limits = Omit<Partial<NatsTransportOptions>, 'url' | 'prefix' | 'logger'>;

/**
 * A victim node (the node under attack, logging through the real console logger into `lines`), a
 * legitimate peer and an attacker connection, on a subject prefix of their own.
 */
class Arena {
  readonly prefix = uniquePrefix();
  readonly lines: string[] = [];
  readonly received: number[] = [];
  readonly nodeEvents: string[] = [];
  readonly victim: EventBus;
  readonly transport: NatsTransport;
  readonly peer: EventBus;
  attacker!: NatsConnection;
  private probes = 0;

  private constructor(limits: Limits, windowMs: number) {
    const logger = createConsoleLogger('warn', 'victim', {
      repeatWindowMs: windowMs,
      write: (line) => void this.lines.push(line),
    });
    this.transport = new NatsTransport({
      url: NATS_URL,
      prefix: this.prefix,
      heartbeatMs: 100,
      nodeTimeoutMs: 3000,
      logger,
      logRepeatWindowMs: windowMs,
      ...limits,
    });
    this.victim = createEventBus({ nodeID: 'victim', transport: this.transport, logger, logRepeatWindowMs: windowMs });
    this.victim.createService({
      name: 'probe',
      events: { 'probe.ok': (ctx: EventContext) => void this.received.push((ctx.params as { n: number }).n) },
    });
    this.victim.on(
      '$node.*',
      (payload, name) => void this.nodeEvents.push(`${name} ${(payload as { node: { id: string } }).node.id}`),
    );
    this.peer = createNatsEventBus({
      nodeID: 'peer',
      nats: { url: NATS_URL, prefix: this.prefix, heartbeatMs: 100, nodeTimeoutMs: 3000 },
      logger: silentLogger,
    });
  }

  static async open(limits: Limits = {}, windowMs = WINDOW_MS): Promise<Arena> {
    const arena = new Arena(limits, windowMs);
    await arena.victim.start();
    await arena.peer.start();
    arena.attacker = await connect({ servers: NATS_URL });
    await until(
      () => arena.victim.nodes().some((n) => n.id === 'peer') && arena.peer.nodes().some((n) => n.id === 'victim'),
      'the victim and the peer to see each other',
    );
    return arena;
  }

  /** The victim handles a legitimate event the peer emits. */
  async stillDelivers(): Promise<void> {
    const n = ++this.probes;
    this.peer.emit('probe.ok', { n });
    await until(() => this.received.includes(n), `the victim to handle probe ${n}`, 10_000);
  }

  /** The victim's log lines that contain `text`. */
  linesWith(text: string): string[] {
    return this.lines.filter((line) => line.includes(text));
  }

  async close(): Promise<void> {
    await this.victim.stop();
    await this.peer.stop();
    if (this.attacker !== undefined) {
      await deleteStreams(this.attacker, this.prefix);
      await this.attacker.close();
    }
  }
}

/** Runs `body` against a fresh arena, closing it whatever happens. */
async function inArena(limits: Limits, body: (arena: Arena) => Promise<void>, windowMs = WINDOW_MS): Promise<void> {
  const arena = await Arena.open(limits, windowMs);
  try {
    await body(arena);
  } finally {
    await arena.close();
  }
}

describe.skipIf(skipNats)('NatsTransport under a hostile peer', () => {
  describe('.undecodable messages', () => {
    it('refuses 10,000 garbage messages: all counted, dead letters within deadLetterMaxMessages, one log line and a count', async () => {
      await inArena({ deadLetterMaxMessages: 100, deadLetterMaxPending: 8 }, async (arena) => {
        const subscriptions = arena.victim.stats().subscriptions;
        for (let i = 0; i < 5000; i++) {
          arena.attacker.publish(`${arena.prefix}.bcast.junk`, bytes(`garbage ${i}`));
          arena.attacker.publish(`${arena.prefix}.emit.probe.ok`, bytes(`garbage ${i}`));
        }
        await arena.attacker.flush();
        await until(
          () => arena.transport.stats().undecodable === 10_000,
          'the victim to refuse every garbage message',
          15_000,
        );
        await until(() => arena.transport.stats().deadLettersPending === 0, 'the dead letters in flight to be written');
        await arena.stillDelivers();

        const stats = arena.transport.stats();
        const dlq = await (
          await arena.attacker.jetstreamManager()
        ).streams.info((arena.victim.channels as JetStreamChannels).dlqStream);
        expect(dlq.config.max_msgs_per_subject).toBe(100);
        expect(dlq.state.messages).toBeLessThanOrEqual(100);
        expect(stats.deadLettersSkipped).toBeGreaterThan(0);
        expect(arena.received).toEqual([1]);
        expect(arena.victim.stats().subscriptions).toBe(subscriptions);

        await arena.victim.stop();
        expect(arena.linesWith('warn  refused an undecodable message')).toHaveLength(1);
        expect(arena.linesWith('… 9,999 more like this in the last 60 s: refused an undecodable message')).toHaveLength(
          1,
        );
        expect(arena.lines.length).toBeLessThanOrEqual(6);
      });
    });

    it('refuses a message over maxMessageBytes and dead-letters only its first deadLetterBodyBytes', async () => {
      await inArena({ maxMessageBytes: 4096, deadLetterBodyBytes: 1024 }, async (arena) => {
        const big = `2 e 1 1 peer\n${JSON.stringify('x'.repeat(100_000))}`;
        for (let i = 0; i < 20; i++) arena.attacker.publish(`${arena.prefix}.emit.probe.ok`, bytes(big));
        await arena.attacker.flush();
        await until(
          () => arena.transport.stats().undecodable === 20 && arena.transport.stats().deadLettersPending === 0,
          'the oversized messages to be refused',
        );
        const [letter] = await (arena.victim.channels as JetStreamChannels).undecodable(1);
        expect(letter?.error).toMatch(/\d+ bytes is more than maxMessageBytes \(4096\)/);
        expect(letter?.body.length).toBe(1024);
        expect(letter?.headers['Kindling-Bytes']).toBe(String(bytes(big).length));
        expect(arena.received).toEqual([]);
        await arena.stillDelivers();
      });
    });

    it('refuses every malformed envelope and batch, naming why, and delivers none of them', async () => {
      const cases: readonly (readonly [string, string | Uint8Array, RegExp])[] = [
        ['bytes that are not UTF-8', new Uint8Array([0x32, 0x20, 0xff, 0xfe]), /not UTF-8/],
        ['an empty message', '', /not a kindling event envelope/],
        ['a header line without its line end', '2 e 1 1 peer', /no header line/],
        ['an unknown delivery mode', '2 z 1 1 peer\n{}', /delivery mode "z" is unknown/],
        ['an id that is not a number', '2 e x 1 peer\n{}', /id "x" is neither/],
        ['a time that is not a number', '2 e 1 soon peer\n{}', /time "soon" is not a number/],
        ['data that is not JSON', '2 e 1 1 peer\n{', /the data is not JSON/],
        ['an extras line that is not an object', '2 e+ 1 1 peer\n[]\n{}', /extras line is not a JSON object/],
        ['groups that are not a list of strings', '2 e+ 1 1 peer\n{"g":"all"}\n{}', /groups must be a list of strings/],
        [
          'a source with an escape sequence',
          '2 e+ 1 1 \n{"o":"evil\\u001b[2J"}\n{}',
          /node id "evil\\u001b\[2J" is not/,
        ],
        [
          'a source of 300 characters',
          `2 e 1 1 ${'a'.repeat(300)}\n{}`,
          /node id "a{64}"… \(236 more characters\) is not/,
        ],
        ['a source with a space', '2 e 1 1 two words\n{}', /node id "two words" is not/],
        [
          'a name longer than maxNameLength',
          `2 e+ 1 1 peer\n{"n":"${'n'.repeat(2000)}"}\n{}`,
          /a name of 2000 characters is longer than maxNameLength \(1024\)/,
        ],
        ['a batch line without a count', '2* x\n', /the batch line "2\* x" is not/],
        [
          'a batch announcing more envelopes than it has',
          '2* 999999999999999\n2 e 1 1 peer\n{}\n',
          /envelope 2 of 999999999999999: the batch ends after 1/,
        ],
        ['a batch inside a batch', '2* 1\n2* 1\n2 e 1 1 peer\n{}\n', /envelope 1 of 1: not a version-2 envelope/],
        ['text after the announced envelopes', '2* 1\n2 e 1 1 peer\n{}\nmore', /more text after the 1 envelope/],
        [
          'a batch whose second envelope has a forged source',
          '2* 2\n2 e 1 1 peer\n{}\n2 e 2 1 pe\u202eer\n{}\n',
          /node id "pe\\u202eer" is not/,
        ],
        ['a run with a forged source', '2= 2 e 1 1 pe\u202eer\n[{},{}]', /node id "pe\\u202eer" is not/],
        [
          'a run announcing more events than its data holds',
          '2= 3 e 1 1 peer\n[{},{}]',
          /not a JSON array of the 3 events the run line announces/,
        ],
        [
          'a version-1 object with a field of the wrong type',
          '{"v":1,"eventType":"emit","name":5}',
          /field name must be a string/,
        ],
        ['an unsupported version', '7 e 1 1 peer\n{}', /format version 7 is not supported/],
      ];
      await inArena({}, async (arena) => {
        const reasons: string[] = [];
        arena.victim.on(
          '$transporter.undecodable',
          (payload) => void reasons.push((payload as { reason: string }).reason),
        );
        for (const [, payload] of cases)
          arena.attacker.publish(
            `${arena.prefix}.emit.probe.ok`,
            typeof payload === 'string' ? bytes(payload) : payload,
          );
        await arena.attacker.flush();
        await until(() => reasons.length === cases.length, 'every malformed message to be refused');
        expect(cases.map(([what], i) => [what, reasons[i]])).toEqual(
          cases.map(([what, , reason]) => [what, expect.stringMatching(reason)]),
        );
        expect(arena.received).toEqual([]);
        await arena.stillDelivers();
      });
    });
  });

  describe('.event names', () => {
    it('keeps the name cache within 16,384 names under 20,000 distinct names', async () => {
      await inArena({}, async (arena) => {
        let flooded = 0;
        arena.victim.on('flood.*', () => void flooded++);
        await arena.transport.connection?.flush();
        for (let i = 0; i < 20_000; i++)
          arena.attacker.publish(`${arena.prefix}.bcast.flood.n${i}`, bytes(`2 b ${i + 1} 0 attacker\n${i}`));
        await arena.attacker.flush();
        await until(() => flooded === 20_000, 'the victim to take every flood event', 15_000);
        expect(arena.victim.stats().cachedNames).toBeLessThanOrEqual(16_384);
        await arena.stillDelivers();
      });
    });
  });

  describe('.presence', () => {
    it('answers a flood of 20,000 hellos from fake nodes with a bounded number of replies and tracks at most maxNodes', async () => {
      await inArena({ maxNodes: 50, helloReplyIntervalMs: WINDOW_MS }, async (arena) => {
        let repliesSeen = 0;
        const spy = arena.attacker.subscribe(`${arena.prefix}.node.info`, {
          callback: (_error, msg) => {
            if ((JSON.parse(new TextDecoder().decode(msg.data)) as { node: { id: string } }).node.id === 'victim')
              repliesSeen++;
          },
        });
        await arena.attacker.flush();
        const before = arena.transport.stats().presence;
        const types = ['hello', 'info', 'heartbeat'] as const;
        for (let i = 0; i < 20_000; i++) {
          const type = types[i % 3] as string;
          const node = { id: `fake-${i % 200}`, instanceID: `i-${i % 200}` };
          arena.attacker.publish(`${arena.prefix}.node.${type}`, bytes(JSON.stringify({ v: 1, type, node })));
        }
        await arena.attacker.flush();
        // 49 fake nodes fit beside the peer; every message of the other 151 is refused.
        const refusedFakes = 20_000 - Math.ceil(20_000 / 200) * 49;
        await until(
          () => arena.transport.stats().presence.refused - before.refused >= refusedFakes,
          'the presence flood to be taken',
          15_000,
        );
        const during = arena.transport.stats().presence;
        expect(during.nodes).toBe(50);
        expect(during.replies - before.replies).toBeLessThanOrEqual(1);
        expect(during.repliesShared - before.repliesShared).toBeGreaterThan(0);
        expect(arena.nodeEvents.filter((e) => e.startsWith('$node.connected fake-'))).toHaveLength(49);

        // The fake nodes never speak again: they expire, and only the peer is left.
        await until(() => arena.victim.nodes().length === 1, 'the fake nodes to expire', 10_000);
        const after = arena.transport.stats().presence;
        expect(arena.victim.nodes().map((n) => n.id)).toEqual(['peer']);
        expect(after.departed).toBeLessThanOrEqual(50);
        await arena.stillDelivers();
        spy.unsubscribe();
        expect(repliesSeen).toBeLessThanOrEqual(1);

        await arena.victim.stop();
        expect(arena.linesWith('warn  refused a presence message')).toHaveLength(1);
        expect(
          arena.linesWith(`… ${(refusedFakes - 1).toLocaleString('en-US')} more like this in the last 60 s`),
        ).toHaveLength(1);
      });
    });

    it('refuses malformed, oversized and forged presence messages, naming why, and nothing changes', async () => {
      const hello = (node: unknown, type = 'hello', extra: Record<string, unknown> = {}): string =>
        JSON.stringify({ v: 1, type, node, ...extra });
      await inArena(
        {},
        async (arena) => {
          const peerInstance = arena.victim.nodes().find((n) => n.id === 'peer')?.['instanceID'];
          const cases: readonly (readonly [string, string, string | Uint8Array, RegExp])[] = [
            [
              'a message over maxPresenceBytes',
              'hello',
              hello({ id: 'big', pad: 'x'.repeat(20_000) }),
              /bytes is more than maxPresenceBytes \(16384\)/,
            ],
            ['bytes that are not UTF-8', 'hello', new Uint8Array([0x7b, 0xff]), /not a UTF-8 JSON presence message/],
            ['text that is not JSON', 'hello', '{"v":1,', /not a UTF-8 JSON presence message/],
            ['a JSON list', 'hello', '[]', /not a JSON object/],
            [
              'another version',
              'hello',
              JSON.stringify({ v: 2, type: 'hello', node: { id: 'v2' } }),
              /version 2 is not supported/,
            ],
            [
              'a type that is not its subject',
              'info',
              hello({ id: 'liar' }),
              /its type "hello" is not its subject's \(info\)/,
            ],
            [
              'a subject that is no presence type',
              'evil',
              hello({ id: 'evil' }, 'evil'),
              /"evil" is not a presence type/,
            ],
            ['no node', 'hello', JSON.stringify({ v: 1, type: 'hello' }), /field node is not an object/],
            [
              'a node id with an escape sequence',
              'hello',
              hello({ id: 'x\u001b[2J' }),
              /node id "x\\u001b\[2J" is not/,
            ],
            ['a node id with a bidi override', 'hello', hello({ id: 'ab\u202ecd' }), /node id "ab\\u202ecd" is not/], // escaped by the logger
            [
              'a node id of 300 characters',
              'hello',
              hello({ id: 'n'.repeat(300) }),
              /node id "n{64}"… \(236 more characters\) is not/,
            ],
            ['an empty node id', 'hello', hello({ id: '' }), /node id "" is not/],
            ['a node id that is a number', 'hello', hello({ id: 7 }), /node id number is not/],
            [
              'a prototype key',
              'hello',
              '{"v":1,"type":"hello","node":{"id":"proto","__proto__":{"polluted":true}}}',
              /the key "__proto__" is not allowed/,
            ],
            [
              'an instance id that is not a string',
              'hello',
              hello({ id: 'inst', instanceID: 5 }),
              /instanceID is not a string/,
            ],
            [
              'a bye for the peer from another instance',
              'bye',
              hello({ id: 'peer', instanceID: 'forged' }, 'bye'),
              /from node peer: a bye from another instance than the one known/,
            ],
            [
              "a hello with this node's id from another instance",
              'hello',
              hello({ id: 'victim', instanceID: 'forged' }),
              /from node victim: another instance claims this node's id/,
            ],
          ];
          const before = arena.transport.stats().presence.refused;
          const events = arena.nodeEvents.length;
          for (const [, type, payload] of cases)
            arena.attacker.publish(
              `${arena.prefix}.node.${type}`,
              typeof payload === 'string' ? bytes(payload) : payload,
            );
          await arena.attacker.flush();
          await until(
            () => arena.transport.stats().presence.refused - before === cases.length,
            'every presence message to be refused',
          );
          const refusals = arena.linesWith('refused a presence message');
          expect(cases.map(([what], i) => [what, refusals[i]])).toEqual(
            cases.map(([what, , , reason]) => [what, expect.stringMatching(reason)]),
          );
          expect(arena.victim.nodes().map((n) => [n.id, n['instanceID']])).toEqual([['peer', peerInstance]]);
          expect(arena.nodeEvents.length).toBe(events);
          expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
          await arena.stillDelivers();
        },
        0, // every refusal on its own line, to check each reason
      );
    });
  });

  describe('.replies nobody asked for', () => {
    it('drops 10,000 replies on its request inbox to requests it never made', async () => {
      await inArena({}, async (arena) => {
        const mux = (
          arena.transport.connection as unknown as {
            protocol: { muxSubscriptions: { baseInbox: string; reqs: Map<string, unknown> } };
          }
        ).protocol.muxSubscriptions;
        expect(mux.baseInbox).toMatch(/^_INBOX\./);
        for (let i = 0; i < 10_000; i++)
          arena.attacker.publish(
            `${mux.baseInbox}forged${i}`,
            bytes('{"type":"io.nats.jetstream.api.v1.pub_ack","stream":"X","seq":1}'),
          );
        await arena.attacker.flush();
        await arena.transport.connection?.flush();
        expect(mux.reqs.size).toBe(0);
        await arena.stillDelivers();
      });
    });
  });

  describe('.durable channels', () => {
    it('keeps consuming after a forged status message stopped its consumer (was: the channel stopped for good)', async () => {
      await inArena({ partitions: 1 }, async (arena) => {
        const store = arena.victim.channels as JetStreamChannels;
        const pulls: string[] = [];
        const spy = arena.attacker.subscribe(`$JS.API.CONSUMER.MSG.NEXT.${store.stream}.>`, {
          callback: (_error, msg) => void (msg.reply && pulls.push(msg.reply)),
        });
        await arena.attacker.flush();
        const handled: unknown[] = [];
        const subscription = await arena.victim.channels.subscribe('orders', {
          group: 'billing',
          handler: (m) => void handled.push(m.data),
        });
        try {
          await until(() => pulls.length >= 2, 'the consumers to pull');
          // A peer that sees the pull requests answers each inbox with a "400 Bad Request" status: nats.js stops that consumer.
          for (const inbox of new Set(pulls))
            arena.attacker.publish(inbox, Empty, { headers: headers(400, 'Bad Request') });
          await arena.attacker.flush();
          await arena.peer.channels.send('orders', { n: 1 });
          await until(() => handled.length === 1, 'the channel to handle a message after the forged stop', 10_000);
          expect(handled).toEqual([{ n: 1 }]);
        } finally {
          spy.unsubscribe();
          await subscription.close();
        }
      });
    });

    it('refuses a send with UNAVAILABLE once a flood filled the channel stream to channelMaxMessages', async () => {
      await inArena({ channelMaxMessages: 50 }, async (arena) => {
        const store = arena.victim.channels as JetStreamChannels;
        const js = arena.attacker.jetstream();
        let refused = 0;
        for (let i = 0; i < 60; i++)
          await js.publish(store.subject('orders', '_'), bytes(`junk ${i}`)).catch(() => void refused++);
        expect(refused).toBe(10);
        const info = await (await arena.attacker.jetstreamManager()).streams.info(store.stream);
        expect(info.state.messages).toBe(50);
        await expect(arena.victim.channels.send('orders', { n: 1 })).rejects.toMatchObject({
          code: 'UNAVAILABLE',
          retryable: true,
          message: expect.stringMatching(
            /channel orders: maximum messages exceeded \(JetStream error 10077\) \(the channel stream .* is full: channelMaxMessages/,
          ),
        });
        await arena.stillDelivers();
      });
    });
  });

  describe('.log storms', () => {
    it('logs a refused-send storm of 100,000 emits as one line and a count (was: a line per emit)', async () => {
      const lines: string[] = [];
      const logger = createConsoleLogger('warn', 'app', { write: (line) => void lines.push(line) });
      // Never started: every send is refused ("the transport is not connected").
      const bus = createNatsEventBus({ nodeID: 'offline', nats: { url: NATS_URL, prefix: uniquePrefix() }, logger });
      const errors: unknown[] = [];
      bus.on('$broker.error', (payload) => void errors.push(payload));
      for (let i = 0; i < 100_000; i++) bus.emit('orders.created', { i });
      await until(() => errors.length === 100_000, 'every refusal to be reported');
      await bus.stop();
      expect(lines).toEqual([
        expect.stringMatching(
          /^\[app\] error event bus failedSendEventPacket: NATS at .*: the transport is not connected/,
        ),
        expect.stringMatching(
          /^\[app\] error … 99,999 more like this in the last 10 s: event bus failedSendEventPacket: NATS at/,
        ),
      ]);
    });

    it('logs a peer flood refused by a full buffer as one line and a count', async () => {
      await inArena({}, async (arena) => {
        const subscription = arena.victim.events.subscribe('burst', undefined, { bufferSize: 4, overflow: 'error' });
        await arena.transport.connection?.flush();
        let refused = 0;
        arena.victim.on(
          '$broker.error',
          (payload) => void ((payload as { type: string }).type === 'refused' && refused++),
        );
        for (let i = 0; i < 2000; i++) arena.peer.broadcast('burst.tick', { i });
        await until(() => refused === 1996, 'the victim to refuse what its buffer cannot take', 10_000);
        subscription.close();
        await arena.stillDelivers();
        await arena.victim.stop();
        expect(arena.linesWith('warn  event bus refused: 1 subscriber(s) refused "burst.tick"')).toHaveLength(1);
        expect(arena.linesWith('… 1,995 more like this in the last 60 s: event bus refused')).toHaveLength(1);
      });
    });
  });

  describe('.booted app', () => {
    it('keeps an app with the events component serving through presence and garbage floods, within its manifest limits', async () => {
      const prefix = uniquePrefix();
      const attacker = await connect({ servers: NATS_URL });
      const peer = createNatsEventBus({ nodeID: 'app-peer', nats: { url: NATS_URL, prefix }, logger: silentLogger });
      try {
        await using app = await bootTestApp({
          acceptKinds: ['app.note'],
          config: {
            events: {
              nodeID: 'app-node',
              logRepeatWindowMs: WINDOW_MS,
              nats: { url: NATS_URL, prefix, maxNodes: 5, helloReplyIntervalMs: WINDOW_MS, deadLetterMaxMessages: 20 },
            },
          },
        });
        const bus = getEventBus(app.boot.context);
        const seen: number[] = [];
        bus.createService({
          name: 'notes',
          events: { 'notes.ping': (ctx: EventContext) => void seen.push((ctx.params as { n: number }).n) },
        });
        await peer.start();
        await until(() => bus.nodes().some((n) => n.id === 'app-peer'), 'the app to see the peer');

        for (let i = 0; i < 2000; i++) {
          attacker.publish(
            `${prefix}.node.hello`,
            bytes(JSON.stringify({ v: 1, type: 'hello', node: { id: `fake-${i}` } })),
          );
          attacker.publish(`${prefix}.emit.notes.ping`, bytes(`junk ${i}`));
        }
        await attacker.flush();
        peer.emit('notes.ping', { n: 1 });
        await until(() => seen.includes(1), 'the app to handle the peer event after the floods', 10_000);

        expect(bus.nodes().length).toBeLessThanOrEqual(5);
        const jsm = await attacker.jetstreamManager();
        const dlq = await jsm.streams.info((bus.channels as JetStreamChannels).dlqStream);
        expect(dlq.config.max_msgs_per_subject).toBe(20);
        expect(dlq.state.messages).toBeLessThanOrEqual(20);
        await app.apply('entries:\n  - { name: after-flood, kind: app.note, data: { text: still here } }\n');
        expect(app.registry.get('test:after-flood')).toBeDefined();
      } finally {
        await peer.stop();
        await deleteStreams(attacker, prefix);
        await attacker.close();
      }
    });
  });
});
