import 'reflect-metadata';
import { IsArray, IsInt, IsOptional, IsString, Min } from 'class-validator';
import { DisposableStore, HandlerRegistry, Registry } from 'kindling';
import type { RegistryOptions } from 'kindling';
import {
  EventsName,
  HandlerRegistryKey,
  RegistryEventsKey,
  RegistryJournal,
  RegistryKey,
  RegistryName,
  collectHandlers,
  defineComponent,
} from 'kindling/boot';

/** Config of the `registry` component in a boot manifest. */
export class RegistryComponentConfig {
  /** Kind patterns accepted without a listener (`registry.entry` always is). */
  @IsArray()
  @IsString({ each: true })
  acceptKinds: string[] = [];

  /** Time limit of each listener and observer call, in ms (default 30 000). */
  @IsOptional()
  @IsInt()
  @Min(1)
  listenerTimeoutMs?: number;

  /** How many committed batches history keeps (default 1 000). */
  @IsOptional()
  @IsInt()
  @Min(1)
  historyLimit?: number;

  /** How many changes history keeps, summed over its batches (default 100 000). */
  @IsOptional()
  @IsInt()
  @Min(1)
  historyChangeLimit?: number;

  /** About how many bytes of entries history keeps, estimated as JSON (default 32 MiB). */
  @IsOptional()
  @IsInt()
  @Min(1)
  historyByteLimit?: number;
}

/** Holds what the component registered at start, to release it at stop. */
const Registrations: unique symbol = Symbol('kindling.registry.registrations');

/**
 * The `registry` component: creates the handler registry and the registry, binds both in the
 * container (tokens `HandlerRegistry` and `Registry`), puts them on the context
 * (`getHandlerRegistry(ctx)`, `getRegistry(ctx)`), announces committed changes on the event bus, and
 * at start registers every listener and observer bound in the container under
 * `EntryListenerContribution` / `EntryObserverContribution`. When the container binds a
 * `RegistryJournal` (kindling run with a state directory), every committed batch is written to it.
 *
 * @example
 * # kindling.yaml
 * components:
 *   - events
 *   - name: registry
 *     config: { acceptKinds: [app.note] }
 */
export const registryComponent = defineComponent({
  name: RegistryName,
  dependsOn: [EventsName],
  configClass: RegistryComponentConfig,
  load: (ctx, config) => {
    const handlers = new HandlerRegistry();
    const events = ctx.get(RegistryEventsKey);
    const journal = ctx.container.isBound(RegistryJournal)
      ? ctx.container.get<RegistryJournal>(RegistryJournal)
      : undefined;
    const options: RegistryOptions = {
      handlers,
      acceptKinds: config.acceptKinds,
      logger: ctx.logger,
      ...(events === undefined ? {} : { events }),
      ...(journal === undefined ? {} : { journal, initialRevision: journal.lastRevision ?? 0 }),
      ...(config.listenerTimeoutMs === undefined ? {} : { listenerTimeoutMs: config.listenerTimeoutMs }),
      ...(config.historyLimit === undefined ? {} : { historyLimit: config.historyLimit }),
      ...(config.historyChangeLimit === undefined ? {} : { historyChangeLimit: config.historyChangeLimit }),
      ...(config.historyByteLimit === undefined ? {} : { historyByteLimit: config.historyByteLimit }),
    };
    const registry = new Registry(options);
    ctx.container.bind(HandlerRegistry).toConstantValue(handlers);
    ctx.container.bind(Registry).toConstantValue(registry);
    ctx.container.bind(Registrations).toConstantValue(new DisposableStore());
    return ctx.with(HandlerRegistryKey, handlers).with(RegistryKey, registry);
  },
  start: (ctx) => {
    // Every component has loaded by now, so every ContainerModule that binds handlers is in.
    const store = ctx.container.get<DisposableStore>(Registrations);
    store.add(collectHandlers(ctx.container, ctx.container.get(HandlerRegistry)));
  },
  stop: (ctx) => {
    ctx.container.get<DisposableStore>(Registrations).dispose();
  },
});
