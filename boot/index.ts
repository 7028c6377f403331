// The public surface of `kindling/boot`: explicit named exports only.

export { BootError } from './boot-error.js';
export type { BootErrorOptions, BootPhase, MissingDependency } from './boot-error.js';
export { BootEventName } from './boot-events.js';
export type { BootEvent } from './boot-events.js';
export { BootContext, createContextKey } from './context.js';
export type { BootEnvironment, ContextKey } from './context.js';
export { defineComponent, isComponent } from './component.js';
export type { Component, ComponentOptions } from './component.js';
export { BootLoader, planLevels } from './loader.js';
export type { BootLoaderOptions, BootState, ShutdownReport, SignalOptions, SignalSource, StopFailure } from './loader.js';
export {
  Logger,
  EntryFiles,
  EntryListenerContribution,
  EntryObserverContribution,
  entryListener,
  entryObserver,
  collectHandlers,
  createBootContainer,
} from './container.js';
export { decodeComponentConfig } from './component-config.js';
export type { ComponentConfigInfo } from './component.js';
export type { RegisterOptions } from './loader.js';
export {
  RegistryName,
  EventsName,
  HttpName,
  FunctionName,
  HandlerRegistryKey,
  RegistryKey,
  RegistryEventsKey,
  RegistryJournal,
  getHandlerRegistry,
  getRegistry,
} from './well-known.js';
export { MANIFEST_FILE, ManifestError, loadBootManifest, parseBootManifest, resolveManifestComponents } from './manifest.js';
export type { BootManifest, BootManifestOptions, ManifestComponent, ManifestProblem, ResolvedComponent } from './manifest.js';
export { Application, yamlSourceOf } from './application.js';
export type { ApplicationOptions, ReloadOutcome, WatchOptions } from './application.js';
export { loadBuiltinComponents } from './builtins.js';
export type { BuiltinComponents } from './builtins.js';
export { AdminClient } from './admin-client.js';
export type { AdminClientOptions, SocketProbe } from './admin-client.js';
export type {
  AdminApplyRequest,
  AdminApplyResult,
  AdminCompaction,
  AdminEntries,
  AdminHistory,
  AdminJournalInfo,
  AdminPhase,
  AdminRollbackRequest,
  AdminStatus,
  WireChange,
  WireEntry,
  WireError,
  WireHistoryRecord,
  WireOp,
  WirePosition,
} from './admin-protocol.js';
export { DurableState, EntryOwners } from './durable-state.js';
export { planRegistry, changedPaths } from './plan.js';
export type { ComparableEntry, PlanInput, PlannedChange, RegistryPlan } from './plan.js';
export { statePaths, MAX_SOCKET_PATH_BYTES, STATE_DIR_NAME } from './state-dir.js';
export type { StatePaths } from './state-dir.js';
export { ProcessGuard, stackOf } from './process-guard.js';
export type { FaultAttributor, FaultCounts, FaultOrigin, ProcessGuardOptions } from './process-guard.js';
