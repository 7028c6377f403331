import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEventBus, type EventBus } from 'kindling';
import { ChildNode, NATS_URL, skipNats, uniquePrefix } from './fixtures/nats/harness.js';

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
    for (const [id, service] of [['n1', 'users'], ['n2', 'users'], ['n3', 'payments']] as const) {
      nodes.push(new ChildNode({ url: NATS_URL, prefix, nodeID: id, services: services(service) }));
    }
    await Promise.all(nodes.map((n) => n.ready()));
    publisher = createEventBus({ nodeID: 'pub', nats: { url: NATS_URL, prefix, heartbeatMs: 200, nodeTimeoutMs: 1000 }, logger: quiet });
    await publisher.start();
  });

  afterAll(async () => {
    await publisher?.stop();
    await Promise.all(nodes.map((n) => n.stop()));
  });

  const handled = (event: string, tag: number) => (l: Record<string, unknown>) => l['event'] === event && (l['params'] as { n?: number } | null)?.n === tag;
  const all = (test: (l: Record<string, unknown>) => boolean) => nodes.flatMap((n) => n.lines.filter(test));

  it('emit: each event is handled by exactly one member of each group across nodes', async () => {
    const count = 40;
    for (let n = 0; n < count; n++) publisher.emit('user.created', { n });
    for (let n = 0; n < count; n++) publisher.emit('user.created', { n: 1000 });
    // n3 (payments) gets every event; the users group's share is split over n1 and n2.
    await (nodes[2] as ChildNode).waitForCount((l) => l['event'] === 'user.created' && l['group'] === 'payments', 2 * count, 'payments events');
    await Promise.all([0, 1].map(() => undefined));
    const usersLines = (): Record<string, unknown>[] => all((l) => l['event'] === 'user.created' && l['group'] === 'users');
    await (nodes[0] as ChildNode).until(() => usersLines().length >= 2 * count, 'users events', 10_000).catch(async () => {
      await (nodes[1] as ChildNode).until(() => usersLines().length >= 2 * count, 'users events', 10_000);
    });
    for (let n = 0; n < count; n++) {
      expect(all((l) => handled('user.created', n)(l) && l['group'] === 'users')).toHaveLength(1);
      expect(all((l) => handled('user.created', n)(l) && l['group'] === 'payments')).toHaveLength(1);
    }
    // Balanced: both users members took part.
    expect((nodes[0] as ChildNode).lines.some((l) => l['group'] === 'users')).toBe(true);
    expect((nodes[1] as ChildNode).lines.some((l) => l['group'] === 'users')).toBe(true);
  });
});
