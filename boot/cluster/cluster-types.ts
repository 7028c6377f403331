// What a cluster node says of itself, free of the NATS client's types (the public surface of
// kindling/boot names these, and must compile without them).
import type { ApplyResult, Disposable, RegistryOp } from 'kindling';
import type { WireError } from '../admin/admin-protocol.js';

/** Where a node stands against the cluster's log. */
export type ClusterNodeState = 'catching-up' | 'in-sync' | 'desynced';

/** What `kindling status` shows of a node. */
export interface ClusterNodeStatus {
  readonly node: string;
  readonly state: ClusterNodeState;
  /** The revision the node's registry serves. */
  readonly revision: number;
  /** The last revision of the log the node has read. */
  readonly clusterRevision: number;
  /** Why the node is desynced: the revision it could not reach, the refusing entry, the error. */
  readonly problem?: {
    readonly revision: number;
    readonly entryId: string | undefined;
    readonly error: string;
  };
}

/** What a node says of itself in `kindling status`: the node, and the app it runs. */
export interface ClusterMemberStatus extends ClusterNodeStatus {
  readonly cluster: string;
  readonly pid: number;
  readonly host: string;
  readonly app: string;
  readonly startedAt: string;
}

/** A node's answer to a request sent to every node: its name and result, or its error. */
export type NodeAnswer<T> =
  | { readonly node: string; readonly result: T; readonly error?: undefined }
  | { readonly node: string; readonly error: WireError; readonly result?: undefined };

/** A running app's membership of its cluster, as `Application.cluster` shows it. */
export interface ClusterMembership {
  /** This node's name. */
  readonly nodeName: string;
  /** This node's state against the cluster's log. */
  status(): ClusterMemberStatus;
  /** Every live node's state (those that answer within two seconds), by name. */
  nodes(): Promise<readonly ClusterMemberStatus[]>;
  /** Calls `listener` whenever this node's state changes; dispose to stop. */
  onDidChangeStatus(listener: (status: ClusterMemberStatus) => void): Disposable;
  /**
   * Proposes a batch to the cluster through this node: checked here (a dry run), appended to the
   * log against the revision it was checked at, resolved once this node has applied it.
   */
  propose(
    ops: readonly RegistryOp[],
    options?: { readonly source?: string; readonly expectRevision?: number; readonly allNodes?: boolean },
  ): Promise<ApplyResult>;
}
