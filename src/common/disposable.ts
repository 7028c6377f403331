/**
 * Something that holds a resource until `dispose()` is called. `dispose` is idempotent, and every
 * Disposable also works with `using`.
 */
export interface Disposable {
  dispose(): void;
  [Symbol.dispose](): void;
}

/**
 * Wraps a clean-up function as an idempotent {@link Disposable}.
 *
 * @example
 * const sub = toDisposable(() => emitter.off('x', fn));
 */
export function toDisposable(fn: () => void): Disposable {
  let disposed = false;
  const dispose = (): void => {
    if (disposed) return;
    disposed = true;
    fn();
  };
  return { dispose, [Symbol.dispose]: dispose };
}

/**
 * A set of disposables released together, newest first. A failing `dispose` does not stop the
 * others; the failures are rethrown together as an AggregateError once all have run.
 */
export class DisposableStore implements Disposable {
  private readonly items: Disposable[] = [];
  private disposed = false;

  /** Whether {@link dispose} has run. */
  get isDisposed(): boolean {
    return this.disposed;
  }

  /** Adds `item`; when the store is already disposed, `item` is disposed at once. */
  add<T extends Disposable>(item: T): T {
    if (this.disposed) {
      item.dispose();
    } else {
      this.items.push(item);
    }
    return item;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    const errors: unknown[] = [];
    while (this.items.length > 0) {
      const item = this.items.pop();
      try {
        item?.dispose();
      } catch (error) {
        errors.push(error);
      }
    }
    if (errors.length > 0) throw new AggregateError(errors, `${errors.length} disposable(s) failed`);
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}
