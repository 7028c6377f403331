import { DefaultEventBus, type EventBus, type EventBusOptions } from '../../events/event-bus.js';
import { NatsTransport, type NatsTransportOptions } from './nats-transport.js';

/** Options of {@link createNatsEventBus}: those of the bus, and of its NATS transport. */
export interface NatsEventBusOptions extends Omit<EventBusOptions, 'transport'> {
  /** The NATS transport: the server, the subject prefix, timings and limits. */
  readonly nats: NatsTransportOptions;
}

/**
 * Makes an event bus that spans every node on a NATS server: the same as
 * `createEventBus({ ...options, transport: new NatsTransport(nats) })`, with the bus's logger and
 * log repeat window handed to the transport unless `nats` sets its own.
 *
 * @example
 * const bus = createNatsEventBus({ nodeID: 'api-1', nats: { url: 'nats://127.0.0.1:4222' } });
 * await bus.start(); // UNAVAILABLE naming the URL when NATS cannot be reached
 */
export function createNatsEventBus(options: NatsEventBusOptions): EventBus {
  const { nats, ...bus } = options;
  const transport = new NatsTransport({
    ...(bus.logger === undefined ? {} : { logger: bus.logger }),
    ...(bus.logRepeatWindowMs === undefined ? {} : { logRepeatWindowMs: bus.logRepeatWindowMs }),
    ...nats,
  });
  return new DefaultEventBus({ ...bus, transport });
}
