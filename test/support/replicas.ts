// Copies of examples/replicas for the cluster tests: each its own cluster name and NATS server.
import { cp, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { root } from './cli-harness.js';

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
