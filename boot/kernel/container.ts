import { Container } from 'inversify';
import type { Newable } from 'inversify';
import { DisposableStore, KindlingError, compilePattern } from 'kindling';
import type {
  Disposable,
  EntryListener,
  EntryObserver,
  HandlerRegistry,
  ListenerOptions,
  Logger as KindlingLogger,
} from 'kindling';

/** The boot's logger, as a container service. */
export type Logger = KindlingLogger;
/** Token of the boot's {@link Logger}. */
export const Logger: unique symbol = Symbol.for('kindling.Logger');

/**
 * Token under which classes decorated with {@link entryListener} are bound; the registry component
 * registers every one of them in the handler registry.
 *
 * @example
 * export const greetings = new ContainerModule(({ bind }) => {
 *   bind(EntryListenerContribution).to(GreetingListener).inSingletonScope();
 * });
 */
export const EntryListenerContribution: unique symbol = Symbol.for('kindling.EntryListenerContribution');
/** An entry listener bound in the container, to be collected into the handler registry. */
export type EntryListenerContribution = EntryListener;

/** Token under which classes decorated with {@link entryObserver} are bound. */
export const EntryObserverContribution: unique symbol = Symbol.for('kindling.EntryObserverContribution');
/** An entry observer bound in the container, to be collected into the handler registry. */
export type EntryObserverContribution = EntryObserver;

interface HandlerDeclaration {
  readonly pattern: string;
  readonly options: ListenerOptions;
}

const LISTENERS = new WeakMap<object, HandlerDeclaration>();
const OBSERVERS = new WeakMap<object, HandlerDeclaration>();

/**
 * Class decorator: instances listen to the kinds `pattern` matches. Bind the class under
 * {@link EntryListenerContribution}; the registry component registers it when it starts.
 *
 * @example
 * @entryListener('greeting.*')
 * @injectable()
 * class GreetingListener implements EntryListener {
 *   constructor(@inject(Logger) private readonly logger: Logger) {}
 *   add(ctx, entry) { this.logger.info(`hello ${entry.id}`); }
 *   update() {}
 *   delete() {}
 * }
 */
export function entryListener(
  pattern: string,
  options: ListenerOptions = {},
): <T extends Newable<EntryListener>>(target: T) => T {
  compilePattern(pattern, 'kind');
  return (target) => {
    LISTENERS.set(target, { pattern, options });
    return target;
  };
}

/** Class decorator: instances observe the kinds `pattern` matches (see {@link entryListener}). */
export function entryObserver(
  pattern: string,
  options: { name?: string } = {},
): <T extends Newable<EntryObserver>>(target: T) => T {
  compilePattern(pattern, 'kind');
  return (target) => {
    OBSERVERS.set(target, { pattern, options });
    return target;
  };
}

function declarationOf(instance: object, table: WeakMap<object, HandlerDeclaration>): HandlerDeclaration | undefined {
  // Walk the prototype chain so a subclass inherits its parent's declaration.
  let ctor: unknown = (instance as { constructor?: unknown }).constructor;
  while (typeof ctor === 'function') {
    const found = table.get(ctor);
    if (found !== undefined) return found;
    ctor = Object.getPrototypeOf(ctor);
  }
  return undefined;
}

/**
 * Registers every listener and observer bound in `container` under the contribution tokens in
 * `handlers`. Throws `INVALID` for a bound object whose class carries no pattern decorator. The
 * returned disposable unregisters them all.
 */
export function collectHandlers(container: Container, handlers: HandlerRegistry): Disposable {
  const store = new DisposableStore();
  try {
    for (const listener of container.getAll<EntryListener>(EntryListenerContribution, { optional: true })) {
      const declaration = declarationOf(listener, LISTENERS);
      if (declaration === undefined) {
        throw new KindlingError(
          'INVALID',
          `${nameOf(listener)} is bound as an EntryListenerContribution but has no @entryListener(pattern) decorator`,
        );
      }
      store.add(handlers.registerListener(declaration.pattern, listener, declaration.options));
    }
    for (const observer of container.getAll<EntryObserver>(EntryObserverContribution, { optional: true })) {
      const declaration = declarationOf(observer, OBSERVERS);
      if (declaration === undefined) {
        throw new KindlingError(
          'INVALID',
          `${nameOf(observer)} is bound as an EntryObserverContribution but has no @entryObserver(pattern) decorator`,
        );
      }
      store.add(handlers.registerObserver(declaration.pattern, observer, declaration.options));
    }
  } catch (error) {
    store.dispose();
    throw error;
  }
  return store;
}

function nameOf(instance: object): string {
  const name = (instance as { constructor?: { name?: string } }).constructor?.name;
  return name !== undefined && name !== 'Object' ? `class ${name}` : 'an object';
}

/**
 * Which files other than registry YAML each entry was built from (a function's module, a
 * template...). Components record them; `kindling run --watch` re-applies the entries that use a
 * file when that file changes.
 */
export interface EntryFiles {
  /** Records the files `entryId` uses now (replacing what was recorded before). */
  set(entryId: string, files: readonly string[]): void;
  /** Forgets `entryId`. */
  delete(entryId: string): void;
  /** The ids of the entries that use `file` (an absolute path), sorted. */
  entriesUsing(file: string): string[];
}
/** Token of the boot's {@link EntryFiles}. */
export const EntryFiles: unique symbol = Symbol.for('kindling.EntryFiles');

class EntryFileIndex implements EntryFiles {
  private readonly filesOf = new Map<string, readonly string[]>();
  private readonly users = new Map<string, Set<string>>();

  set(entryId: string, files: readonly string[]): void {
    this.delete(entryId);
    this.filesOf.set(entryId, [...files]);
    for (const file of files) {
      let ids = this.users.get(file);
      if (ids === undefined) this.users.set(file, (ids = new Set()));
      ids.add(entryId);
    }
  }

  delete(entryId: string): void {
    for (const file of this.filesOf.get(entryId) ?? []) {
      const ids = this.users.get(file);
      ids?.delete(entryId);
      if (ids?.size === 0) this.users.delete(file);
    }
    this.filesOf.delete(entryId);
  }

  entriesUsing(file: string): string[] {
    return [...(this.users.get(file) ?? [])].sort();
  }
}

/**
 * The container of a boot: singletons by default (a service is one object per boot), with the
 * logger bound under {@link Logger} and an {@link EntryFiles} index.
 */
export function createBootContainer(logger: Logger): Container {
  const container = new Container({ defaultScope: 'Singleton' });
  container.bind<Logger>(Logger).toConstantValue(logger);
  container.bind<EntryFiles>(EntryFiles).toConstantValue(new EntryFileIndex());
  return container;
}
