// The public surface of `kindling`: explicit named exports only.

export { ErrorCode, KindlingError, isKindlingError, errorCodeOf, messageOf, describeThrown } from './common/errors.js';
export { escapeInvisible, quote, show, findInvisible, clipText } from './common/visible-text.js';
export type { KindlingErrorOptions } from './common/errors.js';
export { toDisposable, DisposableStore } from './common/disposable.js';
export type { Disposable } from './common/disposable.js';
export { createConsoleLogger, silentLogger, LogThrottle } from './common/logger.js';
export type { Logger, LogLevel, LogFields, ConsoleLoggerOptions, LogThrottleOptions } from './common/logger.js';
export { deepEqual, deepFreeze } from './common/deep-freeze.js';
export { findInvalidUtf8 } from './common/utf8.js';
export type { Utf8Position } from './common/utf8.js';
export { FileBoundary, DEFAULT_MAX_MODULE_BYTES } from './common/file-boundary.js';
export type { FileBoundaryOptions } from './common/file-boundary.js';
export { readBoundedFile, checkBoundedFile } from './common/read-bounded-file.js';
export type { BoundedFile, BoundedFileOptions, CheckedFile } from './common/read-bounded-file.js';
export { FileAccessError } from './common/file-access-error.js';
export type { FileAccessReason } from './common/file-access-error.js';

export {
  parseEntryId,
  formatEntryId,
  resolveEntryRef,
  assertValidKind,
  isValidNamespace,
  isValidName,
  parseDependency,
} from './entry/entry-id.js';
export type { EntryId } from './entry/entry-id.js';
export { createEntry, getEntrySource, setEntrySource, formatEntryLocation } from './entry/entry.js';
export type { Entry, EntryMeta, EntrySource } from './entry/entry.js';

export { compilePattern, matchKind, matchEventName } from './pattern/kind-pattern.js';
export type { CompiledPattern, PatternDialect } from './pattern/kind-pattern.js';
export { PatternSet } from './pattern/pattern-trie.js';

export { HandlerRegistry } from './handlers/handler-registry.js';
export type {
  EntryListener,
  EntryObserver,
  TransactionListener,
  ListenerContext,
  ObserverContext,
  ListenerOptions,
  ListenerRegistration,
  ObserverRegistration,
} from './handlers/handler-registry.js';

export { Registry } from './registry/registry.js';
export type {
  RegistryOptions,
  RegistryOp,
  EntryInput,
  ApplyOptions,
  ApplyResult,
  ApplyFault,
  RegistryEventSink,
  CommitListener,
} from './registry/registry.js';
export type { RegistryChange, HistoryRecord } from './registry/history.js';
export type { DesyncedListener } from './registry/transaction.js';
export { orderOperations } from './registry/ordering.js';
export { withinTimeLimit } from './common/time-limit.js';
export { FileJournal, foldJournal, decodeJournalEntry, DEFAULT_MAX_RECORD_BYTES, DEFAULT_COMPACT_BYTES } from './registry/journal/file-journal.js';
export type { RegistryJournal } from './registry/journal/registry-journal.js';
export type {
  JournalRecord,
  JournalReadResult,
  JournalEntryState,
  JournalCompaction,
  FileJournalOptions,
} from './registry/journal/file-journal.js';

export { decodeEntryConfig } from './config/decode-entry-config.js';
export type {
  ConfigClass,
  ConfigProblem,
  ConfigValidationResult,
  DecodeEntryConfigOptions,
} from './config/decode-entry-config.js';
export { ConfigError } from './config/config-error.js';
export type { ConfigErrorInit, ConfigIssue } from './config/config-error.js';

export {
  loadRegistryYaml,
  parseRegistryYaml,
  RegistryYamlError,
  DEFAULT_MAX_FILE_BYTES,
  DEFAULT_MAX_DEPTH,
  DEFAULT_MAX_ALIAS_NODES,
  DEFAULT_MAX_EXPANDED_BYTES,
} from './yaml/registry-yaml.js';
export type { LoadedRegistry, RegistryYamlProblem, RegistryYamlOptions, RegistryYamlLimits } from './yaml/registry-yaml.js';
export { inspectYamlDocument } from './yaml/yaml-document-guard.js';
export type { YamlDocumentProblem } from './yaml/yaml-document-guard.js';
export type { YamlReadLimits } from './yaml/yaml-reader.js';

// Event bus (DESIGN.md §8): one core, four faces.
export { EventBus, DefaultEventBus, createEventBus } from './events/event-bus.js';
export type { EventBusOptions, EventBusState, BusListener } from './events/event-bus.js';
export type { EventBusStats } from './events/core/event-core.js';
export { eventNameOf, splitEventName } from './events/core/event-envelope.js';
export type { EventEnvelope, EventTrace, DeliveryMode } from './events/core/event-envelope.js';
export { EventChannel } from './events/core/event-channel.js';
export type { OverflowPolicy, ReceiveResult, ChannelOverflow } from './events/core/event-channel.js';
export { EventSubscription } from './events/core/event-subscription.js';
export type { BufferOptions } from './events/core/event-subscription.js';
export { LocalTransport, SENT } from './events/core/transport.js';
export type { Transport, TransportReceiver, NodeInfo } from './events/core/transport.js';
export { allowEvents, allowAllEvents } from './events/faces/wippy/event-permissions.js';
export type { EventAction, EventPermissionPolicy, EventPermissionRule } from './events/faces/wippy/event-permissions.js';
export { WippyEvents } from './events/faces/wippy/wippy-events.js';
export type { WippyEvent, WippySubscription } from './events/faces/wippy/wippy-events.js';
export { EventContext, Service } from './events/faces/moleculer/service.js';
export type { EmitGroups, EmitOptions, ServiceBroker, ServiceSchema, ServiceEventHandler, ServiceEventDefinition } from './events/faces/moleculer/service.js';
export type {
  ParamsSchema,
  ParamsClass,
  ParamsIssue,
  ShorthandSchema,
  ShorthandRule,
  StandardSchemaV1,
} from './events/faces/moleculer/params-validation.js';
export { GrafanaBus, Query, GRAFANA_SYSTEM } from './events/faces/grafana/grafana-bus.js';
export type { MessageClass, HandlerResult, MessageHandler, GrafanaEventListener } from './events/faces/grafana/grafana-bus.js';
export { EventBroker, makeEvent, decodeEvent, isValidEventType, BROKER_SYSTEM } from './events/faces/broker/event-broker.js';
export type {
  BrokerEvent,
  BrokerHandler,
  EventConsumer,
  ConsumeOptions,
  ResilientPublishOptions,
} from './events/faces/broker/event-broker.js';

export type { Channels, ChannelSendOptions, ChannelMessage, ChannelSubscribeOptions, ChannelSubscription } from './events/core/channels.js';
export type { TransportSlot } from './events/core/transport.js';
