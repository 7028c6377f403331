import { hostname } from 'node:os';
import type { Disposable } from '../common/disposable.js';
import { KindlingError, messageOf } from '../common/errors.js';
import { createConsoleLogger, type Logger } from '../common/logger.js';
import type { OverflowPolicy } from './core/event-channel.js';
import { EventCore, type EventBusStats } from './core/event-core.js';
import { EventBroker, type ResilientPublishOptions } from './faces/broker/event-broker.js';
import type { EventPermissionPolicy } from './faces/wippy/event-permissions.js';
import { GrafanaBus } from './faces/grafana/grafana-bus.js';
import type { EmitGroups, EmitOptions, Service, ServiceBroker, ServiceSchema } from './faces/moleculer/service.js';
import { ServiceEvents } from './faces/moleculer/service-events.js';
import type { ServiceRegistry } from './faces/moleculer/service-registry.js';
import { unavailableChannels, type Channels } from './core/channels.js';
import type { ChannelEventPublisher, ContextHost } from './channels/channel-context.js';
import { MemoryChannels, type MemoryChannelsOptions } from './channels/memory-channels.js';
import { LocalTransport, type NodeInfo, type Transport, type TransportReceiver } from './core/transport.js';
import { WippyEvents } from './faces/wippy/wippy-events.js';

/** Options of {@link DefaultEventBus}. */
export interface EventBusOptions {
  /** This node's id (default `${hostname}-${pid}`, as Moleculer). */
  readonly nodeID?: string;
  /** Where faults are logged besides `$broker.error` (default: warnings and errors to stderr). */
  readonly logger?: Logger;
  /** The Wippy permission policy of `bus.events` (default: everything allowed). */
  readonly permissions?: EventPermissionPolicy;
  /** The buffer of each buffered subscription, in events (default 1 024). */
  readonly bufferSize?: number;
  /** What a full buffer does (default `drop-oldest`; see {@link OverflowPolicy}). */
  readonly overflow?: OverflowPolicy;
  /**
   * The way to other nodes (default: {@link LocalTransport}, this process only). Over NATS:
   * `new NatsTransport(...)`, or `createNatsEventBus` of `kindling/nats`.
   */
  readonly transport?: Transport;
  /** Retry settings of `broker.resilientPublish`. */
  readonly resilient?: ResilientPublishOptions;
  /**
   * Repeats of a fault (a refused send, a full buffer, a handler failing on every event) within this
   * many ms are counted and logged as one summary line, not once each (default 10 000; 0 logs each).
   * `$broker.error` is still published for every fault.
   */
  readonly logRepeatWindowMs?: number;
  /**
   * Limits of the in-process durable channels (`bus.channels` without a NATS transport); see
   * {@link MemoryChannelsOptions}. A NATS transport has its own (`ChannelsOptions` of `kindling/nats`).
   */
  readonly channels?: MemoryChannelsOptions;
  /**
   * Moleculer's `preferLocal` (default true): over a remote transport, an `emit` from a node that has
   * a member of a group goes to that member, synchronously as in one process, and only the other
   * groups go through the network. False: every group is balanced over all its members on every node.
   */
  readonly preferLocal?: boolean;
}

/** Where a bus is in its life: events flow in `created` and `started`; `stopped` is final. */
export type EventBusState = 'created' | 'starting' | 'started' | 'stopping' | 'stopped';

/** A listener of {@link EventBus.on}: the payload and the name it was published under. */
export type BusListener = (payload: unknown, eventName: string) => unknown;

/**
 * The event bus: one core — one envelope, one pattern trie with a lookup cache, one
 * delivery loop — and four faces over it.
 * - Moleculer, at the top level: `createService`, `emit`, `broadcast`, `broadcastLocal`,
 *   `start` / `stop` (`$broker.started` / `$broker.stopped`), and `on` for a bare listener.
 * - Wippy: `events.send` / `events.subscribe`; `send` is also on the top level, so the
 *   bus itself is the registry's event sink.
 * - Grafana's bus: `grafana.publish` / `dispatch`.
 * - Go event broker: `broker.publish` / `resilientPublish` / `consume` / `subscribe`.
 *
 * Every event is named `${system}.${kind}` on the core: a Wippy `send('registry', 'entry.create',
 * id)` is the Moleculer event `registry.entry.create`; a Moleculer `emit('user.created')` is system
 * `user`, kind `created` for a Wippy subscriber; Grafana events are `grafana.<Class>`; broker events
 * `broker.<type>`. Bind it in inversify under the {@link EventBus} token.
 *
 * @example
 * const bus = new DefaultEventBus({ nodeID: 'node-1' });
 * bus.createService({ name: 'mail', events: { 'user.created'(ctx) { welcome(ctx.params) } } });
 * await bus.start();
 * bus.emit('user.created', { id: 'taylor' });
 */
export interface EventBus extends ServiceBroker {
  readonly state: EventBusState;
  /** The Wippy face. */
  readonly events: WippyEvents;
  /** The Grafana face. */
  readonly grafana: GrafanaBus;
  /** The Go event-broker face. */
  readonly broker: EventBroker;
  /**
   * Durable channels (at-least-once, consumer groups, retries with backoff, per-key order, dead letters
   * and their re-drive): in this process by default, on NATS JetStream with a NATS transport (from
   * `start()` on). Both keep the same contract.
   */
  readonly channels: Channels;
  /** The other nodes this node knows (NATS presence); empty in-process. */
  nodes(): readonly NodeInfo[];
  /** Wippy `send` (the registry's sink): see {@link WippyEvents.send}. */
  send(system: string, kind: string, path: string, data?: unknown): Promise<void>;
  /** Calls `listener` for every event whose name matches the event-dialect `pattern`; dispose to stop. */
  on(pattern: string, listener: BusListener): Disposable;
  /** Connects the transport, starts the services, then broadcasts `$broker.started`. */
  start(): Promise<void>;
  /** Stops the services, broadcasts `$broker.stopped`, closes every subscription; final. */
  stop(): Promise<void>;
  stats(): EventBusStats;
}

/** The inversify token of the {@link EventBus} service. */
export const EventBus: unique symbol = Symbol.for('kindling.EventBus');

/**
 * The event bus: the one implementation of {@link EventBus}, in-process by default and spanning nodes
 * through a remote {@link Transport}. Events flow from construction (no `start` needed to publish);
 * `stop` is final.
 *
 * @example
 * const bus = new DefaultEventBus({ nodeID: 'api-1', bufferSize: 256, overflow: 'drop-oldest' });
 * const registry = new Registry({ handlers, events: bus });
 * const sub = bus.events.subscribe('registry');
 */
export class DefaultEventBus implements EventBus, AsyncDisposable {
  readonly nodeID: string;
  readonly events: WippyEvents;
  readonly grafana: GrafanaBus;
  readonly broker: EventBroker;
  private readonly core: EventCore;
  private readonly moleculer: ServiceEvents;
  private readonly transport: Transport;
  /** The in-process channels, when the transport has none of its own. */
  private readonly memoryChannels: MemoryChannels | undefined;
  private readonly channelEvents: ChannelEventPublisher;
  private currentState: EventBusState = 'created';
  private starting: Promise<void> | undefined;
  private stopping: Promise<void> | undefined;

  constructor(options: EventBusOptions = {}) {
    const bufferSize = options.bufferSize ?? 1024;
    if (!Number.isInteger(bufferSize) || bufferSize < 1) {
      throw new KindlingError('INVALID', `bufferSize must be a positive integer, got ${String(bufferSize)}`, {
        details: { bufferSize },
      });
    }
    const overflow = options.overflow ?? 'drop-oldest';
    if (!['drop-oldest', 'drop-newest', 'error'].includes(overflow)) {
      throw new KindlingError(
        'INVALID',
        `overflow must be drop-oldest, drop-newest or error, got ${String(overflow)}`,
        {
          details: { overflow },
        },
      );
    }
    this.nodeID = options.nodeID ?? `${hostname().toLowerCase()}-${process.pid}`;
    this.transport = options.transport ?? new LocalTransport();
    this.core = new EventCore({
      nodeID: this.nodeID,
      logger: options.logger ?? createConsoleLogger('warn', 'kindling:events'),
      transport: this.transport,
      bufferSize,
      overflow,
      ...(options.logRepeatWindowMs === undefined ? {} : { logRepeatWindowMs: options.logRepeatWindowMs }),
      ...(options.preferLocal === undefined ? {} : { preferLocal: options.preferLocal }),
    });
    this.events = new WippyEvents(this.core, options.permissions);
    this.grafana = new GrafanaBus(this.core);
    this.broker = new EventBroker(this.core, options.resilient);
    const transport = this.transport;
    this.moleculer = new ServiceEvents(
      this.core,
      this,
      transport.updateNodeInfo === undefined ? undefined : (services) => transport.updateNodeInfo?.({ services }),
    );
    this.channelEvents = {
      emit: (name, payload, o) => this.moleculer.followUp(name, payload, 'emit', o),
      broadcast: (name, payload, o) => this.moleculer.followUp(name, payload, 'broadcast', o),
      broadcastLocal: (name, payload, o) => this.moleculer.followUp(name, payload, 'broadcastLocal', o),
    };
    // A transport that can carry channels declares `openChannels` (undefined until it has them).
    if (!('openChannels' in this.transport)) {
      this.memoryChannels = new MemoryChannels({
        nodeID: this.nodeID,
        logger: this.core.logger,
        ...(options.channels === undefined ? {} : { options: options.channels }),
      });
      this.memoryChannels.attachEvents(this.channelEvents);
    }
  }

  get state(): EventBusState {
    return this.currentState;
  }

  get channels(): Channels {
    if (this.memoryChannels !== undefined) return this.memoryChannels;
    if (this.currentState === 'stopped') return unavailableChannels('stopped');
    const open = this.transport.openChannels;
    if (open !== undefined) {
      if (typeof (open as Partial<ContextHost>).attachEvents === 'function')
        (open as unknown as ContextHost).attachEvents(this.channelEvents);
      return open;
    }
    return unavailableChannels(this.currentState === 'started' ? 'no-jetstream' : 'not-started');
  }

  nodes(): readonly NodeInfo[] {
    return this.transport.nodes?.() ?? [];
  }

  send(system: string, kind: string, path: string, data?: unknown): Promise<void> {
    return this.events.send(system, kind, path, data);
  }

  on(pattern: string, listener: BusListener): Disposable {
    return this.core.subscribe({ pattern, needsEnvelope: false, deliver: listener });
  }

  // The hot path goes straight to the core; options need the Moleculer face's envelope fields.
  emit(name: string, payload?: unknown, options?: EmitGroups | EmitOptions): void {
    if (options === undefined) this.core.emit(name, payload);
    else this.moleculer.emit(name, payload, options);
  }

  broadcast(name: string, payload?: unknown, options?: EmitGroups | EmitOptions): void {
    if (options === undefined) this.core.broadcast(name, payload);
    else this.moleculer.broadcast(name, payload, options);
  }

  broadcastLocal(name: string, payload?: unknown, options?: EmitGroups | EmitOptions): void {
    if (options === undefined) this.core.broadcastLocal(name, payload);
    else this.moleculer.broadcastLocal(name, payload, options);
  }

  createService(schema: ServiceSchema): Service {
    return this.moleculer.createService(schema);
  }

  destroyService(service: Service): Promise<void> {
    return this.moleculer.destroyService(service);
  }

  services(): readonly Service[] {
    return this.moleculer.list();
  }

  get registry(): ServiceRegistry {
    return this.moleculer.catalog;
  }

  start(): Promise<void> {
    if (this.starting !== undefined) return this.starting;
    if (this.currentState !== 'created') {
      return Promise.reject(
        new KindlingError(
          'UNAVAILABLE',
          `the event bus of node ${this.nodeID} is ${this.currentState}; it cannot start again`,
        ),
      );
    }
    this.starting = this.doStart();
    return this.starting;
  }

  stop(): Promise<void> {
    this.stopping ??= this.doStop(true);
    return this.stopping;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }

  stats(): EventBusStats {
    return this.core.stats();
  }

  /** The core as the transport's receiver, with node news also feeding the service catalogue. */
  private receiver(): TransportReceiver {
    const core = this.core;
    const catalog = this.moleculer.catalog;
    return {
      deliver: core.deliver.bind(core),
      deliverToSlot: core.deliverToSlot.bind(core),
      internal: core.internal.bind(core),
      nodeConnected(node, reconnected) {
        core.nodeConnected(node, reconnected);
        catalog.nodeSeen(node);
      },
      nodeUpdated(node) {
        core.nodeUpdated(node);
        catalog.nodeSeen(node);
      },
      nodeDisconnected(node, unexpected) {
        catalog.nodeLeft(node);
        core.nodeDisconnected(node, unexpected);
      },
    };
  }

  private async doStart(): Promise<void> {
    this.currentState = 'starting';
    try {
      await this.transport.connect(this.nodeID, this.receiver());
      await this.moleculer.startAll();
    } catch (error) {
      // Stop what did start; `stop()` itself would wait for this very start.
      this.stopping ??= this.doStop(false);
      await this.stopping;
      throw error;
    }
    if (this.currentState !== 'starting') return;
    this.currentState = 'started';
    this.core.internal('$broker.started', undefined);
  }

  private async doStop(afterStart: boolean): Promise<void> {
    if (afterStart && this.starting !== undefined) await this.starting.catch(() => undefined);
    this.currentState = 'stopping';
    await this.moleculer.stopAll();
    await this.memoryChannels?.close();
    this.core.internal('$broker.stopped', undefined);
    this.broker.close();
    this.core.close();
    try {
      await this.transport.disconnect();
    } catch (error) {
      this.core.logger.error(`the transport of node ${this.nodeID} failed to disconnect: ${messageOf(error)}`);
    }
    this.currentState = 'stopped';
  }
}

/**
 * Makes an event bus; the same as `new DefaultEventBus(options)`, typed as the {@link EventBus} service.
 *
 * @example
 * container.bind<EventBus>(EventBus).toConstantValue(createEventBus({ nodeID: 'api-1' }));
 */
export function createEventBus(options: EventBusOptions = {}): EventBus {
  return new DefaultEventBus(options);
}
