// The public surface of `kindling`: the registry, its handlers, entry config, registry YAML, and the
// errors, logger and disposables they share. The event bus is `kindling/events`, NATS
// `kindling/nats`, the boot system `kindling/boot`. Explicit named exports only.

// Config classes (class-transformer's `@Type`) read decorator metadata: loaded here, so a user of
// decodeEntryConfig never meets "Reflect.getMetadata is not a function".
import 'reflect-metadata';

export { ErrorCode, KindlingError, messageOf, describeThrown } from './common/errors.js';
export type { KindlingErrorOptions } from './common/errors.js';
export { escapeInvisible, quote, show } from './common/visible-text.js';
export { toDisposable, DisposableStore } from './common/disposable.js';
export type { Disposable } from './common/disposable.js';
export { createConsoleLogger, silentLogger, LogThrottle } from './common/logger.js';
export type { Logger, LogLevel, LogFields, ConsoleLoggerOptions, LogThrottleOptions } from './common/logger.js';
export { withinTimeLimit } from './common/time-limit.js';
export { httpTelemetry } from './telemetry/http-telemetry.js';
export { activeTraceIds } from './telemetry/trace-ids.js';
export type { HttpTelemetry, HttpRequestSpan } from './telemetry/http-telemetry.js';
export { FileBoundary } from './common/file-boundary.js';
export type { FileBoundaryOptions } from './common/file-boundary.js';
export { readBoundedFile } from './common/read-bounded-file.js';
export type { BoundedFile, BoundedFileOptions } from './common/read-bounded-file.js';
export { FileAccessError } from './common/file-access-error.js';
export type { FileAccessReason } from './common/file-access-error.js';

export { resolveEntryRef } from './entry/entry-id.js';
export { createEntry, getEntrySource, formatEntryLocation } from './entry/entry.js';
export type { Entry, EntryMeta, EntrySource } from './entry/entry.js';

export { compilePattern, matchKind, matchEventName } from './pattern/kind-pattern.js';
export type { CompiledPattern, PatternDialect } from './pattern/kind-pattern.js';

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
  KindConfig,
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
export type { RegistryJournal } from './registry/registry-journal.js';
export { FileJournal, decodeJournalEntry } from './registry/journal/file-journal.js';
export type {
  FileJournalOptions,
  JournalReadResult,
  JournalEntryState,
  JournalCompaction,
} from './registry/journal/file-journal.js';

export { decodeEntryConfig } from './config/decode-entry-config.js';
export { entryConfig } from './config/entry-config.js';
export { Describe, configSchema } from './config/config-schema.js';
export type { JsonSchema } from './config/config-schema.js';
export { registryFileSchema } from './yaml/registry-schema.js';
export type { RegistryFileSchemaOptions, SchemaKind } from './yaml/registry-schema.js';
export type {
  ConfigClass,
  ConfigProblem,
  ConfigValidationResult,
  DecodeEntryConfigOptions,
} from './config/decode-entry-config.js';
export { ConfigError } from './config/config-error.js';
export type { ConfigErrorInit, ConfigIssue } from './config/config-error.js';

export { loadRegistryYaml, parseRegistryYaml, RegistryYamlCache, RegistryYamlError } from './yaml/registry-yaml.js';
export type {
  LoadedRegistry,
  RegistryYamlProblem,
  RegistryYamlOptions,
  RegistryYamlLimits,
} from './yaml/registry-yaml.js';
export type { YamlReadLimits } from './yaml/yaml-reader.js';
