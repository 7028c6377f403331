/**
 * How many event or kind names a {@link ResolutionCache} remembers at least. A name costs one map
 * entry, its place in the cache's index and whatever was resolved for it; 16,384 names keep the
 * cache to a few megabytes even when every name has its own subscriber list, and cover the working
 * set of an application that publishes to ten thousand distinct names. A {@link PatternSet} raises
 * the limit of its caches to twice the registrations it holds, so that a name of its own
 * subscription always has room: what is cached stays proportional to what was registered, never to
 * what was published.
 */
export const RESOLUTION_CACHE_LIMIT = 16_384;

/**
 * Bits of the filter of names offered once, per name of the limit: 64 (2^20 bits, 128 KiB, at the
 * default limit), three bits a name, so that about one name in 10,000 offered once passes it by
 * collision.
 */
const SEEN_BITS_PER_NAME = 64;

/**
 * The size from which a cache indexes its names for scoped forgets; a smaller one is scanned whole
 * (cheaper than keeping an index up to date on every change of a few hundred names).
 */
const INDEX_FROM = 512;

/** Which cached names a forget must test: those starting with `lead` segments or ending with a `last` one. */
export interface NameScope {
  /** Literal leading segments every name to forget starts with (`['user', '42']` for `user.42.*`). */
  readonly lead: readonly string[];
  /** A literal last segment every name to forget ends with (`done` for `**.done`), when `lead` is empty. */
  readonly last: string | undefined;
}

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
  private limitNow: number;
  private half: number;
  /** The size at which the young generation turns old. */
  private youngLimit: number;
  /** Made by the first scoped forget of a cache larger than {@link INDEX_FROM}, then kept up to date. */
  private index: NameIndex | undefined = undefined;

  /**
   * @param limit how many names the cache holds at most (raised by {@link raiseLimit}).
   * @param indexFrom the size from which a scoped {@link forgetWhere} indexes the names (tests lower it).
   */
  constructor(
    limit: number = RESOLUTION_CACHE_LIMIT,
    private readonly indexFrom: number = INDEX_FROM,
  ) {
    if (!Number.isInteger(limit) || limit < 2)
      throw new RangeError(`a resolution cache holds at least 2 names, got ${String(limit)}`);
    this.limitNow = limit;
    this.half = limit >> 1;
    this.youngLimit = limit - (limit >> 2);
  }

  /** @internal How many names each kind of group of the index holds (always {@link size}, or it leaks). */
  get indexedNames(): number[] {
    return this.index?.sizes ?? [];
  }

  /** How many names the cache holds at most. */
  get limit(): number {
    return this.limitNow;
  }

  /** Raises the limit to `limit` (a lower one is ignored: a cache never shrinks under its names). */
  raiseLimit(limit: number): void {
    if (!(limit > this.limitNow) || !Number.isInteger(limit)) return;
    this.limitNow = limit;
    this.half = limit >> 1;
    this.youngLimit = limit - (limit >> 2);
    // A larger filter keeps collisions as rare; names offered once before count as new once more.
    if (this.seen !== undefined && this.seen.length * 32 < limit * SEEN_BITS_PER_NAME) {
      this.seen = undefined;
      this.seenCount = 0;
    }
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
    if (this.old.size > 0 && this.old.delete(name)) this.place(name, value);
    else if (this.young.has(name)) this.young.set(name, value);
    else {
      this.place(name, value);
      this.index?.add(name);
    }
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
    if (this.young.delete(name) || (this.old.size > 0 && this.old.delete(name))) this.index?.remove(name);
  }

  /**
   * Forgets every name for which `test` is true. With a `scope`, only the names it admits are
   * tested (those that share its literal leading segments, or its last one): the cost follows the
   * names a pattern can match. Without one, or with an empty one, every cached name is tested.
   */
  forgetWhere(test: (name: string) => boolean, scope?: NameScope): void {
    this.lastName = undefined;
    const candidates = scope === undefined ? undefined : this.indexed()?.candidates(scope);
    if (candidates === undefined) {
      for (const generation of [this.young, this.old]) {
        for (const name of generation.keys()) {
          if (!test(name)) continue;
          generation.delete(name);
          this.index?.remove(name);
        }
      }
      return;
    }
    // Collected first: forgetting changes the group being read.
    const doomed: string[] = [];
    if (typeof candidates === 'string') {
      if (test(candidates)) doomed.push(candidates);
    } else {
      for (const name of candidates) if (test(name)) doomed.push(name);
    }
    for (const name of doomed) this.forget(name);
  }

  /** Forgets everything. */
  clear(): void {
    this.lastName = undefined;
    this.young = new Map();
    this.old = new Map();
    this.evicting = undefined;
    this.index = undefined;
  }

  /** Frees one place: turns the generations, or drops the oldest name of the old one. */
  private makeRoom(): void {
    if (this.young.size >= this.half) {
      this.unindex(this.old);
      this.old = this.young;
      this.young = new Map();
      this.evicting = undefined;
      // With a limit of 2 or 3, the young generation may have filled the whole cache.
      if (this.old.size < this.limitNow) return;
    }
    // The old generation holds more than half the limit here. It only loses names once old, so an
    // iterator made at any point since still meets every name left, oldest first.
    const evicting = (this.evicting ??= this.old.keys());
    const oldest = evicting.next();
    if (oldest.done !== true) {
      this.old.delete(oldest.value);
      this.index?.remove(oldest.value);
    } else {
      this.unindex(this.old);
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
    const seen = (this.seen ??= new Int32Array(seenBits(this.limitNow) >>> 5));
    const mask = seen.length * 32 - 1;
    const a = h1 & mask;
    const b = (h1 + h2) & mask;
    const c = (h1 + 2 * h2) & mask;
    const wa = seen[a >>> 5] as number;
    const wb = seen[b >>> 5] as number;
    const wc = seen[c >>> 5] as number;
    if ((wa & (1 << (a & 31))) !== 0 && (wb & (1 << (b & 31))) !== 0 && (wc & (1 << (c & 31))) !== 0) return true;
    if (++this.seenCount > this.limitNow) {
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
    this.place(name, value);
    return value;
  }

  /** The index of the cached names, made now if the cache is large enough to need one. */
  private indexed(): NameIndex | undefined {
    if (this.index !== undefined || this.size <= this.indexFrom) return this.index;
    return (this.index = new NameIndex(() => [...this.young.keys(), ...this.old.keys()]));
  }

  private unindex(generation: Map<string, V>): void {
    const index = this.index;
    if (index !== undefined) for (const name of generation.keys()) index.remove(name);
  }

  /** Puts a name that is in neither generation into the young one, making room first. */
  private place(name: string, value: V): void {
    const size = this.young.size;
    if (size >= this.youngLimit || size + this.old.size >= this.limitNow) this.makeRoom();
    this.young.set(name, value);
  }
}

/** The filter size for `limit` names: a power of two, at least {@link SEEN_BITS_PER_NAME} bits a name. */
function seenBits(limit: number): number {
  let bits = 1 << 10;
  while (bits < limit * SEEN_BITS_PER_NAME && bits < 1 << 30) bits *= 2;
  return bits;
}

/** Names grouped under a key; a group of one name is the name itself (most groups of two segments). */
class Groups {
  private readonly map = new Map<string, string | Set<string>>();
  /** Names in all groups. */
  size = 0;

  add(key: string, name: string): void {
    const group = this.map.get(key);
    if (group === undefined) this.map.set(key, name);
    else if (typeof group === 'string') {
      if (group === name) return;
      this.map.set(key, new Set([group, name]));
    } else {
      const before = group.size;
      if (group.add(name).size === before) return;
    }
    this.size++;
  }

  remove(key: string, name: string): void {
    const group = this.map.get(key);
    if (group === undefined) return;
    if (typeof group === 'string') {
      if (group !== name) return;
      this.map.delete(key);
    } else {
      if (!group.delete(name)) return;
      if (group.size === 1) this.map.set(key, group.values().next().value as string);
    }
    this.size--;
  }

  get(key: string): string | ReadonlySet<string> | undefined {
    return this.map.get(key);
  }
}

/** The key of a name in each kind of group: its first segment, its first two, its last. */
const KEYS: readonly ((name: string) => string)[] = [
  (name) => {
    const dot = name.indexOf('.');
    return dot < 0 ? name : name.slice(0, dot);
  },
  (name) => {
    const dot = name.indexOf('.');
    const second = dot < 0 ? -1 : name.indexOf('.', dot + 1);
    return second < 0 ? name : name.slice(0, second);
  },
  (name) => name.slice(name.lastIndexOf('.') + 1),
];
const FIRST = 0;
const FIRST_TWO = 1;
const LAST = 2;

/**
 * The cached names by first segment, first two segments or last segment. Each kind of group is made
 * the first time a scope asks for it, from the names cached then, and kept up to date from there on:
 * a server whose wildcards all look like `user.<id>.*` keeps only the groups by first two segments.
 */
class NameIndex {
  private readonly groups: (Groups | undefined)[] = [undefined, undefined, undefined];

  /** @param names every name cached now (read when a kind of group is first made). */
  constructor(private readonly names: () => Iterable<string>) {}

  /** How many names each kind of group made so far holds (each, every cached name once). */
  get sizes(): number[] {
    return this.groups.flatMap((groups) => (groups === undefined ? [] : [groups.size]));
  }

  add(name: string): void {
    const groups = this.groups;
    for (let kind = 0; kind < 3; kind++) groups[kind]?.add((KEYS[kind] as (name: string) => string)(name), name);
  }

  remove(name: string): void {
    const groups = this.groups;
    for (let kind = 0; kind < 3; kind++) groups[kind]?.remove((KEYS[kind] as (name: string) => string)(name), name);
  }

  /** The names `scope` admits, or `undefined` when it admits every name. */
  candidates(scope: NameScope): string | ReadonlySet<string> | undefined {
    const lead = scope.lead;
    if (lead.length >= 2) return this.kind(FIRST_TWO).get(`${lead[0] as string}.${lead[1] as string}`) ?? EMPTY_GROUP;
    if (lead.length === 1) return this.kind(FIRST).get(lead[0] as string) ?? EMPTY_GROUP;
    if (scope.last !== undefined) return this.kind(LAST).get(scope.last) ?? EMPTY_GROUP;
    return undefined;
  }

  private kind(kind: number): Groups {
    let groups = this.groups[kind];
    if (groups === undefined) {
      groups = new Groups();
      const key = KEYS[kind] as (name: string) => string;
      for (const name of this.names()) groups.add(key(name), name);
      this.groups[kind] = groups;
    }
    return groups;
  }
}

const EMPTY_GROUP: ReadonlySet<string> = new Set();
