import { connect, Events, type NatsConnection } from 'nats';
import { KindlingError, messageOf } from '../../common/errors.js';
import type { Logger } from '../../common/logger.js';
import type { NatsTransportOptions } from './transport-options.js';

/**
 * The bytes nats.js holds before it writes them to the socket in the middle of a turn (its hidden
 * `pendingLimit`, 32 KiB by default; the end of a turn writes whatever is held anyway). A turn that
 * sends a thousand 128-byte events is ~140 KB: one write instead of five, which saves ~0.1 µs of
 * kernel time an event on loopback.
 */
const PENDING_LIMIT = 256 * 1024;

/** What a {@link NatsLink} tells its transport about the connection. */
export interface LinkEvents {
  /** The connection dropped; nats.js is reconnecting. */
  disconnected(): void;
  /** The connection is back (subscriptions are on the server again). */
  reconnected(): void;
}

/**
 * The connection of a transport and its status: opens it (refusing with `UNAVAILABLE` naming the
 * URL), follows its disconnects and reconnects, says whether a send can go out now, logs each
 * (re)connect, and drains it at the end.
 */
export class NatsLink {
  private nc: NatsConnection | undefined;
  private up = false;
  private statusLoop: Promise<void> | undefined;
  private statusStop: (() => void) | undefined;

  constructor(
    /** The server(s) as configured, joined with commas. */
    readonly url: string,
    private readonly logger: Logger,
  ) {}

  /** The open connection; `undefined` before connect and after disconnect. */
  get connection(): NatsConnection | undefined {
    return this.nc;
  }

  /** Whether the connection is open and not reconnecting. */
  get connected(): boolean {
    return this.up;
  }

  /** Opens the connection as `nodeID` and starts following its status. */
  async open(options: NatsTransportOptions, nodeID: string, events: LinkEvents): Promise<NatsConnection> {
    let nc: NatsConnection;
    try {
      nc = await connect({
        servers: typeof options.url === 'string' ? options.url : [...options.url],
        name: nodeID,
        reconnect: true,
        maxReconnectAttempts: -1,
        reconnectTimeWait: options.reconnectTimeWaitMs ?? 500,
        timeout: options.connectTimeoutMs ?? 5000,
        // Not in ConnectionOptions' type, read by nats.js all the same.
        ...({ pendingLimit: PENDING_LIMIT } as object),
      });
    } catch (error) {
      throw new KindlingError(
        'UNAVAILABLE',
        `cannot connect to NATS at ${this.url}: ${messageOf(error)}; is nats-server running there?`,
        {
          cause: error,
          retryable: true,
          details: { url: this.url },
        },
      );
    }
    this.nc = nc;
    this.up = true;
    this.statusLoop = this.watchStatus(nc, events);
    return nc;
  }

  /**
   * The refusal of a send while the connection cannot take one (not connected, reconnecting,
   * `settling` after a reconnect, closed or draining), or `undefined` when it can.
   */
  refusal(settling: boolean): Promise<void> | undefined {
    const nc = this.nc;
    if (nc === undefined || !this.up || settling) {
      return Promise.reject(
        this.unavailable(nc === undefined ? 'the transport is not connected' : 'NATS is reconnecting'),
      );
    }
    // What nc.publish would throw, known now rather than when a batch leaves.
    if (nc.isClosed() || nc.isDraining())
      return Promise.reject(this.unavailable(`the NATS connection is ${nc.isClosed() ? 'closed' : 'draining'}`));
    return undefined;
  }

  /** `UNAVAILABLE` (retryable) naming the URL. */
  unavailable(reason: string, cause?: unknown): KindlingError {
    return new KindlingError('UNAVAILABLE', `NATS at ${this.url}: ${reason}`, {
      retryable: true,
      details: { url: this.url },
      ...(cause === undefined ? {} : { cause }),
    });
  }

  /** One info line per (re)connect: which server, as which node, with or without JetStream. */
  logConnected(what: 'connected' | 'reconnected', nodeID: string, jetStream: boolean): void {
    const server = this.nc?.getServer() ?? this.url;
    // nats.js names the server host:port; give it the scheme the configured URL used.
    const scheme = /^[a-z]+:\/\//i.exec(this.url)?.[0] ?? 'nats://';
    const at = /^[a-z]+:\/\//i.test(server) ? server : `${scheme}${server}`;
    this.logger.info(`${what} to NATS at ${at} as node ${nodeID} (JetStream: ${jetStream ? 'on' : 'off'})`, {
      url: at,
      nodeID,
    });
  }

  /** Forgets the connection (sends are refused from now on) and returns it, for {@link close}. */
  detach(): NatsConnection | undefined {
    const nc = this.nc;
    this.nc = undefined;
    return nc;
  }

  /** Drains a detached connection (closes it when draining fails) and stops following its status. */
  async close(nc: NatsConnection): Promise<void> {
    try {
      if (!nc.isClosed()) await nc.drain();
    } catch (error) {
      this.logger.warn(`draining the NATS connection to ${this.url} failed: ${messageOf(error)}`);
      await nc.close().catch(() => undefined);
    }
    // The status iterator does not end by itself when the connection closes.
    this.statusStop?.();
    await this.statusLoop;
    this.up = false;
  }

  private async watchStatus(nc: NatsConnection, events: LinkEvents): Promise<void> {
    const statuses = nc.status();
    this.statusStop = () => (statuses as unknown as { stop(): void }).stop();
    for await (const status of statuses) {
      if (status.type === Events.Disconnect) {
        this.up = false;
        events.disconnected();
      } else if (status.type === Events.Reconnect) {
        this.up = true;
        events.reconnected();
      }
    }
  }
}
