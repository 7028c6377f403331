import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EventBus } from 'kindling/events';
import { createNatsEventBus } from 'kindling/nats';
import { ChildNode, NATS_URL, removeStreams, skipNats, uniquePrefix, untilAny } from './support/nats-harness.js';

const quiet = { debug() {}, info() {}, warn() {}, error() {} };

describe.skipIf(skipNats)('NatsTransport across processes', () => {
  const prefix = uniquePrefix();
  const nodes: ChildNode[] = [];
  let publisher: EventBus;

  // Three child nodes: two run service "users" (group users), one runs "payments"; all three also
  // have a groupless broadcast listener and a wildcard listener in group "audit".
  const services = (name: string): unknown[] => [
    {
      name,
      events: [
        { pattern: 'user.created', group: name },
        { pattern: 'order.*', group: 'audit' },
        { pattern: 'config.changed' },
        { pattern: 'local.only' },
        { pattern: 'user.cr*', group: `partial-${name}` },
      ],
    },
  ];

  beforeAll(async () => {
    for (const [id, service] of [
      ['n1', 'users'],
      ['n2', 'users'],
      ['n3', 'payments'],
    ] as const) {
      nodes.push(new ChildNode({ url: NATS_URL, prefix, nodeID: id, services: services(service) }));
    }
    await Promise.all(nodes.map((n) => n.ready()));
    // Nothing here tests expiry: a generous timeout keeps a child that a loaded CI machine starves of
    // CPU for a second from being counted as gone.
    publisher = createNatsEventBus({
      nodeID: 'pub',
      nats: { url: NATS_URL, prefix, heartbeatMs: 200, nodeTimeoutMs: 30_000 },
      logger: quiet,
    });
    await publisher.start();
  });

  afterAll(async () => {
    await publisher?.stop();
    await Promise.all(nodes.map((n) => n.stop()));
    await removeStreams(prefix);
  });

  const handled = (event: string, tag: number) => (l: Record<string, unknown>) =>
    l['event'] === event && (l['params'] as { n?: number } | null)?.n === tag;
  /** Waits until `check` holds, re-checked whenever any child writes a line. */
  const untilAll = (check: () => boolean, what: string): Promise<void> => untilAny(nodes, check, what);
  const all = (test: (l: Record<string, unknown>) => boolean) => nodes.flatMap((n) => n.lines.filter(test));

  /** The next turn: events sent in one turn leave together (a batch is balanced as one message). */
  const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

  it('emit: each event is handled by exactly one member of each group across nodes', async () => {
    const count = 40;
    for (let n = 0; n < count; n++) {
      publisher.emit('user.created', { n });
      await nextTurn();
    }
    for (let n = 0; n < count; n++) {
      publisher.emit('user.created', { n: 1000 });
      await nextTurn();
    }
    // n3 (payments) gets every event; the users group's share is split over n1 and n2.
    await (nodes[2] as ChildNode).waitForCount(
      (l) => l['event'] === 'user.created' && l['group'] === 'payments',
      2 * count,
      'payments events',
    );
    await untilAll(
      () => all((l) => l['event'] === 'user.created' && l['group'] === 'users').length >= 2 * count,
      'users events',
    );
    for (let n = 0; n < count; n++) {
      expect(all((l) => handled('user.created', n)(l) && l['group'] === 'users')).toHaveLength(1);
      expect(all((l) => handled('user.created', n)(l) && l['group'] === 'payments')).toHaveLength(1);
    }
    // Balanced: both users members took part.
    expect((nodes[0] as ChildNode).lines.some((l) => l['group'] === 'users')).toBe(true);
    expect((nodes[1] as ChildNode).lines.some((l) => l['group'] === 'users')).toBe(true);
  });

  it('a burst sent in one turn travels in batches: still once per group, in order, spread over the members', async () => {
    // 640 events of one subject in one synchronous loop: 20 batches of 32 (the default maxBatch).
    const count = 640;
    for (let n = 0; n < count; n++) publisher.emit('user.created', { n: 10_000 + n });
    const burst = (l: Record<string, unknown>): boolean =>
      l['event'] === 'user.created' && ((l['params'] as { n?: number } | null)?.n ?? 0) >= 10_000;
    await (nodes[2] as ChildNode).waitForCount(
      (l) => burst(l) && l['group'] === 'payments',
      count,
      'the burst at payments',
    );
    await untilAll(() => all((l) => burst(l) && l['group'] === 'users').length >= count, 'the burst at users');
    const payments = (nodes[2] as ChildNode).lines
      .filter((l) => burst(l) && l['group'] === 'payments')
      .map((l) => (l['params'] as { n: number }).n);
    expect(payments).toEqual(Array.from({ length: count }, (_, i) => 10_000 + i)); // one member: every event, in order
    const users = all((l) => burst(l) && l['group'] === 'users').map((l) => (l['params'] as { n: number }).n);
    expect(new Set(users).size).toBe(count); // each exactly once in the group
    for (const node of nodes.slice(0, 2)) {
      const share = node.lines
        .filter((l) => burst(l) && l['group'] === 'users')
        .map((l) => (l['params'] as { n: number }).n);
      expect(share.length).toBeGreaterThan(0); // 20 batches, two members: both take part
      expect(share).toEqual([...share].sort((a, b) => a - b)); // each member sees its share in order
    }
  });

  it('emit with groups: only the named groups receive', async () => {
    publisher.emit('user.created', { n: 2000 }, { groups: ['payments'] });
    await (nodes[2] as ChildNode).waitFor(handled('user.created', 2000), 'the payments event');
    publisher.emit('user.created', { n: 2001 }, { groups: ['users'] });
    await untilAll(() => all(handled('user.created', 2001)).length >= 1, 'the users event');
    expect(all(handled('user.created', 2000)).map((l) => l['group'])).toEqual(['payments']);
    expect(all(handled('user.created', 2001)).map((l) => l['group'])).toEqual(['users']);
  });

  it('broadcast: every node gets it, once', async () => {
    publisher.broadcast('config.changed', { n: 3000 });
    await Promise.all(nodes.map((n) => n.waitFor(handled('config.changed', 3000), 'the broadcast')));
    for (const node of nodes) expect(node.lines.filter(handled('config.changed', 3000))).toHaveLength(1);
  });

  it('broadcastLocal never leaves the node', async () => {
    const seen: unknown[] = [];
    const sub = publisher.on('local.only', (payload) => seen.push(payload));
    publisher.broadcastLocal('local.only', { n: 4000 });
    // A broadcast sent after it reaches the children; the local one, had it left, would be ahead of it.
    publisher.broadcast('config.changed', { n: 4001 });
    await Promise.all(nodes.map((n) => n.waitFor(handled('config.changed', 4001), 'the marker broadcast')));
    sub.dispose();
    expect(seen).toEqual([{ n: 4000 }]);
    expect(all(handled('local.only', 4000))).toHaveLength(0);
  });

  it('wildcards across nodes: order.* in group audit, one handler per event', async () => {
    publisher.emit('order.created', { n: 5000 });
    publisher.emit('order.paid', { n: 5001 });
    await untilAll(() => all((l) => l['pattern'] === 'order.*').length >= 2, 'the order events');
    expect(all(handled('order.created', 5000))).toHaveLength(1);
    expect(all(handled('order.paid', 5001))).toHaveLength(1);
  });

  it('a partial-segment wildcard falls back to filtering on the node', async () => {
    publisher.emit('user.crashed', { n: 6000 });
    publisher.emit('user.deleted', { n: 6001 });
    publisher.emit('user.created', { n: 6002 });
    // partial-users (n1/n2) and partial-payments (n3) each take user.crashed and user.created once.
    // Both matching events, each from both groups: a queue group's members may answer out of order.
    const partial = (n: number) =>
      all((l) => String(l['group']).startsWith('partial-') && (l['params'] as { n: number } | null)?.n === n);
    await untilAll(() => partial(6000).length >= 2 && partial(6002).length >= 2, 'the partial matches');
    expect(all((l) => l['group'] === 'partial-users' && (l['params'] as { n: number }).n === 6000)).toHaveLength(1);
    expect(all((l) => l['group'] === 'partial-payments' && (l['params'] as { n: number }).n === 6000)).toHaveLength(1);
    expect(all((l) => (l['params'] as { n: number } | null)?.n === 6001)).toHaveLength(0);
  });

  it('the sender node travels with the event (ctx.nodeID)', async () => {
    publisher.emit('user.created', { n: 7000 }, { groups: ['payments'] });
    const line = await (nodes[2] as ChildNode).waitFor(handled('user.created', 7000), 'the event');
    expect(line['from']).toBe('pub');
  });

  it('presence: the publisher comes to know the three nodes', async () => {
    // Answers to a hello are rate-limited per node, so a node may be heard only at its next
    // heartbeat: wait for the table to fill rather than read it at once.
    const ids = (): string[] =>
      publisher
        .nodes()
        .map((n) => n.id)
        .sort();
    await new Promise<void>((resolve, reject) => {
      const check = (): void => {
        if (ids().length < 3) return;
        sub.dispose();
        clearTimeout(timer);
        resolve();
      };
      const sub = publisher.on('$node.connected', check);
      const timer = setTimeout(() => {
        sub.dispose();
        reject(new Error(`the publisher knows only ${ids().join(', ')}`));
      }, 10_000);
      check();
    });
    expect(ids()).toEqual(['n1', 'n2', 'n3']);
  });
});

describe.skipIf(skipNats)('NatsTransport presence and the broker face across processes', () => {
  const prefix = uniquePrefix();

  afterAll(async () => {
    await removeStreams(prefix);
  });

  it('announces $node.connected, then $node.disconnected graceful and unexpected', async () => {
    const watcher = createNatsEventBus({
      nodeID: 'watcher',
      nats: { url: NATS_URL, prefix, heartbeatMs: 100, nodeTimeoutMs: 600 },
      logger: quiet,
    });
    const seen: [string, string, unknown][] = [];
    let wake: () => void = () => undefined;
    watcher.on('$node.*', (payload, name) => {
      const p = payload as { node: { id: string }; unexpected?: boolean };
      seen.push([name, p.node.id, p.unexpected]);
      wake();
    });
    const until = (check: () => boolean, what: string): Promise<void> =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`timed out waiting for ${what}: ${JSON.stringify(seen)}`)),
          10_000,
        );
        wake = () => {
          if (check()) {
            clearTimeout(timer);
            resolve();
          }
        };
        wake();
      });
    await watcher.start();
    const a = new ChildNode({ url: NATS_URL, prefix, nodeID: 'a', heartbeatMs: 100, nodeTimeoutMs: 600 });
    const b = new ChildNode({ url: NATS_URL, prefix, nodeID: 'b', heartbeatMs: 100, nodeTimeoutMs: 600 });
    try {
      await until(() => seen.filter((s) => s[0] === '$node.connected').length === 2, 'two nodes to connect');
      expect(
        watcher
          .nodes()
          .map((n) => n.id)
          .sort(),
      ).toEqual(['a', 'b']);
      await a.stop();
      await until(() => seen.some((s) => s[0] === '$node.disconnected' && s[1] === 'a'), 'a to leave');
      await b.kill();
      await until(() => seen.some((s) => s[0] === '$node.disconnected' && s[1] === 'b'), 'b to be missed');
      expect(seen.filter((s) => s[0] === '$node.disconnected')).toEqual([
        ['$node.disconnected', 'a', false],
        ['$node.disconnected', 'b', true],
      ]);
      expect(watcher.nodes()).toEqual([]);
    } finally {
      await a.kill();
      await b.kill();
      await watcher.stop();
    }
  });

  it('broker consume: one queue name = competing consumers across nodes', async () => {
    const consumers = [
      new ChildNode({ url: NATS_URL, prefix, nodeID: 'c1', consumers: [{ queue: 'mailer', type: 'user-created' }] }),
      new ChildNode({ url: NATS_URL, prefix, nodeID: 'c2', consumers: [{ queue: 'mailer', type: 'user-created' }] }),
    ];
    const bus = createNatsEventBus({ nodeID: 'producer', nats: { url: NATS_URL, prefix }, logger: quiet });
    try {
      await Promise.all(consumers.map((c) => c.ready()));
      await bus.start();
      const { makeEvent } = await import('kindling/events');
      for (let n = 0; n < 20; n++) await bus.broker.publish(makeEvent(`u${n}`, 'user-created', { n }));
      await untilAny(
        consumers,
        () => consumers.flatMap((x) => x.lines.filter((l) => 'consumed' in l)).length >= 20,
        'consumed events',
      );
      const got = consumers.flatMap((c) =>
        c.lines.filter((l) => 'consumed' in l).map((l) => (l['body'] as { n: number }).n),
      );
      expect(got.sort((x, y) => x - y)).toEqual(Array.from({ length: 20 }, (_, i) => i));
    } finally {
      await bus.stop();
      await Promise.all(consumers.map((c) => c.stop()));
    }
  });
});
