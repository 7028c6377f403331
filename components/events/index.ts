import 'reflect-metadata';
import { Type } from 'class-transformer';
import { IsBoolean, IsIn, IsInt, IsOptional, IsString, Min, ValidateNested } from 'class-validator';
import { messageOf } from 'kindling';
import { EventBus, createEventBus } from 'kindling/events';
import type { Disposable } from 'kindling';
import type { EventBusOptions } from 'kindling/events';
import { EventsName, RegistryEventsKey, createContextKey, defineComponent } from 'kindling/boot';
import type { BootContext, BootEvent } from 'kindling/boot';

/** The NATS part of the `events` config: with a URL, the bus spans every node on that server. */
export class EventsNatsConfig {
  /** The NATS server, e.g. `nats://127.0.0.1:4222` (`KINDLING_NATS_URL` when omitted). */
  @IsOptional()
  @IsString()
  url?: string;

  /** The subject prefix (default `kindling`). */
  @IsOptional()
  @IsString()
  prefix?: string;

  /**
   * At most this many consecutive events of one subject sent in one turn travel as one NATS message
   * (default 32; 1: a message per event, which nodes of earlier versions need).
   */
  @IsOptional()
  @IsInt()
  @Min(1)
  maxBatch?: number;

  /** A received event message larger than this many bytes is refused as undecodable (default 1 048 576). */
  @IsOptional()
  @IsInt()
  @Min(1)
  maxMessageBytes?: number;

  /** A received event name longer than this many characters is refused as undecodable (default 1 024). */
  @IsOptional()
  @IsInt()
  @Min(1)
  maxNameLength?: number;

  /** At most this many other nodes are tracked from presence (default 1 000). */
  @IsOptional()
  @IsInt()
  @Min(1)
  maxNodes?: number;

  /** A presence message larger than this many bytes is refused (default 16 384). */
  @IsOptional()
  @IsInt()
  @Min(1)
  maxPresenceBytes?: number;

  /** A presence hello is answered at most once per this many ms (default 1 000). */
  @IsOptional()
  @IsInt()
  @Min(0)
  helloReplyIntervalMs?: number;

  /** The durable channel stream holds at most this many messages; past it a send is refused (default 1 000 000). */
  @IsOptional()
  @IsInt()
  @Min(1)
  channelMaxMessages?: number;

  /** The durable channel stream holds at most this many bytes; past it a send is refused (default 1 GiB). */
  @IsOptional()
  @IsInt()
  @Min(1)
  channelMaxBytes?: number;

  /** How long the channel stream keeps a message, in ms (default 0: until a count or size limit). */
  @IsOptional()
  @IsInt()
  @Min(0)
  channelMaxAgeMs?: number;

  /** The dead-letter stream keeps at most this many messages per channel and of undecodable events, dropping the oldest (default 10 000). */
  @IsOptional()
  @IsInt()
  @Min(1)
  deadLetterMaxMessages?: number;

  /** The dead-letter stream holds at most this many bytes, dropping the oldest (default 256 MiB). */
  @IsOptional()
  @IsInt()
  @Min(1)
  deadLetterMaxBytes?: number;

  /** How long the dead-letter stream keeps a message, in ms (default 7 days). */
  @IsOptional()
  @IsInt()
  @Min(0)
  deadLetterMaxAgeMs?: number;

  /** At most this many undecodable messages are being dead-lettered at a time; the rest of a flood is counted (default 64). */
  @IsOptional()
  @IsInt()
  @Min(1)
  deadLetterMaxPending?: number;

  /** An undecodable message is dead-lettered cut to this many bytes (default 65 536). */
  @IsOptional()
  @IsInt()
  @Min(0)
  deadLetterBodyBytes?: number;
}

/** The limits of {@link EventsNatsConfig} handed to the NATS transport as they are. */
const NATS_LIMITS = [
  'maxMessageBytes',
  'maxNameLength',
  'maxNodes',
  'maxPresenceBytes',
  'helloReplyIntervalMs',
  'channelMaxMessages',
  'channelMaxBytes',
  'channelMaxAgeMs',
  'deadLetterMaxMessages',
  'deadLetterMaxBytes',
  'deadLetterMaxAgeMs',
  'deadLetterMaxPending',
  'deadLetterBodyBytes',
] as const;

/** Config of the `events` component in a boot manifest. */
export class EventsComponentConfig {
  /** Spans nodes over NATS; `KINDLING_NATS_URL` does the same without config. */
  @IsOptional()
  @ValidateNested()
  @Type(() => EventsNatsConfig)
  nats?: EventsNatsConfig;

  /** This node's id (default `${hostname}-${pid}`). */
  @IsOptional()
  @IsString()
  nodeID?: string;

  /** The buffer of each buffered subscription, in events (default 1 024). */
  @IsOptional()
  @IsInt()
  @Min(1)
  bufferSize?: number;

  /** What a full buffer does (default drop-oldest). */
  @IsOptional()
  @IsIn(['drop-oldest', 'drop-newest', 'error'])
  overflow?: 'drop-oldest' | 'drop-newest' | 'error';

  /**
   * Moleculer's `preferLocal` (default true): over NATS, an `emit` from a node that has a member of
   * a group is handled by that member, on this node; false balances every emit across all nodes.
   */
  @IsOptional()
  @IsBoolean()
  preferLocal?: boolean;

  /** Repeats of a bus or transport fault within this many ms are counted and logged as one line (default 10 000; 0 logs each). */
  @IsOptional()
  @IsInt()
  @Min(0)
  logRepeatWindowMs?: number;
}

/**
 * The NATS side of a bus that spans nodes: its connection (once the bus has started) and subject
 * prefix. Bound in the container under {@link BusNats} only when the bus runs over NATS; components
 * that keep shared state on JetStream (the timers' tick claims) use it rather than a connection of
 * their own.
 */
export interface BusNats {
  /** The subject prefix of the bus (default `kindling`). */
  readonly prefix: string;
  /**
   * The `nats` client's `NatsConnection`; `undefined` before the bus has started. Typed `unknown`
   * so that these declarations do not load the `nats` typings: the user casts it.
   */
  connection(): unknown;
}
/** The container token of {@link BusNats}. */
export const BusNats: unique symbol = Symbol.for('kindling.BusNats');

/** Where the events component puts the bus. */
export const EventBusKey = createContextKey<EventBus>('event bus');

/** The event bus of this boot. Throws `NOT_FOUND` when the events component has not loaded. */
export function getEventBus(ctx: BootContext): EventBus {
  return ctx.require(EventBusKey, `load the "${EventsName}" component first: add it to dependsOn`);
}

const Forwarding: unique symbol = Symbol('kindling.events.boot-forwarding');

/**
 * The `events` component: creates the event bus (in-process, or over NATS when a URL is configured:
 * only then is `kindling/nats` loaded), binds it under the `EventBus` token, hands it to the registry as its sink (so `registry.entry.*` events flow), and
 * re-publishes the loader's `$boot.*` events on it with `broadcastLocal`.
 *
 * @example
 * # kindling.yaml
 * components:
 *   - name: events
 *     config: { nodeID: api-1 }
 */
export const eventsComponent = defineComponent({
  name: EventsName,
  configClass: EventsComponentConfig,
  load: async (ctx, config) => {
    const options: EventBusOptions = {
      logger: ctx.logger,
      ...(config.nodeID === undefined ? {} : { nodeID: config.nodeID }),
      ...(config.bufferSize === undefined ? {} : { bufferSize: config.bufferSize }),
      ...(config.overflow === undefined ? {} : { overflow: config.overflow }),
      ...(config.preferLocal === undefined ? {} : { preferLocal: config.preferLocal }),
      ...(config.logRepeatWindowMs === undefined ? {} : { logRepeatWindowMs: config.logRepeatWindowMs }),
    };
    const natsURL = config.nats?.url ?? process.env['KINDLING_NATS_URL'];
    let bus: EventBus;
    if (natsURL === undefined || natsURL === '') bus = createEventBus(options);
    else {
      const nats = await natsEventBus(options, natsURL, config.nats);
      bus = nats.bus;
      ctx.container.bind<BusNats>(BusNats).toConstantValue(nats.link);
    }
    ctx.container.bind<EventBus>(EventBus).toConstantValue(bus);
    const forwarding = ctx.onBootEvent((event) => forward(ctx, bus, event));
    ctx.container.bind<Disposable>(Forwarding).toConstantValue(forwarding);
    return ctx.with(EventBusKey, bus).with(RegistryEventsKey, bus);
  },
  start: async (ctx) => {
    await ctx.container.get<EventBus>(EventBus).start();
  },
  stop: async (ctx) => {
    ctx.container.get<Disposable>(Forwarding).dispose();
    await ctx.container.get<EventBus>(EventBus).stop();
  },
});

/** A bus over NATS: `kindling/nats`, and with it the `nats` client, is loaded only here. */
async function natsEventBus(
  options: EventBusOptions,
  url: string,
  nats: EventsNatsConfig | undefined,
): Promise<{ bus: EventBus; link: BusNats }> {
  const { NatsTransport } = await import('kindling/nats');
  // What createNatsEventBus does, keeping the transport: its connection serves BusNats.
  const transport = new NatsTransport({
    ...(options.logger === undefined ? {} : { logger: options.logger }),
    ...(options.logRepeatWindowMs === undefined ? {} : { logRepeatWindowMs: options.logRepeatWindowMs }),
    url,
    ...(nats?.prefix === undefined ? {} : { prefix: nats.prefix }),
    ...(nats?.maxBatch === undefined ? {} : { maxBatch: nats.maxBatch }),
    ...limitsOf(nats),
  });
  const bus = createEventBus({ ...options, transport });
  return { bus, link: { prefix: transport.prefix, connection: () => transport.connection } };
}

function limitsOf(nats: EventsNatsConfig | undefined): Partial<Record<(typeof NATS_LIMITS)[number], number>> {
  const limits: Partial<Record<(typeof NATS_LIMITS)[number], number>> = {};
  for (const name of NATS_LIMITS) {
    const value = nats?.[name];
    if (value !== undefined) limits[name] = value;
  }
  return limits;
}

function forward(ctx: BootContext, bus: EventBus, event: BootEvent): void {
  if (bus.state === 'stopping' || bus.state === 'stopped') return;
  const { name, error, ...rest } = event;
  try {
    bus.broadcastLocal(name, error === undefined ? rest : { ...rest, error: messageOf(error) });
  } catch (caught) {
    ctx.logger.warn(`could not publish ${name} on the event bus: ${messageOf(caught)}`);
  }
}
