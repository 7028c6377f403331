// Apps of a cluster in this process, on the real JetStream: the manifest's cluster key, what a node
// says about itself on the bus, and the cluster's admin subjects against hostile requests.
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { connect, type NatsConnection } from 'nats';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { KindlingError, silentLogger } from 'kindling';
import { EventBus } from 'kindling/events';
import { Application } from 'kindling/boot';
import { builtinComponents } from 'kindling/components';
import { ClusterClient } from '../boot/cluster/cluster-client.js';
import type { ClusterMembership } from '../boot/cluster/cluster-types.js';
import { clusterNodeSource } from '../boot/inspector/inspector-nodes.js';
import { RegistryLog } from '../src/transport/nats/registry-log.js';
import { resolveCluster } from '../boot/cluster/cluster-address.js';
import { parseBootManifest } from '../boot/app/manifest.js';
import { copyReplicas } from './support/replicas.js';
import { deleteStreams, NATS_URL, skipNats, uniquePrefix } from './support/nats-harness.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

describe('the manifest cluster key', () => {
  const parse = (text: string) => parseBootManifest(text, '/apps/shop/kindling.yaml');

  it('names the cluster after the manifest unless it says otherwise, and fills nats from KINDLING_NATS_URL', () => {
    const manifest = parse('name: shop\ncomponents: [registry]\ncluster: {}\n');
    expect(resolveCluster(manifest, 'nats://x:4222')).toEqual({ nats: 'nats://x:4222', cluster: 'shop' });
    const previous = process.env['KINDLING_NATS_URL'];
    process.env['KINDLING_NATS_URL'] = 'nats://from-env:4222';
    try {
      expect(resolveCluster(manifest)).toEqual({ nats: 'nats://from-env:4222', cluster: 'shop' });
      delete process.env['KINDLING_NATS_URL'];
      expect(() => resolveCluster(manifest)).toThrow(/cluster has no NATS server/);
    } finally {
      if (previous === undefined) delete process.env['KINDLING_NATS_URL'];
      else process.env['KINDLING_NATS_URL'] = previous;
    }
    const named = parse(
      'name: shop\ncomponents: [registry]\ncluster: { nats: "nats://a:1", name: eu, prefix: acme }\n',
    );
    expect(resolveCluster(named)).toEqual({ nats: 'nats://a:1', cluster: 'eu', prefix: 'acme' });
    // Without the key nothing changes.
    expect(resolveCluster(parse('name: shop\ncomponents: [registry]\n'))).toBeUndefined();
  });

  it('refuses a bad cluster key at its position', () => {
    expect(() => parse('name: shop\ncomponents: [registry]\ncluster: { nmae: x }\n')).toThrow(
      /3:12: unknown key "nmae" in cluster \(expected nats, name, prefix\)/,
    );
    expect(() => parse('name: shop\ncomponents: [registry]\ncluster: { name: "two words" }\n')).toThrow(
      /cluster\.name: must be 1 to 64 letters, digits/,
    );
    expect(() => parse('name: shop\ncomponents: [registry]\ncluster: []\n')).toThrow(/cluster: must be a mapping/);
  });
});

describe.skipIf(skipNats)('an app of a cluster, in this process', () => {
  let nc: NatsConnection;
  const clusters: string[] = [];
  const apps: Application[] = [];
  const dirs: string[] = [];
  let serial = 0;

  beforeAll(async () => {
    nc = await connect({ servers: NATS_URL });
  });
  afterEach(async () => {
    for (const app of apps.splice(0)) await app.shutdown();
  });
  afterAll(async () => {
    const jsm = await nc.jetstreamManager();
    for (const cluster of clusters) await jsm.streams.delete(`KINDLING_REGISTRY_${cluster}`).catch(() => undefined);
    await nc.close();
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });

  async function newApp(extra = ''): Promise<{ dir: string; cluster: string }> {
    const cluster = `app${process.pid}-${Date.now().toString(36)}-${serial++}`;
    clusters.push(cluster);
    const dir = await copyReplicas({
      name: cluster,
      nats: NATS_URL,
      extra,
      addr: '127.0.0.1:0',
      components: extra === '' ? [] : ['reactive'],
    });
    dirs.push(dir);
    return { dir, cluster };
  }

  async function start(dir: string, node: string): Promise<Application> {
    const app = await Application.load(dir, { builtins: builtinComponents, logger: silentLogger, node });
    apps.push(app);
    await app.start();
    return app;
  }

  it('answers hostile requests on its admin subjects with errors, and keeps serving', async () => {
    const { dir, cluster } = await newApp();
    const app = await start(dir, 'solo');
    const subjects = ['read', 'write', 'nodes'].map((name) => `kindling.admin.${cluster}.${name}`);
    const bodies = [
      new Uint8Array([0xff, 0xfe, 0x00]),
      encoder.encode('not json'),
      encoder.encode('[]'),
      encoder.encode('{"route": 42}'),
      encoder.encode('{"route": "DELETE /everything"}'),
      encoder.encode('{"route": "POST /apply", "body": {"ops": "all"}}'),
      encoder.encode('{"route": "POST /apply", "body": {"ops": [{"op": "create", "entry": {"id": "x"}}]}}'),
      encoder.encode('{"route": "POST /dry-run", "body": {"ops": [], "extra": 1}}'),
      encoder.encode('{"route": "POST /rollback", "body": {"revision": -1}}'),
      encoder.encode('{"route": "POST /dead-letters", "body": {"channel": 42}}'),
      encoder.encode('{"route": "POST /redrive", "body": {"channel": "payments"}}'),
      encoder.encode(JSON.stringify({ route: 'GET /status', body: { ['__proto__']: { polluted: true } } })),
    ];
    for (const subject of subjects) {
      for (const body of bodies) {
        const reply = await nc.request(subject, body, { timeout: 5_000 });
        const answer = JSON.parse(decoder.decode(reply.data)) as {
          node: string;
          result?: unknown;
          error?: { code: string; message: string };
        };
        expect(answer.node).toBe('solo');
        if (answer.error === undefined) {
          // Only the status route answers a result, whatever else the request held.
          expect(decoder.decode(body)).toContain('GET /status');
        } else {
          expect(answer.error.code).toMatch(/INVALID|NOT_FOUND/);
          expect(answer.error.message.length).toBeGreaterThan(0);
        }
      }
    }
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
    expect(app.registry.revision).toBe(1);
    expect(app.cluster?.status()).toMatchObject({ node: 'solo', state: 'in-sync', revision: 1 });
  });

  it('tells the bus when a node is desynced, and serves its last good revision', async () => {
    const { dir, cluster } = await newApp();
    const app = await start(dir, 'one');
    const bus = app.boot.context.container.get<EventBus>(EventBus);
    const seen: unknown[] = [];
    bus.on('$registry.node_*', (event) => void seen.push(event));
    // A batch that a node cannot apply, appended behind every node's back (no dry run).
    const log = await RegistryLog.open({ connection: nc, cluster });
    await log.append(
      {
        ops: [
          {
            op: 'create',
            entry: { id: 'replicas:broken', kind: 'http.endpoint', meta: {}, data: { router: 'nowhere' } },
          },
        ],
      },
      { expectRevision: 1, source: 'a test' },
    );
    for (let i = 0; i < 200 && app.cluster?.status().state !== 'desynced'; i++)
      await new Promise((resolve) => setTimeout(resolve, 20));
    const status = app.cluster?.status();
    expect(status).toMatchObject({ state: 'desynced', revision: 1, clusterRevision: 2 });
    expect(status?.problem?.entryId).toBe('replicas:broken');
    for (let i = 0; i < 100 && seen.length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(JSON.stringify(seen)).toContain('"entryId":"replicas:broken"');
    // A desynced node takes no change: the write queue has no member, and the client says so.
    const client = new ClusterClient({ nats: NATS_URL, cluster });
    try {
      const refused = await client.apply({ ops: [], expectRevision: 2 }).catch((error: unknown) => error);
      expect(KindlingError.is(refused) && refused.code).toBe('UNAVAILABLE');
      expect(String((refused as Error).message)).toMatch(/no node of it is in sync/);
      const nodes = await client.nodes();
      expect(nodes.map((node) => [node.node, node.result?.state])).toEqual([['one', 'desynced']]);
      // The inspector's nodes view of the cluster says the same.
      const source = clusterNodeSource(app.cluster as ClusterMembership);
      try {
        for (let i = 0; i < 150 && source.nodes()[0]?.problem === undefined; i++)
          await new Promise((resolve) => setTimeout(resolve, 20));
        expect(source.nodes()).toMatchObject([
          { node: 'one', local: true, state: 'desynced', revision: 1, clusterRevision: 2 },
        ]);
        expect(source.nodes()[0]?.problem).toMatch(/could not apply revision 2 \(entry replicas:broken\)/);
      } finally {
        source.dispose();
      }
    } finally {
      await client.close();
    }
  });

  it('reads and re-drives dead letters through the cluster when the channels are on JetStream', async () => {
    const { dir, cluster } = await newApp();
    // The events component on the same NATS server, with subjects and streams of its own.
    const prefix = uniquePrefix();
    const manifest = join(dir, 'kindling.yaml');
    await writeFile(
      manifest,
      (await readFile(manifest, 'utf8')).replace(
        '  - events\n',
        `  - name: events\n    config: { nats: { url: ${JSON.stringify(NATS_URL)}, prefix: ${JSON.stringify(prefix)} } }\n`,
      ),
    );
    const app = await start(dir, 'one');
    const client = new ClusterClient({ nats: NATS_URL, cluster });
    try {
      const bus = app.boot.context.container.get<EventBus>(EventBus);
      let calls = 0;
      const subscription = await bus.channels.subscribe('payments', {
        group: 'billing',
        maxRetries: 0,
        handler: () => {
          calls++;
          throw new Error('card declined');
        },
      });
      await bus.channels.send('payments', { order: 7 }, { id: 'order-7' });
      let answer = await client.deadLetters({ channel: 'payments' });
      for (let i = 0; i < 250 && answer.letters.length === 0; i++) {
        await new Promise((resolve) => setTimeout(resolve, 20));
        answer = await client.deadLetters({ channel: 'payments' });
      }
      expect(answer.counts).toEqual({ payments: 1 });
      expect(answer.letters).toMatchObject([{ channel: 'payments', group: 'billing', id: 'order-7' }]);
      expect(answer.letters[0]?.error).toMatch(/card declined/);
      expect(answer.pending).toEqual([{ channel: 'payments', group: 'billing', waiting: 0, inFlight: 0 }]);
      // The re-drive goes through a node in sync and hands the message to the group again.
      const redriven = await client.redrive({ channel: 'payments', all: true });
      expect(redriven.ids).toEqual(['order-7']);
      for (let i = 0; i < 250 && calls < 2; i++) await new Promise((resolve) => setTimeout(resolve, 20));
      expect(calls).toBe(2);
      await subscription.close();
    } finally {
      await client.close();
      await app.shutdown();
      await deleteStreams(nc, prefix);
    }
  });

  it('refuses dead letters through the cluster when each node keeps its channels in process, naming the node', async () => {
    const { dir, cluster } = await newApp();
    await start(dir, 'solo');
    const client = new ClusterClient({ nats: NATS_URL, cluster });
    try {
      for (const ask of [() => client.deadLetters({}), () => client.redrive({ channel: 'payments', all: true })]) {
        const refused = await ask().catch((error: unknown) => error);
        expect(KindlingError.is(refused) && refused.code).toBe('INVALID');
        expect(String((refused as Error).message)).toMatch(/node solo keeps its durable channels in its own process/);
      }
    } finally {
      await client.close();
    }
  });

  it('runs each tick of a timer on one node of the cluster, with the bus in process', async () => {
    const { dir } = await newApp(`
  - name: tick
    kind: function.js
    file: ../functions/tick.js
    export: tick

  - name: every-200ms
    kind: timer.interval
    every: 200ms
    func: tick
`);
    await writeFile(
      join(dir, 'functions/tick.js'),
      'export function tick(input) {\n  (globalThis.kindlingTicks ??= []).push(input.scheduledAt);\n}\n',
    );
    const ticks: string[] = [];
    (globalThis as { kindlingTicks?: string[] }).kindlingTicks = ticks;
    try {
      await start(dir, 'one');
      await start(dir, 'two');
      for (let i = 0; i < 300 && ticks.length < 6; i++) await new Promise((resolve) => setTimeout(resolve, 20));
      expect(ticks.length).toBeGreaterThanOrEqual(6);
      // Both nodes run the timer; each scheduled time was claimed by one of them only.
      expect(new Set(ticks).size).toBe(ticks.length);
    } finally {
      delete (globalThis as { kindlingTicks?: string[] }).kindlingTicks;
    }
  });
});
