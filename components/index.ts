// The public surface of `kindling/components`: the built-in components a boot manifest can name,
// their config classes and the tokens of the services they bind. Explicit named exports only.

import 'reflect-metadata';
import type { Component } from 'kindling/boot';
import { eventsComponent } from './events/index.js';
import { functionComponent } from './function/index.js';
import { httpComponent } from './http/index.js';
import { reactiveComponent } from './reactive/index.js';
import { registryComponent } from './registry/index.js';

export { eventsComponent, EventsComponentConfig, EventBusKey, getEventBus } from './events/index.js';
export { registryComponent, RegistryComponentConfig } from './registry/index.js';
// The registry component's accessors; the boot kernel defines them (an app reads its registry too).
export { getHandlerRegistry, getRegistry } from 'kindling/boot';
export { functionComponent, FunctionJsConfig, FunctionJsKind, Functions } from './function/index.js';
export type {
  FunctionCaller,
  FunctionContext,
  FunctionEmitOptions,
  FunctionSendOptions,
  LoadedFunction,
} from './function/index.js';
export {
  httpComponent,
  HttpComponentConfig,
  HttpServiceConfig,
  HttpRouterConfig,
  HttpEndpointConfig,
  HttpServers,
} from './http/index.js';
export type { HttpMethodName, HttpRequest, HttpResponse, HttpHandler, HttpServerAddress } from './http/index.js';
export {
  reactiveComponent,
  ReactiveName,
  ReactiveKind,
  ReactiveEntries,
  EventListenerConfig,
  ChannelConsumerConfig,
  TimerIntervalConfig,
  TimerCronConfig,
  TimerCommonConfig,
  OVERLAP_POLICIES,
} from './reactive/index.js';
export type { OverlapPolicy } from './reactive/index.js';

/** The built-in components, by the name a manifest uses. */
// A type alias, not an interface: it must fit `Record<string, Component>`.
export type BuiltinComponents = {
  readonly events: Component;
  readonly registry: Component;
  readonly function: Component;
  readonly http: Component;
  readonly reactive: Component;
};

/**
 * The built-in components by the name a manifest uses: what the `kindling` command hands to
 * `Application.load`, and what a boot assembled in code registers.
 *
 * @example
 * const boot = new BootLoader();
 * boot.register(builtinComponents.events);
 * boot.register(builtinComponents.registry);
 * boot.register(myservice);
 * await boot.start();
 */
export const builtinComponents: BuiltinComponents = Object.freeze({
  events: eventsComponent,
  registry: registryComponent,
  function: functionComponent,
  http: httpComponent,
  reactive: reactiveComponent,
});
