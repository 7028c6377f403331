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
  EntryListenerContribution,
  EntryObserverContribution,
  entryListener,
  entryObserver,
  collectHandlers,
  createBootContainer,
} from './container.js';
