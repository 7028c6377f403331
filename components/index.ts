// The built-in components a boot manifest can name.

import type { BuiltinComponents, Component } from 'kindling/boot';
import { eventsComponent } from './events/index.js';
import { functionComponent } from './function/index.js';
import { httpComponent } from './http/index.js';
import { registryComponent } from './registry/index.js';

export { eventsComponent, EventsComponentConfig, EventBusKey, getEventBus } from './events/index.js';
export { registryComponent, RegistryComponentConfig } from './registry/index.js';
export { functionComponent, FunctionJsConfig, FunctionJsKind, Functions } from './function/index.js';
export type { FunctionContext, LoadedFunction } from './function/index.js';
export {
  httpComponent,
  HttpComponentConfig,
  HttpServiceConfig,
  HttpRouterConfig,
  HttpEndpointConfig,
  HttpServers,
  HTTP_METHODS,
  DEFAULT_HOST,
  parseListenAddress,
  formatUrl,
} from './http/index.js';
export type { HttpMethodName, ListenAddress, HttpRequest, HttpResponse, HttpHandler, HttpServerAddress } from './http/index.js';

/** The built-in components by the name a manifest uses. */
export const builtinComponents: BuiltinComponents = Object.freeze({
  events: eventsComponent as Component,
  registry: registryComponent as Component,
  function: functionComponent as Component,
  http: httpComponent as Component,
});
