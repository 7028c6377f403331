// One node of a cluster whose registry lives in a shared log: it proposes batches (checked here
// first, then appended against the revision it checked them at) and applies every logged batch, in
// log order, through its own listeners. A listener that refuses a committed batch does not make the
// node diverge silently: it keeps serving its last good revision, reports itself desynced with the
// refusing entry and error, and tries again to reach the cluster's state when the next batch comes
// or when asked.

import { KindlingError, messageOf } from 'kindling';
import type { ApplyResult, Logger, Registry, RegistryOp } from 'kindling';
import type { LoggedBatch, LogReader, RegistryLog } from '../../src/transport/nats/registry-log.js';
import { toWireOps } from '../admin/admin-protocol.js';
import { ClusterState, type ClusterSnapshot } from './cluster-state.js';

import type { ClusterNodeState, ClusterNodeStatus } from '../cluster/cluster-types.js';

export type { ClusterNodeState, ClusterNodeStatus } from '../cluster/cluster-types.js';

export interface ClusterNodeOptions {
  /** This node's name, recorded with the batches it proposes. */
  readonly node: string;
  readonly registry: Registry;
  readonly log: RegistryLog;
  readonly logger: Logger;
  /** Called on every change of state (the app turns it into a `$registry` event and a log line). */
  readonly onStatus?: (status: ClusterNodeStatus) => void;
}

/** The body of one logged batch. */
interface BatchBody {
  readonly ops: unknown;
}

/** A node of a cluster registry: follows the log, applies it, proposes to it. */
export class ClusterNode {
  private readonly state: ClusterState;
  private reader: LogReader | undefined;
  private following: Promise<void> | undefined;
  private status: ClusterNodeState = 'catching-up';
  private problem: ClusterNodeStatus['problem'];
  /** Resolvers waiting until the node has read a revision. */
  private readonly waiters = new Map<number, (() => void)[]>();
  /** The node's changes to its registry, one at a time (the log's batches and retries). */
  private work: Promise<void> = Promise.resolve();
  /** The revision of a logged batch that could not be read: nothing after it can be folded. */
  private unreadable: number | undefined;

  private constructor(
    private readonly options: ClusterNodeOptions,
    state: ClusterState,
  ) {
    this.state = state;
  }

  /**
   * Joins the cluster: loads the latest snapshot when the log no longer holds what the registry
   * lacks, then reads the log up to its last revision before resolving (the node is ready), and
   * goes on following it.
   */
  static async join(options: ClusterNodeOptions): Promise<ClusterNode> {
    const { log, registry } = options;
    let state = new ClusterState();
    const first = await log.firstRevision();
    if (registry.revision + 1 < first) {
      const snapshot = await log.loadSnapshot();
      if (snapshot === undefined || snapshot.revision + 1 < first)
        throw new KindlingError(
          'GONE',
          `the cluster log starts at revision ${first} and no snapshot covers the revisions before it`,
        );
      state = ClusterState.fromSnapshot(snapshot.body);
      options.logger.info(
        `loaded the cluster snapshot of revision ${snapshot.revision} (the log was compacted: it starts at revision ${first})`,
      );
    }
    const node = new ClusterNode(options, state);
    const target = await log.lastRevision();
    if (state.revision > registry.revision) await node.reconcile(state.revision);
    node.follow(await log.read(Math.max(state.revision + 1, 1)));
    await node.until(target);
    if (node.status === 'catching-up') node.setStatus('in-sync');
    return node;
  }

  /** What `kindling status` shows of this node. */
  get info(): ClusterNodeStatus {
    return {
      node: this.options.node,
      state: this.status,
      revision: this.options.registry.revision,
      clusterRevision: this.state.revision,
      ...(this.problem === undefined ? {} : { problem: this.problem }),
    };
  }

  /** Which source owns each entry of the cluster's state (what `--prune` reads). */
  owners(): Record<string, string> {
    return this.state.owners.toJSON();
  }

  /** The cluster's whole state at the last revision read, for a snapshot. */
  snapshot(): ClusterSnapshot {
    return this.state.snapshot();
  }

  /**
   * Proposes a batch: checks it against this node's registry (a dry run through its listeners),
   * appends it against the revision it was checked at, and resolves once this node has applied it.
   * `CONFLICT` when another batch was appended in between (plan again), or when this node is not
   * in sync (its check would not stand for the cluster).
   */
  async propose(
    ops: readonly RegistryOp[],
    options: { readonly source?: string; readonly expectRevision?: number } = {},
  ): Promise<ApplyResult> {
    const { registry, log, node } = this.options;
    if (this.status !== 'in-sync')
      throw new KindlingError(
        'CONFLICT',
        `node ${node} is ${this.status}: apply through a node that is in sync, or run kindling status --retry`,
        { details: this.problem === undefined ? {} : { problem: this.problem } },
      );
    // Check against the cluster's latest state: catch up with what other nodes appended first.
    await this.until(await log.lastRevision());
    const base = registry.revision;
    if (options.expectRevision !== undefined && options.expectRevision !== base)
      throw new KindlingError(
        'CONFLICT',
        `expected revision ${options.expectRevision}, but the cluster is at ${base}; plan again`,
        { details: { expectRevision: options.expectRevision, revision: base } },
      );
    const plan = await registry.apply(ops, { dryRun: true, expectRevision: base });
    const revision = await log.append(
      { ops: toWireOps(ops) },
      { expectRevision: base, node, ...(options.source === undefined ? {} : { source: options.source }) },
    );
    await this.until(revision);
    if (registry.revision < revision)
      throw new KindlingError(
        'UNAVAILABLE',
        `revision ${revision} was committed to the cluster, but node ${node} could not apply it: ${this.problem?.error ?? 'unknown'}`,
        { details: { revision } },
      );
    return { ...plan, revision, dryRun: false };
  }

  /** Resolves once the node has read every batch the log holds now. */
  async catchUp(): Promise<void> {
    await this.until(await this.options.log.lastRevision());
  }

  /** Tries again to reach the cluster's state (`kindling status --retry`); resolves with the new status. */
  async retry(): Promise<ClusterNodeStatus> {
    await this.serially(async () => {
      if (this.status === 'desynced' && this.unreadable === undefined) await this.reconcile(this.state.revision);
    });
    return this.info;
  }

  /** Stops following the log. */
  async leave(): Promise<void> {
    await this.reader?.close();
    await this.following;
    for (const resolvers of this.waiters.values()) for (const resolve of resolvers) resolve();
    this.waiters.clear();
  }

  private follow(reader: LogReader): void {
    this.reader = reader;
    this.following = (async () => {
      try {
        for await (const batch of reader) await this.serially(() => this.take(batch));
      } catch (error) {
        this.options.logger.error(`the cluster log could not be read: ${messageOf(error)}`, { error });
      }
    })();
  }

  /** Folds one logged batch into the cluster's state, then brings the registry there. */
  private async take(batch: LoggedBatch): Promise<void> {
    if (this.unreadable !== undefined) {
      this.wake(batch.revision);
      return;
    }
    let ops: RegistryOp[];
    try {
      if (batch.problem !== undefined) throw batch.problem;
      ops = this.state.fold(batch.revision, (batch.body as BatchBody | undefined)?.ops, batch.source);
    } catch (error) {
      // A batch that cannot be read cannot be applied anywhere: the node says so and stops there.
      this.unreadable = batch.revision;
      this.desynced(batch.revision, undefined, error);
      this.wake(batch.revision);
      return;
    }
    if (this.status === 'desynced') await this.reconcile(batch.revision);
    else await this.applyLogged(batch, ops);
    this.wake(batch.revision);
  }

  private serially(task: () => Promise<void>): Promise<void> {
    const run = this.work.then(task);
    this.work = run.catch(() => undefined);
    return run;
  }

  private async applyLogged(batch: LoggedBatch, ops: readonly RegistryOp[]): Promise<void> {
    try {
      await this.options.registry.apply(ops, {
        revision: batch.revision,
        ...(batch.source === undefined ? {} : { source: batch.source }),
      });
    } catch (error) {
      this.desynced(batch.revision, entryIdOf(error), error);
    }
  }

  /** Applies the one batch that takes the registry to the cluster's state at `revision`. */
  private async reconcile(revision: number): Promise<void> {
    const { registry } = this.options;
    try {
      const ops = registry.opsToReach(this.state.targetFor(registry.entries().map((entry) => entry.id)));
      if (revision > registry.revision) await registry.apply(ops, { revision, source: `cluster revision ${revision}` });
      this.problem = undefined;
      this.setStatus('in-sync');
    } catch (error) {
      this.desynced(revision, entryIdOf(error), error);
    }
  }

  private desynced(revision: number, entryId: string | undefined, error: unknown): void {
    this.problem = { revision, entryId, error: messageOf(error) };
    this.options.logger.error(
      `node ${this.options.node} is desynced: it serves revision ${this.options.registry.revision} and could not apply revision ${revision}${entryId === undefined ? '' : ` (entry ${entryId})`}: ${messageOf(error)}`,
      { revision, entryId },
    );
    this.setStatus('desynced');
  }

  private setStatus(state: ClusterNodeState): void {
    const changed = state !== this.status;
    this.status = state;
    if (changed || state === 'desynced') this.options.onStatus?.(this.info);
  }

  /** Resolves once the node has read (and tried to apply) `revision`. */
  private until(revision: number): Promise<void> {
    if (this.state.revision >= revision || (this.unreadable !== undefined && this.unreadable <= revision))
      return Promise.resolve();
    return new Promise((resolve) => {
      const list = this.waiters.get(revision) ?? [];
      list.push(resolve);
      this.waiters.set(revision, list);
    });
  }

  private wake(revision: number): void {
    for (const [at, resolvers] of this.waiters) {
      if (at > revision) continue;
      this.waiters.delete(at);
      for (const resolve of resolvers) resolve();
    }
  }
}

function entryIdOf(error: unknown): string | undefined {
  if (!KindlingError.is(error)) return undefined;
  const id = error.details['entryId'];
  return typeof id === 'string' ? id : undefined;
}
