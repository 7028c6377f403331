import type { AsyncLocalStorage } from 'node:async_hooks';
import { errorCodeOf, KindlingError, messageOf } from '../common/errors.js';
import type { Entry } from '../entry/entry.js';
import type { EntryListener, KindConfig, ListenerContext, ListenerRegistration } from '../handlers/handler-registry.js';
import type { PlannedOp } from './ordering.js';
import { isThenable, withinTimeLimit } from '../common/time-limit.js';
import { Fifo } from '../common/fifo.js';
import { entryConfig } from '../config/entry-config.js';

/** A listener that may be out of step with the registry after a failed compensation or discard. */
export interface DesyncedListener {
  readonly listener: string;
  readonly entryId: string | undefined;
  readonly phase: 'compensate' | 'discard';
  readonly error: unknown;
}

interface PendingOp {
  readonly op: PlannedOp;
  /** The op's place in the ordered batch. */
  readonly index: number;
  readonly listeners: readonly ListenerRegistration[];
  next: number;
  lastError: unknown;
  /** The id the last `NOT_FOUND` refusal named as missing (`details.missing`), until it is created. */
  waitingFor: string | undefined;
  /** Whether the entry's config was decoded (or needs none). */
  decoded: boolean;
}

/** What a transaction needs from the registry that runs it. */
export interface TransactionHost {
  readonly defaultTimeoutMs: number;
  /**
   * Marks calls made from inside a listener, so that a nested apply fails fast. Each phase
   * (run, commit, discard) enters it once; every listener call inside inherits it.
   */
  readonly scope: AsyncLocalStorage<string>;
  /** The committed entry with this id. */
  committed(id: string): Entry | undefined;
  /** Spans and metrics of listener calls, when an OpenTelemetry SDK is registered. */
  readonly telemetry?: ListenerTelemetry | undefined;
}

/**
 * What a transaction asks of the telemetry (docs/telemetry.md): a span around one listener call.
 * Declared here, without OpenTelemetry's types, so that no public type depends on the optional api.
 */
export interface ListenerTelemetry {
  handlerCall<T>(kind: 'listener', name: string, entryId: string | undefined, op: string, fn: () => T): T;
}

/**
 * Runs the listener side of one batch (docs/handlers.md): begin on every participant, the
 * operations in order under per-call timeouts, NOT_FOUND retries, and on failure compensation plus
 * discard. The registry owns checks, ordering and the state swap.
 */
export class Transaction {
  /** The batch's signal, aborted when the batch is abandoned. */
  private readonly abandoned = new LazySignal();
  private readonly staged = new Map<string, Entry | undefined>();
  /** The ops in the order their listeners finished them (after NOT_FOUND retries). */
  readonly completed: PlannedOp[] = [];
  /**
   * The calls made so far, kept for compensation, as runs: the calls of `runOps[r]` to its listeners
   * `runFrom[r]` up to (not including) `runTo[r]`, in the order made. An op's listeners mostly accept
   * one after the other, so a batch keeps about one run per op, not one record per call.
   */
  private readonly runOps: PendingOp[] = [];
  private readonly runFrom: number[] = [];
  private readonly runTo: number[] = [];
  /** One registration per listener object: a listener under two patterns begins once. */
  private readonly participants: ListenerRegistration[] = [];
  private readonly began: ListenerRegistration[] = [];
  readonly context: ListenerContext;

  constructor(
    private readonly host: TransactionHost,
    readonly id: string,
    private readonly ops: readonly PlannedOp[],
    { dryRun, baseRevision }: { readonly dryRun: boolean; readonly baseRevision: number },
  ) {
    const seen = new Set<EntryListener>();
    for (const op of ops) {
      for (const registration of op.listeners) {
        if (!seen.has(registration.listener)) {
          seen.add(registration.listener);
          this.participants.push(registration);
        }
      }
    }
    this.context = this.makeContext(this.abandoned, false, dryRun, baseRevision);
  }

  /** Begin and every operation; on any failure the batch is undone and the error is thrown. */
  run(): Promise<void> {
    return this.host.scope.run(this.id, async () => {
      try {
        await this.begin();
        await this.operate();
      } catch (error) {
        const desynced = await this.undo();
        throw withDesynced(error, desynced);
      }
    });
  }

  /** Undoes everything a successful {@link run} did (used for dry runs). */
  discardAll(): Promise<DesyncedListener[]> {
    return this.host.scope.run(this.id, () => this.undo());
  }

  /** Calls `commit` on every participant that began; returns the failures (the batch stays committed). */
  commit(): Promise<{ listener: string; error: unknown }[]> {
    return this.host.scope.run(this.id, () => this.commitAll());
  }

  private async commitAll(): Promise<{ listener: string; error: unknown }[]> {
    const faults: { listener: string; error: unknown }[] = [];
    for (const { listener, name, timeoutMs } of this.began) {
      if (typeof listener.commit !== 'function') continue;
      try {
        const commit = listener.commit.bind(listener);
        await this.traced(name, undefined, 'commit', () =>
          this.call(commit, timeoutMs ?? this.host.defaultTimeoutMs, () => `commit of ${name}`),
        );
      } catch (error) {
        faults.push({ listener: name, error });
      }
    }
    return faults;
  }

  private async begin(): Promise<void> {
    for (const registration of this.participants) {
      const { listener, name, timeoutMs } = registration;
      if (typeof listener.begin === 'function') {
        try {
          const begin = listener.begin.bind(listener);
          await this.traced(name, undefined, 'begin', () =>
            this.call(begin, timeoutMs ?? this.host.defaultTimeoutMs, () => `begin of ${name}`),
          );
        } catch (error) {
          throw refusal(error, undefined, name, 'begin');
        }
      }
      this.began.push(registration);
    }
  }

  /**
   * Runs every op through its listeners. A `NOT_FOUND` refusal that names the missing id
   * (`details.missing`) parks the op until an op of the batch creates that id, then it runs again;
   * any other `NOT_FOUND` is retried in the next pass over what is left, and a pass in which no
   * listener accepted anything ends the batch with `UNRESOLVED`. Ops still parked when nothing else
   * can run fail the same way. Each op is tried once plus once per wake or pass it waits for, so a
   * chain of n ops that each wait for the next costs O(n), not O(n²).
   */
  private async operate(): Promise<void> {
    const all: PendingOp[] = this.ops.map((op, index) => ({
      op,
      index,
      listeners: op.listeners,
      next: 0,
      lastError: undefined,
      waitingFor: undefined,
      decoded: op.config === undefined,
    }));
    let queue = new Fifo<PendingOp>(all);
    let deferred: PendingOp[] = [];
    const parked = new Map<string, PendingOp[]>();
    let progress = false;
    for (;;) {
      const item = queue.shift();
      if (item === undefined) {
        if (deferred.length === 0) break;
        if (!progress) break;
        // Another pass over the ops whose refusal named nothing to wait for, in batch order.
        queue = new Fifo(deferred.sort((a, b) => a.index - b.index));
        deferred = [];
        progress = false;
        continue;
      }
      const before = item.next;
      const outcome = this.advance(item);
      if (outcome === true || (outcome !== false && (await outcome))) {
        progress = true;
        const present = item.op.op !== 'delete';
        this.staged.set(item.op.id, present ? item.op.entry : undefined);
        this.completed.push(item.op);
        const waiting = present ? parked.get(item.op.id) : undefined;
        if (waiting !== undefined) {
          parked.delete(item.op.id);
          for (const woken of waiting) {
            woken.waitingFor = undefined;
            queue.push(woken);
          }
        }
        continue;
      }
      // Progress means a listener accepted in this pass; earlier passes do not count.
      if (item.next > before) progress = true;
      const missing = item.waitingFor;
      if (missing === undefined) {
        deferred.push(item);
        continue;
      }
      const waiting = parked.get(missing);
      if (waiting === undefined) parked.set(missing, [item]);
      else waiting.push(item);
    }
    if (deferred.length > 0 || parked.size > 0) {
      const left = [...deferred, ...[...parked.values()].flat()].sort((a, b) => a.index - b.index);
      const stuck = left.map((item) => ({
        entryId: item.op.id,
        listener: item.listeners[item.next]?.name,
        message: messageOf(item.lastError),
      }));
      throw new KindlingError(
        'UNRESOLVED',
        `${stuck.length} operation(s) kept failing with NOT_FOUND: ${stuck.map((s) => `${s.entryId} (${s.listener}: ${s.message})`).join('; ')}`,
        { details: { unresolved: stuck } },
      );
    }
  }

  /**
   * Runs the remaining listeners of one op; false when one refused with NOT_FOUND (retry later).
   * Synchronous listeners are called without allocating a promise; the first async one switches
   * to a promise for the rest.
   */
  private advance(item: PendingOp): boolean | Promise<boolean> {
    if (!item.decoded) this.decode(item);
    while (item.next < item.listeners.length) {
      const registration = item.listeners[item.next] as ListenerRegistration;
      let pending: Promise<unknown> | undefined;
      try {
        const otel = this.host.telemetry;
        pending =
          otel === undefined
            ? this.invoke(registration, item.op, this.context, false)
            : otel.handlerCall('listener', registration.name, item.op.id, item.op.op, () =>
                this.invoke(registration, item.op, this.context, false),
              );
      } catch (error) {
        return this.refused(item, registration, error);
      }
      if (pending !== undefined) {
        return pending.then(
          () => {
            this.accepted(item);
            return this.advance(item);
          },
          (error: unknown) => this.refused(item, registration, error),
        );
      }
      this.accepted(item);
    }
    return true;
  }

  /**
   * Decodes the entry's data with its kind's config class before any listener sees it; the
   * listeners read the result with `entryConfig`. A bad config refuses the batch in the name of the
   * listener that declared the class, as its own `decodeEntryConfig` call used to.
   */
  private decode(item: PendingOp): void {
    const config = item.op.config as KindConfig;
    try {
      entryConfig(config.configClass, item.op.entry);
    } catch (error) {
      throw refusal(error, item.op.id, config.listener, item.op.op);
    }
    item.decoded = true;
  }

  /** Records that `item`'s listener `item.next` accepted, and moves on to the next. */
  private accepted(item: PendingOp): void {
    const last = this.runOps.length - 1;
    if (last >= 0 && this.runOps[last] === item && this.runTo[last] === item.next) {
      this.runTo[last] = item.next + 1;
    } else {
      this.runOps.push(item);
      this.runFrom.push(item.next);
      this.runTo.push(item.next + 1);
    }
    item.next++;
  }

  private refused(item: PendingOp, registration: ListenerRegistration, error: unknown): false {
    if (errorCodeOf(error) === 'NOT_FOUND' && !this.abandoned.aborted) {
      item.lastError = error;
      // Wait for the id the refusal names, unless the batch already sees it (then waiting for its
      // creation would never end: retry with the next pass instead).
      const missing = missingIdOf(error);
      item.waitingFor = missing !== undefined && this.context.get(missing) === undefined ? missing : undefined;
      return false;
    }
    throw refusal(error, item.op.id, registration.name, item.op.op);
  }

  /** Calls the listener method for `op` (or its inverse); returns a promise only for async listeners. */
  private invoke(
    registration: ListenerRegistration,
    op: PlannedOp,
    ctx: ListenerContext,
    inverse: boolean,
  ): Promise<unknown> | undefined {
    const listener = registration.listener;
    // No closure per call: this runs once per listener per op.
    let result: unknown;
    if (!inverse) {
      if (op.op === 'create') result = listener.add(ctx, op.entry);
      else if (op.op === 'update') result = listener.update(ctx, op.entry, op.previous as Entry);
      else result = listener.delete(ctx, op.entry);
    } else if (op.op === 'create') result = listener.delete(ctx, op.entry);
    else if (op.op === 'update') result = listener.update(ctx, op.previous as Entry, op.entry);
    else result = listener.add(ctx, op.entry);
    if (!isThenable(result)) return undefined;
    const method = inverse
      ? { create: 'delete', update: 'update', delete: 'add' }[op.op]
      : { create: 'add', update: 'update', delete: 'delete' }[op.op];
    return this.race(
      result,
      registration.timeoutMs ?? this.host.defaultTimeoutMs,
      () => `${method} of entry ${op.id} by ${registration.name}`,
    );
  }

  /** A begin or commit call inside a listener span, when telemetry is on. */
  private traced(
    name: string,
    entryId: string | undefined,
    op: string,
    fn: () => Promise<unknown> | undefined,
  ): Promise<unknown> | undefined {
    const otel = this.host.telemetry;
    return otel === undefined ? fn() : otel.handlerCall('listener', name, entryId, op, fn);
  }

  private call(
    fn: (ctx: ListenerContext) => unknown,
    timeoutMs: number,
    what: () => string,
    ctx = this.context,
  ): Promise<unknown> | undefined {
    const result = fn(ctx);
    return isThenable(result) ? this.race(result, timeoutMs, what) : undefined;
  }

  private race(result: PromiseLike<unknown>, timeoutMs: number, what: () => string): Promise<unknown> {
    // A timeout abandons the whole batch: abort its signal once the rejection is decided.
    return withinTimeLimit(result, timeoutMs, what, (error) => this.abandoned.abort(error));
  }

  /**
   * Compensates, newest first, every call made to a listener that cannot discard, then discards
   * every participant that began. Failures are collected, never swallowed.
   */
  private async undo(): Promise<DesyncedListener[]> {
    if (!this.abandoned.aborted)
      this.abandoned.abort(new KindlingError('ABORTED', `transaction ${this.id} was discarded`));
    const desynced: DesyncedListener[] = [];
    const undoContext = this.makeContext(new LazySignal(), true, this.context.dryRun, this.context.baseRevision);
    for (let r = this.runOps.length - 1; r >= 0; r--) {
      const item = this.runOps[r] as PendingOp;
      const op = item.op;
      for (let i = (this.runTo[r] as number) - 1; i >= (this.runFrom[r] as number); i--) {
        const registration = item.listeners[i] as ListenerRegistration;
        if (typeof registration.listener.discard === 'function') continue;
        try {
          const pending = this.invoke(registration, op, undoContext, true);
          if (pending !== undefined) await pending;
        } catch (error) {
          desynced.push({ listener: registration.name, entryId: op.id, phase: 'compensate', error });
        }
      }
    }
    for (let i = this.began.length - 1; i >= 0; i--) {
      const { listener, name, timeoutMs } = this.began[i] as ListenerRegistration;
      if (typeof listener.discard !== 'function') continue;
      try {
        const pending = this.call(
          listener.discard.bind(listener),
          timeoutMs ?? this.host.defaultTimeoutMs,
          () => `discard of ${name}`,
          undoContext,
        );
        if (pending !== undefined) await pending;
      } catch (error) {
        desynced.push({ listener: name, entryId: undefined, phase: 'discard', error });
      }
    }
    return desynced;
  }

  private makeContext(
    abort: LazySignal,
    compensating: boolean,
    dryRun: boolean,
    baseRevision: number,
  ): ListenerContext {
    const staged = this.staged;
    const host = this.host;
    const get = (id: string): Entry | undefined => (staged.has(id) ? staged.get(id) : host.committed(id));
    return new BatchContext(this.id, dryRun, abort, compensating, baseRevision, get);
  }
}

/**
 * An abort signal made when it is first read: making an `AbortController` costs about 2 µs, more
 * than the rest of a one-entry batch's bookkeeping, and most batches never read their signal. Read
 * after {@link abort}, the signal is already aborted with the reason given.
 */
class LazySignal {
  private controller: AbortController | undefined;
  private reason: unknown;
  aborted = false;

  get signal(): AbortSignal {
    if (this.controller === undefined) {
      this.controller = new AbortController();
      if (this.aborted) this.controller.abort(this.reason);
    }
    return this.controller.signal;
  }

  /** Aborts the signal (now, or when it is made); later calls change nothing. */
  abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    this.controller?.abort(reason);
  }
}

/**
 * What a listener is called with. A class, so that the signal is read through a getter without an
 * object literal with an accessor, which V8 builds on a slow path for every batch.
 */
class BatchContext implements ListenerContext {
  // eslint-disable-next-line @typescript-eslint/max-params -- once per batch, from makeContext only
  constructor(
    readonly transactionId: string,
    readonly dryRun: boolean,
    private readonly abort: LazySignal,
    readonly compensating: boolean,
    readonly baseRevision: number,
    /** A function of its own (not a method), so that `const { get } = ctx` works. */
    readonly get: (id: string) => Entry | undefined,
  ) {}

  get signal(): AbortSignal {
    return this.abort.signal;
  }
}

/** The `details.missing` id of a `NOT_FOUND` refusal, when it names one. */
function missingIdOf(error: unknown): string | undefined {
  try {
    const details: unknown = (error as { details?: unknown }).details;
    const missing: unknown =
      typeof details === 'object' && details !== null ? (details as { missing?: unknown }).missing : undefined;
    return typeof missing === 'string' && missing.length > 0 ? missing : undefined;
  } catch {
    // A hostile error (a throwing getter, a revoked proxy) names nothing: it is retried as before.
    return undefined;
  }
}

function refusal(error: unknown, entryId: string | undefined, listener: string, op: string): KindlingError {
  const timedOut = KindlingError.is(error) && error.code === 'TIMEOUT';
  const code = timedOut ? 'TIMEOUT' : 'REJECTED';
  const subject = entryId === undefined ? `${op} of ${listener}` : `${op} of entry ${entryId} by ${listener}`;
  const message = timedOut ? error.message : `${subject} was refused: ${messageOf(error)}`;
  return new KindlingError(code, message, {
    cause: error,
    details: { entryId, listener, op },
    retryable: timedOut,
  });
}

function withDesynced(error: unknown, desynced: DesyncedListener[]): unknown {
  if (desynced.length === 0 || !KindlingError.is(error)) return error;
  const names = desynced.map(
    (d) => `${d.listener} (${d.phase}${d.entryId === undefined ? '' : ` of ${d.entryId}`}: ${messageOf(d.error)})`,
  );
  return new KindlingError(
    error.code,
    `${error.message}; undoing it failed, these listeners may be out of step: ${names.join('; ')}`,
    {
      cause: error.cause,
      details: { ...error.details, desynced },
      retryable: false,
    },
  );
}
