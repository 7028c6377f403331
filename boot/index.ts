// The public surface of `kindling/boot`: the boot kernel (components, the loader, the container,
// the context), apps assembled from a boot manifest, the admin client of a running app, and the
// process guard. The built-in components are `kindling/components`; the CLI is the `kindling`
// command. Explicit named exports only.

// inversify and `@entryListener` read decorator metadata.
import 'reflect-metadata';

export { BootError } from './kernel/boot-error.js';
export type { BootErrorOptions, BootPhase, MissingDependency } from './kernel/boot-error.js';
export { BootEventName } from './kernel/boot-events.js';
export type { BootEvent } from './kernel/boot-events.js';
export { BootContext, createContextKey } from './kernel/context.js';
export type { BootEnvironment, ContextKey } from './kernel/context.js';
export { defineComponent } from './kernel/component.js';
export type { Component, ComponentOptions, ComponentConfigInfo } from './kernel/component.js';
export { BootLoader } from './kernel/loader.js';
export type {
  BootLoaderOptions,
  BootState,
  RegisterOptions,
  ShutdownReport,
  SignalOptions,
  SignalSource,
  StopFailure,
} from './kernel/loader.js';
export {
  Logger,
  EntryFiles,
  EntryListenerContribution,
  EntryObserverContribution,
  entryListener,
  entryObserver,
  collectHandlers,
} from './kernel/container.js';
export {
  RegistryName,
  EventsName,
  HttpName,
  FunctionName,
  HandlerRegistryKey,
  RegistryKey,
  RegistryEventsKey,
  RegistryJournal,
  ClusterNats,
  getHandlerRegistry,
  getRegistry,
} from './kernel/well-known.js';

export { ManifestError, loadBootManifest, parseBootManifest, resolveManifestComponents } from './app/manifest.js';
export type {
  BootManifest,
  BootManifestOptions,
  ManifestComponent,
  ManifestProblem,
  ResolvedComponent,
} from './app/manifest.js';
export { Application } from './app/application.js';
export type { ApplicationOptions, ReloadOutcome } from './app/application.js';
export type { AppWatch, WatchOptions } from './app/app-watch.js';
export { ProcessGuard, stackOf } from './app/process-guard.js';
export type { FaultAttributor, FaultCounts, FaultOrigin, ProcessGuardOptions } from './app/process-guard.js';

export { statePaths } from './state/state-dir.js';
export type { StatePaths } from './state/state-dir.js';

export { AdminClient } from './admin/admin-client.js';
export type { AdminClientOptions, SocketProbe } from './admin/admin-client.js';
export type {
  AdminApplyRequest,
  AdminApplyResult,
  AdminCompaction,
  AdminDeadLetters,
  AdminDeadLettersRequest,
  AdminRedriveRequest,
  AdminRedriveResult,
  AdminEntries,
  AdminHistory,
  AdminJournalInfo,
  AdminPhase,
  AdminRollbackRequest,
  AdminStatus,
  WireChange,
  WireError,
  WireHistoryRecord,
  WireOp,
} from './admin/admin-protocol.js';
export type { WireEntry, WirePosition } from './state/wire-entry.js';
