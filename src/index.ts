// The public surface of `kindling`: explicit named exports only.

export { ErrorCode, KindlingError, isKindlingError, errorCodeOf, messageOf } from './common/errors.js';
export type { KindlingErrorOptions } from './common/errors.js';
export { toDisposable, DisposableStore } from './common/disposable.js';
export type { Disposable } from './common/disposable.js';
export { createConsoleLogger, silentLogger } from './common/logger.js';
export type { Logger, LogLevel, LogFields } from './common/logger.js';
export { deepEqual, deepFreeze } from './common/deep-freeze.js';

export { parseEntryId, formatEntryId, resolveEntryRef, assertValidKind, isValidNamespace } from './entry/entry-id.js';
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
export { FileJournal, foldJournal } from './registry/journal.js';
export type { RegistryJournal, JournalRecord, JournalReadResult } from './registry/journal.js';

export { decodeEntryConfig } from './config/decode-entry-config.js';
export type {
  ConfigClass,
  ConfigProblem,
  ConfigValidationResult,
  DecodeEntryConfigOptions,
} from './config/decode-entry-config.js';
export { ConfigError } from './config/config-error.js';
export type { ConfigErrorInit, ConfigIssue } from './config/config-error.js';
