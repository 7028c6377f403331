import { toDisposable } from '../common/disposable.js';
import type { Disposable } from '../common/disposable.js';
import { KindlingError } from '../common/errors.js';
import type { ConfigClass } from '../config/decode-entry-config.js';
import type { Entry } from '../entry/entry.js';
import { assertValidKind } from '../entry/entry-id.js';
import { matchKind } from '../pattern/kind-pattern.js';
import { PatternSet } from '../pattern/pattern-trie.js';

/** What every listener call receives: the batch it belongs to and how to stop early. */
export interface ListenerContext {
  /** Unique id of the batch (the same across begin, operations, commit and discard). */
  readonly transactionId: string;
  /** True when the batch is a plan or validation that will be discarded whatever happens. */
  readonly dryRun: boolean;
  /** Aborted when the batch is abandoned (a refusal, a timeout) or the call overruns its time. */
  readonly signal: AbortSignal;
  /** True for the compensating calls that undo a listener's part of a refused batch. */
  readonly compensating: boolean;
  /** The registry revision the batch started from. */
  readonly baseRevision: number;
  /** An entry as the batch sees it so far: staged changes first, then the committed state. */
  get(id: string): Entry | undefined;
}

type MaybePromise<T> = T | Promise<T>;

/**
 * Begin, commit and discard hooks of a transactional listener (Wippy's `TransactionListener`).
 */
export interface TransactionListener {
  begin?(ctx: ListenerContext): MaybePromise<void>;
  commit?(ctx: ListenerContext): MaybePromise<void>;
  discard?(ctx: ListenerContext): MaybePromise<void>;
}

/**
 * Handles entries of the kinds it is registered for (Wippy's `EntryListener`). Throwing or rejecting
 * refuses the operation, and so the whole batch.
 */
export interface EntryListener<D = unknown> extends TransactionListener {
  add(ctx: ListenerContext, entry: Entry<D>): MaybePromise<void>;
  update(ctx: ListenerContext, entry: Entry<D>, previous: Entry<D>): MaybePromise<void>;
  delete(ctx: ListenerContext, entry: Entry<D>): MaybePromise<void>;
}

/** What observer calls receive: the committed batch. */
export interface ObserverContext {
  readonly transactionId: string;
  /** The revision the batch committed as. */
  readonly revision: number;
}

/**
 * Watches committed changes of the kinds it is registered for (logging, metrics, caches). Observers
 * cannot refuse: they are called after commit, and their errors are reported, never propagated.
 */
export interface EntryObserver<D = unknown> {
  add?(ctx: ObserverContext, entry: Entry<D>): MaybePromise<void>;
  update?(ctx: ObserverContext, entry: Entry<D>, previous: Entry<D>): MaybePromise<void>;
  delete?(ctx: ObserverContext, entry: Entry<D>): MaybePromise<void>;
}

/** Options of one listener registration. */
export interface ListenerOptions {
  /** A name for error messages; defaults to the listener's class name and pattern. */
  readonly name?: string;
  /** Time limit of each call, overriding the registry's default. */
  readonly timeoutMs?: number;
  /**
   * The kinds this listener handles, when its pattern matches more than it knows (`http.*` for
   * `http.service`, `http.router`, `http.endpoint`). Another kind the pattern matches is not
   * handled by it: unless some other listener or `acceptKinds` takes it, the registry refuses it
   * and names the nearest known kind (`http.endpiont`: did you mean `http.endpoint`?).
   */
  readonly kinds?: readonly string[];
  /**
   * The config class of each kind this listener owns: `{ 'http.endpoint': HttpEndpointConfig }`.
   * Before any listener sees a created or updated entry of such a kind, the registry decodes its
   * `data` with {@link decodeEntryConfig} (once per entry); a decode failure refuses the batch in
   * this listener's name, with the entry id and the field path. Listeners read the result with
   * `entryConfig(ConfigClass, entry)`, which returns it without decoding again. The same mapping
   * is what `kindling schema` describes. Each key must be a kind (no wildcards) that `pattern`
   * matches and, when `kinds` is given, one of them; one kind has one config class across all
   * registrations (a second, different one is refused with `CONFLICT`).
   */
  readonly configs?: Readonly<Record<string, ConfigClass<object>>>;
}

/** A kind whose entries' data a listener declared a config class for (see {@link ListenerOptions.configs}). */
export interface KindConfig {
  readonly kind: string;
  readonly configClass: ConfigClass<object>;
  /** The name of the listener that declared it (refusals of a bad config are in its name). */
  readonly listener: string;
}

/** A listener as registered: the object, its pattern and its options. */
export interface ListenerRegistration {
  readonly listener: EntryListener;
  readonly pattern: string;
  readonly name: string;
  readonly timeoutMs: number | undefined;
  /** The kinds it handles among those its pattern matches (undefined: all of them). */
  readonly kinds: ReadonlySet<string> | undefined;
  /** The config classes it declared, by kind (undefined: none). */
  readonly configs: ReadonlyMap<string, KindConfig> | undefined;
}

/** An observer as registered. */
export interface ObserverRegistration {
  readonly observer: EntryObserver;
  readonly pattern: string;
  readonly name: string;
}

function describe(target: object, pattern: string, name: string | undefined): string {
  if (name !== undefined) return name;
  const ctor = (target as { constructor?: { name?: string } }).constructor?.name;
  return ctor !== undefined && ctor !== 'Object' ? `${ctor}(${pattern})` : `listener(${pattern})`;
}

/**
 * Maps kind patterns to listeners and observers. Lookups for a concrete kind are resolved once and
 * cached until a registration changes.
 *
 * @example
 * const handlers = new HandlerRegistry();
 * const sub = handlers.registerListener('http.*', httpManager);
 * handlers.registerObserver('function.*', metrics);
 * sub.dispose();
 */
export class HandlerRegistry {
  private readonly listeners = new PatternSet<ListenerRegistration>('kind');
  private readonly observers = new PatternSet<ObserverRegistration>('kind');
  /** The listeners that declared the kinds they handle, for "did you mean" hints. */
  private readonly declaredKinds = new Set<ListenerRegistration>();
  /** The config class of each kind that has one, and how many registrations declared it. */
  private readonly configs = new Map<string, { config: KindConfig; count: number }>();

  /**
   * Registers a listener for every kind `pattern` matches. Throws `INVALID` for a bad pattern or a
   * bad `configs` key, `CONFLICT` for a kind another registration gave a different config class.
   *
   * @example
   * handlers.registerListener('http.*', manager, {
   *   name: 'http',
   *   kinds: ['http.service', 'http.endpoint'],
   *   configs: { 'http.service': HttpServiceConfig, 'http.endpoint': HttpEndpointConfig },
   * });
   */
  registerListener<D = unknown>(
    pattern: string,
    listener: EntryListener<D>,
    options: ListenerOptions = {},
  ): Disposable {
    const name = describe(listener, pattern, options.name);
    const kinds = options.kinds === undefined ? undefined : new Set(options.kinds);
    const configs =
      options.configs === undefined ? undefined : this.checkConfigs(pattern, name, kinds, options.configs);
    const registration: ListenerRegistration = {
      listener: listener,
      pattern,
      name,
      timeoutMs: options.timeoutMs,
      kinds,
      configs,
    };
    const added = this.listeners.add(pattern, registration);
    for (const config of configs?.values() ?? []) {
      const held = this.configs.get(config.kind);
      if (held === undefined) this.configs.set(config.kind, { config, count: 1 });
      else held.count++;
    }
    if (registration.kinds === undefined && configs === undefined) return added;
    if (registration.kinds !== undefined) this.declaredKinds.add(registration);
    return toDisposable(() => {
      this.declaredKinds.delete(registration);
      for (const config of configs?.values() ?? []) {
        const held = this.configs.get(config.kind);
        if (held !== undefined && --held.count === 0) this.configs.delete(config.kind);
      }
      added.dispose();
    });
  }

  /** The config class declared for `kind`, if any (see {@link ListenerOptions.configs}). */
  configFor(kind: string): KindConfig | undefined {
    return this.configs.get(kind)?.config;
  }

  /** Every kind with a declared config class, sorted by kind. */
  kindConfigs(): KindConfig[] {
    return [...this.configs.values()].map((held) => held.config).sort((a, b) => (a.kind < b.kind ? -1 : 1));
  }

  /**
   * Every kind a listener names as a kind, sorted: its `kinds`, its `configs` keys, or its pattern
   * when that has no wildcard (for completion in editors and `kindling schema`).
   */
  knownKinds(): string[] {
    const kinds = new Set<string>(this.configs.keys());
    for (const { value: registration } of this.listeners.registrations()) {
      if (registration.kinds !== undefined) for (const kind of registration.kinds) kinds.add(kind);
      else if (!/[*(]/.test(registration.pattern)) kinds.add(registration.pattern);
    }
    return [...kinds].sort();
  }

  private checkConfigs(
    pattern: string,
    name: string,
    kinds: ReadonlySet<string> | undefined,
    configs: Readonly<Record<string, ConfigClass<object>>>,
  ): ReadonlyMap<string, KindConfig> {
    const checked = new Map<string, KindConfig>();
    for (const [kind, configClass] of Object.entries(configs)) {
      const where = `config class of kind ${JSON.stringify(kind)} (listener ${name})`;
      assertValidKind(kind);
      if (typeof configClass !== 'function') throw new KindlingError('INVALID', `the ${where} is not a class`);
      if (!matchKind(pattern, kind)) {
        throw new KindlingError('INVALID', `the ${where}: the listener's pattern ${pattern} does not match that kind`);
      }
      if (kinds !== undefined && !kinds.has(kind)) {
        throw new KindlingError('INVALID', `the ${where}: the kind is not one of the listener's kinds`);
      }
      const held = this.configs.get(kind)?.config;
      if (held !== undefined && held.configClass !== configClass) {
        throw new KindlingError(
          'CONFLICT',
          `the ${where}: kind ${kind} already has config class ${held.configClass.name} (listener ${held.listener}); one kind has one config class`,
          { details: { kind, listener: name, heldBy: held.listener } },
        );
      }
      checked.set(kind, Object.freeze({ kind, configClass, listener: name }));
    }
    return checked;
  }

  /** Registers an observer for every kind `pattern` matches. Throws `INVALID` for a bad pattern. */
  registerObserver<D = unknown>(
    pattern: string,
    observer: EntryObserver<D>,
    options: { name?: string } = {},
  ): Disposable {
    const registration: ObserverRegistration = {
      observer: observer,
      pattern,
      name: describe(observer, pattern, options.name),
    };
    return this.observers.add(pattern, registration);
  }

  /** The listeners for `kind`, in registration order. */
  listenersFor(kind: string): readonly ListenerRegistration[] {
    const matched = this.listeners.match(kind);
    // The cached match is returned as it is unless a listener in it declared the kinds it knows.
    return matched.some((registration) => registration.kinds !== undefined && !registration.kinds.has(kind))
      ? matched.filter((registration) => registration.kinds === undefined || registration.kinds.has(kind))
      : matched;
  }

  /** The observers for `kind`, in registration order. */
  observersFor(kind: string): readonly ObserverRegistration[] {
    return this.observers.match(kind);
  }

  /** Every listener pattern, in registration order. */
  listenerPatterns(): string[] {
    return this.listeners.patterns();
  }

  /**
   * The registered listener pattern — or, for a listener that declared its kinds, the kind —
   * closest to `kind` (for "did you mean" hints), if any is close; `others` are weighed too (the
   * registry's accepted kinds).
   */
  nearestListenerPattern(kind: string, others: readonly string[] = []): string | undefined {
    let best: string | undefined;
    let bestDistance = Number.POSITIVE_INFINITY;
    const declared = new Set([...this.declaredKinds].map((registration) => registration.pattern));
    const candidates = new Set([
      ...this.listeners.patterns().filter((pattern) => !declared.has(pattern)),
      ...[...this.declaredKinds].flatMap((registration) => [...(registration.kinds ?? [])]),
      ...others,
    ]);
    for (const pattern of candidates) {
      const distance = patternDistance(pattern, kind);
      if (distance < bestDistance) {
        best = pattern;
        bestDistance = distance;
      }
    }
    return bestDistance <= Math.max(2, Math.floor(kind.length / 3)) ? best : undefined;
  }
}

/** Segment-wise edit distance where a wildcard segment of the pattern costs nothing. */
function patternDistance(pattern: string, kind: string): number {
  const patternSegments = pattern.split('.');
  const kindSegments = kind.split('.');
  let distance = 0;
  patternSegments.forEach((segment, i) => {
    const other = kindSegments[i];
    if (segment.includes('*') || segment.startsWith('(')) {
      if (other === undefined && segment !== '**') distance += 2;
    } else {
      distance += editDistance(segment, other ?? '');
    }
  });
  const wildTail = /\*$/.test(pattern);
  if (!wildTail && kindSegments.length > patternSegments.length) {
    distance += kindSegments.slice(patternSegments.length).join('.').length;
  }
  return distance;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      current[j] = Math.min(
        (previous[j] as number) + 1,
        (current[j - 1] as number) + 1,
        (previous[j - 1] as number) + cost,
      );
    }
    previous = current;
  }
  return previous[b.length] as number;
}
