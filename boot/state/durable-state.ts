import { FileBoundary, FileJournal, KindlingError, decodeJournalEntry, messageOf, toDisposable } from 'kindling';
import type { ApplyResult, Disposable, Entry, FileJournalOptions, HistoryRecord, JournalEntryState, Logger, Registry, RegistryJournal, RegistryYamlLimits } from 'kindling';
import { fromWireEntry, fromWirePosition, readWireSources, toWireChanges, toWireEntry, positionOf } from '../admin/admin-protocol.js';
import type { AdminApplyResult, AdminJournalInfo, AdminPhase, AdminStatus } from '../admin/admin-protocol.js';
import { AdminServer } from '../admin/admin-server.js';
import type { AdminHandlers, AdminServerOptions } from '../admin/admin-server.js';
import type { StatePaths } from './state-dir.js';

/** The source label of the batch that replays the journal at start. */
export const JOURNAL_REPLAY_SOURCE = 'journal replay';

/** One committed batch as {@link EntryOwners} takes it in. */
interface OwnedChange {
  readonly op: string;
  readonly entry: { readonly id: string };
}

/**
 * Which source last created or updated each entry (DESIGN.md §7: each source records the ids it
 * owns, so `--prune` removes only entries that this source once applied). A rollback gives each
 * entry it restores back to the owner it had at the revision rolled back to.
 */
export class EntryOwners {
  private readonly owners = new Map<string, string>();
  /** Per revision, the owner of each id it changed before the change: how a rollback finds them. */
  private readonly undo: { readonly revision: number; readonly before: ReadonlyMap<string, string | undefined> }[] = [];

  constructor(private readonly keep = 1_000) {}

  /** Takes in one committed batch: a create or update gives the entry to `source`, a delete frees it. */
  record(revision: number, source: string | undefined, changes: readonly OwnedChange[]): void {
    this.set(revision, this.ownersAfter(source, changes));
  }

  /**
   * The owner of each entry of a batch once it commits (undefined: none): `source`, or for a
   * rollback the owner the entry had at the revision rolled back to.
   */
  ownersAfter(source: string | undefined, changes: readonly OwnedChange[]): Map<string, string | undefined> {
    const rollback = /^rollback to (\d+)$/.exec(source ?? '');
    const target = rollback === null ? undefined : Number(rollback[1]);
    const next = new Map<string, string | undefined>();
    for (const change of changes) {
      const id = change.entry.id;
      next.set(id, change.op === 'delete' ? undefined : target === undefined ? source : this.ownerAt(target, id));
    }
    return next;
  }

  /** Sets owners directly (undefined: no owner) as the change of `revision`. */
  set(revision: number, owners: ReadonlyMap<string, string | undefined>): void {
    const before = new Map<string, string | undefined>();
    for (const [id, owner] of owners) {
      before.set(id, this.owners.get(id));
      if (owner === undefined) this.owners.delete(id);
      else this.owners.set(id, owner);
    }
    this.undo.push({ revision, before });
    if (this.undo.length > this.keep) this.undo.splice(0, this.undo.length - this.keep);
  }

  /** The source that owns `id`, if any. */
  ownerOf(id: string): string | undefined {
    return this.owners.get(id);
  }

  /** Every id and its owner. */
  toJSON(): Record<string, string> {
    return Object.fromEntries(this.owners);
  }

  /** The owner `id` had once `revision` was committed (as far as retained changes tell). */
  private ownerAt(revision: number, id: string): string | undefined {
    let owner = this.owners.get(id);
    for (let i = this.undo.length - 1; i >= 0; i--) {
      const step = this.undo[i] as (typeof this.undo)[number];
      if (step.revision <= revision) break;
      if (step.before.has(id)) owner = step.before.get(id);
    }
    return owner;
  }
}

/**
 * The journal as the registry writes it, each entry with where it was declared (`at`: file, line,
 * column) and the source that owns it once the batch commits (`owner`), so that after a restart an
 * entry's relative paths resolve against its own YAML file, its refusals still point at it, and
 * `--prune` knows whose it is even when a rollback restored it. (FileJournal stores each change's
 * entry as JSON, so these ride inside it; the registry reads only id, kind, meta and data.)
 */
class PositionedJournal implements RegistryJournal {
  constructor(
    private readonly file: FileJournal,
    private readonly owners: EntryOwners,
  ) {}

  get lastRevision(): number {
    return this.file.lastRevision;
  }

  append(record: HistoryRecord): void {
    const owners = this.owners.ownersAfter(record.source, record.changes);
    this.file.append({
      ...record,
      changes: record.changes.map((change) => {
        const at = positionOf(change.entry);
        const owner = owners.get(change.entry.id);
        return { ...change, entry: { ...change.entry, ...(at === undefined ? {} : { at }), ...(owner === undefined ? {} : { owner }) } as Entry };
      }),
    });
  }
}

/** Limits of the journal of a state directory. */
export type JournalLimits = Pick<FileJournalOptions, 'maxRecordBytes' | 'compactBytes'>;

/** Options of {@link DurableState.open}. */
export interface DurableStateOptions {
  readonly paths: StatePaths;
  readonly name: string;
  readonly appDir: string;
  /** Where the registry files named by admin clients may be read (default: inside `appDir`). */
  readonly boundary?: FileBoundary;
  /** Limits of those registry files (default: those of registry YAML). */
  readonly yamlLimits?: RegistryYamlLimits;
  readonly logger: Logger;
  /** Limits of the journal (record size, when it is compacted). */
  readonly journal?: JournalLimits;
  /** Limits of the admin endpoint (request size, operations, time, connections). */
  readonly admin?: AdminServerOptions;
}

/**
 * Checks an entry read back from the journal: the registry's fields, plus where it was declared
 * (`at`) and the source that owned it (`owner`), which this journal adds.
 */
function decodeStoredEntry(value: Record<string, unknown>): Entry {
  const entry = decodeJournalEntry(value, ['at', 'owner']);
  const owner = value['owner'];
  if (owner !== undefined && (typeof owner !== 'string' || owner === '')) throw new KindlingError('INVALID', `entry ${entry.id}: owner must be a non-empty string`);
  if (value['at'] !== undefined) fromWirePosition(value['at'], `entry ${entry.id}: at`);
  return entry;
}

/** A journaled entry as `registry.apply` takes it, with its declaration site attached again. */
function fromStoredEntry(entry: Entry): Entry {
  const { owner: _owner, ...wire } = entry as Entry & { owner?: string };
  return fromWireEntry(wire) as Entry;
}

/**
 * A running app's state directory: the registry journal (every committed batch made durable
 * before the apply returns, replayed over the YAML baseline at the next start), the owner of each
 * entry, and the admin endpoint that `kindling plan | apply | history | rollback` talk to.
 *
 * @example
 * const state = await DurableState.open({ paths, name, appDir, logger }); // refuses if the app already runs
 * // bind state.journal for the registry, boot, then:
 * state.track(registry);
 * await registry.apply(baseline, { durable: false, source });
 * await state.replay(registry);
 * state.ready();
 */
export class DurableState {
  readonly owners = new EntryOwners();
  private server: AdminServer | undefined;
  private file: FileJournal | undefined;
  /** What the journal held at start, until it is replayed. */
  private held: ReadonlyMap<string, JournalEntryState> = new Map();
  private info: AdminJournalInfo;
  private phase: AdminPhase = 'starting';
  private registry: Registry | undefined;
  private replaying = false;
  private readonly startedAt = new Date().toISOString();

  private readonly boundary: FileBoundary;

  private constructor(private readonly options: DurableStateOptions) {
    this.boundary = options.boundary ?? new FileBoundary(options.appDir);
    this.info = { path: options.paths.journal, replayedBatches: 0, tornTail: false };
  }

  /**
   * Claims the state directory (throws `CONFLICT` when an app already runs with it), starts the
   * admin endpoint (answering "starting" until {@link ready}) and opens the journal.
   */
  static async open(options: DurableStateOptions): Promise<DurableState> {
    const state = new DurableState(options);
    state.server = await AdminServer.listen(options.paths, state.handlers(), options.logger, options.admin);
    try {
      const opened = await FileJournal.open(options.paths.journal, {
        ...options.journal,
        decodeEntry: decodeStoredEntry,
        onCompactionError: (error) => options.logger.warn(`${messageOf(error)}; it will be tried again later`, { error }),
      });
      state.file = opened.journal;
      state.held = opened.state;
      state.info = {
        path: options.paths.journal,
        replayedBatches: opened.batches,
        ...(opened.snapshotRevision === undefined ? {} : { snapshotRevision: opened.snapshotRevision }),
        tornTail: opened.tornTail,
      };
    } catch (error) {
      await state.server.close();
      throw error;
    }
    if (state.info.tornTail) options.logger.warn(`the last record of ${options.paths.journal} was cut short (a crash while writing it); it was dropped`);
    return state;
  }

  /** The state directory, its journal and its admin socket. */
  get paths(): StatePaths {
    return this.options.paths;
  }

  /** What the registry writes each committed batch to. */
  get journal(): RegistryJournal {
    if (this.file === undefined) throw new KindlingError('UNAVAILABLE', 'the registry journal is not open');
    return new PositionedJournal(this.file, this.owners);
  }

  /** What the journal held at start. */
  get journalInfo(): AdminJournalInfo {
    return this.info;
  }

  /** Follows the owners of entries through every commit of `registry` (the replay aside). */
  track(registry: Registry): Disposable {
    this.registry = registry;
    const subscription = registry.onDidCommit((record) => {
      if (!this.replaying) this.owners.record(record.revision, record.source, record.changes);
    });
    return toDisposable(() => subscription.dispose());
  }

  /**
   * Applies the journal over what the registry holds (the YAML baseline) as one batch that is not
   * journaled again: the journal's last word on each entry it touched wins. Throws when that batch
   * is refused, saying how to start from the YAML alone.
   */
  async replay(registry: Registry): Promise<ApplyResult | undefined> {
    const target = new Map<string, Entry | undefined>();
    for (const [id, { entry }] of this.held) target.set(id, entry === undefined ? undefined : fromStoredEntry(entry));
    const ops = registry.opsToReach(target);
    await readWireSources(ops, this.boundary, this.options.yamlLimits);
    const what = describeHeld(this.info);
    let result: ApplyResult | undefined;
    if (ops.length > 0) {
      this.replaying = true;
      try {
        result = await registry.apply(ops, { durable: false, source: JOURNAL_REPLAY_SOURCE });
      } catch (error) {
        throw new KindlingError(
          error instanceof KindlingError ? error.code : 'INVALID',
          `the registry journal ${this.options.paths.journal} (${what}) could not be replayed over the registry YAML: ${messageOf(error)}\nFix the cause, or move the journal aside to start from the YAML alone.`,
          { cause: error, details: { journal: this.options.paths.journal } },
        );
      } finally {
        this.replaying = false;
      }
    }
    // The replay batch gives each entry the owner journaled with its last change (records written
    // before owners were journaled: the source of their batch).
    const owners = new Map<string, string | undefined>();
    for (const [id, { entry, source }] of this.held) owners.set(id, entry === undefined ? undefined : ((entry as { owner?: string }).owner ?? source));
    this.owners.set(registry.revision, owners);
    if (this.info.replayedBatches > 0 || this.info.snapshotRevision !== undefined) {
      const torn = this.info.tornTail ? ', torn tail dropped' : '';
      this.options.logger.info(`replayed ${what} from ${this.options.paths.journal} (${ops.length} change${ops.length === 1 ? '' : 's'} over the YAML${torn})`);
    }
    this.held = new Map();
    return result;
  }

  /** The admin endpoint serves every command from now on. */
  ready(): void {
    if (this.phase === 'starting') this.phase = 'ready';
  }

  /** Stops serving commands: the app is shutting down. */
  stopping(): Promise<void> {
    this.phase = 'stopping';
    return this.server?.close() ?? Promise.resolve();
  }

  /** Closes the admin endpoint and the journal. Idempotent. */
  async close(): Promise<void> {
    await this.stopping();
    this.file?.close();
  }

  private requireReady(): Registry {
    if (this.phase === 'stopping') throw new KindlingError('UNAVAILABLE', `${this.options.name} is shutting down`, { retryable: true });
    if (this.phase === 'starting' || this.registry === undefined) {
      throw new KindlingError('UNAVAILABLE', `${this.options.name} is starting; try again once it is running`, { retryable: true });
    }
    return this.registry;
  }

  private handlers(): AdminHandlers {
    return {
      status: (): AdminStatus => ({
        pid: process.pid,
        name: this.options.name,
        appDir: this.options.appDir,
        stateDir: this.options.paths.dir,
        phase: this.phase,
        startedAt: this.startedAt,
        revision: this.registry?.revision ?? 0,
        entries: this.registry?.entries().length ?? 0,
        journal: this.journalInfo,
      }),
      entries: () => {
        const registry = this.requireReady();
        return { revision: registry.revision, entries: registry.entries().map(toWireEntry), owners: this.owners.toJSON() };
      },
      history: () => {
        const registry = this.requireReady();
        return {
          revision: registry.revision,
          records: registry.historyRecords().map((record) => ({
            revision: record.revision,
            transactionId: record.transactionId,
            time: record.time,
            ...(record.source === undefined ? {} : { source: record.source }),
            changes: toWireChanges(record.changes),
          })),
          journal: this.journalInfo,
        };
      },
      apply: async (request) => {
        const registry = this.requireReady();
        await readWireSources(request.ops, this.boundary, this.options.yamlLimits);
        const result = await registry.apply(request.ops, { ...flags(request), source: request.source ?? 'kindling apply' });
        return toResult(result);
      },
      rollback: async (request) => {
        const registry = this.requireReady();
        return toResult(await registry.rollbackTo(request.revision, flags(request)));
      },
      compact: () => {
        this.requireReady();
        if (this.file === undefined) throw new KindlingError('UNAVAILABLE', 'the registry journal is not open');
        return { path: this.options.paths.journal, ...this.file.compact() };
      },
    };
  }
}

/** What the journal held, in words: `3 batches`, `a snapshot of revision 40 and 2 batches`. */
export function describeHeld(info: Pick<AdminJournalInfo, 'replayedBatches' | 'snapshotRevision'>): string {
  const batches = `${info.replayedBatches} batch${info.replayedBatches === 1 ? '' : 'es'}`;
  return info.snapshotRevision === undefined ? batches : `a snapshot of revision ${info.snapshotRevision} and ${batches}`;
}

function flags(request: { dryRun: boolean; expectRevision?: number }): { dryRun: boolean; expectRevision?: number } {
  return { dryRun: request.dryRun, ...(request.expectRevision === undefined ? {} : { expectRevision: request.expectRevision }) };
}

function toResult(result: ApplyResult): AdminApplyResult {
  return {
    revision: result.revision,
    dryRun: result.dryRun,
    changes: toWireChanges(result.changes),
    faults: result.faults.map((fault) => ({
      phase: fault.phase,
      name: fault.name,
      ...(fault.entryId === undefined ? {} : { entryId: fault.entryId }),
      message: messageOf(fault.error),
    })),
  };
}
