import { KindlingError } from 'kindling';
import type { ConfigClass, EntrySource } from 'kindling';
import type { BootContext } from './context.js';

/** What a component's `config` hook learns besides the raw value. */
export interface ComponentConfigInfo {
  readonly component: string;
  /** Where the config was written (a boot manifest), when it came from a file. */
  readonly source: EntrySource | undefined;
}

type MaybePromise<T> = T | Promise<T>;

/** A component as its author writes it (after Wippy's `boot.P`). */
export interface ComponentOptions<C = unknown> {
  /** Unique name, referenced by `dependsOn` and by boot manifests. */
  readonly name: string;
  /** Components that must load (and start) before this one. */
  readonly dependsOn?: readonly string[];
  /**
   * Turns the raw config from the manifest into what `load`, `start` and `stop` receive; throw to
   * refuse it. Without it they receive the raw value (`undefined` when the manifest gave none).
   */
  readonly config?: (raw: unknown, ctx: BootContext, info: ComponentConfigInfo) => C;
  /**
   * A config class (class-validator decorators, field initialisers as defaults): the manifest's
   * config is decoded into a frozen instance with the rules of entry config (`decodeEntryConfig`), and
   * problems point at the manifest's file:line:col. A missing config decodes as `{}`.
   */
  readonly configClass?: ConfigClass<C & object>;
  /** Time limit of `load`; the loader's default (30 s) otherwise. */
  readonly loadTimeoutMs?: number;
  /** Time limit of `start`; the loader's default otherwise. */
  readonly startTimeoutMs?: number;
  /** Time limit of `stop`; the loader's default otherwise. */
  readonly stopTimeoutMs?: number;
  /**
   * Binds services and registers handlers. Returns the context the next components receive (or
   * nothing, to pass the one it got).
   */
  load(ctx: BootContext, config: C): MaybePromise<BootContext | void>;
  /** Begins work (opens sockets, timers...). Runs after every component loaded, in dependency order. */
  start?(ctx: BootContext, config: C): MaybePromise<void>;
  /**
   * Releases what `load` and `start` took. Runs in reverse order for every component that loaded,
   * also when a later component failed and `start` never ran.
   */
  stop?(ctx: BootContext, config: C): MaybePromise<void>;
}

const COMPONENT = Symbol.for('kindling.component');

/** A checked, frozen component definition, ready for {@link BootLoader.register}. */
export interface Component<C = unknown> extends ComponentOptions<C> {
  readonly dependsOn: readonly string[];
  readonly [COMPONENT]: true;
}

const NAME = /^[A-Za-z][\w.-]*$/;

/**
 * Defines a boot component (after Wippy's `boot.New(boot.P{...})`). Checks the name, the dependency list
 * and the hooks up front, so a typo fails where it is written.
 *
 * @example
 * const myservice = defineComponent({
 *   name: 'myservice',
 *   dependsOn: [RegistryName],
 *   load: (ctx) => {
 *     getHandlerRegistry(ctx).registerListener('myservice.*', manager);
 *     return ctx;
 *   },
 * });
 */
export function defineComponent<C = unknown>(options: ComponentOptions<C>): Component<C> {
  const name: unknown = options?.name;
  if (typeof name !== 'string' || !NAME.test(name)) {
    throw new KindlingError('INVALID', `component name must be a word such as "http", got ${JSON.stringify(name)}`);
  }
  const dependsOn: unknown = options.dependsOn ?? [];
  if (!Array.isArray(dependsOn) || dependsOn.some((dep) => typeof dep !== 'string' || dep.length === 0)) {
    throw new KindlingError('INVALID', `component ${name}: dependsOn must be a list of component names`);
  }
  if (typeof options.load !== 'function') {
    throw new KindlingError('INVALID', `component ${name}: load must be a function`);
  }
  if (options.config !== undefined && options.configClass !== undefined) {
    throw new KindlingError('INVALID', `component ${name}: give either config or configClass, not both`);
  }
  for (const hook of ['start', 'stop', 'config', 'configClass'] as const) {
    if (options[hook] !== undefined && typeof options[hook] !== 'function') {
      throw new KindlingError('INVALID', `component ${name}: ${hook} must be a function`);
    }
  }
  for (const limit of ['loadTimeoutMs', 'startTimeoutMs', 'stopTimeoutMs'] as const) {
    const value = options[limit];
    if (value !== undefined && !(Number.isFinite(value) && value > 0)) {
      throw new KindlingError('INVALID', `component ${name}: ${limit} must be a positive number of milliseconds`);
    }
  }
  return Object.freeze({
    ...options,
    name,
    dependsOn: Object.freeze([...(dependsOn as string[])]),
    [COMPONENT]: true as const,
  });
}

/** Whether `value` came from {@link defineComponent}. */
export function isComponent(value: unknown): value is Component {
  return typeof value === 'object' && value !== null && (value as { [COMPONENT]?: unknown })[COMPONENT] === true;
}
