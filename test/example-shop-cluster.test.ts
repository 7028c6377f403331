// examples/shop as a cluster: three real `kindling run` processes of kindling.cluster.yaml on the
// local NATS, one registry on JetStream, each node on a port of its own, driven over HTTP. Orders
// taken by any node are confirmed and charged once in the cluster and held once by every node's
// view; a declined card is dead-lettered once; an apply is served by every node; a killed node
// leaves the others serving. dist/ is built by the global setup of the integration tests.
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { connect, type NatsConnection } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { claimBucketName } from '../components/reactive/index.js';
import { kindling } from './support/cli-harness.js';
import { fetchOnce } from './support/http-client.js';
import { NATS_URL, deleteStreams, skipNats, streamBase, uniquePrefix } from './support/nats-harness.js';
import { freePort } from './support/nats-server.js';
import {
  clusterStatus,
  deleteClusterStreams,
  runClusterNode,
  uniqueClusterName,
  waitServed,
  type ClusterNode,
} from './support/replicas.js';
import { copyShop, editFile } from './support/shop-copy.js';

interface Order {
  readonly id: string;
  readonly status: string;
  readonly customer?: string;
  readonly error?: string;
}

const card = '4242 4242 4242 4242';
const declined = '4000 0000 0000 0002';

/** Polls `read` until `check` holds; fails after `ms` naming `what` and the last value. */
async function until<T>(what: string, read: () => Promise<T> | T, check: (value: T) => boolean, ms = 20_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await read();
    if (check(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** How many times `text` occurs in `output`. */
function occurrences(output: string, text: string): number {
  return output.split(text).length - 1;
}

describe.skipIf(skipNats)('examples/shop as a cluster of three kindling run processes on NATS', () => {
  const cluster = uniqueClusterName(0);
  const prefix = uniquePrefix();
  const env = { KINDLING_NATS_URL: NATS_URL };
  let dir: string;
  let target: string;
  let admin: NatsConnection;
  const nodes: ClusterNode[] = [];
  /** The orders placed so far, by id: the node that took each. */
  const placed = new Map<string, string>();

  const node = (name: string): ClusterNode => nodes.find((n) => n.name === name) as ClusterNode;
  const output = (n: ClusterNode): string => n.app.output.out + n.app.output.err;
  const allOutput = (): string => nodes.map(output).join('');

  async function post(n: ClusterNode, customer: string, cardNumber = card): Promise<string> {
    const response = await fetchOnce(`http://127.0.0.1:${n.port}/orders`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ customer, card: cardNumber, items: [{ sku: 'tea', qty: 2, price: 3.5 }] }),
    });
    expect(response.status).toBe(202);
    const id = String(((await response.json()) as { id: string }).id);
    placed.set(id, n.name);
    return id;
  }

  /** Node `n`'s view: every order it holds, of every status. */
  async function view(n: ClusterNode): Promise<Order[]> {
    const response = await fetchOnce(`http://127.0.0.1:${n.port}/orders`);
    return Object.values((await response.json()) as Record<string, Order[]>).flat();
  }

  /** Waits until every node of `among` holds each of `ids` with `status`; resolves with their views. */
  function viewsHold(among: readonly ClusterNode[], ids: readonly string[], status: string): Promise<Order[][]> {
    return until(
      `${ids.length} ${status} orders in the views of ${among.map((n) => n.name).join(', ')}`,
      () => Promise.all(among.map(view)),
      (views) => views.every((orders) => ids.every((id) => orders.some((o) => o.id === id && o.status === status))),
    );
  }

  /** The node whose output says it sent the confirmation of `id` (undefined while none has). */
  const confirmedOn = (id: string): string | undefined =>
    nodes.find((n) => output(n).includes(`confirmation of ${id} sent to`))?.name;

  beforeAll(async () => {
    admin = await connect({ servers: NATS_URL });
    dir = await copyShop();
    await editFile(dir, 'kindling.cluster.yaml', 'cluster: {}', `cluster: { name: ${cluster} }`);
    await editFile(dir, 'kindling.cluster.yaml', 'prefix: shop }', `prefix: ${prefix} }`);
    target = join(dir, 'kindling.cluster.yaml');
    for (const name of ['a', 'b', 'c']) {
      const port = await freePort();
      const app = await runClusterNode(target, name, `shop:server=127.0.0.1:${port}`, env);
      nodes.push({ name, port, app });
    }
  }, 60_000);

  afterAll(async () => {
    await Promise.all(nodes.map((n) => n.app.stop('SIGKILL')));
    await deleteClusterStreams(admin, cluster);
    await deleteStreams(admin, prefix);
    const jsm = await admin.jetstreamManager();
    await jsm.streams.delete(`KV_${claimBucketName(prefix)}`).catch(() => undefined);
    await admin.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('starts three nodes on one registry: the first fills the cluster, the others read it', () => {
    expect(node('a').app.output.out).toContain('shop is running (registry revision 1, 15 entries)');
    for (const name of ['b', 'c'])
      expect(node(name).app.output.out).toContain(`cluster  ${cluster}, node ${name}: in-sync at revision 1`);
  });

  it('takes orders on every node; each is confirmed and charged once, and every view holds it once', async () => {
    for (const n of nodes) for (const i of [1, 2]) await post(n, `${n.name}${i}`);
    // Balanced over the nodes (preferLocal is off): an order one node took is confirmed on another.
    // The nodes find each other through presence, so a few more orders may be needed.
    await until(
      'an order confirmed on a node other than the one that took it',
      async () => {
        const crossed = [...placed].some(([id, took]) => ![undefined, took].includes(confirmedOn(id)));
        // At most a few dozen: each is confirmed and charged, and checked below.
        if (!crossed && placed.size < 30) await post(node('a'), `more${placed.size}`);
        return crossed;
      },
      (crossed) => crossed,
    );
    const ids = [...placed.keys()];
    const views = await viewsHold(nodes, ids, 'paid');
    for (const orders of views) expect(orders.map((o) => o.id).sort()).toEqual([...ids].sort());
    await until(
      'a confirmation of every order',
      () => ids.filter((id) => confirmedOn(id) === undefined),
      (missing) => missing.length === 0,
    );
    const all = allOutput();
    for (const id of ids) {
      expect(occurrences(all, `confirmation of ${id} sent to`)).toBe(1);
      expect(occurrences(all, `charged 7.00 for ${id}`)).toBe(1);
    }
  });

  it('dead-letters a declined card once, on JetStream, and every view marks the order failed', async () => {
    const id = await post(node('b'), 'declined', declined);
    const views = await viewsHold(nodes, [id], 'failed');
    for (const orders of views)
      expect(orders.find((o) => o.id === id)?.error).toBe('card ending 0002 declined (attempt 3)');
    expect(occurrences(allOutput(), `payment of ${id} failed after 3 attempts`)).toBe(1);
    // The dead letters on JetStream: one for this order.
    const jsm = await admin.jetstreamManager();
    const stream = `${streamBase(prefix)}_DLQ`;
    const { state } = await jsm.streams.info(stream);
    const letters: string[] = [];
    for (let seq = state.first_seq; seq <= state.last_seq && state.messages > 0; seq++) {
      const message = await jsm.streams.getMessage(stream, { seq }).catch(() => undefined);
      if (message?.subject === `${prefix}.dlq.payments`) letters.push(message.header.get('Kindling-Id'));
    }
    expect(letters).toEqual([id]);
    // The CLI reads them through the cluster: any node answers for the shared channel.
    const listed = await kindling(['dead-letters', target, 'payments'], { env });
    expect(listed.err).toBe('');
    expect(listed.out).toContain(id);
    expect(listed.out).toContain('card ending 0002 declined (attempt 3)');
  });

  it('applies a new endpoint to the cluster, and all three nodes serve it', async () => {
    await writeFile(
      join(dir, 'registry/totals.yaml'),
      `namespace: shop
entries:
  - { name: get-totals, kind: function.js, file: ../functions/totals.js, export: getTotals }
  - { name: totals-endpoint, kind: http.endpoint, router: api, method: GET, path: /totals, func: get-totals }
`,
    );
    const applied = await kindling(['apply', target], { env });
    expect(applied.err).toBe('');
    expect(applied.out).toContain('applied revision 2: 2 created, 0 updated, 0 deleted');
    await waitServed(nodes, '/totals');
    const totals = await Promise.all(
      nodes.map(async (n) => (await fetchOnce(`http://127.0.0.1:${n.port}/totals`)).json()),
    );
    // Every view holds every order: the totals agree.
    for (const answer of totals) expect(answer).toMatchObject({ orders: placed.size, failed: 1 });
    const status = await clusterStatus(target, [], env);
    expect(status.map((s) => [s.node, s.result?.state, s.result?.revision])).toEqual([
      ['a', 'in-sync', 2],
      ['b', 'in-sync', 2],
      ['c', 'in-sync', 2],
    ]);
  });

  it('keeps taking, charging and showing orders on the other nodes when one is killed', async () => {
    await node('c').app.stop('SIGKILL');
    const alive = [node('a'), node('b')];
    const ids = [await post(node('a'), 'after-a'), await post(node('b'), 'after-b')];
    await viewsHold(alive, ids, 'paid');
    await until(
      'the confirmations after the kill',
      () => ids.map(confirmedOn),
      (on) => on.every((name) => name === 'a' || name === 'b'),
    );
    const all = allOutput();
    for (const id of ids) expect(occurrences(all, `charged 7.00 for ${id}`)).toBe(1);
    const status = await clusterStatus(target, [], env);
    expect(status.map((s) => s.node)).toEqual(['a', 'b']);
  });

  it('runs each tick of the totals timer on one node', () => {
    // The lines a node wrote (not the logger's summaries of repeats, which quote their first line).
    const ticks = [...allOutput().matchAll(/^\[shop\] info {2}totals at (\S+): /gm)].map((match) => match[1]);
    expect(ticks.length).toBeGreaterThan(0);
    expect(new Set(ticks).size).toBe(ticks.length);
  });
});
