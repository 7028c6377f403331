// The public surface of `kindling/events`: the event bus — one core, four faces (Moleculer, Wippy,
// Grafana, the Go event broker) — and the transport seam. In-process only: NATS is `kindling/nats`.
// Explicit named exports only.

// Moleculer `params` classes are validated with class-validator, whose decorators carry metadata.
import 'reflect-metadata';

export { EventBus, DefaultEventBus, createEventBus } from './event-bus.js';
export type { EventBusOptions, EventBusState, BusListener } from './event-bus.js';
export type { EventBusStats } from './core/event-core.js';
export type { EventEnvelope, EventTrace, DeliveryMode } from './core/event-envelope.js';
// Classes the bus hands out (channels, subscriptions, faces, contexts) are types: only the bus makes them.
export type { EventChannel } from './core/event-channel.js';
export type { OverflowPolicy, ReceiveResult, ChannelOverflow } from './core/event-channel.js';
export type { EventSubscription } from './core/event-subscription.js';
export type { BufferOptions } from './core/event-subscription.js';
export { LocalTransport, SENT } from './core/transport.js';
export type { Transport, TransportReceiver, TransportSlot, NodeInfo } from './core/transport.js';
export type {
  Channels,
  ChannelSendOptions,
  ChannelMessage,
  ChannelContext,
  ChannelEmitOptions,
  ChannelParent,
  ChannelPending,
  ChannelSubscribeOptions,
  ChannelSubscription,
  DeadLetter,
  RedriveFilter,
  RedriveResult,
} from './core/channels.js';
export { MemoryChannels } from './channels/memory-channels.js';
export type { MemoryChannelsOptions, MemoryChannelsInit } from './channels/memory-channels.js';

// Moleculer: services, emit / broadcast / broadcastLocal, context-based handlers.
export type { EventContext, Service } from './faces/moleculer/service.js';
export type {
  EmitGroups,
  EmitOptions,
  ServiceBroker,
  ServiceSchema,
  ServiceEventHandler,
  ServiceEventDefinition,
} from './faces/moleculer/service.js';
export type {
  ParamsSchema,
  ParamsClass,
  ParamsIssue,
  ShorthandSchema,
  ShorthandRule,
  StandardSchemaV1,
} from './faces/moleculer/params-validation.js';
export type {
  ServiceRegistry,
  ServiceListItem,
  ServiceListOptions,
  NodeListItem,
  NodeListOptions,
  CatalogService,
  CatalogEvent,
} from './faces/moleculer/service-registry.js';
export { BROKER_ERROR_TYPES } from './faces/moleculer/service-events.js';

// Wippy: send / subscribe with channels, and permissions per system.
export type { WippyEvents } from './faces/wippy/wippy-events.js';
export type { WippyEvent, WippySubscription } from './faces/wippy/wippy-events.js';
export { allowEvents, allowAllEvents } from './faces/wippy/event-permissions.js';
export type { EventAction, EventPermissionPolicy, EventPermissionRule } from './faces/wippy/event-permissions.js';

// Grafana: events, commands and queries by class.
export { Query, GRAFANA_SYSTEM } from './faces/grafana/grafana-bus.js';
export type { GrafanaBus } from './faces/grafana/grafana-bus.js';
export type { MessageClass, HandlerResult, MessageHandler, GrafanaEventListener } from './faces/grafana/grafana-bus.js';

// The Go event broker: publish, resilientPublish, consume, subscribe.
export { makeEvent, decodeEvent, isValidEventType, BROKER_SYSTEM } from './faces/broker/event-broker.js';
export type { EventBroker } from './faces/broker/event-broker.js';
export type {
  BrokerEvent,
  BrokerHandler,
  EventConsumer,
  ConsumeOptions,
  ResilientPublishOptions,
} from './faces/broker/event-broker.js';
