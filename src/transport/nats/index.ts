// The public surface of `kindling/nats`: the event bus over NATS. The only entry point that loads
// the `nats` client.

export { createNatsEventBus } from './nats-event-bus.js';
export type { NatsEventBusOptions } from './nats-event-bus.js';
export { NatsTransport } from './nats-transport.js';
export type { NatsTransportOptions, NatsTransportStats } from './nats-transport.js';
export { JetStreamChannels } from './durable-channels.js';
export type { ChannelsOptions, DeadLetter } from './durable-channels.js';
export type { PresenceOptions, PresenceStats } from './presence.js';
