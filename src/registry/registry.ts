import { AsyncLocalStorage } from 'node:async_hooks';
import { randomBytes } from 'node:crypto';
import { toDisposable, type Disposable } from '../common/disposable.js';
import { KindlingError, messageOf, type ErrorCode } from '../common/errors.js';
import { isoNow } from '../common/iso-now.js';
import { show } from '../common/visible-text.js';
import { createConsoleLogger, type Logger } from '../common/logger.js';
import { createEntry, formatEntryLocation, type Entry, type EntryMeta } from '../entry/entry.js';
import type { HandlerRegistry, ObserverContext } from '../handlers/handler-registry.js';
import { PatternSet } from '../pattern/pattern-trie.js';
import { History, stateBefore, type HistoryRecord, type RegistryChange } from './history.js';
import { orderOperations, type PlannedOp } from './ordering.js';
import { Transaction, type DesyncedListener } from './transaction.js';
import { RegistryWatch } from './registry-watch.js';
import { isThenable, withinTimeLimit } from '../common/time-limit.js';
import type { RegistryJournal } from './registry-journal.js';
import { deepEqual } from '../common/deep-freeze.js';
import { telemetry, type Telemetry } from '../telemetry/telemetry.js';

/** Where the registry announces committed changes and faults (the event bus's Wippy face fits). */
export interface RegistryEventSink {
  send(system: string, kind: string, path: string, data?: unknown): unknown;
}

/** An entry as a caller gives it to {@link Registry.apply}. */
export interface EntryInput {
  readonly id: string;
  readonly kind: string;
  readonly meta?: EntryMeta | Record<string, unknown>;
  readonly data?: unknown;
}

/** One operation of a batch. */
export type RegistryOp =
  | { readonly op: 'create' | 'update'; readonly entry: EntryInput }
  | { readonly op: 'delete'; readonly entry: { readonly id: string } };

/** Options of one {@link Registry.apply}. */
export interface ApplyOptions {
  /** Run checks and listeners, then discard: a plan or a validation. */
  readonly dryRun?: boolean;
  /** Refuse with CONFLICT unless the registry is at exactly this revision. */
  readonly expectRevision?: number;
  /** Who applied the batch, recorded in history. */
  readonly source?: string;
  /**
   * Whether the batch goes to the journal (default true). Loading a baseline that is itself on
   * disk, or replaying the journal, passes false.
   */
  readonly durable?: boolean;
  /**
   * The revision this batch makes, when it is not simply the next one: a node that follows a shared
   * log numbers its batches by the log's, so its revisions are the cluster's. Must be greater than
   * the current revision (`CONFLICT` otherwise); an empty batch still moves the revision there.
   */
  readonly revision?: number;
}

/** Something that went wrong after the point of no return: reported, the batch stays committed. */
export interface ApplyFault {
  readonly phase: 'commit' | 'observer';
  readonly name: string;
  readonly entryId: string | undefined;
  readonly error: unknown;
}

/** The outcome of an {@link Registry.apply}. */
export interface ApplyResult {
  /** The new revision (for a dry run or an empty batch, the unchanged one). */
  readonly revision: number;
  readonly transactionId: string;
  /** The changes in the order they were applied (for a dry run, the order they would be). */
  readonly changes: readonly RegistryChange[];
  readonly faults: readonly ApplyFault[];
  readonly dryRun: boolean;
}

/** Options of a {@link Registry}. */
export interface RegistryOptions {
  readonly handlers: HandlerRegistry;
  /** Kind patterns accepted without a listener (`registry.entry` always is). */
  readonly acceptKinds?: readonly string[];
  /** Time limit of each listener and observer call, in ms (default 30 000). */
  readonly listenerTimeoutMs?: number;
  /**
   * How many committed batches history keeps (default 1 000). History is what `rollbackTo` and
   * `watch({ fromRevision })` read; the oldest batches go first once any history limit is exceeded.
   */
  readonly historyLimit?: number;
  /** How many changes history keeps, summed over its batches (default 100 000). */
  readonly historyChangeLimit?: number;
  /**
   * How many bytes history keeps, summed over its batches (default 32 MiB): an estimate of the JSON
   * size of the entries each change holds (the entry, and for an update the one it replaced). A
   * batch larger than this or than `historyChangeLimit` on its own is not kept.
   */
  readonly historyByteLimit?: number;
  /** Where committed changes and faults are announced. */
  readonly events?: RegistryEventSink;
  /** A write-ahead journal: each batch is made durable before it becomes visible. */
  readonly journal?: RegistryJournal;
  /**
   * The revision the registry starts at (default 0), e.g. the journal's last revision, so that
   * revisions keep growing across restarts. Earlier revisions are not in history: `GONE`.
   */
  readonly initialRevision?: number;
  readonly logger?: Logger;
}

interface CheckProblem {
  readonly index: number;
  readonly entryId: string | undefined;
  readonly code: ErrorCode;
  readonly message: string;
}

/** A listener for committed batches (see {@link Registry.onDidCommit}). */
export type CommitListener = (record: HistoryRecord) => void;

/**
 * The registry of entries: applies batches atomically through the listeners of the handler
 * registry, keeps revisions and history, and notifies observers, watchers and the event bus after
 * each commit (docs/registry.md).
 *
 * @example
 * const handlers = new HandlerRegistry();
 * handlers.registerListener('http.*', httpManager);
 * const registry = new Registry({ handlers });
 * const { revision } = await registry.apply([
 *   { op: 'create', entry: { id: 'app:server', kind: 'http.service', data: { addr: ':8080' } } },
 * ]);
 */
export class Registry {
  readonly handlers: HandlerRegistry;
  private readonly accepted = new PatternSet<true>('kind');
  private readonly timeoutMs: number;
  private readonly history: History;
  private readonly events: RegistryEventSink | undefined;
  private readonly journal: RegistryJournal | undefined;
  private readonly logger: Logger;
  private readonly state = new Map<string, Entry>();
  private snapshot: readonly Entry[] | undefined;
  private head = 0;
  private tail: Promise<unknown> = Promise.resolve();
  private readonly scope = new AsyncLocalStorage<string>();
  private readonly commitListeners = new Set<CommitListener>();
  private readonly idPrefix = randomBytes(4).toString('hex');
  /** Spans and metrics of applies, when an OpenTelemetry SDK is registered (docs/telemetry.md). */
  private readonly otel: Telemetry | undefined = telemetry();
  private counter = 0;

  constructor(options: RegistryOptions) {
    this.handlers = options.handlers;
    this.timeoutMs = options.listenerTimeoutMs ?? 30_000;
    this.history = new History({
      ...(options.historyLimit === undefined ? {} : { batches: options.historyLimit }),
      ...(options.historyChangeLimit === undefined ? {} : { changes: options.historyChangeLimit }),
      ...(options.historyByteLimit === undefined ? {} : { bytes: options.historyByteLimit }),
    });
    this.events = options.events;
    this.journal = options.journal;
    const initial = options.initialRevision ?? 0;
    if (!Number.isSafeInteger(initial) || initial < 0) {
      throw new KindlingError('INVALID', `initialRevision must be a non-negative integer, got ${initial}`);
    }
    this.head = initial;
    this.logger = options.logger ?? createConsoleLogger('warn', 'kindling:registry');
    for (const pattern of ['registry.entry', ...(options.acceptKinds ?? [])]) this.accepted.add(pattern, true);
  }

  /** The revision of the committed state (0 before the first batch). */
  get revision(): number {
    return this.head;
  }

  /** The committed entry with this id. */
  get(id: string): Entry | undefined {
    return this.state.get(id);
  }

  /** Whether an entry with this id is committed. */
  has(id: string): boolean {
    return this.state.has(id);
  }

  /**
   * How many entries are committed. Cheaper than `entries().length`, which copies and sorts the
   * whole state once after each commit.
   */
  get size(): number {
    return this.state.size;
  }

  /** Every committed entry, sorted by id (a frozen snapshot, shared until the next commit). */
  entries(): readonly Entry[] {
    this.snapshot ??= Object.freeze([...this.state.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)));
    return this.snapshot;
  }

  /** The retained committed batches, oldest first. */
  historyRecords(): readonly HistoryRecord[] {
    return this.history.list();
  }

  /** Calls `listener` after every commit, with the batch's history record. */
  onDidCommit(listener: CommitListener): Disposable {
    this.commitListeners.add(listener);
    return toDisposable(() => this.commitListeners.delete(listener));
  }

  /**
   * Applies a batch all-or-nothing. Applies are serialized; one started from inside a listener or
   * observer of this registry fails at once instead of waiting for itself.
   *
   * @example
   * await registry.apply([{ op: 'delete', entry: { id: 'app:old' } }], { expectRevision: 7 });
   */
  apply(ops: readonly RegistryOp[], options: ApplyOptions = {}): Promise<ApplyResult> {
    const outer = this.scope.getStore();
    if (outer !== undefined) {
      return Promise.reject(
        new KindlingError(
          'INVALID',
          `registry.apply was called from inside a listener or observer of transaction ${outer}; it would wait for itself. Apply after the current batch has returned.`,
          { details: { transactionId: outer } },
        ),
      );
    }
    const otel = this.otel;
    const run =
      otel === undefined
        ? (): Promise<ApplyResult> => this.runApply(ops, options)
        : (): Promise<ApplyResult> => this.tracedApply(otel, ops, options);
    const result = this.tail.then(run, run);
    this.tail = result.catch(() => undefined);
    return result;
  }

  /**
   * Returns the registry to the state it had at `revision` by applying the inverse of the later
   * batches as one new batch (history stays linear). Throws `GONE` when those batches are no longer
   * retained.
   */
  async rollbackTo(revision: number, options: Omit<ApplyOptions, 'source'> = {}): Promise<ApplyResult> {
    if (!Number.isInteger(revision) || revision < 0 || revision > this.head) {
      throw new KindlingError('INVALID', `cannot roll back to revision ${revision}: the registry is at ${this.head}`, {
        details: { revision, head: this.head },
      });
    }
    const target = new Map<string, Entry | undefined>();
    const records = this.history.after(revision, this.head);
    for (let r = records.length - 1; r >= 0; r--) {
      const changes = (records[r] as HistoryRecord).changes;
      for (let c = changes.length - 1; c >= 0; c--) {
        const change = changes[c] as RegistryChange;
        target.set(change.entry.id, stateBefore(change));
      }
    }
    return this.apply(this.opsToReach(target), { ...options, source: `rollback to ${revision}` });
  }

  /**
   * The operations that take the committed state to `target` for the ids it names (an entry, or
   * undefined for "absent"); ids it does not name are left alone. Equal entries need no operation.
   */
  opsToReach(target: ReadonlyMap<string, Entry | undefined>): RegistryOp[] {
    const ops: RegistryOp[] = [];
    for (const [id, wanted] of target) {
      const current = this.state.get(id);
      if (wanted === undefined) {
        if (current !== undefined) ops.push({ op: 'delete', entry: { id } });
      } else if (current === undefined) {
        ops.push({ op: 'create', entry: wanted });
      } else if (
        wanted !== current &&
        !(wanted.kind === current.kind && deepEqual(wanted.meta, current.meta) && deepEqual(wanted.data, current.data))
      ) {
        ops.push({ op: 'update', entry: wanted });
      }
    }
    return ops;
  }

  /**
   * An async iterator of committed changes after `fromRevision` (default: from now on). Throws
   * `GONE` when that revision is older than the retained history; the iterator fails with `GONE`
   * if its reader falls more than `maxBuffered` changes behind.
   *
   * @example
   * for await (const change of registry.watch({ fromRevision: 0 })) console.log(change.op, change.entry.id);
   */
  watch(
    options: { fromRevision?: number; maxBuffered?: number; signal?: AbortSignal } = {},
  ): AsyncIterableIterator<RegistryChange> {
    const from = options.fromRevision ?? this.head;
    const replay = this.history.after(from, this.head).flatMap((record) => record.changes);
    return new RegistryWatch(
      replay,
      (listener) => this.onDidCommit(listener),
      options.maxBuffered ?? 100_000,
      options.signal,
    );
  }

  /** The revision a batch applied with `options` makes. */
  private nextRevision(options: ApplyOptions): number {
    const wanted = options.revision;
    if (wanted === undefined) return this.head + 1;
    if (!Number.isSafeInteger(wanted) || wanted <= this.head)
      throw new KindlingError(
        'CONFLICT',
        `a batch cannot make revision ${String(wanted)}: the registry is already at ${this.head}`,
        { details: { revision: this.head, wanted } },
      );
    return wanted;
  }

  private nextTransactionId(): string {
    return `${this.idPrefix}-${++this.counter}`;
  }

  /** {@link runApply} inside a `registry.apply` span (docs/telemetry.md). */
  private async tracedApply(otel: Telemetry, ops: readonly RegistryOp[], options: ApplyOptions): Promise<ApplyResult> {
    const open = otel.applySpan(ops.length, options.source, options.dryRun === true);
    let result: ApplyResult;
    try {
      result = await otel.api.context.with(open.context, () => this.runApply(ops, options));
    } catch (error) {
      otel.applyRefused(open, error);
      throw error;
    }
    const outcome = result.dryRun ? 'dry_run' : result.changes.length === 0 ? 'empty' : 'committed';
    otel.applyEnded(open, outcome, result.revision, result.faults.length);
    return result;
  }

  private async runApply(ops: readonly RegistryOp[], options: ApplyOptions): Promise<ApplyResult> {
    const transactionId = this.nextTransactionId();
    const dryRun = options.dryRun === true;
    const checked = this.check(ops, options);
    const planned = orderOperations(checked.planned, checked.indexOf);
    const next = this.nextRevision(options);
    if (planned.length === 0) {
      // A batch of the shared log that changes nothing here still takes the log's revision.
      if (!dryRun && options.revision !== undefined) this.head = next;
      return { revision: this.head, transactionId, changes: [], faults: [], dryRun };
    }
    const transaction = new Transaction(
      {
        defaultTimeoutMs: this.timeoutMs,
        scope: this.scope,
        committed: (id) => this.state.get(id),
        telemetry: this.otel,
      },
      transactionId,
      planned,
      { dryRun, baseRevision: this.head },
    );
    await transaction.run();
    // Changes are reported in the order the listeners completed them, retries included.
    const applied = transaction.completed;
    if (dryRun) {
      const desynced = await transaction.discardAll();
      this.reportDesynced(transactionId, desynced);
      return {
        revision: this.head,
        transactionId,
        changes: this.toChanges(applied, next),
        faults: [],
        dryRun,
      };
    }
    const revision = next;
    const changes = this.toChanges(applied, revision);
    const record: HistoryRecord = {
      revision,
      transactionId,
      time: isoNow(),
      source: options.source,
      changes,
    };
    if (this.journal !== undefined && options.durable !== false) {
      try {
        this.journal.append(record);
      } catch (error) {
        const desynced = await transaction.discardAll();
        this.reportDesynced(transactionId, desynced);
        throw error;
      }
    }
    return this.commit(transaction, applied, record);
  }

  private async commit(
    transaction: Transaction,
    planned: readonly PlannedOp[],
    record: HistoryRecord,
  ): Promise<ApplyResult> {
    // Point of no return: the swap below is synchronous, so no reader sees half of it.
    const { revision, changes } = record;
    for (const op of planned) {
      if (op.op === 'delete') this.state.delete(op.id);
      else this.state.set(op.id, op.entry);
    }
    this.head = revision;
    this.snapshot = undefined;
    this.history.add(record);

    const faults: ApplyFault[] = [];
    for (const { listener, error } of await transaction.commit()) {
      faults.push({ phase: 'commit', name: listener, entryId: undefined, error });
      this.report('commit_error', '', `commit of ${listener} failed after revision ${revision} was committed`, {
        listener,
        error,
        revision,
      });
    }
    await this.scope.run(record.transactionId, () => this.notifyObservers(record, faults));
    for (const listener of this.commitListeners) {
      try {
        listener(record);
      } catch (error) {
        this.logger.error('a commit listener threw', { error, revision });
      }
    }
    if (this.events !== undefined) {
      for (const change of changes) {
        const payload = { entry: change.entry, previous: change.previous, revision, transactionId: transaction.id };
        this.send('registry', `entry.${change.op}`, change.entry.id, payload);
      }
    }
    return { revision, transactionId: transaction.id, changes, faults, dryRun: false };
  }

  private async notifyObservers(record: HistoryRecord, faults: ApplyFault[]): Promise<void> {
    const ctx: ObserverContext = { transactionId: record.transactionId, revision: record.revision };
    for (const change of record.changes) {
      for (const { observer, name } of this.handlers.observersFor(change.entry.kind)) {
        const method = change.op === 'create' ? 'add' : change.op;
        if (typeof observer[method] !== 'function') continue;
        try {
          const pending: unknown =
            this.otel === undefined
              ? observer[method](ctx, change.entry, change.previous as Entry)
              : this.otel.handlerCall('observer', name, change.entry.id, change.op, () =>
                  observer[method]?.(ctx, change.entry, change.previous as Entry),
                );
          if (isThenable(pending))
            await withinTimeLimit(
              pending,
              this.timeoutMs,
              () => `observer ${name} on ${change.op} of ${change.entry.id}`,
            );
        } catch (error) {
          faults.push({ phase: 'observer', name, entryId: change.entry.id, error });
          this.report(
            'observer_error',
            change.entry.id,
            `observer ${name} failed on ${change.op} of ${change.entry.id}`,
            {
              observer: name,
              op: change.op,
              error,
              revision: record.revision,
            },
          );
        }
      }
    }
  }

  private report(kind: string, path: string, message: string, data: Record<string, unknown>): void {
    this.logger.error(`${message}: ${messageOf(data['error'])}`, { ...data, error: messageOf(data['error']) });
    this.send('$registry', kind, path === '' ? '-' : path, { ...data, message });
  }

  private send(system: string, kind: string, path: string, data: unknown): void {
    try {
      this.events?.send(system, kind, path, data);
    } catch (error) {
      this.logger.error(`could not publish ${system} ${kind} for ${path}`, { error: messageOf(error) });
    }
  }

  private reportDesynced(transactionId: string, desynced: readonly DesyncedListener[]): void {
    for (const d of desynced) {
      this.report('desynced', d.entryId ?? '-', `${d.listener} failed to ${d.phase} while undoing ${transactionId}`, {
        ...d,
      });
    }
  }

  private toChanges(planned: readonly PlannedOp[], revision: number): RegistryChange[] {
    return planned.map((op) =>
      op.op === 'update'
        ? { op: op.op, revision, entry: op.entry, previous: op.previous as Entry }
        : { op: op.op, revision, entry: op.entry },
    );
  }

  /** The check step: every problem of the batch at once; nothing is called when one is found. */
  /**
   * The planned ops of a batch, every op in its place (any problem throws), and each one's index by
   * id, which the ordering reuses.
   */
  private check(
    ops: readonly RegistryOp[],
    options: ApplyOptions,
  ): { planned: PlannedOp[]; indexOf: ReadonlyMap<string, number> } {
    const problems: CheckProblem[] = [];
    if (options.expectRevision !== undefined && options.expectRevision !== this.head) {
      throw new KindlingError(
        'CONFLICT',
        `expected revision ${options.expectRevision}, but the registry is at ${this.head}; plan again`,
        {
          details: { expectRevision: options.expectRevision, revision: this.head },
        },
      );
    }
    const planned: PlannedOp[] = [];
    const seen = new Map<string, number>();
    let index = -1;
    const problem = (code: ErrorCode, entryId: string | undefined, message: string): void => {
      problems.push({ index, entryId, code, message });
    };
    for (const operation of ops) {
      index++;
      const id = (operation as { entry?: { id?: unknown } } | undefined)?.entry?.id;
      if (typeof id !== 'string') {
        problem('INVALID', undefined, `operation ${index} has no entry id`);
        continue;
      }
      const first = seen.get(id);
      if (first !== undefined) {
        problem('INVALID', id, `entry ${id} appears twice in the batch (operations ${first} and ${index})`);
        continue;
      }
      seen.set(id, index);
      const current = this.state.get(id);
      switch (operation.op) {
        case 'create':
        case 'update': {
          let entry: Entry;
          try {
            entry = createEntry(operation.entry);
          } catch (error) {
            problem('INVALID', id, messageOf(error));
            continue;
          }
          if (operation.op === 'create' && current !== undefined) {
            problem('CONFLICT', id, `entry ${id} already exists (create it once, or update it)`);
            continue;
          }
          if (operation.op === 'update') {
            if (current === undefined) {
              problem('NOT_FOUND', id, `entry ${id} does not exist, so it cannot be updated`);
              continue;
            }
          }
          const listeners = this.handlers.listenersFor(entry.kind);
          // A kind nothing handles is the problem to name (most often a typo, with its "did you
          // mean"), before the change of kind it would also be.
          const kindProblem = listeners.length > 0 ? undefined : this.checkKind(entry);
          if (kindProblem !== undefined) {
            problem('INVALID', id, kindProblem);
            continue;
          }
          if (current !== undefined && current.kind !== entry.kind) {
            problem(
              'INVALID',
              id,
              `entry ${id} cannot change kind from ${current.kind} to ${entry.kind} (delete it and create it anew)`,
            );
            continue;
          }
          planned.push({
            op: operation.op,
            id,
            entry,
            previous: current,
            listeners,
            config: this.handlers.configFor(entry.kind),
          });
          continue;
        }
        case 'delete':
          if (current === undefined) {
            problem('NOT_FOUND', id, `entry ${id} does not exist, so it cannot be deleted`);
            continue;
          }
          planned.push({
            op: 'delete',
            id,
            entry: current,
            previous: current,
            listeners: this.handlers.listenersFor(current.kind),
            config: undefined,
          });
          continue;
        default:
          problem(
            'INVALID',
            id,
            `operation ${index} has an unknown op ${show((operation as { op?: unknown }).op, 64)} (create, update or delete)`,
          );
      }
    }
    if (problems.length > 0) throw checkError(problems, ops);
    return { planned, indexOf: seen };
  }

  private checkKind(entry: Entry): string | undefined {
    if (this.accepted.match(entry.kind).length > 0) return undefined;
    const nearest = this.handlers.nearestListenerPattern(entry.kind, this.accepted.patterns());
    const hint = nearest === undefined ? '' : ` Did you mean "${nearest}"?`;
    return `no listener handles kind "${entry.kind}" of entry ${entry.id}.${hint} Register a listener for it, or list the kind in acceptKinds.`;
  }
}

function checkError(problems: readonly CheckProblem[], ops: readonly RegistryOp[]): KindlingError {
  const codes = new Set(problems.map((p) => p.code));
  const code: ErrorCode = codes.size === 1 ? (problems[0] as CheckProblem).code : 'INVALID';
  const lines = problems.map((p) => {
    const entry = (ops[p.index] as { entry?: object } | undefined)?.entry;
    const at = entry === undefined ? undefined : formatEntryLocation(entry);
    return `${at === undefined ? '' : `${at}: `}${p.message}`;
  });
  const message =
    problems.length === 1
      ? (lines[0] as string)
      : `batch refused with ${problems.length} problems:\n  - ${lines.join('\n  - ')}`;
  return new KindlingError(code, message, {
    details: { errors: problems, entryId: problems.length === 1 ? problems[0]?.entryId : undefined },
  });
}
