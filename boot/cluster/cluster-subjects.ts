/** The NATS subjects of a cluster's admin requests. */
export interface ClusterSubjects {
  /** Reads (status of the cluster, entries, history): any node of the queue group answers. */
  readonly read: string;
  /** Writes (apply, rollback): any node of the queue group that is in sync answers. */
  readonly write: string;
  /** Every node answers: its status, a retry, the dry run of `apply --all-nodes`. */
  readonly nodes: string;
}

/** The admin subjects of cluster `cluster` under `prefix` (default `kindling`). */
export function clusterSubjects(prefix: string | undefined, cluster: string): ClusterSubjects {
  const base = `${prefix ?? 'kindling'}.admin.${cluster}`;
  return { read: `${base}.read`, write: `${base}.write`, nodes: `${base}.nodes` };
}
