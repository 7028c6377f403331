// Cluster tests: copies of examples/replicas (each its own cluster name and NATS server), and what a
// test of real `kindling run` nodes needs: start a node, wait until nodes serve a path, ask status.
import { cp, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NatsConnection } from 'nats';
import { RunningApp, kindling, root } from './cli-harness.js';

/** How a copy differs from the example. */
export interface ReplicasCopy {
  /** The manifest's name, so the cluster's name. */
  readonly name: string;
  readonly nats: string;
  /** Registry YAML appended to registry/app.yaml (entries of the replicas namespace). */
  readonly extra?: string;
  /** Components added after http (reactive, for timers). */
  readonly components?: readonly string[];
  /** The server's address in the registry (default the example's). */
  readonly addr?: string;
}

/** A copy of examples/replicas in a temp dir (the caller removes it). */
export async function copyReplicas(copy: ReplicasCopy): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'kindling-replicas-'));
  await cp(join(root, 'examples/replicas'), dir, { recursive: true });
  const manifest = join(dir, 'kindling.yaml');
  const added = (copy.components ?? []).map((name) => `  - ${name}\n`).join('');
  await writeFile(
    manifest,
    (await readFile(manifest, 'utf8'))
      .replace('name: replicas', `name: ${copy.name}`)
      .replace('nats://127.0.0.1:4222', copy.nats)
      .replace('  - http\n', `  - http\n${added}`),
  );
  const registry = join(dir, 'registry/app.yaml');
  let text = await readFile(registry, 'utf8');
  if (copy.addr !== undefined) text = text.replace('"127.0.0.1:8090"', JSON.stringify(copy.addr));
  await writeFile(registry, text + (copy.extra ?? ''));
  return dir;
}

/** A `kindling run` node of a cluster: its name, the port it serves the app on, its process. */
export interface ClusterNode {
  readonly name: string;
  readonly port: number;
  readonly app: RunningApp;
}

/**
 * `kindling run <target> --node <name>` with no state directory, up and serving: `listen` is its
 * KINDLING_HTTP_LISTEN (`<service id>=<addr>,...`), `env` is added to its environment.
 */
export function runClusterNode(
  target: string,
  name: string,
  listen: string,
  env: Readonly<Record<string, string>> = {},
): Promise<RunningApp> {
  return RunningApp.start(target, undefined, { args: ['--node', name], env: { ...env, KINDLING_HTTP_LISTEN: listen } });
}

/** The status code of GET `path` on `port` (0 when nothing answers). */
export async function statusOf(port: number, path: string): Promise<number> {
  try {
    const response = await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(2_000) });
    await response.arrayBuffer();
    return response.status;
  } catch {
    return 0;
  }
}

/** Polls every node until all answer GET `path` with `status`; fails after 15 s naming what they answered. */
export async function waitServed(
  nodes: readonly Pick<ClusterNode, 'name' | 'port'>[],
  path: string,
  status = 200,
): Promise<void> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const codes = await Promise.all(nodes.map((node) => statusOf(node.port, path)));
    if (codes.every((code) => code === status)) return;
    if (Date.now() > deadline)
      throw new Error(
        `GET ${path}: expected ${status} from ${nodes.map((n) => n.name).join(', ')}, got ${codes.join(', ')}`,
      );
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** One node's answer in `kindling status --json`. */
export interface NodeStatus {
  readonly node: string;
  readonly result?: {
    readonly state: string;
    readonly revision: number;
    readonly problem?: { readonly entryId?: string; readonly error: string };
  };
}

/** `kindling status <target> --json` (with `extra` arguments and `env`): the nodes that answered. Throws on stderr output. */
export async function clusterStatus(
  target: string,
  extra: readonly string[] = [],
  env?: Readonly<Record<string, string>>,
): Promise<NodeStatus[]> {
  const result = await kindling(['status', target, '--json', ...extra], env === undefined ? {} : { env });
  if (result.err !== '') throw new Error(`kindling status ${target}: ${result.err}`);
  return (JSON.parse(result.out) as { nodes: NodeStatus[] }).nodes;
}

/** A cluster name of its own for one test (letters, digits and dashes). */
export function uniqueClusterName(serial: number): string {
  return `t${process.pid}-${Date.now().toString(36)}-${serial}`;
}

/** Deletes the streams of `cluster` (its registry log and its snapshots). */
export async function deleteClusterStreams(connection: NatsConnection, cluster: string): Promise<void> {
  const jsm = await connection.jetstreamManager();
  await jsm.streams.delete(`KINDLING_REGISTRY_${cluster}`).catch(() => undefined);
  await jsm.streams.delete(`OBJ_KINDLING_SNAPSHOTS_${cluster}`).catch(() => undefined);
}
