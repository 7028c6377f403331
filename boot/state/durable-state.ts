import { FileBoundary, FileJournal, KindlingError, decodeJournalEntry, messageOf, toDisposable } from 'kindling';
import type {
  ApplyResult,
  Disposable,
  Entry,
  FileJournalOptions,
  HistoryRecord,
  JournalCompaction,
  JournalEntryState,
  Logger,
  Registry,
  RegistryJournal,
  RegistryYamlLimits,
} from 'kindling';
import { EntryOwners } from './entry-owners.js';
import type { StatePaths } from './state-dir.js';
import { fromWireEntry, fromWirePosition, positionOf, readWireSources } from './wire-entry.js';

/** The source label of the batch that replays the journal at start. */
export const JOURNAL_REPLAY_SOURCE = 'journal replay';

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
        return {
          ...change,
          entry: { ...change.entry, ...(at === undefined ? {} : { at }), ...(owner === undefined ? {} : { owner }) },
        };
      }),
    });
  }
}

/** Limits of the journal of a state directory. */
export type JournalLimits = Pick<FileJournalOptions, 'maxRecordBytes' | 'compactBytes'>;

/** Options of {@link DurableState.open}. */
export interface DurableStateOptions {
  readonly paths: StatePaths;
  readonly appDir: string;
  /** Where the registry files that journaled entries were declared in may be read (default: inside `appDir`). */
  readonly boundary?: FileBoundary;
  /** Limits of those registry files (default: those of registry YAML). */
  readonly yamlLimits?: RegistryYamlLimits;
  readonly logger: Logger;
  /** Limits of the journal (record size, when it is compacted). */
  readonly journal?: JournalLimits;
}

/** What the app found in its journal when it started. */
export interface JournalInfo {
  readonly path: string;
  /** Batches read back from the journal at start (folded into one replay batch), after its snapshot if any. */
  readonly replayedBatches: number;
  /** The revision of the snapshot the journal began with at start, when it had been compacted. */
  readonly snapshotRevision?: number;
  /** Whether a torn last record (a crash mid-write) was dropped at start. */
  readonly tornTail: boolean;
}

/**
 * Checks an entry read back from the journal: the registry's fields, plus where it was declared
 * (`at`) and the source that owned it (`owner`), which this journal adds.
 */
function decodeStoredEntry(value: Record<string, unknown>): Entry {
  const entry = decodeJournalEntry(value, ['at', 'owner']);
  const owner = value['owner'];
  if (owner !== undefined && (typeof owner !== 'string' || owner === ''))
    throw new KindlingError('INVALID', `entry ${entry.id}: owner must be a non-empty string`);
  if (value['at'] !== undefined) fromWirePosition(value['at'], `entry ${entry.id}: at`);
  return entry;
}

/** A journaled entry as `registry.apply` takes it, with its declaration site attached again. */
function fromStoredEntry(entry: Entry): Entry {
  const { owner: _owner, ...wire } = entry as Entry & { owner?: string };
  return fromWireEntry(wire) as Entry;
}

/**
 * A running app's state directory: the registry journal (every committed batch made durable before
 * the apply returns, replayed over the YAML baseline at the next start) and the owner of each
 * entry. The admin endpoint (boot/admin) serves it to `kindling plan | apply | history | rollback`;
 * it claims the directory before this opens.
 *
 * @example
 * const state = await DurableState.open({ paths, appDir, logger });
 * // bind state.journal for the registry, boot, then:
 * state.track(registry);
 * await registry.apply(baseline, { durable: false, source });
 * await state.replay(registry);
 */
export class DurableState {
  readonly owners = new EntryOwners();
  private file: FileJournal | undefined;
  /** What the journal held at start, until it is replayed. */
  private held: ReadonlyMap<string, JournalEntryState> = new Map();
  private info: JournalInfo;
  private replaying = false;
  private readonly boundary: FileBoundary;

  private constructor(private readonly options: DurableStateOptions) {
    this.boundary = options.boundary ?? new FileBoundary(options.appDir);
    this.info = { path: options.paths.journal, replayedBatches: 0, tornTail: false };
  }

  /** Opens the journal of the state directory, reading what it holds. */
  static async open(options: DurableStateOptions): Promise<DurableState> {
    const state = new DurableState(options);
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
    if (state.info.tornTail)
      options.logger.warn(
        `the last record of ${options.paths.journal} was cut short (a crash while writing it); it was dropped`,
      );
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
  get journalInfo(): JournalInfo {
    return this.info;
  }

  /** Follows the owners of entries through every commit of `registry` (the replay aside). */
  track(registry: Registry): Disposable {
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
          KindlingError.is(error) ? error.code : 'INVALID',
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
    for (const [id, { entry, source }] of this.held)
      owners.set(id, entry === undefined ? undefined : ((entry as { owner?: string }).owner ?? source));
    this.owners.set(registry.revision, owners);
    if (this.info.replayedBatches > 0 || this.info.snapshotRevision !== undefined) {
      const torn = this.info.tornTail ? ', torn tail dropped' : '';
      this.options.logger.info(
        `replayed ${what} from ${this.options.paths.journal} (${ops.length} change${ops.length === 1 ? '' : 's'} over the YAML${torn})`,
      );
    }
    this.held = new Map();
    return result;
  }

  /**
   * Reads the registry files that the entries of `ops` were declared in, so that a refusal points at
   * a path under an entry; only files inside the app's boundary, within its YAML limits. Never throws.
   */
  readSources(ops: Parameters<typeof readWireSources>[0]): Promise<void> {
    return readWireSources(ops, this.boundary, this.options.yamlLimits);
  }

  /** Compacts the journal now: a snapshot of its state replaces the batches. */
  compact(): JournalCompaction {
    if (this.file === undefined) throw new KindlingError('UNAVAILABLE', 'the registry journal is not open');
    return this.file.compact();
  }

  /** Closes the journal. Idempotent. */
  close(): void {
    this.file?.close();
  }
}

/** What the journal held, in words: `3 batches`, `a snapshot of revision 40 and 2 batches`. */
export function describeHeld(info: Pick<JournalInfo, 'replayedBatches' | 'snapshotRevision'>): string {
  const batches = `${info.replayedBatches} batch${info.replayedBatches === 1 ? '' : 'es'}`;
  return info.snapshotRevision === undefined
    ? batches
    : `a snapshot of revision ${info.snapshotRevision} and ${batches}`;
}
