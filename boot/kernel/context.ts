import type { Container } from 'inversify';
import { KindlingError } from 'kindling';
import type { Disposable, Logger } from 'kindling';
import type { BootEvent } from './boot-events.js';

/**
 * A typed key of a value carried by a {@link BootContext}. Two keys with the same name are
 * different keys: export the key, not its name.
 */
export interface ContextKey<T> {
  readonly name: string;
  /** Never set: it only carries the value type. */
  readonly type?: T;
}

/** Creates a new {@link ContextKey}; `name` is for messages only. */
export function createContextKey<T>(name: string): ContextKey<T> {
  return Object.freeze({ name });
}

/** What every context of one boot shares: the container, the logger, where the app lives. */
export interface BootEnvironment {
  readonly container: Container;
  readonly logger: Logger;
  /** The directory relative paths of the app resolve against (the manifest's directory). */
  readonly baseDir: string;
  /** Aborted when the boot begins to shut down. */
  readonly signal: AbortSignal;
  /** Subscribes to the loader's `$boot.*` events. */
  readonly onBootEvent: (listener: (event: BootEvent) => void) => Disposable;
}

/**
 * What a component's `load` receives and returns (as Wippy's Go `context.Context` is threaded through
 * `boot.P.Load`). It is immutable: {@link BootContext.with} returns a new context carrying one more
 * value, and the loader passes the returned context to the next component.
 *
 * @example
 * const Greeting = createContextKey<string>('greeting');
 * load: async (ctx) => ctx.with(Greeting, 'hello'),
 */
export class BootContext {
  private constructor(
    private readonly environment: BootEnvironment,
    private readonly values: ReadonlyMap<ContextKey<unknown>, unknown>,
  ) {}

  /** A context with no values yet. */
  static create(environment: BootEnvironment): BootContext {
    return new BootContext(environment, new Map());
  }

  /** The inversify container of this boot. */
  get container(): Container {
    return this.environment.container;
  }

  /** The boot's logger. */
  get logger(): Logger {
    return this.environment.logger;
  }

  /** The directory relative paths resolve against. */
  get baseDir(): string {
    return this.environment.baseDir;
  }

  /** Aborted when the boot begins to shut down. */
  get signal(): AbortSignal {
    return this.environment.signal;
  }

  /** Subscribes to the loader's `$boot.*` events. */
  onBootEvent(listener: (event: BootEvent) => void): Disposable {
    return this.environment.onBootEvent(listener);
  }

  /** The value under `key`, if a component put one there. */
  get<T>(key: ContextKey<T>): T | undefined {
    return this.values.get(key) as T | undefined;
  }

  /** Whether a component put a value under `key`. */
  has(key: ContextKey<unknown>): boolean {
    return this.values.has(key);
  }

  /** The value under `key`; throws `NOT_FOUND` naming the key when no component provided it. */
  require<T>(key: ContextKey<T>, hint?: string): T {
    if (!this.values.has(key)) {
      const extra = hint === undefined ? '' : ` (${hint})`;
      throw new KindlingError('NOT_FOUND', `boot context has no "${key.name}"${extra}`, {
        details: { key: key.name },
      });
    }
    return this.values.get(key) as T;
  }

  /** A new context with `value` under `key` (this one is unchanged). */
  with<T>(key: ContextKey<T>, value: T): BootContext {
    const values = new Map(this.values);
    values.set(key, value);
    return new BootContext(this.environment, values);
  }

  /** A context with the values of both; `other`'s win. Both must come from the same boot. */
  merge(other: BootContext): BootContext {
    if (other.environment !== this.environment) {
      throw new KindlingError('INVALID', 'cannot merge boot contexts of two different boots');
    }
    return new BootContext(this.environment, new Map([...this.values, ...other.values]));
  }

  /** Whether `other` belongs to the same boot as this context. */
  sharesEnvironmentWith(other: BootContext): boolean {
    return other.environment === this.environment;
  }
}
