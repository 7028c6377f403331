// Nodes of one cluster registry on the real JetStream, in one process: each node has its own
// registry and listeners and its own connection; the log is the only thing they share.
import { connect, type NatsConnection } from 'nats';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { HandlerRegistry, KindlingError, Registry, silentLogger } from 'kindling';
import type { Entry, RegistryOp } from 'kindling';
import { ClusterNode, type ClusterNodeStatus } from '../boot/state/cluster-node.js';
import { RegistryLog } from '../src/transport/nats/registry-log.js';
import { NATS_URL, skipNats } from './support/nats-harness.js';

const create = (id: string, data: unknown = {}): RegistryOp => ({
  op: 'create',
  entry: { id, kind: 'http.endpoint', data },
});
const update = (id: string, data: unknown = {}): RegistryOp => ({
  op: 'update',
  entry: { id, kind: 'http.endpoint', data },
});

/** A node's registry with an http-like listener that refuses a port this machine has taken. */
interface Member {
  readonly name: string;
  readonly registry: Registry;
  readonly taken: Set<number>;
  readonly statuses: ClusterNodeStatus[];
  node: ClusterNode;
}

describe.skipIf(skipNats)('cluster nodes on one JetStream log', () => {
  const connections: NatsConnection[] = [];
  const streams: string[] = [];
  const members: Member[] = [];
  let admin: NatsConnection;
  let cluster = '';
  let serial = 0;

  beforeAll(async () => {
    admin = await connect({ servers: NATS_URL });
  });

  afterEach(async () => {
    for (const member of members.splice(0)) await member.node.leave();
    for (const nc of connections.splice(0)) await nc.close();
  });

  afterAll(async () => {
    const jsm = await admin.jetstreamManager();
    for (const stream of streams) await jsm.streams.delete(stream).catch(() => undefined);
    await admin.close();
  });

  async function newCluster(): Promise<void> {
    cluster = `c${process.pid}-${Date.now().toString(36)}-${serial++}`;
    const log = await RegistryLog.open({ connection: admin, cluster, storage: 'memory' });
    streams.push(log.stream, `OBJ_KINDLING_SNAPSHOTS_${cluster}`);
  }

  async function join(name: string, taken: number[] = []): Promise<Member> {
    const nc = await connect({ servers: NATS_URL });
    connections.push(nc);
    const handlers = new HandlerRegistry();
    const member = { name, taken: new Set(taken), statuses: [] as ClusterNodeStatus[] } as unknown as Member;
    const check = (entry: Entry): void => {
      const port = (entry.data as { port?: number }).port;
      if (port !== undefined && member.taken.has(port))
        throw new KindlingError('UNAVAILABLE', `port ${port} is taken on ${name}`);
    };
    handlers.registerListener('http.*', { add: (_c, e) => check(e), update: (_c, e) => check(e), delete: () => {} });
    (member as { registry: Registry }).registry = new Registry({ handlers });
    const log = await RegistryLog.open({ connection: nc, cluster, storage: 'memory' });
    member.node = await ClusterNode.join({
      node: name,
      registry: member.registry,
      log,
      logger: silentLogger,
      onStatus: (status) => member.statuses.push(status),
    });
    members.push(member);
    return member;
  }

  /** Waits until every member's registry is at `revision` (they apply the log on their own). */
  async function settled(revision: number, of: Member[] = members): Promise<void> {
    const deadline = Date.now() + 10_000;
    while (of.some((m) => m.node.info.clusterRevision < revision)) {
      if (Date.now() > deadline) throw new Error(`not every node read revision ${revision}`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  const ids = (member: Member): string[] => member.registry.entries().map((e) => e.id);

  it('a batch proposed on one node is applied by all, at the same revision', async () => {
    await newCluster();
    const [a, b, c] = [await join('a'), await join('b'), await join('c')];
    const result = await a.node.propose([create('app:api', { port: 8080 })], { source: 'registry/http.yaml' });
    expect(result.revision).toBe(1);
    await b.node.propose([create('app:web', { port: 8081 })]);
    await settled(2);
    for (const member of [a, b, c]) {
      expect(member.registry.revision).toBe(2);
      expect(ids(member)).toEqual(['app:api', 'app:web']);
      expect(member.node.info).toMatchObject({ state: 'in-sync', revision: 2, clusterRevision: 2 });
    }
    expect(c.registry.historyRecords()[0]?.source).toBe('registry/http.yaml');
  });

  it('of two proposals against one revision exactly one wins; the other gets CONFLICT', async () => {
    await newCluster();
    const [a, b] = [await join('a'), await join('b')];
    const outcomes = await Promise.allSettled([
      a.node.propose([create('app:x', { from: 'a' })]),
      b.node.propose([create('app:x', { from: 'b' })]),
    ]);
    const won = outcomes.filter((o) => o.status === 'fulfilled');
    const lost = outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected');
    expect(won).toHaveLength(1);
    expect(lost).toHaveLength(1);
    expect((lost[0]?.reason as KindlingError).code).toBe('CONFLICT');
    await settled(1);
    expect(a.registry.get('app:x')?.data).toEqual(b.registry.get('app:x')?.data);
    expect(a.registry.revision).toBe(1);
    expect(b.registry.revision).toBe(1);
  });

  it('a proposal its own listeners refuse is not appended', async () => {
    await newCluster();
    const a = await join('a', [9000]);
    await expect(a.node.propose([create('app:api', { port: 9000 })])).rejects.toMatchObject({ code: 'REJECTED' });
    expect(await (await RegistryLog.open({ connection: admin, cluster, storage: 'memory' })).lastRevision()).toBe(0);
  });

  it('a node that refuses a committed batch keeps its last good revision, says so, and catches up', async () => {
    await newCluster();
    const [a, b] = [await join('a'), await join('b', [9000])];
    await a.node.propose([create('app:api', { port: 8080 })]);
    await a.node.propose([update('app:api', { port: 9000 }), create('app:web', {})]);
    await settled(2);
    expect(a.node.info).toMatchObject({ state: 'in-sync', revision: 2 });
    expect(b.node.info).toEqual({
      node: 'b',
      state: 'desynced',
      revision: 1,
      clusterRevision: 2,
      problem: {
        revision: 2,
        entryId: 'app:api',
        error: 'update of entry app:api by listener(http.*) was refused: port 9000 is taken on b',
      },
    });
    expect(b.registry.get('app:api')?.data).toEqual({ port: 8080 });
    expect(b.statuses.at(-1)?.state).toBe('desynced');
    // A desynced node does not propose: its check would not stand for the cluster.
    await expect(b.node.propose([create('app:other')])).rejects.toThrow(/node b is desynced/);

    // The next batch: still refused (the port is still taken), so b stays where it was.
    await a.node.propose([create('app:jobs', {})]);
    await settled(3);
    expect(b.node.info).toMatchObject({ state: 'desynced', revision: 1, problem: { revision: 3 } });

    // The port is freed on b: a retry takes it to the cluster's state in one batch.
    b.taken.clear();
    expect(await b.node.retry()).toMatchObject({ state: 'in-sync', revision: 3, clusterRevision: 3 });
    expect(ids(b)).toEqual(['app:api', 'app:jobs', 'app:web']);
    expect(b.registry.get('app:api')?.data).toEqual({ port: 9000 });

    // And the next batch applies as usual.
    await a.node.propose([create('app:more', {})]);
    await settled(4);
    expect(b.node.info).toMatchObject({ state: 'in-sync', revision: 4 });
  });

  it('a node that joins later catches up before it is ready; after a compaction it loads the snapshot', async () => {
    await newCluster();
    const a = await join('a');
    for (let n = 0; n < 5; n++) await a.node.propose([create(`app:e${n}`, { n })]);
    const late = await join('late');
    expect(late.registry.revision).toBe(5);
    expect(ids(late)).toEqual(ids(a));

    const log = await RegistryLog.open({ connection: admin, cluster, storage: 'memory' });
    expect(await log.compactAt(5, a.node.snapshot())).toBe(5);
    await a.node.propose([update('app:e0', { n: 'changed' })]);
    const afterCompaction = await join('after');
    expect(afterCompaction.node.info).toMatchObject({ state: 'in-sync', revision: 6, clusterRevision: 6 });
    expect(afterCompaction.registry.get('app:e0')?.data).toEqual({ n: 'changed' });
    expect(ids(afterCompaction)).toEqual(ids(a));
  });

  it('a message in the log that no node wrote stops every node there, named', async () => {
    await newCluster();
    const a = await join('a');
    await a.node.propose([create('app:api', {})]);
    const log = await RegistryLog.open({ connection: admin, cluster, storage: 'memory' });
    await admin.jetstream().publish(log.subject, new TextEncoder().encode('garbage'));
    await settled(1);
    const deadline = Date.now() + 5000;
    while (a.node.info.state !== 'desynced' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(a.node.info).toMatchObject({
      state: 'desynced',
      revision: 1,
      problem: {
        revision: 2,
        error: 'revision 2 of the log was not written by a registry log of this version (format "")',
      },
    });
  });
});
