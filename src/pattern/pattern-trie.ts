import type { Disposable } from '../common/disposable.js';
import { compilePattern, type CompiledPattern, type PatternDialect } from './kind-pattern.js';
import { RESOLUTION_CACHE_LIMIT, ResolutionCache, type NameScope } from './resolution-cache.js';

/**
 * @internal One distinct pattern of a {@link PatternSet} and its registrations, oldest first, in a doubly
 * linked list: a registration leaves in constant time and the order of the others is kept.
 */
export class PatternEntry<T> {
  head: PatternRegistration<T> | undefined = undefined;
  last: PatternRegistration<T> | undefined = undefined;
  count = 0;
  /** Where a wildcard entry sits in its trie node's `wild` list (removal swaps the last one in); -1 when alone. */
  index = -1;

  // eslint-disable-next-line @typescript-eslint/max-params -- one per distinct pattern: fields set directly
  constructor(
    readonly source: string,
    /** How a name is tested (a {@link Form}): found by name (exact), by `test`, or by `lead` alone. */
    readonly form: number,
    /** The compiled test (only it is kept, not the rest of the compiled pattern), for {@link BY_TEST}. */
    readonly test: CompiledPattern['test'] | undefined,
    readonly node: TrieNode<T> | undefined,
    /** The literal leading text every matching name starts with (`ns.a` for `ns.a.*`). */
    readonly lead: string,
    /** The literal trailing text every matching name ends with (`done` for `**.done`). */
    readonly trail: string,
  ) {}

  /** The cached names a change of this wildcard entry can concern: its literal leading segments, or last one. */
  scope(): NameScope {
    const trail = this.trail;
    return {
      lead: this.lead === '' ? [] : this.lead.split('.', 2),
      last: trail === '' ? undefined : trail.slice(trail.lastIndexOf('.') + 1),
    };
  }

  /** Whether `name` matches this wildcard entry (its trie node already ruled in by the name's segments). */
  accepts(name: string): boolean {
    const form = this.form;
    if (form === BY_TEST) return (this.test as CompiledPattern['test'])(name);
    // `lead.*` and `lead.**` of the event dialect: the name continues `lead` after a dot.
    const lead = this.lead;
    const at = lead.length;
    if (name.length <= at || name.charCodeAt(at) !== 46 || !name.startsWith(lead)) return false;
    return form === LEAD_GLOBSTAR || name.indexOf('.', at + 1) < 0;
  }

  /** Whether `name` can match, cheaply first. */
  matches(name: string): boolean {
    if (this.form === EXACT) return name === this.source;
    return name.startsWith(this.lead) && name.endsWith(this.trail) && this.accepts(name);
  }
}

/**
 * How a {@link PatternEntry} tests names: an exact name is found by name; the event dialect's common
 * trailing forms `a.b.*` and `a.b.**` are tested with their literal lead (no closure per pattern:
 * servers hold one per connection); every other form by its compiled test.
 */
type Form = typeof EXACT | typeof BY_TEST | typeof LEAD_STAR | typeof LEAD_GLOBSTAR;
const EXACT = 0;
const BY_TEST = 1;
const LEAD_STAR = 2;
const LEAD_GLOBSTAR = 3;

interface TrieNode<T> {
  readonly parent: TrieNode<T> | undefined;
  readonly key: string;
  children: Map<string, TrieNode<T>> | undefined;
  /** Wildcard patterns whose literal prefix (or, in the suffix trie, suffix) is the path here. */
  /** A node's one wildcard entry is held as it is (most nodes have one: `user.42.*`), several in a list. */
  wild: PatternEntry<T> | PatternEntry<T>[] | undefined;
}

function newNode<T>(parent: TrieNode<T> | undefined, key: string): TrieNode<T> {
  return { parent, key, children: undefined, wild: undefined };
}

/**
 * One value added to a {@link PatternSet} under a pattern; dispose to remove it (constant time,
 * idempotent).
 */
export class PatternRegistration<T> implements Disposable {
  /** @internal */ prev: PatternRegistration<T> | undefined = undefined;
  /** @internal */ next: PatternRegistration<T> | undefined = undefined;

  /** @internal Made by {@link PatternSet.add}. */
  constructor(
    /** Registration order within the set. */
    readonly seq: number,
    readonly value: T,
    /** @internal `undefined` once removed. */
    public entry: PatternEntry<T> | undefined,
    private readonly set: PatternSet<T>,
  ) {}

  /** Whether the registration is still in its set. */
  get active(): boolean {
    return this.entry !== undefined;
  }

  dispose(): void {
    const entry = this.entry;
    if (entry === undefined) return;
    this.entry = undefined;
    this.set.unlink(entry, this);
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}

const EMPTY: readonly never[] = Object.freeze([]);

function bySeq(a: PatternRegistration<unknown>, b: PatternRegistration<unknown>): number {
  return a.seq - b.seq;
}

/** Appends the wildcard entries of a trie node that match `name`. */
function collectMatches<T>(wild: TrieNode<T>['wild'], name: string, into: PatternEntry<T>[]): void {
  if (wild === undefined) return;
  if (!Array.isArray(wild)) {
    if (wild.accepts(name)) into.push(wild);
    return;
  }
  for (let i = 0; i < wild.length; i++) {
    const entry = wild[i] as PatternEntry<T>;
    if (entry.accepts(name)) into.push(entry);
  }
}

/**
 * A set of patterns with values, answering "which values match this name" in registration order.
 *
 * - Patterns without wildcards are found with one map lookup by name.
 * - Wildcard patterns sit in a trie keyed by their literal leading segments, so a lookup tests only
 *   the patterns that share a prefix with the name; those that start with a wildcard but end with
 *   literal segments sit in a second trie keyed by those segments from the last one back. A lookup
 *   walks the name's segments without splitting it.
 * - Adding or removing a registration costs constant time plus the cache upkeep: the answers cached
 *   for names the pattern can match are forgotten, and only those. An exact pattern forgets one name;
 *   a wildcard tests the cached names that share its literal first two segments (or its first one,
 *   or, starting with a wildcard, its last one), and only a pattern with no literal segment at
 *   either end (`*`, `**`, `*.x.*`) tests every cached name.
 * - {@link match} caches answers in a {@link ResolutionCache} (bounded by the larger of 16,384 names
 *   and twice the registrations); a user with its own derived answers per name (the event bus's
 *   delivery plans) asks {@link createCache} for one that the set
 *   keeps up to date the same way, and reads fresh answers with {@link resolve}.
 *
 * @example
 * const set = new PatternSet<string>('kind');
 * set.add('http.*', 'http manager');
 * set.match('http.router'); // ['http manager']
 */
export class PatternSet<T> {
  private readonly root: TrieNode<T> = newNode(undefined, '');
  private readonly suffixRoot: TrieNode<T> = newNode(undefined, '');
  /** Every distinct pattern by source. */
  private readonly entries = new Map<string, PatternEntry<T>>();
  private readonly caches: ResolutionCache<unknown>[] = [];
  /** The caches made without a limit of their own: their limit follows the registrations. */
  private readonly growing: ResolutionCache<unknown>[] = [];
  private answers: ResolutionCache<readonly T[]> | undefined;
  private seq = 0;
  private count = 0;
  /**
   * What the caches held for an exact name before its latest registration was added, kept until
   * the next change: when that next change removes the same registration, the name's matches are
   * what they were, and the answers come back instead of being resolved again (a subscription
   * that comes and goes, as a request waiting for its reply does).
   */
  private parkedName: string | undefined = undefined;
  private parkedRegistration: PatternRegistration<T> | undefined = undefined;
  private readonly parkedValues: unknown[] = [];

  constructor(readonly dialect: PatternDialect) {}

  /** How many registrations the set holds. */
  get size(): number {
    return this.count;
  }

  /** How many names {@link match} has cached (bounded by its cache's limit). */
  get cachedNames(): number {
    return this.answers?.size ?? 0;
  }

  /** Adds `value` under `pattern` (throws `INVALID` for a bad pattern); dispose to remove it. */
  add(pattern: string, value: T): PatternRegistration<T> {
    let entry = this.entries.get(pattern);
    if (entry === undefined) entry = this.newEntry(pattern);
    const registration = new PatternRegistration(this.seq++, value, entry, this);
    const last = entry.last;
    if (last === undefined) entry.head = registration;
    else {
      last.next = registration;
      registration.prev = last;
    }
    entry.last = registration;
    entry.count++;
    this.count++;
    // Every name of a subscription has room in the caches: a limit of twice the registrations.
    if (this.count > RESOLUTION_CACHE_LIMIT >> 1) for (const cache of this.growing) cache.raiseLimit(2 * this.count);
    if (entry.form === EXACT) this.park(entry.source, registration);
    else if (this.parkedRegistration !== undefined) this.unparkNothing();
    this.changed(entry);
    return registration;
  }

  /**
   * A cache of answers derived from this set, which the set clears of every name whose matches
   * change. Fill it with `resolve`. Bounded by `limit`; without one, by the larger of
   * {@link RESOLUTION_CACHE_LIMIT} and twice the most registrations the set has held.
   */
  createCache<V>(limit?: number): ResolutionCache<V> {
    const cache = new ResolutionCache<V>(limit);
    this.caches.push(cache);
    if (limit === undefined) {
      cache.raiseLimit(2 * this.count);
      this.growing.push(cache);
    }
    return cache;
  }

  /** The values whose pattern matches `name`, in registration order (cached; the array is frozen). */
  match(name: string): readonly T[] {
    const answers = (this.answers ??= this.createCache<readonly T[]>());
    const cached = answers.get(name);
    if (cached !== undefined) return cached;
    const found = this.resolve(name);
    const frozen = found.length === 0 ? EMPTY : Object.freeze(found);
    answers.set(name, frozen);
    return frozen;
  }

  /** The values whose pattern matches `name`, in registration order, freshly resolved (a new array). */
  resolve(name: string): T[] {
    const found: PatternEntry<T>[] = [];
    const exact = this.entries.get(name);
    if (exact !== undefined && exact.form === EXACT) found.push(exact);
    // The prefix trie, one segment at a time.
    let node: TrieNode<T> | undefined = this.root;
    let start = 0;
    for (;;) {
      collectMatches(node.wild, name, found);
      const children: Map<string, TrieNode<T>> | undefined = node.children;
      if (children === undefined || start > name.length) break;
      let dot = name.indexOf('.', start);
      if (dot < 0) dot = name.length;
      node = children.get(name.slice(start, dot));
      if (node === undefined) break;
      start = dot + 1;
    }
    // The suffix trie, from the last segment back.
    node = this.suffixRoot;
    let end = name.length;
    while (end >= 0) {
      const children: Map<string, TrieNode<T>> | undefined = node.children;
      if (children === undefined) break;
      const dot = end === 0 ? -1 : name.lastIndexOf('.', end - 1);
      node = children.get(name.slice(dot + 1, end));
      if (node === undefined) break;
      collectMatches(node.wild, name, found);
      end = dot;
    }
    if (found.length === 0) return [];
    if (found.length === 1) {
      const values: T[] = [];
      for (let r = (found[0] as PatternEntry<T>).head; r !== undefined; r = r.next) values.push(r.value);
      return values;
    }
    const hits: PatternRegistration<T>[] = [];
    for (const entry of found) for (let r = entry.head; r !== undefined; r = r.next) hits.push(r);
    hits.sort(bySeq);
    const values: T[] = new Array<T>(hits.length);
    for (let i = 0; i < hits.length; i++) values[i] = (hits[i] as PatternRegistration<T>).value;
    return values;
  }

  /** Every registration, in registration order. */
  registrations(): PatternRegistration<T>[] {
    const all: PatternRegistration<T>[] = [];
    for (const entry of this.entries.values()) for (let r = entry.head; r !== undefined; r = r.next) all.push(r);
    return all.sort(bySeq);
  }

  /** Every registered pattern source, in registration order (once per registration). */
  patterns(): string[] {
    return this.registrations().map((r) => (r.entry as PatternEntry<T>).source);
  }

  /** @internal Removes a registration (called by its `dispose`). */
  unlink(entry: PatternEntry<T>, registration: PatternRegistration<T>): void {
    const { prev, next } = registration;
    if (prev === undefined) entry.head = next;
    else prev.next = next;
    if (next === undefined) entry.last = prev;
    else next.prev = prev;
    registration.prev = registration.next = undefined;
    entry.count--;
    this.count--;
    // Parked only by the last change: its own add.
    const restore = registration === this.parkedRegistration;
    if (entry.count === 0) this.dropEntry(entry);
    if (restore) this.unpark();
    else {
      if (this.parkedRegistration !== undefined) this.unparkNothing();
      this.changed(entry);
    }
  }

  private newEntry(pattern: string): PatternEntry<T> {
    const compiled = compilePattern(pattern, this.dialect); // throws INVALID before any change
    let entry: PatternEntry<T>;
    if (compiled.exact) {
      entry = new PatternEntry<T>(pattern, EXACT, undefined, undefined, pattern, pattern);
    } else {
      const bySuffix = compiled.suffix.length > 0;
      let node = bySuffix ? this.suffixRoot : this.root;
      for (const segment of bySuffix ? compiled.suffix : compiled.prefix) {
        let child = node.children?.get(segment);
        if (child === undefined) {
          child = newNode(node, segment);
          (node.children ??= new Map()).set(segment, child);
        }
        node = child;
      }
      // Without the joining dots: in the kind dialect `a.**` matches `a` and `**.z` matches `z`.
      const lead = compiled.prefix.join('.');
      const trail = [...compiled.suffix].reverse().join('.');
      let form: Form = BY_TEST;
      if (this.dialect === 'event' && lead !== '' && pattern.startsWith(lead)) {
        const rest = pattern.length - lead.length;
        if (rest === 2 && pattern.endsWith('.*')) form = LEAD_STAR;
        else if (rest === 3 && pattern.endsWith('.**')) form = LEAD_GLOBSTAR;
      }
      entry = new PatternEntry<T>(pattern, form, form === BY_TEST ? compiled.test : undefined, node, lead, trail);
      const wild = node.wild;
      if (wild === undefined) node.wild = entry;
      else if (Array.isArray(wild)) {
        entry.index = wild.length;
        wild.push(entry);
      } else {
        wild.index = 0;
        entry.index = 1;
        node.wild = [wild, entry];
      }
    }
    this.entries.set(pattern, entry);
    return entry;
  }

  private dropEntry(entry: PatternEntry<T>): void {
    this.entries.delete(entry.source);
    let node = entry.node;
    if (node === undefined) return;
    const wild = node.wild as PatternEntry<T> | PatternEntry<T>[];
    if (!Array.isArray(wild)) node.wild = undefined;
    else {
      const moved = wild.pop() as PatternEntry<T>;
      if (moved !== entry) {
        wild[entry.index] = moved;
        moved.index = entry.index;
      }
      if (wild.length === 0) node.wild = undefined;
    }
    // Prune nodes left with nothing, so that patterns that come and go leave no trace.
    while (node.parent !== undefined && node.wild === undefined && node.children === undefined) {
      const parent: TrieNode<T> = node.parent;
      const children = parent.children as Map<string, TrieNode<T>>;
      children.delete(node.key);
      if (children.size === 0) parent.children = undefined;
      node = parent;
    }
  }

  /** Keeps what each cache holds for `name` before `registration` (just added to its exact entry) changes it. */
  private park(name: string, registration: PatternRegistration<T>): void {
    const caches = this.caches;
    if (caches.length === 0) return;
    this.parkedName = name;
    this.parkedRegistration = registration;
    for (let i = 0; i < caches.length; i++) this.parkedValues[i] = (caches[i] as ResolutionCache<unknown>).peek(name);
  }

  /** Puts back what {@link park} kept: the parked registration is gone again and nothing else changed. */
  private unpark(): void {
    const caches = this.caches;
    const name = this.parkedName as string;
    for (let i = 0; i < caches.length; i++) {
      const cache = caches[i] as ResolutionCache<unknown>;
      const value = this.parkedValues[i];
      if (value === undefined) cache.forget(name);
      else cache.set(name, value);
      this.parkedValues[i] = undefined;
    }
    this.parkedRegistration = undefined;
  }

  /** Lets go of what {@link park} kept: something else changed first. */
  private unparkNothing(): void {
    this.parkedRegistration = undefined;
    this.parkedValues.fill(undefined);
  }

  /** Forgets the cached answers that a change of `entry`'s registrations makes stale. */
  private changed(entry: PatternEntry<T>): void {
    const caches = this.caches;
    if (caches.length === 0) return;
    if (entry.form === EXACT) {
      for (const cache of caches) cache.forget(entry.source);
    } else {
      const scope = entry.scope();
      for (const cache of caches) if (cache.size > 0) cache.forgetWhere((name) => entry.matches(name), scope);
    }
  }
}
