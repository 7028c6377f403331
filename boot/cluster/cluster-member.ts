// A running app as one node of a cluster: its NATS connection, the cluster's registry log, the
// node that follows and applies it, and the cluster's admin subjects, over which `kindling apply |
// plan | history | rollback | status --nats` reach the cluster with no local socket. Loaded only
// when the manifest has `cluster:` (so only then is the `nats` client loaded).

import { hostname } from 'node:os';
import { KindlingError, messageOf, toDisposable } from 'kindling';
import type { ApplyResult, Disposable, Logger, Registry, RegistryOp } from 'kindling';
import type { Channels } from 'kindling/events';
import { JetStreamChannels } from '../../src/transport/nats/durable-channels.js';
import { RegistryLog } from '../../src/transport/nats/registry-log.js';
import {
  connectNats,
  requestAll,
  serveRequests,
  type NatsConnection,
  type Responder,
} from '../../src/transport/nats/nats-rpc.js';
import {
  fromWireError,
  fromWireOps,
  toAdminResult,
  toAdminEntries,
  toAdminHistory,
  toWireError,
  toWireOps,
} from '../admin/admin-protocol.js';
import type {
  AdminApplyResult,
  AdminCompaction,
  AdminHistory,
  AdminStatus,
  DecodedApplyRequest,
  DecodedRollbackRequest,
  WireError,
} from '../admin/admin-protocol.js';
import { dispatchAdmin, type AdminHandlers } from '../admin/admin-server.js';
import { channelHandlers } from '../admin/channel-handlers.js';
import { ClusterNode, type ClusterNodeStatus } from '../state/cluster-node.js';
import { ClusterState } from '../state/cluster-state.js';
import { clusterSubjects, type ClusterSubjects } from './cluster-subjects.js';
import type { ClusterMemberStatus, ClusterMembership, NodeAnswer } from './cluster-types.js';

export type { ClusterMemberStatus, NodeAnswer } from './cluster-types.js';

/** Options of {@link ClusterMember.connect}. */
export interface ClusterMemberOptions {
  /** The NATS server. */
  readonly nats: string;
  /** The cluster's name (its stream, subjects and snapshot store are named after it). */
  readonly cluster: string;
  /** The subject prefix (default `kindling`). */
  readonly prefix?: string;
  /** This node's name (default `<host>-<pid>`). */
  readonly node?: string;
  /** The app's name and directory, as `status` shows them. */
  readonly app: { readonly name: string; readonly dir: string };
  readonly logger: Logger;
  /** Where JetStream keeps the log (default `file`). */
  readonly storage?: 'file' | 'memory';
  /** How long `apply --all-nodes` waits for every live node's dry run, in ms (default 5,000). */
  readonly allNodesTimeoutMs?: number;
  /** Called on every change of this node's state (the app sends a `$registry` event). */
  readonly onStatus?: (status: ClusterNodeStatus) => void;
}

/** How long {@link ClusterMember.nodes} waits for nodes after the last one answered. */
const NODES_WAIT_MS = 2_000;

/** Default time `apply --all-nodes` waits for every live node's dry run. */
export const DEFAULT_ALL_NODES_TIMEOUT_MS = 5_000;

const encoder = new TextEncoder();
const decoder = new TextDecoder();
/** The largest admin request a node reads (NATS's own max_payload is usually lower: 1 MiB). */
const MAX_REQUEST_BYTES = 64 * 1024 * 1024;

/**
 * One app's membership in a cluster: connect, {@link join} once the components have booted (the
 * node catches up before it is ready), serve the cluster's admin subjects, {@link close} at shutdown.
 */
export class ClusterMember implements ClusterMembership {
  private node: ClusterNode | undefined;
  private registry: Registry | undefined;
  private channels: (() => Channels) | undefined;
  private readonly subscriptions: Responder[] = [];
  /** The subscription of this node to the write queue: held only while the node is in sync. */
  private writes: Responder | undefined;
  private readonly startedAt = new Date().toISOString();
  private readonly statusListeners = new Set<(status: ClusterMemberStatus) => void>();
  private closed = false;
  readonly subjects: ClusterSubjects;
  readonly nodeName: string;

  private constructor(
    private readonly options: ClusterMemberOptions,
    private readonly connection: NatsConnection,
    readonly log: RegistryLog,
  ) {
    this.subjects = clusterSubjects(options.prefix, options.cluster);
    this.nodeName = options.node ?? `${hostname()}-${process.pid}`;
  }

  /** Connects to NATS and opens the cluster's log (creating its stream on first use). */
  static async connect(options: ClusterMemberOptions): Promise<ClusterMember> {
    let connection: NatsConnection;
    try {
      // A node outlives an outage of nats-server: it reconnects for as long as it runs.
      connection = await connectNats(options.nats, `kindling ${options.app.name} (cluster ${options.cluster})`, {
        reconnect: true,
      });
    } catch (error) {
      throw new KindlingError(
        'UNAVAILABLE',
        `cluster ${options.cluster}: ${messageOf(error)} (start nats-server with JetStream: nats-server -js)`,
        { cause: error, details: { nats: options.nats } },
      );
    }
    try {
      const log = await RegistryLog.open({
        connection,
        cluster: options.cluster,
        ...(options.prefix === undefined ? {} : { prefix: options.prefix }),
        ...(options.storage === undefined ? {} : { storage: options.storage }),
      });
      return new ClusterMember(options, connection, log);
    } catch (error) {
      await connection.close().catch(() => undefined);
      throw error;
    }
  }

  /** The NATS connection of this node (typed `unknown` where it is handed on: see `ClusterNats`). */
  get natsConnection(): NatsConnection {
    return this.connection;
  }

  /** The node, once {@link join} has resolved. */
  get joined(): ClusterNode | undefined {
    return this.node;
  }

  /**
   * Joins the cluster with the app's registry: catches up from the log (a snapshot first when the
   * log was compacted past what the registry holds), then serves the admin subjects.
   */
  async join(registry: Registry): Promise<ClusterNode> {
    this.registry = registry;
    this.node = await ClusterNode.join({
      node: this.nodeName,
      registry,
      log: this.log,
      logger: this.options.logger,
      onStatus: (status) => {
        this.followWrites(status.state === 'in-sync');
        this.options.onStatus?.(status);
        if (this.node === undefined) return;
        const member = this.status();
        for (const listener of [...this.statusListeners]) {
          try {
            listener(member);
          } catch (error) {
            this.options.logger.warn(`a cluster status listener threw: ${messageOf(error)}`, { error });
          }
        }
      },
    });
    this.serveEveryNode();
    this.subscriptions.push(this.serve(this.subjects.read, 'kindling-admin'));
    this.followWrites(this.node.info.state === 'in-sync');
    return this.node;
  }

  /** Every live node's state, by name (see {@link ClusterMembership.nodes}). */
  async nodes(): Promise<readonly ClusterMemberStatus[]> {
    const answers = await askEveryNode<ClusterMemberStatus>(
      this.connection,
      this.subjects.nodes,
      { route: 'GET /status', body: {} },
      { timeoutMs: NODES_WAIT_MS },
    );
    return answers.flatMap((answer) => answer.result ?? []);
  }

  onDidChangeStatus(listener: (status: ClusterMemberStatus) => void): Disposable {
    this.statusListeners.add(listener);
    return toDisposable(() => this.statusListeners.delete(listener));
  }

  /** This node as `kindling status` shows it. */
  status(): ClusterMemberStatus {
    const info = this.requireNode().info;
    return {
      ...info,
      cluster: this.options.cluster,
      pid: process.pid,
      host: hostname(),
      app: this.options.app.name,
      startedAt: this.startedAt,
    };
  }

  /**
   * Proposes a batch to the cluster through this node (see {@link ClusterNode.propose}); with
   * `allNodes`, every live node dry-runs it first.
   */
  async propose(
    ops: readonly RegistryOp[],
    options: { readonly source?: string; readonly expectRevision?: number; readonly allNodes?: boolean } = {},
  ): Promise<ApplyResult> {
    const node = this.requireNode();
    if (options.allNodes === true) await this.everyNodeAccepts(ops);
    return node.propose(ops, options);
  }

  /** Stops serving and following, and closes the connection. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const subscription of this.subscriptions.splice(0)) subscription.unsubscribe();
    this.writes?.unsubscribe();
    this.writes = undefined;
    await this.node?.leave();
    await this.connection.drain().catch(() => undefined);
  }

  private requireNode(): ClusterNode {
    if (this.node === undefined || this.registry === undefined)
      throw new KindlingError('UNAVAILABLE', `node ${this.nodeName} is starting; try again once it is running`, {
        retryable: true,
      });
    return this.node;
  }

  /** Holds the write queue while the node is in sync: a node that is not takes no apply. */
  private followWrites(inSync: boolean): void {
    if (this.closed || this.node === undefined) return;
    if (inSync && this.writes === undefined) this.writes = this.serve(this.subjects.write, 'kindling-admin');
    else if (!inSync && this.writes !== undefined) {
      this.writes.unsubscribe();
      this.writes = undefined;
    }
  }

  /** Serves the admin routes on `subject` (one node of the queue group answers each request). */
  private serve(subject: string, queue: string): Responder {
    const handlers = this.handlers();
    return this.respond(subject, queue, (route, body) =>
      dispatchAdmin(handlers, {}, route, () => Promise.resolve(body)),
    );
  }

  /** Every node answers on the nodes subject: status, retry, and the dry run of `apply --all-nodes`. */
  private serveEveryNode(): void {
    this.subscriptions.push(
      this.respond(this.subjects.nodes, undefined, async (route, body) => {
        switch (route) {
          case 'GET /status':
            return this.status();
          case 'POST /retry':
            await this.requireNode().retry();
            return this.status();
          case 'POST /dry-run':
            return toAdminResult(await this.requireRegistry().apply(decodeOpsBody(body), { dryRun: true }));
          default:
            throw new KindlingError(
              'NOT_FOUND',
              `the nodes of a cluster have no ${route.slice(0, 200)} (GET /status, POST /retry, POST /dry-run)`,
            );
        }
      }),
    );
  }

  /**
   * Answers each request `{ route, body }` on `subject` with `{ node, result }` or `{ node, error }`:
   * whatever a request holds, the answer is an error at worst.
   */
  private respond(
    subject: string,
    queue: string | undefined,
    serve: (route: string, body: unknown) => Promise<unknown>,
  ): Responder {
    return serveRequests(
      this.connection,
      subject,
      {
        ...(queue === undefined ? {} : { queue }),
        onSendError: (error) =>
          this.options.logger.warn(`a cluster admin answer could not be sent: ${messageOf(error)}`, { error }),
      },
      async (data) => {
        let reply: unknown;
        try {
          if (data.length > MAX_REQUEST_BYTES)
            throw new KindlingError('INVALID', `the request is ${data.length} bytes, more than ${MAX_REQUEST_BYTES}`);
          const request = decodeRequest(data);
          reply = { node: this.nodeName, result: await serve(request.route, request.body) };
        } catch (error) {
          const wire = toWireError(error);
          if (wire.code === 'INTERNAL')
            this.options.logger.error(`cluster admin request failed: ${wire.message}`, { error });
          reply = { node: this.nodeName, error: wire };
        }
        return encoder.encode(JSON.stringify(reply));
      },
    );
  }

  /** The event bus's durable channels, which `kindling dead-letters` and `kindling redrive` reach through the cluster. */
  trackChannels(channels: () => Channels): void {
    this.channels = channels;
  }

  /**
   * The channels every node shares (on JetStream), which any node can read and re-drive for the
   * cluster. In-process channels are one node's own: asked through the cluster, a node would answer
   * for itself only, so it refuses and says where they are.
   */
  private sharedChannels(): Channels {
    const channels = this.channels?.();
    if (channels === undefined)
      throw new KindlingError(
        'NOT_FOUND',
        `${this.options.app.name} has no event bus, so no durable channels: load the events component`,
      );
    if (!(channels instanceof JetStreamChannels))
      throw new KindlingError(
        'INVALID',
        `node ${this.nodeName} keeps its durable channels in its own process (its event bus is not on NATS), so the cluster has no one store of them: set KINDLING_NATS_URL for the events component to keep them on JetStream, or open that node's inspector (kindling run --inspect)`,
        { details: { node: this.nodeName } },
      );
    return channels;
  }

  private requireRegistry(): Registry {
    this.requireNode();
    return this.registry as Registry;
  }

  /**
   * The cluster's state at `revision`, folded from the log (from the snapshot when the log was
   * compacted). `GONE` when the log no longer holds what leads there.
   */
  private async stateAt(revision: number): Promise<ClusterState> {
    if (revision === 0) return new ClusterState();
    const first = await this.log.firstRevision();
    let state = new ClusterState();
    if (first > 1) {
      const snapshot = await this.log.loadSnapshot();
      if (snapshot === undefined || snapshot.revision > revision || snapshot.revision + 1 < first)
        throw new KindlingError(
          'GONE',
          `revision ${revision} was compacted away: the oldest revision a rollback can reach is ${snapshot?.revision ?? first - 1}`,
          { details: { revision, oldest: snapshot?.revision ?? first - 1 } },
        );
      state = ClusterState.fromSnapshot(snapshot.body);
    }
    if (state.revision >= revision) return state;
    const reader = await this.log.read(state.revision + 1);
    try {
      for await (const batch of reader) {
        if (batch.problem !== undefined) throw batch.problem;
        state.fold(batch.revision, (batch.body as { ops?: unknown } | undefined)?.ops, batch.source);
        if (batch.revision >= revision) break;
      }
    } finally {
      await reader.close();
    }
    return state;
  }

  /** Dry-runs `ops` on every live node; throws the refusal naming the node and entry that refused. */
  private async everyNodeAccepts(ops: readonly RegistryOp[]): Promise<void> {
    const timeoutMs = this.options.allNodesTimeoutMs ?? DEFAULT_ALL_NODES_TIMEOUT_MS;
    const live = await askEveryNode<ClusterMemberStatus>(
      this.connection,
      this.subjects.nodes,
      { route: 'GET /status', body: {} },
      { timeoutMs },
    );
    const names = live.map((answer) => answer.node);
    const answers = await askEveryNode<AdminApplyResult>(
      this.connection,
      this.subjects.nodes,
      { route: 'POST /dry-run', body: { ops: toWireOps(ops) } },
      { timeoutMs, expected: names.length },
    );
    const answered = new Set(answers.map((answer) => answer.node));
    const missing = names.filter((name) => !answered.has(name));
    if (missing.length > 0)
      throw new KindlingError(
        'TIMEOUT',
        `node${missing.length === 1 ? '' : 's'} ${missing.join(', ')} did not answer the dry run within ${timeoutMs} ms; nothing was appended`,
        { details: { nodes: missing } },
      );
    for (const answer of answers) {
      if (answer.error === undefined) continue;
      const refusal = fromWireError(answer.error);
      throw new KindlingError(refusal.code, `node ${answer.node} refused the batch: ${refusal.message}`, {
        cause: refusal,
        details: { ...refusal.details, node: answer.node },
      });
    }
  }

  private handlers(): AdminHandlers {
    return {
      status: (): AdminStatus => {
        const info = this.status();
        return {
          pid: info.pid,
          name: this.options.app.name,
          appDir: this.options.app.dir,
          stateDir: `nats cluster ${this.options.cluster}`,
          phase: 'ready',
          startedAt: this.startedAt,
          revision: info.revision,
          entries: this.requireRegistry().size,
          journal: { path: this.log.stream, replayedBatches: 0, tornTail: false },
        };
      },
      entries: () => {
        return toAdminEntries(this.requireRegistry(), this.requireNode().owners());
      },
      history: (): AdminHistory => {
        return toAdminHistory(this.requireRegistry(), { path: this.log.stream, replayedBatches: 0, tornTail: false });
      },
      apply: async (request: DecodedApplyRequest) => {
        const registry = this.requireRegistry();
        if (request.dryRun) {
          const result = await registry.apply(request.ops, {
            dryRun: true,
            ...(request.expectRevision === undefined ? {} : { expectRevision: request.expectRevision }),
          });
          return toAdminResult(result);
        }
        return toAdminResult(
          await this.propose(request.ops, {
            source: request.source ?? 'kindling apply',
            ...(request.expectRevision === undefined ? {} : { expectRevision: request.expectRevision }),
            ...(request.allNodes === true ? { allNodes: true } : {}),
          }),
        );
      },
      compact: async (): Promise<AdminCompaction> => {
        const node = this.requireNode();
        const before = await this.log.size();
        const snapshot = node.snapshot();
        await this.log.compactAt(snapshot.revision, snapshot);
        const after = await this.log.size();
        this.options.logger.info(
          `compacted the cluster log ${this.log.stream}: a snapshot at revision ${snapshot.revision}, ${before.batches - after.batches} batches removed`,
        );
        return {
          path: this.log.stream,
          revision: snapshot.revision,
          entries: snapshot.entries.length,
          bytesBefore: before.bytes,
          bytesAfter: after.bytes,
        };
      },
      rollback: async (request: DecodedRollbackRequest) => {
        const registry = this.requireRegistry();
        if (request.revision > registry.revision)
          throw new KindlingError(
            'INVALID',
            `cannot roll back to revision ${request.revision}: the cluster is at ${registry.revision}`,
            { details: { revision: request.revision, head: registry.revision } },
          );
        const base = request.expectRevision ?? registry.revision;
        // The state at that revision as the log says it (not this node's history, which may fold
        // several of the log's batches into one when the node caught up).
        const target = await this.stateAt(request.revision);
        const ops = registry.opsToReach(target.targetFor(registry.entries().map((entry) => entry.id)));
        if (request.dryRun) return toAdminResult(await registry.apply(ops, { dryRun: true, expectRevision: base }));
        return toAdminResult(
          await this.propose(ops, { source: `rollback to ${request.revision}`, expectRevision: base }),
        );
      },
      ...channelHandlers(() => this.sharedChannels()),
    };
  }
}

/** The request every cluster admin subject takes. */
interface ClusterRequest {
  readonly route: string;
  readonly body: unknown;
}

function decodeRequest(data: Uint8Array): ClusterRequest {
  let parsed: unknown;
  try {
    parsed = JSON.parse(decoder.decode(data));
  } catch {
    throw new KindlingError('INVALID', 'a cluster admin request must be JSON: { route, body }');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    throw new KindlingError('INVALID', 'a cluster admin request must be an object: { route, body }');
  const { route, body } = parsed as { route?: unknown; body?: unknown };
  if (typeof route !== 'string') throw new KindlingError('INVALID', 'a cluster admin request needs a route (a string)');
  return { route, body };
}

function decodeOpsBody(body: unknown): RegistryOp[] {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw new KindlingError('INVALID', 'a dry run needs { ops }');
  const { ops, ...rest } = body as { ops?: unknown };
  const extra = Object.keys(rest);
  if (extra.length > 0) throw new KindlingError('INVALID', `a dry run takes only ops, not ${extra.join(', ')}`);
  return fromWireOps(ops);
}

/**
 * Sends `{ route, body }` to every node and gathers their answers (by node name) until `expected`
 * have come (when known) or none has come for a while, within `timeoutMs`.
 */
export async function askEveryNode<T>(
  connection: NatsConnection,
  subject: string,
  request: { readonly route: string; readonly body: unknown },
  limits: { readonly timeoutMs: number; readonly expected?: number },
): Promise<NodeAnswer<T>[]> {
  const { route, body } = request;
  const { timeoutMs, expected } = limits;
  const replies = await requestAll(connection, subject, encoder.encode(JSON.stringify({ route, body })), {
    timeoutMs,
    ...(expected === undefined ? {} : { expected }),
  });
  return replies
    .flatMap((data) => decodeAnswer<T>(data) ?? [])
    .sort((a, b) => (a.node < b.node ? -1 : a.node > b.node ? 1 : 0));
}

/** One node's answer, or undefined for anything that is not one (it is left out). */
export function decodeAnswer<T>(data: Uint8Array): NodeAnswer<T> | undefined {
  try {
    const parsed = JSON.parse(decoder.decode(data)) as { node?: unknown; result?: unknown; error?: unknown };
    if (typeof parsed.node !== 'string') return undefined;
    if (parsed.error !== undefined) return { node: parsed.node, error: parsed.error as WireError };
    return { node: parsed.node, result: parsed.result as T };
  } catch {
    return undefined;
  }
}
