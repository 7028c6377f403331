import 'reflect-metadata';
import { IsInt, IsObject, IsOptional, Max, Min } from 'class-validator';
import { DisposableStore, KindlingError, messageOf, quote } from 'kindling';
import type { ConfigValidationResult } from 'kindling';
import { FunctionName, HttpName, RegistryName, defineComponent, getHandlerRegistry } from 'kindling/boot';
import { Functions } from '../function/index.js';
import { HttpManager } from './http-manager.js';
import { parseListenAddress } from './http-config.js';
import { HttpServers } from './http-types.js';
import { HttpEndpointConfig, HttpRouterConfig, HttpServiceConfig } from './http-config.js';
import { HTTP_KINDS, HttpKind } from './kinds.js';

export { HttpServiceConfig, HttpRouterConfig, HttpEndpointConfig } from './http-config.js';
export type { HttpMethodName } from './http-config.js';
export { HttpServers } from './http-types.js';
export type { HttpRequest, HttpResponse, HttpHandler, HttpServerAddress } from './http-types.js';

/** Config of the `http` component in a boot manifest. */
export class HttpComponentConfig {
  /** How long stop (and a moved or deleted service) waits for in-flight requests, in ms. */
  @IsInt()
  @Min(0)
  shutdownGraceMs = 2_000;

  /** Longest value a route parameter matches, in characters (default 100, find-my-way's); a longer one matches no route (404). */
  @IsInt()
  @Min(1)
  @Max(65_536)
  maxParamLength = 100;

  /**
   * Steps the ReDoS check of route regexes may take per regex (default 2 000): a regex it cannot
   * prove safe within them is refused. Raise it for a long regex that is safe.
   */
  @IsInt()
  @Min(100)
  @Max(1_000_000)
  regexCheckSteps = 2_000;

  /**
   * Log lines per minute for one kind of refused request (per service or endpoint, and status;
   * default 10): past it they are counted, and one line at the end of the minute says how many.
   */
  @IsInt()
  @Min(1)
  logLinesPerMinute = 10;

  /**
   * Where this node listens for a service, by `http.service` entry id, over the entry's own `addr`:
   * the registry says what is served, the node says where (three replicas on one machine, each on
   * its own port). `KINDLING_HTTP_LISTEN` (`id=addr,id=addr`) adds to it and wins.
   */
  @IsOptional()
  @IsObject()
  listen?: Record<string, string>;

  validate(): ConfigValidationResult {
    const problems: { path: (string | number)[]; message: string }[] = [];
    for (const [id, addr] of Object.entries(this.listen ?? {})) {
      try {
        if (typeof addr !== 'string') throw new Error('must be a listen address such as "127.0.0.1:8081"');
        parseListenAddress(addr);
      } catch (error) {
        problems.push({ path: ['listen', id], message: messageOf(error) });
      }
    }
    return problems;
  }
}

/**
 * The listen addresses of `KINDLING_HTTP_LISTEN` (`id=addr,id=addr`), over those of the config.
 * Throws `INVALID` naming the pair that is not one.
 */
export function listenAddresses(
  config: Readonly<Record<string, string>> = {},
  env = process.env,
): Record<string, string> {
  const listen: Record<string, string> = { ...config };
  const text = env['KINDLING_HTTP_LISTEN'];
  if (text === undefined || text.trim() === '') return listen;
  for (const pair of text.split(',')) {
    const at = pair.indexOf('=');
    const id = pair.slice(0, at).trim();
    const addr = pair.slice(at + 1).trim();
    if (at <= 0 || addr === '')
      throw new KindlingError(
        'INVALID',
        `KINDLING_HTTP_LISTEN: ${quote(pair.trim())} is not id=addr (such as hello:server=127.0.0.1:8081)`,
      );
    try {
      parseListenAddress(addr);
    } catch (error) {
      throw new KindlingError('INVALID', `KINDLING_HTTP_LISTEN: ${id}: ${messageOf(error)}`);
    }
    listen[id] = addr;
  }
  return listen;
}

const Manager: unique symbol = Symbol('kindling.http.manager');

/**
 * The `http` component: serves the `http.service` (a listening server, default host 127.0.0.1),
 * `http.router` (a server and a path prefix) and `http.endpoint` (a router, a method, a path and the
 * function to call) kinds, with find-my-way routing tables swapped atomically at commit. Binds
 * {@link HttpServers} (the listening addresses) in the container.
 *
 * @example
 * entries:
 *   - { name: server, kind: http.service, addr: "127.0.0.1:8080" }
 *   - { name: api, kind: http.router, server: server, prefix: /api }
 *   - { name: hello, kind: http.endpoint, router: api, method: GET, path: /hello/:name, func: hello }
 */
export const httpComponent = defineComponent({
  name: HttpName,
  dependsOn: [RegistryName, FunctionName],
  configClass: HttpComponentConfig,
  load: (ctx, config) => {
    const functions = ctx.container.get<Functions>(Functions);
    const manager = new HttpManager({
      logger: ctx.logger,
      functions,
      shutdownGraceMs: config.shutdownGraceMs,
      maxParamLength: config.maxParamLength,
      regexCheckSteps: config.regexCheckSteps,
      logLinesPerMinute: config.logLinesPerMinute,
      listen: listenAddresses(config.listen),
    });
    const registrations = new DisposableStore();
    const handlers = getHandlerRegistry(ctx);
    registrations.add(
      handlers.registerListener('http.*', manager, {
        name: 'http',
        kinds: HTTP_KINDS,
        // Decoded by the registry before the manager sees an entry; the manager reads them with entryConfig.
        configs: {
          [HttpKind.service]: HttpServiceConfig,
          [HttpKind.router]: HttpRouterConfig,
          [HttpKind.endpoint]: HttpEndpointConfig,
        },
      }),
    );
    // Refuses deleting a function an endpoint still calls.
    registrations.add(handlers.registerListener('function.*', manager, { name: 'http (function references)' }));
    ctx.container.bind<HttpServers>(HttpServers).toConstantValue(manager);
    ctx.container.bind(Manager).toConstantValue({ manager, registrations });
    return ctx;
  },
  stop: async (ctx) => {
    const { manager, registrations } = ctx.container.get<{ manager: HttpManager; registrations: DisposableStore }>(
      Manager,
    );
    registrations.dispose();
    await manager.stop();
  },
});
