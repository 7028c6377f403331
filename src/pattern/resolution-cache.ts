/**
 * How many event or kind names a {@link ResolutionCache} remembers at most. A name costs one map
 * entry and whatever was resolved for it; 16,384 names keep the cache to a few megabytes even
 * when every name has its own subscriber list, and cover the working set of an application that
 * publishes to ten thousand distinct names.
 */
export const RESOLUTION_CACHE_LIMIT = 16_384;

/**
 * Bits of the filter of names offered once: 2^20 (128 KiB), three bits a name, so that at the limit
 * of 16,384 names about one name in 10,000 offered once passes it by collision.
 */
const SEEN_BITS = 1 << 20;

/**
 * A bounded cache of what a name resolved to, kept in two generations. New answers go to the young
 * generation, which grows to three quarters of the {@link limit}: a working set that size (12,288
 * names by default) lives there and costs one map lookup per read, with no bookkeeping per hit
 * (unlike a strict LRU). A young generation that is that large, or at least half the limit when the
 * cache is full, becomes the old one and the previous old one is dropped; a smaller one makes room in
 * a full cache by dropping the oldest names of the old generation one at a time. A hit in the old
 * generation moves the name back to the young one, so the names in use survive every turn, and a
 * stream of names seen once (unique ids in event names) never holds more than {@link limit} entries;
 * with {@link offer} it holds almost none of them.
 *
 * @example
 * const cache = new ResolutionCache<string[]>(4);
 * cache.set('user.created', ['mailer']);
 * cache.get('user.created'); // ['mailer']
 */
export class ResolutionCache<V> {
  private young = new Map<string, V>();
  private old = new Map<string, V>();
  /** Walks the old generation oldest first, dropping names to make room; made when first needed. */
  private evicting: Iterator<string> | undefined = undefined;
  /** The name read last and its answer, so that a run of reads of one name costs no map lookup. */
  private lastName: string | undefined = undefined;
  private lastValue: V | undefined = undefined;
  /** Hashes of the names offered since the filter was last cleared, one bit each. */
  private seen: Int32Array | undefined = undefined;
  private seenCount = 0;
  private readonly half: number;
  /** The size at which the young generation turns old. */
  private readonly youngLimit: number;

  constructor(readonly limit: number = RESOLUTION_CACHE_LIMIT) {
    if (!Number.isInteger(limit) || limit < 2)
      throw new RangeError(`a resolution cache holds at least 2 names, got ${String(limit)}`);
    this.half = limit >> 1;
    this.youngLimit = limit - (limit >> 2);
  }

  /** How many names are cached (never more than {@link limit}). */
  get size(): number {
    return this.young.size + this.old.size;
  }

  /** The cached answer for `name`, or `undefined`. */
  get(name: string): V | undefined {
    if (name === this.lastName) return this.lastValue;
    let value = this.young.get(name);
    if (value === undefined) {
      if (this.old.size === 0) return undefined;
      value = this.promote(name);
      if (value === undefined) return undefined;
    }
    this.lastName = name;
    this.lastValue = value;
    return value;
  }

  /** The cached answer for `name`, or `undefined`, without counting as a use (no move between generations). */
  peek(name: string): V | undefined {
    return this.young.get(name) ?? this.old.get(name);
  }

  /** Caches `value` (never `undefined`) for `name`. */
  set(name: string, value: V): void {
    this.lastName = undefined;
    if (this.old.size > 0) this.old.delete(name);
    const size = this.young.size;
    if ((size >= this.youngLimit || size + this.old.size >= this.limit) && !this.young.has(name)) this.makeRoom();
    this.young.set(name, value);
  }

  /**
   * Caches `value` for `name` only if the name was offered before (since about {@link limit} other
   * names): a name seen once, such as one carrying a unique id, is answered but neither kept nor
   * allowed to push the names in use out. Returns whether it was cached. A name offered twice may, by
   * a hash collision, be cached at its first offer.
   */
  offer(name: string, value: V): boolean {
    if (!this.seenBefore(name)) return false;
    this.set(name, value);
    return true;
  }

  /** Forgets one name. */
  forget(name: string): void {
    this.lastName = undefined;
    this.young.delete(name);
    if (this.old.size > 0) this.old.delete(name);
  }

  /** Forgets every name for which `test` is true; costs one call per cached name. */
  forgetWhere(test: (name: string) => boolean): void {
    this.lastName = undefined;
    for (const generation of [this.young, this.old]) {
      for (const name of generation.keys()) if (test(name)) generation.delete(name);
    }
  }

  /** Forgets everything. */
  clear(): void {
    this.lastName = undefined;
    this.young = new Map();
    this.old = new Map();
    this.evicting = undefined;
  }

  /** Frees one place: turns the generations, or drops the oldest name of the old one. */
  private makeRoom(): void {
    if (this.young.size >= this.half) {
      this.old = this.young;
      this.young = new Map();
      this.evicting = undefined;
      // With a limit of 2 or 3, the young generation may have filled the whole cache.
      if (this.old.size < this.limit) return;
    }
    // The old generation holds more than half the limit here. It only loses names once old, so an
    // iterator made at any point since still meets every name left, oldest first.
    const evicting = (this.evicting ??= this.old.keys());
    const oldest = evicting.next();
    if (oldest.done !== true) this.old.delete(oldest.value);
    else {
      this.old = new Map();
      this.evicting = undefined;
    }
  }

  /** Whether `name` was offered since the filter was cleared; marks it. */
  private seenBefore(name: string): boolean {
    let hash = 0x811c9dc5;
    for (let i = 0; i < name.length; i++) hash = Math.imul(hash ^ name.charCodeAt(i), 0x01000193);
    // Two mixes of the hash; the three bits are at h1, h1 + h2 and h1 + 2·h2.
    let h1 = Math.imul(hash ^ (hash >>> 16), 0x85ebca6b);
    h1 ^= h1 >>> 13;
    let h2 = Math.imul(hash ^ (hash >>> 15), 0xc2b2ae35);
    h2 = (h2 ^ (h2 >>> 16)) | 1;
    const seen = (this.seen ??= new Int32Array(SEEN_BITS >>> 5));
    const mask = SEEN_BITS - 1;
    const a = h1 & mask;
    const b = (h1 + h2) & mask;
    const c = (h1 + 2 * h2) & mask;
    const wa = seen[a >>> 5] as number;
    const wb = seen[b >>> 5] as number;
    const wc = seen[c >>> 5] as number;
    if ((wa & (1 << (a & 31))) !== 0 && (wb & (1 << (b & 31))) !== 0 && (wc & (1 << (c & 31))) !== 0) return true;
    if (++this.seenCount > this.limit) {
      // Past the limit, the filter starts over: names seen once long ago count as new again.
      seen.fill(0);
      this.seenCount = 1;
    }
    seen[a >>> 5] = (seen[a >>> 5] as number) | (1 << (a & 31));
    seen[b >>> 5] = (seen[b >>> 5] as number) | (1 << (b & 31));
    seen[c >>> 5] = (seen[c >>> 5] as number) | (1 << (c & 31));
    return false;
  }

  private promote(name: string): V | undefined {
    const old = this.old;
    const value = old.get(name);
    if (value === undefined) return undefined;
    old.delete(name);
    this.set(name, value);
    return value;
  }
}
