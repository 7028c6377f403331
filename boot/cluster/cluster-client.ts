// The CLI's way into a cluster: the same calls as the admin socket's client, sent over NATS to the
// cluster's admin subjects, where any node (any node in sync, for a change) answers.

import { KindlingError, messageOf } from 'kindling';
import { fromWireError } from '../admin/admin-protocol.js';
import { connectNats, requestOne, type NatsConnection } from '../../src/transport/nats/nats-rpc.js';
import type {
  AdminApplyRequest,
  AdminApplyResult,
  AdminCompaction,
  AdminDeadLetters,
  AdminDeadLettersRequest,
  AdminEntries,
  AdminHistory,
  AdminRedriveRequest,
  AdminRedriveResult,
  AdminRollbackRequest,
  AdminStatus,
} from '../admin/admin-protocol.js';
import type { SocketProbe } from '../admin/admin-client.js';
import { askEveryNode, decodeAnswer } from './cluster-member.js';
import type { ClusterMemberStatus, NodeAnswer } from './cluster-types.js';
import { clusterSubjects, type ClusterSubjects } from './cluster-subjects.js';

/** Where a cluster is: its NATS server, name and subject prefix. */
export interface ClusterAddress {
  readonly nats: string;
  readonly cluster: string;
  readonly prefix?: string;
}

/** Default time a cluster has to answer one request: 30 s (an apply runs through every listener). */
export const DEFAULT_CLUSTER_TIMEOUT_MS = 30_000;
/** How long `status` waits for nodes to answer after the last one did. */
const STATUS_WAIT_MS = 2_000;

const encoder = new TextEncoder();

/**
 * A client of a cluster's registry through NATS. It connects on first use; {@link close} when done.
 *
 * @example
 * const client = new ClusterClient({ nats: 'nats://127.0.0.1:4222', cluster: 'shop' });
 * const nodes = await client.nodes();
 * await client.close();
 */
export class ClusterClient {
  private connection: Promise<NatsConnection> | undefined;
  private readonly subjects: ClusterSubjects;

  constructor(
    readonly address: ClusterAddress,
    private readonly timeoutMs = DEFAULT_CLUSTER_TIMEOUT_MS,
  ) {
    this.subjects = clusterSubjects(address.prefix, address.cluster);
  }

  /** How the CLI names where it looked: `cluster shop on nats://...`. */
  get where(): string {
    return `cluster ${this.address.cluster} on ${this.address.nats}`;
  }

  /** Whether a node of the cluster answers (with its status), or none runs. */
  async probe(): Promise<SocketProbe> {
    try {
      return { state: 'live', status: await this.status() };
    } catch (error) {
      if (KindlingError.is(error) && error.details['notRunning'] === true) return { state: 'none' };
      throw error;
    }
  }

  status(): Promise<AdminStatus> {
    return this.call(this.subjects.read, 'GET /status');
  }

  entries(): Promise<AdminEntries> {
    return this.call(this.subjects.read, 'GET /entries');
  }

  history(): Promise<AdminHistory> {
    return this.call(this.subjects.read, 'GET /history');
  }

  apply(body: AdminApplyRequest): Promise<AdminApplyResult> {
    return this.call(body.dryRun === true ? this.subjects.read : this.subjects.write, 'POST /apply', body);
  }

  rollback(body: AdminRollbackRequest): Promise<AdminApplyResult> {
    return this.call(body.dryRun === true ? this.subjects.read : this.subjects.write, 'POST /rollback', body);
  }

  /** Compacts the cluster's log: a snapshot of the cluster's state replaces the batches up to it. */
  compact(): Promise<AdminCompaction> {
    return this.call(this.subjects.write, 'POST /compact', {});
  }

  /** Dead letters and pending counts of the bus's durable channels, when they are on JetStream (any node reads them). */
  deadLetters(body: AdminDeadLettersRequest): Promise<AdminDeadLetters> {
    return this.call(this.subjects.read, 'POST /dead-letters', body);
  }

  /** Sends dead letters again, through a node in sync with the cluster. */
  redrive(body: AdminRedriveRequest): Promise<AdminRedriveResult> {
    return this.call(this.subjects.write, 'POST /redrive', body);
  }

  /** Every live node's status (those that answer within the time limit), by name. */
  async nodes(): Promise<NodeAnswer<ClusterMemberStatus>[]> {
    return askEveryNode(
      await this.connect(),
      this.subjects.nodes,
      { route: 'GET /status', body: {} },
      { timeoutMs: STATUS_WAIT_MS },
    );
  }

  /** Asks every desynced node to try again to reach the cluster's state; their statuses after. */
  async retry(): Promise<NodeAnswer<ClusterMemberStatus>[]> {
    return askEveryNode(
      await this.connect(),
      this.subjects.nodes,
      { route: 'POST /retry', body: {} },
      { timeoutMs: this.timeoutMs },
    );
  }

  /** Closes the connection, if one was opened. */
  async close(): Promise<void> {
    const connection = await this.connection?.catch(() => undefined);
    await connection?.close().catch(() => undefined);
  }

  private connect(): Promise<NatsConnection> {
    this.connection ??= connectNats(this.address.nats, `kindling cli (cluster ${this.address.cluster})`, {
      reconnect: false,
    }).catch((error: unknown) => {
      throw new KindlingError('UNAVAILABLE', `${messageOf(error)} (is nats-server running?)`, {
        cause: error,
        details: { notRunning: true, nats: this.address.nats },
      });
    });
    return this.connection;
  }

  private async call<T>(subject: string, route: string, body?: unknown): Promise<T> {
    const connection = await this.connect();
    let data: Uint8Array;
    try {
      data = await requestOne(connection, subject, encoder.encode(JSON.stringify({ route, body })), this.timeoutMs);
    } catch (error) {
      if (!(KindlingError.is(error) && error.details['noResponders'] === true)) {
        if (KindlingError.is(error) && error.code === 'TIMEOUT')
          throw new KindlingError('TIMEOUT', `${this.where} did not answer ${route} within ${this.timeoutMs} ms`, {
            cause: error,
          });
        throw error;
      }
      const write = subject === this.subjects.write;
      throw new KindlingError(
        'UNAVAILABLE',
        `${this.where}: ${write ? 'no node of it is in sync to take a change (kindling status shows why)' : 'no node of it is running'}`,
        { details: { notRunning: !write, cluster: this.address.cluster } },
      );
    }
    const answer = decodeAnswer<T>(data);
    if (answer === undefined)
      throw new KindlingError('INTERNAL', `${this.where} answered ${route} with something that is not an answer`);
    if (answer.error !== undefined) throw fromWireError(answer.error);
    return answer.result;
  }
}
