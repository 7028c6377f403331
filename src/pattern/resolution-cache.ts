/**
 * How many event or kind names a {@link ResolutionCache} remembers at most. A name costs one map
 * entry and whatever was resolved for it; 16,384 names keep the cache to a few megabytes even
 * when every name has its own subscriber list, and cover the working set of an application that
 * publishes to ten thousand distinct names (at 8,192, a working set of 10,000 names missed on every
 * publish: the benchmark's churn curve grew 10.9× from 1,000 to 10,000 subscriptions).
 */
export const RESOLUTION_CACHE_LIMIT = 16_384;

/**
 * A bounded cache of what a name resolved to, kept in two generations: new answers go to the young
 * generation; when it holds half the limit it becomes the old one and the previous old one is
 * dropped. A hit in the old generation moves the name back to the young one, so the names in use
 * survive every turn and a stream of names seen once (unique ids in event names) never holds more
 * than {@link limit} entries. Reads of the young generation cost one map lookup: no bookkeeping per
 * hit, unlike a strict LRU.
 *
 * @example
 * const cache = new ResolutionCache<string[]>(4);
 * cache.set('user.created', ['mailer']);
 * cache.get('user.created'); // ['mailer']
 */
export class ResolutionCache<V> {
  private young = new Map<string, V>();
  private old = new Map<string, V>();
  private readonly half: number;

  constructor(readonly limit: number = RESOLUTION_CACHE_LIMIT) {
    if (!Number.isInteger(limit) || limit < 2)
      throw new RangeError(`a resolution cache holds at least 2 names, got ${String(limit)}`);
    this.half = limit >> 1;
  }

  /** How many names are cached (never more than {@link limit}). */
  get size(): number {
    return this.young.size + this.old.size;
  }

  /** The cached answer for `name`, or `undefined`. */
  get(name: string): V | undefined {
    const value = this.young.get(name);
    return value !== undefined ? value : this.old.size === 0 ? undefined : this.promote(name);
  }

  /** Caches `value` (never `undefined`) for `name`. */
  set(name: string, value: V): void {
    if (this.young.size >= this.half) {
      this.old = this.young;
      this.young = new Map();
    }
    this.young.set(name, value);
  }

  /** Forgets one name. */
  forget(name: string): void {
    this.young.delete(name);
    this.old.delete(name);
  }

  /** Forgets every name for which `test` is true; costs one call per cached name. */
  forgetWhere(test: (name: string) => boolean): void {
    for (const generation of [this.young, this.old]) {
      for (const name of generation.keys()) if (test(name)) generation.delete(name);
    }
  }

  /** Forgets everything. */
  clear(): void {
    this.young = new Map();
    this.old = new Map();
  }

  private promote(name: string): V | undefined {
    const value = this.old.get(name);
    if (value === undefined) return undefined;
    this.old.delete(name);
    this.set(name, value);
    return value;
  }
}
