// The nodes the inspector shows. Each source lists some nodes; the page shows them all, one row
// each. Today: this process (always) and the nodes the bus knows over NATS (presence). A cluster
// registry adds a source of its own (its nodes' states against the shared log) through the same
// small interface: `nodes()` to read, `onDidChange` to be shown at once rather than at the next poll.

import { hostname } from 'node:os';
import { messageOf, toDisposable } from 'kindling';
import type { Disposable, Registry } from 'kindling';
import type { EventBus } from 'kindling/events';
import type { ClusterMemberStatus, ClusterMembership } from '../cluster/cluster-types.js';

/** One node as the inspector shows it. Fields a source does not know are left out. */
export interface InspectorNode {
  /** The node's name (unique across sources; a later source's row with the same name replaces an earlier one). */
  readonly node: string;
  /** Whether it is this process. */
  readonly local: boolean;
  /** Where it stands: `running` for this process; a cluster says `catching-up`, `in-sync` or `desynced`. */
  readonly state: string;
  /** The registry revision it serves, when known. */
  readonly revision?: number;
  /** The cluster log's last revision it has read, when in a cluster. */
  readonly clusterRevision?: number;
  /** Why it is not well (a desynced node: the revision, entry and error). */
  readonly problem?: string;
  /** Anything else worth a glance, shown as `key value` pairs (pid, entries, uptime...). */
  readonly details?: Readonly<Record<string, string | number>>;
}

/** Where the inspector reads nodes from. */
export interface InspectorNodeSource {
  /** The nodes as they are now; called often (every poll): keep it cheap, never throw for a busy node. */
  nodes(): readonly InspectorNode[];
  /** Calls `listener` when the nodes change, so the page updates at once. Optional: without it, the page polls. */
  onDidChange?(listener: () => void): Disposable;
}

/** This process: its name on the bus, pid, registry revision and entry count, uptime. */
export function localNodeSource(registry: Registry, bus: EventBus | undefined): InspectorNodeSource {
  const name = (bus as { nodeID?: unknown } | undefined)?.nodeID;
  const node = typeof name === 'string' ? name : `${hostname()}-${process.pid}`;
  const started = Date.now();
  return {
    nodes: () => [
      {
        node,
        local: true,
        state: 'running',
        revision: registry.revision,
        details: {
          pid: process.pid,
          entries: registry.size,
          started: new Date(started).toISOString().replace(/\.\d+Z$/, 'Z'),
          ...(bus === undefined ? {} : { bus: bus.state }),
        },
      },
    ],
  };
}

/** The other nodes the bus sees (NATS presence); none in one process. */
export function busNodeSource(bus: EventBus): InspectorNodeSource {
  return {
    nodes: () =>
      bus.nodes().map((info) => {
        const details: Record<string, string | number> = {};
        for (const [key, value] of Object.entries(info)) {
          if (key !== 'id' && (typeof value === 'string' || typeof value === 'number')) details[key] = value;
        }
        return { node: info.id, local: false, state: 'seen on the bus', details };
      }),
  };
}

/** Every source's nodes, local first; a node named twice keeps the later source's row. */
export function collectNodes(sources: readonly InspectorNodeSource[]): InspectorNode[] {
  const byName = new Map<string, InspectorNode>();
  for (const source of sources) {
    let nodes: readonly InspectorNode[];
    try {
      nodes = source.nodes();
    } catch (error) {
      nodes = [{ node: '(a node source)', local: false, state: 'unreadable', problem: messageOf(error) }];
    }
    for (const node of nodes) byName.set(node.node, node);
  }
  return [...byName.values()].sort((a, b) => Number(b.local) - Number(a.local) || (a.node < b.node ? -1 : 1));
}

/** How often the inspector asks the cluster for its nodes' states. */
const CLUSTER_POLL_MS = 2_000;

/**
 * The nodes of this app's cluster, each with its state against the shared log (`in-sync`,
 * `catching-up`, `desynced` and why): asked of every node over NATS every two seconds, and at once
 * when this node's own state changes. Dispose to stop asking.
 */
export function clusterNodeSource(cluster: ClusterMembership): InspectorNodeSource & { dispose(): void } {
  let known: readonly InspectorNode[] = [];
  const listeners = new Set<() => void>();
  const row = (status: ClusterMemberStatus): InspectorNode => ({
    node: status.node,
    local: status.node === cluster.nodeName,
    state: status.state,
    revision: status.revision,
    clusterRevision: status.clusterRevision,
    ...(status.problem === undefined
      ? {}
      : {
          problem: `could not apply revision ${status.problem.revision}${status.problem.entryId === undefined ? '' : ` (entry ${status.problem.entryId})`}: ${status.problem.error}`,
        }),
    details: { cluster: status.cluster, pid: status.pid, host: status.host, started: status.startedAt },
  });
  let asking = false;
  const refresh = (): void => {
    if (asking) return;
    asking = true;
    cluster
      .nodes()
      .then((statuses) => {
        known = statuses.map(row);
        for (const listener of [...listeners]) listener();
      })
      .catch(() => undefined)
      .finally(() => (asking = false));
  };
  const timer = setInterval(refresh, CLUSTER_POLL_MS);
  timer.unref();
  const own = cluster.onDidChangeStatus(refresh);
  refresh();
  return {
    nodes: () => (known.length > 0 ? known : [row(cluster.status())]),
    onDidChange: (listener) => {
      listeners.add(listener);
      return toDisposable(() => listeners.delete(listener));
    },
    dispose: () => {
      clearInterval(timer);
      own.dispose();
      listeners.clear();
    },
  };
}
