import { toDisposable, type Disposable } from '../common/disposable.js';
import { compilePattern, type CompiledPattern, type PatternDialect } from './kind-pattern.js';

interface Registration<T> {
  readonly seq: number;
  readonly pattern: CompiledPattern;
  readonly value: T;
}

interface TrieNode<T> {
  readonly children: Map<string, TrieNode<T>>;
  /** Patterns that are exactly the path to this node. */
  readonly exact: Registration<T>[];
  /** Wildcard patterns whose literal prefix is the path to this node. */
  readonly wild: Registration<T>[];
}

function newNode<T>(): TrieNode<T> {
  return { children: new Map(), exact: [], wild: [] };
}

/** How many distinct names a {@link PatternSet} remembers before it starts its cache over. */
const CACHE_LIMIT = 16_384;

const EMPTY: readonly never[] = Object.freeze([]);

/**
 * A set of patterns with values, answering "which values match this name" in registration order.
 * Patterns sit in a trie keyed by their literal leading segments, so a lookup tests only the
 * patterns that share a prefix with the name; each distinct name is resolved once and cached until
 * a registration changes.
 *
 * @example
 * const set = new PatternSet<string>('kind');
 * set.add('http.*', 'http manager');
 * set.match('http.router'); // ['http manager']
 */
export class PatternSet<T> {
  private readonly root: TrieNode<T> = newNode();
  /**
   * Patterns that start with a wildcard but end with literal segments sit in a second trie keyed
   * by those segments from the last one back: a name can only match them when it ends with them.
   */
  private readonly suffixRoot: TrieNode<T> = newNode();
  /** Answers by name: a null-prototype dictionary, which V8 reads faster than a Map for string keys. */
  private cache: Record<string, readonly T[] | undefined> = Object.create(null) as Record<string, readonly T[] | undefined>;
  private cached = 0;
  private seq = 0;
  private count = 0;

  constructor(readonly dialect: PatternDialect) {}

  /** How many registrations the set holds. */
  get size(): number {
    return this.count;
  }

  /** Adds `value` under `pattern` (throws `INVALID` for a bad pattern); dispose to remove it. */
  add(pattern: string, value: T): Disposable {
    const compiled = compilePattern(pattern, this.dialect);
    const registration: Registration<T> = { seq: this.seq++, pattern: compiled, value };
    const bySuffix = compiled.suffix.length > 0;
    let node = bySuffix ? this.suffixRoot : this.root;
    for (const segment of bySuffix ? compiled.suffix : compiled.prefix) {
      let child = node.children.get(segment);
      if (child === undefined) {
        child = newNode();
        node.children.set(segment, child);
      }
      node = child;
    }
    const list = compiled.exact ? node.exact : node.wild;
    list.push(registration);
    this.count++;
    this.forget();
    return toDisposable(() => {
      const index = list.indexOf(registration);
      if (index >= 0) {
        list.splice(index, 1);
        this.count--;
        this.forget();
      }
    });
  }

  /** The values whose pattern matches `name`, in registration order (cached). */
  match(name: string): readonly T[] {
    const cached = this.cache[name];
    if (cached !== undefined) return cached;
    const found = this.resolve(name);
    if (this.cached >= CACHE_LIMIT) this.forget();
    this.cache[name] = found;
    this.cached++;
    return found;
  }

  private forget(): void {
    if (this.cached === 0) return;
    this.cache = Object.create(null) as Record<string, readonly T[] | undefined>;
    this.cached = 0;
  }

  /** Every registered pattern source, in registration order. */
  patterns(): string[] {
    const all: Registration<T>[] = [];
    const visit = (node: TrieNode<T>): void => {
      all.push(...node.exact, ...node.wild);
      node.children.forEach(visit);
    };
    visit(this.root);
    visit(this.suffixRoot);
    return all.sort((a, b) => a.seq - b.seq).map((r) => r.pattern.source);
  }

  private resolve(name: string): readonly T[] {
    const hits: Registration<T>[] = [];
    const segments = name.split('.');
    let node: TrieNode<T> | undefined = this.root;
    for (let depth = 0; node !== undefined; depth++) {
      for (const registration of node.wild) {
        if (registration.pattern.test(name)) hits.push(registration);
      }
      if (depth === segments.length) {
        hits.push(...node.exact);
        break;
      }
      node = node.children.get(segments[depth] as string);
    }
    let tail: TrieNode<T> | undefined = this.suffixRoot.children.get(segments[segments.length - 1] as string);
    for (let back = segments.length - 2; tail !== undefined; back--) {
      for (const registration of tail.wild) {
        if (registration.pattern.test(name)) hits.push(registration);
      }
      tail = back < 0 ? undefined : tail.children.get(segments[back] as string);
    }
    if (hits.length === 0) return EMPTY;
    if (hits.length > 1) hits.sort((a, b) => a.seq - b.seq);
    return Object.freeze(hits.map((r) => r.value));
  }
}
