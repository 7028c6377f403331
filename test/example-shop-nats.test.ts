// examples/shop as two real `kindling run` processes on NATS: the order events balance across the
// nodes' listener group (preferLocal off), the payments channel lives on JetStream, and a declined
// card is dead-lettered there. dist/ is built by the global setup of the integration tests.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { claimBucketName } from '../components/reactive/index.js';
import { cliPath, root } from './support/cli-harness.js';
import { fetchOnce } from './support/http-client.js';
import { NATS_URL, removeStreams, skipNats, uniquePrefix } from './support/nats-harness.js';
import { copyShop, editFile } from './support/shop-copy.js';

interface Order {
  readonly id: string;
  readonly status: string;
  readonly customer?: string;
}

/** One `kindling run` of the shop, with the NATS URL in its environment. */
class ShopNode {
  readonly output = { out: '', err: '' };
  readonly exited: Promise<number | null>;
  readonly up: Promise<string>;
  private readonly child: ChildProcessWithoutNullStreams;

  constructor(target: string, state: string) {
    this.child = spawn(process.execPath, [cliPath, 'run', target, '--state-dir', state], {
      cwd: root,
      env: { ...process.env, NO_COLOR: '1', KINDLING_NATS_URL: NATS_URL },
    });
    this.exited = new Promise((resolve) => this.child.once('exit', (code) => resolve(code)));
    this.up = new Promise((resolve, reject) => {
      this.child.stderr.on('data', (chunk: Buffer) => (this.output.err += chunk.toString()));
      this.child.stdout.on('data', (chunk: Buffer) => {
        this.output.out += chunk.toString();
        const url = /http:\/\/127\.0\.0\.1:\d+/.exec(this.output.out)?.[0];
        if (url !== undefined && this.output.out.includes('press Ctrl-C to stop')) resolve(url);
      });
      void this.exited.then((code) =>
        reject(new Error(`kindling run exited with ${code}:\n${this.output.out}${this.output.err}`)),
      );
    });
  }

  async stop(): Promise<number | null> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGINT');
    return this.exited;
  }
}

async function until<T>(read: () => Promise<T>, check: (value: T) => boolean): Promise<T> {
  for (;;) {
    const value = await read();
    if (check(value)) return value;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe.skipIf(skipNats)('examples/shop on two nodes over NATS (two processes)', () => {
  const prefix = uniquePrefix();
  let dir: string;
  const states: string[] = [];
  const nodes: ShopNode[] = [];
  const urls: string[] = [];

  beforeAll(async () => {
    dir = await copyShop();
    // Over NATS, with a prefix of its own; preferLocal off balances every emit over both nodes.
    for (const manifest of ['kindling.yaml', 'kindling.second-node.yaml']) {
      await editFile(
        dir,
        manifest,
        '  - events\n',
        `  - name: events\n    config: { preferLocal: false, nats: { prefix: ${prefix} } }\n`,
      );
    }
    for (const target of [dir, join(dir, 'kindling.second-node.yaml')]) {
      const state = await mkdtemp(join(tmpdir(), 'ks-'));
      states.push(state);
      nodes.push(new ShopNode(target, state));
    }
    for (const node of nodes) urls.push(await node.up);
  });

  afterAll(async () => {
    const codes = await Promise.all(nodes.map((node) => node.stop()));
    await removeStreams(prefix);
    const nc = await connect({ servers: NATS_URL });
    const jsm = await nc.jetstreamManager();
    await jsm.streams.delete(`KV_${claimBucketName(prefix)}`).catch(() => undefined);
    await nc.close();
    for (const path of [dir, ...states]) await rm(path, { recursive: true, force: true });
    expect(codes).toEqual([0, 0]);
  });

  const post = async (url: string, body: unknown): Promise<string> => {
    const response = await fetchOnce(`${url}/orders`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    expect(response.status).toBe(202);
    return String(((await response.json()) as { id: string }).id);
  };
  const view = async (url: string): Promise<Order[]> =>
    Object.values((await (await fetchOnce(`${url}/orders`)).json()) as Record<string, Order[]>).flat();
  const views = (): Promise<Order[][]> => Promise.all(urls.map(view));
  const card = '4242 4242 4242 4242';

  it('balances order.created over both nodes: orders taken by the first land in the second view too', async () => {
    const first = urls[0] as string;
    const ids: string[] = [];
    // The nodes find each other through presence: until then the first node's emits stay with it.
    await until(
      async () => {
        ids.push(await post(first, { customer: `c${ids.length}`, card, items: [{ sku: 'tea', qty: 1, price: 2 }] }));
        return views();
      },
      ([, second]) => (second ?? []).some((order) => order.customer !== undefined),
    );
    const [a = [], b = []] = await until(views, (all) => {
      const created = all.flat().filter((order) => order.customer !== undefined);
      return created.length === ids.length;
    });
    const createdIn = (orders: Order[]): string[] =>
      orders.filter((order) => order.customer !== undefined).map((order) => order.id);
    // Balanced, not broadcast: each order was created in one view only.
    expect([...createdIn(a), ...createdIn(b)].sort()).toEqual([...ids].sort());
    expect(createdIn(b).length).toBeGreaterThan(0);
  });

  it('charges every order from the JetStream payments channel, on whichever node', async () => {
    const second = urls[1] as string;
    const id = await post(second, { customer: 'paid', card, items: [{ sku: 'mug', qty: 1, price: 9 }] });
    await until(views, (all) => all.flat().some((order) => order.id === id && order.status === 'paid'));
  });

  it('dead-letters a declined card on JetStream, and the order fails', async () => {
    const first = urls[0] as string;
    const id = await post(first, {
      customer: 'declined',
      card: '4000 0000 0000 0002',
      items: [{ sku: 'mug', qty: 1, price: 9 }],
    });
    await until(views, (all) => all.flat().some((order) => order.id === id && order.status === 'failed'));
    const output = nodes.map((node) => node.output.out + node.output.err).join('');
    expect(output).toMatch(new RegExp(`payment of ${id} failed after 3 attempts: card ending 0002 declined`));
  });
});
