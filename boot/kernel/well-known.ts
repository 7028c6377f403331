import type {
  HandlerRegistry,
  Registry,
  RegistryEventSink,
  RegistryJournal as RegistryJournalContract,
} from 'kindling';
import type { BootContext } from './context.js';
import { createContextKey } from './context.js';

/** Name of the built-in registry component; depend on it to use the (handler) registry. */
export const RegistryName = 'registry';
/** Name of the built-in events component. */
export const EventsName = 'events';
/** Name of the built-in http component. */
export const HttpName = 'http';
/** Name of the built-in function component. */
export const FunctionName = 'function';

/** Where the registry component puts the handler registry. */
export const HandlerRegistryKey = createContextKey<HandlerRegistry>('handler registry');
/** Where the registry component puts the registry. */
export const RegistryKey = createContextKey<Registry>('registry');
/** Where the events component puts the sink the registry announces its changes to. */
export const RegistryEventsKey = createContextKey<RegistryEventSink>('registry event sink');

/**
 * Where the registry component finds the journal to write each committed batch to (bound in the
 * container by `kindling run` when the app has a state directory; none by default).
 */
export type RegistryJournal = RegistryJournalContract;
/** The container token of {@link RegistryJournal}. */
export const RegistryJournal: unique symbol = Symbol.for('kindling.RegistryJournal');

/**
 * The NATS connection of the app's cluster (the manifest's `cluster:`), bound before the components
 * load when there is one: for a component that must agree with the other nodes (a timer whose tick
 * runs on one node). `connection()` is the `nats` client's `NatsConnection`, typed `unknown` so that
 * these declarations do not load the `nats` typings.
 */
export interface ClusterNats {
  /** The subject prefix of the cluster (default `kindling`). */
  readonly prefix: string;
  connection(): unknown;
}
/** The container token of {@link ClusterNats}. */
export const ClusterNats: unique symbol = Symbol.for('kindling.ClusterNats');

const NEEDS_REGISTRY = `load the "${RegistryName}" component first: add it to dependsOn`;

/**
 * The handler registry of this boot (Wippy's `bootpkg.GetHandlerRegistry(ctx)`). Throws `NOT_FOUND`
 * when the registry component has not loaded yet.
 *
 * @example
 * load: (ctx) => {
 *   getHandlerRegistry(ctx).registerListener('myservice.*', manager);
 *   return ctx;
 * },
 */
export function getHandlerRegistry(ctx: BootContext): HandlerRegistry {
  return ctx.require(HandlerRegistryKey, NEEDS_REGISTRY);
}

/** The registry of this boot. Throws `NOT_FOUND` when the registry component has not loaded yet. */
export function getRegistry(ctx: BootContext): Registry {
  return ctx.require(RegistryKey, NEEDS_REGISTRY);
}
