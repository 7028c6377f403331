// Three real `kindling run` processes of examples/replicas, one registry on JetStream: what a user
// of a cluster sees. Each node serves the app on a port of its own (KINDLING_HTTP_LISTEN); the
// commands reach the cluster over NATS with no state directory.
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type NatsConnection } from 'nats';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { RegistryLog } from '../src/transport/nats/registry-log.js';
import { RunningApp, kindling } from './support/cli-harness.js';
import {
  clusterStatus,
  copyReplicas as copyExample,
  deleteClusterStreams,
  runClusterNode,
  statusOf,
  uniqueClusterName,
  waitServed,
  type NodeStatus,
} from './support/replicas.js';
import { NATS_URL, skipNats } from './support/nats-harness.js';
import { freePort, haveNatsServer, startNatsServer } from './support/nats-server.js';

/** One node: its process, its name and the port it serves the app on. */
interface Node {
  readonly name: string;
  readonly port: number;
  /** The port of the `admin` service that one test adds. */
  readonly adminPort: number;
  app: RunningApp;
}

const started: RunningApp[] = [];
/** Sockets a test holds to take a node's port: closed after each test, whatever it did. */
const squatters: Server[] = [];
const dirs: string[] = [];
let serial = 0;

/** A copy of examples/replicas as cluster `name` on `nats`, with `extra` entries added. */
async function copyReplicas(name: string, nats: string, extra = ''): Promise<string> {
  const dir = await copyExample({ name, nats, extra });
  dirs.push(dir);
  return dir;
}

function endpoint(name: string, path: string): string {
  return `
  - name: ${name}
    kind: http.endpoint
    router: site
    method: GET
    path: ${path}
    func: hello
`;
}

async function startNode(dir: string, name: string, ports?: { port: number; adminPort: number }): Promise<Node> {
  const port = ports?.port ?? (await freePort());
  const adminPort = ports?.adminPort ?? (await freePort());
  const app = await runClusterNode(
    dir,
    name,
    `replicas:server=127.0.0.1:${port},replicas:admin=127.0.0.1:${adminPort}`,
  );
  started.push(app);
  return { name, port, adminPort, app };
}

afterEach(async () => {
  await Promise.all(started.splice(0).map((app) => app.stop('SIGKILL')));
  for (const server of squatters.splice(0))
    if (server.listening) await new Promise<void>((resolve) => server.close(() => resolve()));
});

afterAll(async () => {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

describe.skipIf(skipNats)('three kindling run processes sharing one registry on JetStream', () => {
  let admin: NatsConnection;
  const clusters: string[] = [];

  beforeAll(async () => {
    admin = await connect({ servers: NATS_URL });
  });

  afterAll(async () => {
    for (const cluster of clusters) await deleteClusterStreams(admin, cluster);
    await admin.close();
  });

  function newCluster(): string {
    const name = uniqueClusterName(serial++);
    clusters.push(name);
    return name;
  }

  it('serves one apply on every node, and a killed node catches up when it comes back', async () => {
    const cluster = newCluster();
    const dir = await copyReplicas(cluster, NATS_URL);
    // The first node of an empty cluster fills it from its files; the others take the cluster's state.
    const a = await startNode(dir, 'a');
    expect(a.app.output.out).toContain('registry revision 1, 4 entries');
    const b = await startNode(dir, 'b');
    const c = await startNode(dir, 'c');
    for (const node of [b, c]) expect(node.app.output.out).toMatch(/cluster {2}t.*, node [bc]: in-sync at revision 1/);
    await waitServed([a, b, c], '/');

    const changed = await copyReplicas(cluster, NATS_URL, endpoint('one', '/one'));
    const plan = await kindling(['plan', changed]);
    expect(plan.code).toBe(1);
    expect(plan.out).toContain('+ replicas:one');
    const applied = await kindling(['apply', changed]);
    expect(applied.err).toBe('');
    expect(applied.out).toContain('applied revision 2');
    await waitServed([a, b, c], '/one');

    await c.app.stop('SIGKILL');
    const two = await copyReplicas(cluster, NATS_URL, endpoint('one', '/one') + endpoint('two', '/two'));
    expect((await kindling(['apply', two])).out).toContain('applied revision 3');
    const three = await copyReplicas(
      cluster,
      NATS_URL,
      endpoint('one', '/one') + endpoint('two', '/two') + endpoint('three', '/three'),
    );
    expect((await kindling(['apply', three])).out).toContain('applied revision 4');
    await waitServed([a, b], '/three');

    // Restarted from the original files (which lack /one, /two, /three): it serves the cluster's state and says how its files differ.
    const back = await startNode(dir, 'c', { port: c.port, adminPort: c.adminPort });
    expect(back.app.output.out).toContain('registry revision 4');
    expect(back.app.output.err + back.app.output.out).toMatch(/differ from the cluster's state at revision 4/);
    await waitServed([a, b, back], '/three');

    const nodes = await clusterStatus(dir);
    expect(nodes.map((node) => [node.node, node.result?.state, node.result?.revision])).toEqual([
      ['a', 'in-sync', 4],
      ['b', 'in-sync', 4],
      ['c', 'in-sync', 4],
    ]);
    const history = await kindling(['history', dir]);
    expect(history.out).toMatch(/ {4}4 .*\+replicas:three/);

    // A rollback is one more batch of the log, served by every node (the restarted one too).
    const rolled = await kindling(['rollback', dir, '2']);
    expect(rolled.err).toBe('');
    expect(rolled.out).toContain('rolled back to revision 2 as revision 5');
    await waitServed([a, b, back], '/three', 404);
    await waitServed([a, b, back], '/one');
  }, 120_000);

  it('lets exactly one of two concurrent applies win, and the other gets CONFLICT', async () => {
    const cluster = newCluster();
    const dir = await copyReplicas(cluster, NATS_URL);
    const nodes = [await startNode(dir, 'a'), await startNode(dir, 'b'), await startNode(dir, 'c')];
    const left = await copyReplicas(cluster, NATS_URL, endpoint('left', '/left'));
    const right = await copyReplicas(cluster, NATS_URL, endpoint('right', '/right'));
    const results = await Promise.all([
      kindling(['apply', left, '--expect-revision', '1']),
      kindling(['apply', right, '--expect-revision', '1']),
    ]);
    const won = results.filter((result) => result.code === 0);
    const lost = results.filter((result) => result.code !== 0);
    expect(won).toHaveLength(1);
    expect(lost).toHaveLength(1);
    expect(won[0]?.out).toContain('applied revision 2');
    // Refused by the CLI's own check, or by the log when both passed it at once.
    expect(lost[0]?.err).toMatch(/CONFLICT|expected revision 1|prepared against revision 1/);
    const winner = results[0]?.code === 0 ? '/left' : '/right';
    const loser = winner === '/left' ? '/right' : '/left';
    await waitServed(nodes, winner);
    for (const node of nodes) expect(await statusOf(node.port, loser)).toBe(404);
    expect((await clusterStatus(dir)).every((node) => node.result?.revision === 2)).toBe(true);
  }, 120_000);

  it('reports a node whose port is taken as desynced while the others serve, until it retries', async () => {
    const cluster = newCluster();
    const dir = await copyReplicas(cluster, NATS_URL);
    const nodes = [await startNode(dir, 'a'), await startNode(dir, 'b'), await startNode(dir, 'c')];
    const [a, b, c] = nodes as [Node, Node, Node];
    // Something else on b's machine holds the port b would serve the new service on.
    const squatter: Server = createServer();
    squatters.push(squatter);
    await new Promise<void>((resolve) => squatter.listen(b.adminPort, '127.0.0.1', resolve));
    const service = `
  - name: admin
    kind: http.service
    addr: "127.0.0.1:0"

  - name: admin-site
    kind: http.router
    server: admin

  - name: admin-hello
    kind: http.endpoint
    router: admin-site
    method: GET
    path: /
    func: hello
`;
    const withAdmin = await copyReplicas(cluster, NATS_URL, service);
    // Any node in sync may take the apply. When b takes it, its own dry run refuses (its port is
    // taken) and nothing is appended; through a or c it is committed to the cluster.
    let applied = await kindling(['apply', withAdmin]);
    for (let i = 0; i < 8 && applied.code !== 0; i++) {
      expect(applied.err).toMatch(/in use|EADDRINUSE/);
      applied = await kindling(['apply', withAdmin]);
    }
    expect(applied.out).toContain('applied revision 2');
    const adminNodes = (nodes: readonly Node[]): Node[] => nodes.map((node) => ({ ...node, port: node.adminPort }));
    await waitServed(adminNodes([a, c]), '/');
    let status: NodeStatus[] = [];
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline) {
      status = await clusterStatus(dir);
      if (status.find((node) => node.node === 'b')?.result?.state === 'desynced') break;
    }
    const desynced = status.find((node) => node.node === 'b')?.result;
    expect(desynced?.state).toBe('desynced');
    expect(desynced?.revision).toBe(1);
    expect(desynced?.problem?.entryId).toBe('replicas:admin');
    expect(desynced?.problem?.error).toMatch(/in use|EADDRINUSE/);
    expect(status.filter((node) => node.result?.state === 'in-sync').map((node) => node.node)).toEqual(['a', 'c']);
    // b keeps serving its last good revision.
    expect(await statusOf(b.port, '/')).toBe(200);
    const plain = await kindling(['status', dir]);
    expect(plain.code).toBe(1);
    expect(plain.out).toMatch(/b\s+desynced\s+1\s+could not apply revision 2 \(entry replicas:admin\)/);
    expect(b.app.output.err + b.app.output.out).toMatch(/node b is desynced: it serves revision 1/);

    // With the port free again, a retry brings b to the cluster's state.
    await new Promise<void>((resolve) => squatter.close(() => resolve()));
    const retried = await clusterStatus(dir, ['--retry']);
    expect(retried.find((node) => node.node === 'b')?.result).toMatchObject({ state: 'in-sync', revision: 2 });
    await waitServed(adminNodes(nodes), '/');
  }, 120_000);

  it('checks a batch on every node with --all-nodes, naming the node that refuses', async () => {
    const cluster = newCluster();
    const dir = await copyReplicas(cluster, NATS_URL);
    const nodes = [await startNode(dir, 'a'), await startNode(dir, 'b')];
    const squatter: Server = createServer();
    squatters.push(squatter);
    await new Promise<void>((resolve) => squatter.listen((nodes[1] as Node).adminPort, '127.0.0.1', resolve));
    try {
      const withAdmin = await copyReplicas(
        cluster,
        NATS_URL,
        `
  - name: admin
    kind: http.service
    addr: "127.0.0.1:0"
`,
      );
      const refused = await kindling(['apply', withAdmin, '--all-nodes']);
      expect(refused.code).toBe(2);
      expect(refused.err).toMatch(/node b refused the batch/);
      expect(refused.err).toContain('replicas:admin');
      // Nothing was appended.
      expect((await clusterStatus(dir)).map((node) => node.result?.revision)).toEqual([1, 1]);
    } finally {
      await new Promise<void>((resolve) => squatter.close(() => resolve()));
    }
  }, 120_000);

  it('brings a node that joins after a compaction up from the snapshot', async () => {
    const cluster = newCluster();
    const dir = await copyReplicas(cluster, NATS_URL);
    const a = await startNode(dir, 'a');
    for (const path of ['/one', '/two']) {
      const files = await copyReplicas(cluster, NATS_URL, endpoint(path.slice(1), path));
      // --prune: the second apply also deletes /one, which its files no longer declare.
      expect((await kindling(['apply', files, '--prune', '--yes'])).code).toBe(0);
    }
    const compacted = await kindling(['compact', dir]);
    expect(compacted.err).toBe('');
    expect(compacted.out).toMatch(/a snapshot of 5 entries at revision 3/);
    const log = await RegistryLog.open({ connection: admin, cluster });
    expect(await log.firstRevision()).toBe(4);
    const gone = await kindling(['rollback', dir, '1']);
    expect(gone.code).toBe(2);
    expect(gone.err).toMatch(/revision 1 was compacted away: the oldest revision a rollback can reach is 3/);
    const late = await startNode(dir, 'late');
    expect(late.app.output.out + late.app.output.err).toContain('loaded the cluster snapshot of revision');
    expect(late.app.output.out).toContain('registry revision 3');
    await waitServed([a, late], '/two');
    await waitServed([a, late], '/one', 404);
  }, 120_000);
});

describe.skipIf(!haveNatsServer)('a cluster through a restart of nats-server', () => {
  it('loses no committed batch when nats-server restarts mid-stream', async () => {
    const natsPort = await freePort();
    const url = `nats://127.0.0.1:${natsPort}`;
    const store = await mkdtemp(join(tmpdir(), 'kindling-nats-'));
    dirs.push(store);
    let server = await startNatsServer(natsPort, store);
    try {
      const cluster = `restart${serial++}`;
      const dir = await copyReplicas(cluster, url);
      const nodes = [await startNode(dir, 'a'), await startNode(dir, 'b')];
      let extra = '';
      for (const name of ['one', 'two']) {
        extra += endpoint(name, `/${name}`);
        expect((await kindling(['apply', await copyReplicas(cluster, url, extra)])).code).toBe(0);
      }
      server.process.kill('SIGKILL');
      await server.exited;
      server = await startNatsServer(natsPort, store);
      extra += endpoint('three', '/three');
      const files = await copyReplicas(cluster, url, extra);
      // The nodes reconnect on their own; an apply goes through once one of them has.
      let applied = await kindling(['apply', files]);
      for (let i = 0; i < 50 && applied.code !== 0; i++) {
        await new Promise((resolve) => setTimeout(resolve, 200));
        applied = await kindling(['apply', files]);
      }
      expect(applied.out).toContain('applied revision 4');
      await waitServed(nodes, '/three');
      for (const path of ['/one', '/two', '/']) await waitServed(nodes, path);
      const history = await kindling(['history', dir]);
      expect(history.out).toMatch(/ {4}2 .*\+replicas:one/);
      expect(history.out).toMatch(/ {4}4 .*\+replicas:three/);
    } finally {
      server.process.kill('SIGKILL');
      await server.exited;
    }
  }, 120_000);
});
