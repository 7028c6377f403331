import { Container } from 'inversify';
import { KindlingError, messageOf, silentLogger, toDisposable, withinTimeLimit } from 'kindling';
import type { Disposable, EntrySource, ErrorCode, Logger } from 'kindling';
import { BootError } from './boot-error.js';
import type { MissingDependency } from './boot-error.js';
import { BootEventName } from './boot-events.js';
import type { BootEvent } from './boot-events.js';
import { decodeComponentConfig } from './component-config.js';
import { defineComponent, isComponent } from './component.js';
import type { Component, ComponentOptions } from './component.js';
import { createBootContainer } from './container.js';
import { shortestCycleThrough, stronglyConnected } from '../../src/registry/graph.js';
import { BootContext } from './context.js';

/** Options of a {@link BootLoader}. */
export interface BootLoaderOptions {
  /** Where the loader and the components log; silent by default. */
  readonly logger?: Logger;
  /** The inversify container; a fresh singleton-scoped one by default. */
  readonly container?: Container;
  /** The directory relative paths resolve against; the working directory by default. */
  readonly baseDir?: string;
  /** Default time limit of each component's `load` (30 s). */
  readonly loadTimeoutMs?: number;
  /** Default time limit of each component's `start` (30 s). */
  readonly startTimeoutMs?: number;
  /** Default time limit of each component's `stop` (10 s). */
  readonly stopTimeoutMs?: number;
}

/** The lifecycle state of a {@link BootLoader}. */
export type BootState = 'idle' | 'loading' | 'loaded' | 'starting' | 'started' | 'stopping' | 'stopped';

/** A component that failed to stop, and why. */
export interface StopFailure {
  readonly component: string;
  readonly error: unknown;
}

/** What {@link BootLoader.shutdown} did. */
export interface ShutdownReport {
  /** Components stopped cleanly, in the order they stopped. */
  readonly stopped: readonly string[];
  /** Components whose `stop` threw or timed out; shutdown went on past them. */
  readonly failures: readonly StopFailure[];
}

/** Something that emits process signals (by default, `process`). */
export interface SignalSource {
  on(signal: NodeJS.Signals, listener: (signal: NodeJS.Signals) => void): unknown;
  off(signal: NodeJS.Signals, listener: (signal: NodeJS.Signals) => void): unknown;
}

/** Options of {@link BootLoader.handleSignals}. */
export interface SignalOptions {
  readonly source?: SignalSource;
  readonly signals?: readonly NodeJS.Signals[];
  /** Called with the exit code once shutdown ends (0, or 1 after stop failures), and with 130 on a second signal. */
  readonly exit?: (code: number) => void;
}

/** Options of one {@link BootLoader.register}. */
export interface RegisterOptions {
  /** Where the component's config was written, for error messages. */
  readonly source?: EntrySource;
}

interface Slot {
  readonly component: Component;
  readonly rawConfig: unknown;
  readonly source: EntrySource | undefined;
  config: unknown;
  loaded: boolean;
}

const DEFAULT_LOAD_TIMEOUT_MS = 30_000;
const DEFAULT_START_TIMEOUT_MS = 30_000;
const DEFAULT_STOP_TIMEOUT_MS = 10_000;

/**
 * Loads components in dependency order inside one inversify container, starts them, and stops them
 * in reverse order, as Wippy's boot does. Refuses duplicate names, names every missing dependency and
 * every cycle, times every phase, and emits `$boot.*` events.
 *
 * @example
 * const boot = new BootLoader({ logger: createConsoleLogger('info') });
 * boot.register(registryComponent);
 * boot.register(myservice);
 * await boot.start(); // loads first when needed
 * boot.handleSignals();
 * // ...
 * await boot.shutdown();
 */
export class BootLoader {
  private readonly slots = new Map<string, Slot>();
  private readonly listeners = new Set<(event: BootEvent) => void>();
  private readonly logger: Logger;
  private readonly container: Container;
  private readonly loadTimeoutMs: number;
  private readonly startTimeoutMs: number;
  private readonly stopTimeoutMs: number;
  private readonly abort = new AbortController();
  private readonly baseContext: BootContext;
  private current: BootContext;
  private order: Slot[] = [];
  private inFlight: Promise<unknown> | undefined;
  private stopping: Promise<ShutdownReport> | undefined;
  private stateValue: BootState = 'idle';

  constructor(options: BootLoaderOptions = {}) {
    this.logger = options.logger ?? silentLogger;
    this.container = options.container ?? createBootContainer(this.logger);
    this.loadTimeoutMs = options.loadTimeoutMs ?? DEFAULT_LOAD_TIMEOUT_MS;
    this.startTimeoutMs = options.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS;
    this.stopTimeoutMs = options.stopTimeoutMs ?? DEFAULT_STOP_TIMEOUT_MS;
    this.baseContext = BootContext.create({
      container: this.container,
      logger: this.logger,
      baseDir: options.baseDir ?? process.cwd(),
      signal: this.abort.signal,
      onBootEvent: (listener) => this.onBootEvent(listener),
    });
    this.current = this.baseContext;
  }

  /** Where the loader is in its lifecycle. */
  get state(): BootState {
    return this.stateValue;
  }

  /** The context after the last successful `load` (the base context before any). */
  get context(): BootContext {
    return this.current;
  }

  /** Names of the registered components, in registration order. */
  get componentNames(): readonly string[] {
    return [...this.slots.keys()];
  }

  /**
   * Registers a component, with the raw config its `config` hook will decode. Throws `CONFLICT`
   * when a component of the same name is registered. The returned disposable unregisters it (only
   * before `load`).
   */
  register<C>(
    component: Component<C> | ComponentOptions<C>,
    config?: unknown,
    options: RegisterOptions = {},
  ): Disposable {
    const defined = (isComponent(component) ? component : defineComponent(component)) as Component;
    if (this.stateValue !== 'idle') {
      throw new BootError('INVALID', `cannot register component ${defined.name}: the boot has already begun`, {
        component: defined.name,
        phase: 'register',
      });
    }
    if (this.slots.has(defined.name)) {
      throw new BootError('CONFLICT', `a component named "${defined.name}" is already registered`, {
        component: defined.name,
        phase: 'register',
      });
    }
    const slot: Slot = {
      component: defined,
      rawConfig: config,
      source: options.source,
      config: undefined,
      loaded: false,
    };
    this.slots.set(defined.name, slot);
    return toDisposable(() => {
      if (this.stateValue === 'idle' && this.slots.get(defined.name) === slot) this.slots.delete(defined.name);
    });
  }

  /**
   * The load order as levels: every component of a level depends only on earlier levels. Throws a
   * {@link BootError}: `NOT_FOUND` listing every missing dependency, or `INVALID` listing every cycle.
   */
  plan(): string[][] {
    return planLevels([...this.slots.values()].map((slot) => slot.component));
  }

  /** Subscribes to the `$boot.*` events. */
  onBootEvent(listener: (event: BootEvent) => void): Disposable {
    this.listeners.add(listener);
    return toDisposable(() => this.listeners.delete(listener));
  }

  /**
   * Loads every component, level by level, each receiving the context the previous one returned.
   * On a failure, stops what loaded (in reverse order) and throws a {@link BootError} naming the
   * component.
   */
  async load(): Promise<BootContext> {
    if (this.stateValue !== 'idle') {
      throw new BootError('INVALID', `cannot load: the boot loader is ${this.stateValue} (a loader boots once)`);
    }
    const levels = this.plan();
    this.stateValue = 'loading';
    const began = performance.now();
    this.logger.info(
      `loading ${this.slots.size} component(s): ${levels.map((level) => `[${level.join(', ')}]`).join(' → ')}`,
    );
    this.order = levels.flat().map((name) => this.slots.get(name) as Slot);
    await this.runPhase(this.runLoad(), began, 'loaded', BootEventName.loaded);
    return this.current;
  }

  /**
   * Starts every component in load order, each under its time limit (`TIMEOUT` names the one that
   * overran). Loads first when `load` has not run. On a failure, stops everything that loaded, in
   * reverse order, and throws.
   */
  async start(): Promise<void> {
    if (this.stateValue === 'idle') await this.load();
    if (this.abort.signal.aborted) {
      throw new BootError('ABORTED', 'boot was shut down before it started');
    }
    if (this.stateValue !== 'loaded') {
      throw new BootError('INVALID', `cannot start: the boot loader is ${this.stateValue}`);
    }
    this.stateValue = 'starting';
    await this.runPhase(this.runStart(), performance.now(), 'started', BootEventName.started);
  }

  /** Awaits a load or start run (visible to shutdown as in flight), then records, logs and announces it. */
  private async runPhase(
    run: Promise<void>,
    began: number,
    state: 'loaded' | 'started',
    event: typeof BootEventName.loaded | typeof BootEventName.started,
  ): Promise<void> {
    this.inFlight = run;
    try {
      await run;
    } finally {
      this.inFlight = undefined;
    }
    const durationMs = performance.now() - began;
    this.stateValue = state;
    this.logger.info(`${state} ${this.order.length} component(s) in ${formatMs(durationMs)}`);
    this.emit({ name: event, durationMs });
  }

  /**
   * Stops every component that loaded, in reverse order, each under its time limit, going on past
   * failures (reported in the result, the log and `$boot.component_failed`). Idempotent; waits for
   * a load or start in progress to stop at the next component first.
   */
  async shutdown(reason = 'shutdown'): Promise<ShutdownReport> {
    this.abort.abort();
    if (this.inFlight !== undefined) await this.inFlight.catch(() => undefined);
    return this.stopAll(reason);
  }

  /**
   * Stops gracefully on SIGINT/SIGTERM, then calls `exit`; a second signal exits at once (130).
   * Returns a disposable that removes the handlers.
   */
  handleSignals(options: SignalOptions = {}): Disposable {
    const source: SignalSource = options.source ?? process;
    const signals = options.signals ?? ['SIGINT', 'SIGTERM'];
    const exit = options.exit ?? ((code: number) => process.exit(code));
    let received = 0;
    const handler = (signal: NodeJS.Signals): void => {
      received += 1;
      if (received > 1) {
        this.logger.warn(`received ${signal} again: exiting without waiting for shutdown`);
        exit(130);
        return;
      }
      this.logger.info(`received ${signal}: shutting down (send it again to exit at once)`);
      this.shutdown(`signal:${signal}`).then(
        (report) => exit(report.failures.length > 0 ? 1 : 0),
        (error: unknown) => {
          this.logger.error(`shutdown failed: ${messageOf(error)}`, { error });
          exit(1);
        },
      );
    };
    for (const signal of signals) source.on(signal, handler);
    return toDisposable(() => {
      for (const signal of signals) source.off(signal, handler);
    });
  }

  /** `await using boot = new BootLoader()` shuts it down at the end of the scope. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.shutdown('dispose');
  }

  private async runLoad(): Promise<void> {
    for (const slot of this.order) {
      const name = slot.component.name;
      if (this.abort.signal.aborted) {
        throw new BootError('ABORTED', `boot was shut down while loading (before component ${name})`, {
          component: name,
          phase: 'load',
        });
      }
      const began = performance.now();
      try {
        const { config, configClass } = slot.component;
        const info = { component: name, source: slot.source };
        slot.config =
          configClass !== undefined
            ? decodeComponentConfig(configClass, slot.rawConfig, info)
            : config === undefined
              ? slot.rawConfig
              : config(slot.rawConfig, this.current, info);
        const load = slot.component.load.bind(slot.component);
        const loading = Promise.resolve().then(() => load(this.current, slot.config));
        await this.withinLimit(loading, slot.component.loadTimeoutMs ?? this.loadTimeoutMs, name, 'load');
        const next = await loading;
        if (next !== undefined) {
          if (!(next instanceof BootContext) || !next.sharesEnvironmentWith(this.baseContext)) {
            throw new KindlingError(
              'INVALID',
              'load must return the context it received (or one derived from it with ctx.with)',
            );
          }
          this.current = next;
        }
        slot.loaded = true;
      } catch (error) {
        const failure = wrapFailure(error, name, 'load');
        this.report(name, 'load', failure);
        if (!this.abort.signal.aborted) await this.stopAll(`load of ${name} failed`);
        throw failure;
      }
      const durationMs = performance.now() - began;
      this.logger.debug(`loaded ${name} in ${formatMs(durationMs)}`, { component: name, durationMs });
      this.emit({ name: BootEventName.componentLoaded, component: name, durationMs });
    }
  }

  private async runStart(): Promise<void> {
    for (const slot of this.order) {
      const { component } = slot;
      const name = component.name;
      if (this.abort.signal.aborted) {
        throw new BootError('ABORTED', `boot was shut down while starting (before component ${name})`, {
          component: name,
          phase: 'start',
        });
      }
      const began = performance.now();
      if (component.start !== undefined) {
        const start = component.start.bind(component);
        try {
          await this.withinLimit(
            Promise.resolve().then(() => start(this.current, slot.config)),
            component.startTimeoutMs ?? this.startTimeoutMs,
            name,
            'start',
          );
        } catch (error) {
          const failure = wrapFailure(error, name, 'start');
          this.report(name, 'start', failure);
          if (!this.abort.signal.aborted) await this.stopAll(`start of ${name} failed`);
          throw failure;
        }
      }
      const durationMs = performance.now() - began;
      this.logger.debug(`started ${name} in ${formatMs(durationMs)}`, { component: name, durationMs });
      this.emit({ name: BootEventName.componentStarted, component: name, durationMs });
    }
  }

  private stopAll(reason: string): Promise<ShutdownReport> {
    this.stopping ??= this.runStop(reason);
    return this.stopping;
  }

  private async runStop(reason: string): Promise<ShutdownReport> {
    this.abort.abort();
    this.stateValue = 'stopping';
    const began = performance.now();
    const loaded = this.order.filter((slot) => slot.loaded).reverse();
    this.logger.info(`stopping ${loaded.length} component(s) (${reason})`);
    this.emit({ name: BootEventName.stopping, reason });
    const stopped: string[] = [];
    const failures: StopFailure[] = [];
    for (const slot of loaded) {
      const { component } = slot;
      const name = component.name;
      const stepBegan = performance.now();
      if (component.stop !== undefined) {
        const stop = component.stop.bind(component);
        try {
          await this.withinLimit(
            Promise.resolve().then(() => stop(this.current, slot.config)),
            component.stopTimeoutMs ?? this.stopTimeoutMs,
            name,
            'stop',
          );
        } catch (error) {
          const failure = wrapFailure(error, name, 'stop');
          failures.push({ component: name, error: failure });
          this.report(name, 'stop', failure);
          continue;
        }
      }
      stopped.push(name);
      const durationMs = performance.now() - stepBegan;
      this.logger.debug(`stopped ${name} in ${formatMs(durationMs)}`, { component: name, durationMs });
      this.emit({ name: BootEventName.componentStopped, component: name, durationMs });
    }
    const durationMs = performance.now() - began;
    this.stateValue = 'stopped';
    const failed = failures.map((failure) => failure.component);
    if (failed.length > 0) {
      this.logger.warn(
        `stopped in ${formatMs(durationMs)}; ${failed.length} component(s) failed to stop: ${failed.join(', ')}`,
      );
    } else {
      this.logger.info(`stopped ${stopped.length} component(s) in ${formatMs(durationMs)}`);
    }
    this.emit({ name: BootEventName.stopped, durationMs, reason, failures: failed });
    return { stopped, failures };
  }

  /** `pending` (a hook of `component`) under its time limit; `TIMEOUT` names the component, the hook and the limit. */
  private withinLimit(
    pending: Promise<unknown>,
    limitMs: number,
    component: string,
    phase: 'load' | 'start' | 'stop',
  ): Promise<unknown> {
    const option = `${phase}TimeoutMs`;
    return withinTimeLimit(
      pending,
      limitMs,
      () =>
        new BootError(
          'TIMEOUT',
          `component ${component} did not ${phase} within ${limitMs} ms (raise ${option} if it needs longer)`,
          {
            component,
            phase,
            retryable: phase !== 'stop',
            details: { timeoutMs: limitMs },
          },
        ),
    );
  }

  private report(component: string, phase: 'load' | 'start' | 'stop', error: BootError): void {
    this.logger.error(error.message, { component, phase, error: error.cause ?? error });
    this.emit({ name: BootEventName.componentFailed, component, phase, error });
  }

  private emit(event: BootEvent): void {
    for (const listener of [...this.listeners]) {
      try {
        listener(event);
      } catch (error) {
        // A listener of boot events must not break the boot: report it and go on.
        this.logger.error(`a $boot event listener threw on ${event.name}: ${messageOf(error)}`, { error });
      }
    }
  }
}

/**
 * Orders components into dependency levels. Throws `NOT_FOUND` with every missing dependency, then
 * `INVALID` with the cycles. O(components + dependencies) whatever the names and their order.
 */
export function planLevels(components: readonly Pick<Component, 'name' | 'dependsOn'>[]): string[][] {
  const byName = new Map(components.map((component) => [component.name, component]));
  const missing: MissingDependency[] = [];
  for (const component of components) {
    for (const dependency of component.dependsOn) {
      if (!byName.has(dependency)) missing.push({ component: component.name, dependency });
    }
  }
  if (missing.length > 0) {
    const list = missing.map((m) => `${m.component} needs "${m.dependency}"`).join('; ');
    throw new BootError(
      'NOT_FOUND',
      `${missing.length} missing component dependenc${missing.length === 1 ? 'y' : 'ies'}: ${list}`,
      { missing },
    );
  }
  const graph = dependencyGraph([...byName.values()]);
  const { componentOf, order, cyclic } = stronglyConnected(graph.names.length, graph.dependencies);
  const cycles = findCycles(graph, componentOf, cyclic);
  if (cycles.length > 0) {
    const list = cycles.map((cycle) => cycle.join(' → ')).join('; ');
    throw new BootError('INVALID', `component dependency cycle${cycles.length === 1 ? '' : 's'}: ${list}`, { cycles });
  }
  // Without cycles every component is its own strongly connected component, and they come out
  // dependencies first: one pass gives every level.
  const level = new Int32Array(graph.names.length);
  for (const node of order) {
    let at = 0;
    for (const dependency of graph.dependencies(node)) at = Math.max(at, (level[dependency] as number) + 1);
    level[node] = at;
  }
  const levels: string[][] = [];
  for (const component of components) {
    const at = level[graph.indexOf.get(component.name) as number] as number;
    (levels[at] ??= []).push(component.name);
  }
  return levels.filter((names) => names.length > 0);
}

/** Components as numbered nodes (by name, so the answer never depends on registration order). */
interface DependencyGraph {
  readonly names: readonly string[];
  readonly indexOf: ReadonlyMap<string, number>;
  /** The distinct dependencies of a node, in name order. */
  readonly dependencies: (node: number) => readonly number[];
}

function dependencyGraph(components: readonly Pick<Component, 'name' | 'dependsOn'>[]): DependencyGraph {
  const names = components.map((component) => component.name).sort();
  const indexOf = new Map(names.map((name, i) => [name, i]));
  const edges: number[][] = names.map(() => []);
  for (const component of components) {
    const targets = [...new Set(component.dependsOn)]
      .map((dependency) => indexOf.get(dependency) as number)
      .sort((a, b) => a - b);
    edges[indexOf.get(component.name) as number] = targets;
  }
  return { names, indexOf, dependencies: (node) => edges[node] as number[] };
}

const MAX_CYCLES = 50;

/**
 * The cycles to report, each starting at its first name, sorted: for every cyclic group of
 * components (a strongly connected component) a shortest cycle through its first name; then, while
 * some component of a group is on no listed cycle, a shortest cycle through it — at most
 * {@link MAX_CYCLES} in all. Each is a breadth-first search inside one group: linear time.
 */
function findCycles(graph: DependencyGraph, componentOf: Int32Array, cyclic: Uint8Array): string[][] {
  const groups = new Map<number, number[]>();
  // Nodes are numbered in name order, so each group's members come out sorted by name.
  for (let node = 0; node < graph.names.length; node++) {
    const group = componentOf[node] as number;
    if (cyclic[group] !== 1) continue;
    const members = groups.get(group);
    if (members === undefined) groups.set(group, [node]);
    else members.push(node);
  }
  const covered = new Uint8Array(graph.names.length);
  const cycles: number[][] = [];
  const add = (from: number): void => {
    const cycle = shortestCycleThrough(from, graph.dependencies, componentOf) as number[];
    for (const node of cycle) covered[node] = 1;
    // Start the cycle at its first name (the smallest index).
    const body = cycle.slice(0, -1);
    let first = 0;
    for (let i = 1; i < body.length; i++) if ((body[i] as number) < (body[first] as number)) first = i;
    const rotated = [...body.slice(first), ...body.slice(0, first)];
    cycles.push([...rotated, rotated[0] as number]);
  };
  const ordered = [...groups.values()].sort((a, b) => (a[0] as number) - (b[0] as number));
  for (const members of ordered) {
    if (cycles.length >= MAX_CYCLES) break;
    add(members[0] as number);
  }
  for (const members of ordered) {
    for (const node of members) {
      if (cycles.length >= MAX_CYCLES) break;
      if (covered[node] === 0) add(node);
    }
  }
  const named = cycles.map((cycle) => cycle.map((node) => graph.names[node] as string));
  return named.sort(compareNamePaths);
}

function compareNamePaths(a: readonly string[], b: readonly string[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    if (a[i] !== b[i]) return (a[i] as string) < (b[i] as string) ? -1 : 1;
  }
  return a.length - b.length;
}

function wrapFailure(error: unknown, component: string, phase: 'load' | 'start' | 'stop'): BootError {
  let code: ErrorCode = 'REJECTED';
  try {
    if (error instanceof BootError && error.component === component) return error;
    if (KindlingError.is(error)) code = error.code;
  } catch {
    // A revoked proxy throws even on instanceof: it is reported as the component's failure all the same.
  }
  return new BootError(code, `component ${component} failed to ${phase}: ${messageOf(error)}`, {
    component,
    phase,
    cause: error,
  });
}

function formatMs(ms: number): string {
  return `${ms < 10 ? ms.toFixed(1) : Math.round(ms)} ms`;
}
