// One registry for three nodes on JetStream, beside one node's local apply. Three apps of
// examples/replicas run in this process, each with its own NATS connection, registry and HTTP
// server (as three `kindling run` would, without the process start-up): the time from an
// acknowledged apply (the proposing node has appended and applied it) until every node has
// committed it, and so serves it, for a 1-entry and a 1,000-entry batch; and batches per second
// through the log, one after another. The peer is the same batch applied by one app without a
// cluster. Without a reachable NATS it reports a note and no rows.
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'nats';
import type { Entry, RegistryOp } from 'kindling';
import { Application } from 'kindling/boot';
import { builtinComponents } from 'kindling/components';
import { compare, median, report, type BenchRow } from '../harness.js';
import { reachable } from '../nats-streams.js';

const URL_ = process.env['KINDLING_NATS_URL'] ?? 'nats://127.0.0.1:4222';
const SAMPLES = 7;
const BATCHES = 200;
const quiet = { debug() {}, info() {}, warn() {}, error() {} };

/** A copy of examples/replicas: as cluster `cluster` on NATS, or (undefined) without a cluster. */
async function appDir(cluster: string | undefined): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'kindling-bench-cluster-'));
  await cp(join(process.cwd(), 'examples/replicas'), dir, { recursive: true });
  const manifest = join(dir, 'kindling.yaml');
  let text = (await readFile(manifest, 'utf8')).replace('log: info', 'log: silent');
  text =
    cluster === undefined
      ? text.replace(/cluster:\n {2}nats: .*\n/, '')
      : text.replace('name: replicas', `name: ${cluster}`).replace('nats://127.0.0.1:4222', URL_);
  await writeFile(manifest, text);
  const registry = join(dir, 'registry/app.yaml');
  await writeFile(registry, (await readFile(registry, 'utf8')).replace('"127.0.0.1:8090"', '"127.0.0.1:0"'));
  return dir;
}

async function start(dir: string, node?: string): Promise<Application> {
  const app = await Application.load(dir, {
    builtins: builtinComponents,
    logger: quiet,
    ...(node === undefined ? {} : { node }),
  });
  await app.start();
  return app;
}

/** `count` endpoints of the replicas' router, named `<tag>-<i>`, created (or deleted). */
function endpoints(tag: string, count: number, op: 'create' | 'delete'): RegistryOp[] {
  return Array.from({ length: count }, (_, i): RegistryOp => {
    const id = `replicas:${tag}-${i}`;
    if (op === 'delete') return { op, entry: { id } };
    const entry: Entry = {
      id,
      kind: 'http.endpoint',
      meta: {},
      data: { router: 'site', method: 'GET', path: `/${tag}/${i}`, func: 'hello' },
    };
    return { op, entry };
  });
}

/** Resolves once every app's registry has reached `revision`. */
function committedEverywhere(apps: readonly Application[], revision: number): Promise<void> {
  return new Promise((resolve) => {
    const subscriptions: { dispose(): void }[] = [];
    const check = (): void => {
      if (apps.every((app) => app.registry.revision >= revision)) {
        for (const subscription of subscriptions) subscription.dispose();
        resolve();
      }
    };
    for (const app of apps) subscriptions.push(app.registry.onDidCommit(check));
    check();
  });
}

async function main(): Promise<void> {
  if (!(await reachable(URL_))) {
    report({ case: 'cluster', rows: [], notes: [`skipped: NATS is not reachable at ${URL_}`] });
    return;
  }
  const cluster = `bench${process.pid}`;
  const dirs = [await appDir(cluster), await appDir(undefined)];
  const nodes = [
    await start(dirs[0] as string, 'a'),
    await start(dirs[0] as string, 'b'),
    await start(dirs[0] as string, 'c'),
  ];
  const local = await start(dirs[1] as string);
  const proposer = nodes[0]?.cluster;
  if (proposer === undefined) throw new Error('the first node has no cluster');
  const rows: BenchRow[] = [];
  const notes: string[] = [
    'three nodes of examples/replicas in one process, each with its own NATS connection, registry and HTTP server; the peer is one app without a cluster',
  ];
  try {
    for (const size of [1, 1_000]) {
      const acked: number[] = [];
      const everywhere: number[] = [];
      const alone: number[] = [];
      for (let sample = 0; sample < SAMPLES; sample++) {
        const tag = `s${size}-${sample}`;
        const startedAt = process.hrtime.bigint();
        const result = await proposer.propose(endpoints(tag, size, 'create'), { source: 'bench' });
        const ackedAt = process.hrtime.bigint();
        await committedEverywhere(nodes, result.revision);
        const doneAt = process.hrtime.bigint();
        acked.push(Number(ackedAt - startedAt) / 1e6);
        everywhere.push(Number(doneAt - startedAt) / 1e6);
        const localStart = process.hrtime.bigint();
        await local.registry.apply(endpoints(tag, size, 'create'), { source: 'bench' });
        alone.push(Number(process.hrtime.bigint() - localStart) / 1e6);
        // Back to the same state for the next sample.
        const undone = await proposer.propose(endpoints(tag, size, 'delete'), { source: 'bench' });
        await committedEverywhere(nodes, undone.revision);
        await local.registry.apply(endpoints(tag, size, 'delete'), { source: 'bench' });
      }
      const name = `apply of ${size === 1 ? '1 entry' : '1,000 entries'} until all 3 nodes serve it`;
      rows.push(
        {
          name,
          subject: 'kindling',
          value: median(everywhere),
          unit: 'ms',
          better: 'lower',
          detail: `acknowledged after ${median(acked).toFixed(1)} ms; the other nodes had it ${(median(everywhere) - median(acked)).toFixed(1)} ms later`,
        },
        { name, subject: 'one node, local apply', value: median(alone), unit: 'ms', better: 'lower' },
      );
    }
    // Batches one after another through the log: each a 1-entry create, acknowledged before the next.
    const rates: number[] = [];
    const localRates: number[] = [];
    for (let sample = 0; sample < 3; sample++) {
      const ops = endpoints(`rate${sample}`, BATCHES, 'create');
      let begin = process.hrtime.bigint();
      let revision = 0;
      for (const op of ops) revision = (await proposer.propose([op], { source: 'bench' })).revision;
      await committedEverywhere(nodes, revision);
      rates.push(BATCHES / (Number(process.hrtime.bigint() - begin) / 1e9));
      begin = process.hrtime.bigint();
      for (const op of ops) await local.registry.apply([op], { source: 'bench' });
      localRates.push(BATCHES / (Number(process.hrtime.bigint() - begin) / 1e9));
    }
    const name = `1-entry batches one after another (${BATCHES}), all 3 nodes`;
    rows.push(
      { name, subject: 'kindling', value: median(rates), unit: 'batches/s', better: 'higher' },
      { name, subject: 'one node, local apply', value: median(localRates), unit: 'batches/s', better: 'higher' },
    );
    notes.push(
      'a cluster apply is a dry run on the proposing node, one JetStream append (file storage) and the apply on every node; the local apply is the apply alone',
    );
  } finally {
    for (const app of [...nodes, local]) await app.shutdown('bench done');
    const nc = await connect({ servers: URL_ });
    const jsm = await nc.jetstreamManager();
    await jsm.streams.delete(`KINDLING_REGISTRY_${cluster}`).catch(() => undefined);
    await nc.close();
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  }
  report({ case: 'cluster', rows: compare(rows), notes });
}

await main();
