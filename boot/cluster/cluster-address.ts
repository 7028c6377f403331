import { basename } from 'node:path';
import { KindlingError } from 'kindling';
import type { BootManifest } from '../app/manifest.js';

/** Where a manifest's cluster is: its NATS server, its name and its subject prefix. */
export interface ResolvedCluster {
  readonly nats: string;
  readonly cluster: string;
  readonly prefix?: string;
}

/**
 * The cluster of `manifest`: its `cluster.nats` (else `nats`, the `--nats` of a command, else
 * `KINDLING_NATS_URL`), its `cluster.name` (else the manifest's `name`, else its directory's name).
 * Undefined when the manifest has no `cluster` and no `nats` is given. Throws `INVALID` when the
 * cluster has no server, or no name that can name a stream.
 */
export function resolveCluster(manifest: BootManifest, nats?: string): ResolvedCluster | undefined {
  const declared = manifest.cluster;
  if (declared === undefined && nats === undefined) return undefined;
  const url = nats ?? declared?.nats ?? nonEmpty(process.env['KINDLING_NATS_URL']);
  if (url === undefined)
    throw new KindlingError(
      'INVALID',
      `${manifest.file}: cluster has no NATS server: write cluster: { nats: nats://host:4222 }, set KINDLING_NATS_URL, or give --nats`,
    );
  const name = declared?.name ?? manifest.name ?? basename(manifest.dir);
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(name))
    throw new KindlingError(
      'INVALID',
      `${manifest.file}: the cluster's name ${JSON.stringify(name.slice(0, 80))} (from ${declared?.name !== undefined ? 'cluster.name' : manifest.name !== undefined ? 'name' : 'the directory'}) must be 1 to 64 letters, digits, "_" or "-": set cluster.name`,
    );
  return { nats: url, cluster: name, ...(declared?.prefix === undefined ? {} : { prefix: declared.prefix }) };
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}
