import { KindlingError } from '../common/errors.js';
import { isCanonicalEntry, jsonBytes, knownEntryBytes, rememberEntryBytes, type Entry } from '../entry/entry.js';

export { jsonBytes } from '../entry/entry.js';

/** One committed change of one entry. */
export interface RegistryChange {
  readonly op: 'create' | 'update' | 'delete';
  readonly revision: number;
  /** The entry after the change; for a delete, the entry that was removed. */
  readonly entry: Entry;
  /** The entry before an update. */
  readonly previous?: Entry;
}

/** One committed batch as history keeps it. */
export interface HistoryRecord {
  readonly revision: number;
  readonly transactionId: string;
  readonly time: string;
  /** A label of who applied it (a file source, `rollback to 3`, a CLI user...). */
  readonly source: string | undefined;
  readonly changes: readonly RegistryChange[];
}

/** The state of an entry just before `change` (undefined when the change created it). */
export function stateBefore(change: RegistryChange): Entry | undefined {
  if (change.op === 'create') return undefined;
  if (change.op === 'update') return change.previous;
  return change.entry;
}

/** How much history keeps: the oldest batches go first once any of the three is exceeded. */
export interface HistoryLimits {
  /** Committed batches (default 1,000). */
  readonly batches?: number;
  /** Changes, summed over the batches (default 100,000). */
  readonly changes?: number;
  /**
   * Bytes, summed over the batches: an estimate of the JSON size of the entries each change holds
   * (the entry, and for an update the entry it replaced). Default 32 MiB.
   */
  readonly bytes?: number;
}

/** The defaults of {@link HistoryLimits}. */
export const DEFAULT_HISTORY_LIMITS = Object.freeze({ batches: 1_000, changes: 100_000, bytes: 32 * 1024 * 1024 });

/** The registry options that set each limit, named in errors. */
const OPTION = { batches: 'historyLimit', changes: 'historyChangeLimit', bytes: 'historyByteLimit' } as const;

/** Below this many dropped slots the record list is never compacted. */
const COMPACT_AFTER = 1024;

/**
 * The latest committed batches, oldest first, bounded by how many batches, how many changes and how
 * many (estimated) bytes they hold. A batch that alone exceeds the change or byte limit is not kept:
 * reading history from before it fails with `GONE`, as for any batch no longer retained.
 */
export class History {
  private readonly limits: Required<HistoryLimits>;
  private records: (HistoryRecord | undefined)[] = [];
  private costs: ({ changes: number; bytes: number } | undefined)[] = [];
  private first = 0;
  private changes = 0;
  private bytes = 0;
  /** The limit that last dropped a batch, for the hint of a `GONE` error. */
  private droppedBy: keyof HistoryLimits = 'batches';

  constructor(limits: number | HistoryLimits = {}) {
    const given: HistoryLimits = typeof limits === 'number' ? { batches: limits } : limits;
    this.limits = {
      batches: positiveInteger(given.batches ?? DEFAULT_HISTORY_LIMITS.batches, OPTION.batches),
      changes: positiveInteger(given.changes ?? DEFAULT_HISTORY_LIMITS.changes, OPTION.changes),
      bytes: positiveInteger(given.bytes ?? DEFAULT_HISTORY_LIMITS.bytes, OPTION.bytes),
    };
  }

  /** How many batches, changes and estimated bytes are retained now. */
  get size(): { readonly batches: number; readonly changes: number; readonly bytes: number } {
    return { batches: this.records.length - this.first, changes: this.changes, bytes: this.bytes };
  }

  add(record: HistoryRecord): void {
    let bytes = 0;
    for (const change of record.changes) {
      bytes += CHANGE_OVERHEAD + entryBytes(change.entry, this.limits.bytes);
      if (change.previous !== undefined) bytes += entryBytes(change.previous, this.limits.bytes);
      if (bytes > this.limits.bytes) break;
    }
    this.records.push(record);
    this.costs.push({ changes: record.changes.length, bytes });
    this.changes += record.changes.length;
    this.bytes += bytes;
    for (;;) {
      const over =
        this.records.length - this.first > this.limits.batches
          ? 'batches'
          : this.changes > this.limits.changes
            ? 'changes'
            : this.bytes > this.limits.bytes
              ? 'bytes'
              : undefined;
      if (over === undefined) break;
      this.dropOldest();
      this.droppedBy = over;
    }
  }

  list(): readonly HistoryRecord[] {
    return this.records.slice(this.first) as HistoryRecord[];
  }

  /**
   * The records after `revision` up to `head`, oldest first. Throws `GONE` when some of them are no
   * longer retained.
   */
  after(revision: number, head: number): HistoryRecord[] {
    if (revision >= head) return [];
    const oldest = this.records[this.first]?.revision ?? head + 1;
    if (revision + 1 < oldest) {
      throw new KindlingError(
        'GONE',
        `revision ${revision} is older than the retained history (oldest kept: ${oldest - 1}); raise ${OPTION[this.droppedBy]} or start from the current state`,
        { details: { revision, oldestRetained: oldest - 1 } },
      );
    }
    // Revisions grow along the list: find the first one after `revision` by bisection.
    let low = this.first;
    let high = this.records.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if ((this.records[middle] as HistoryRecord).revision > revision) high = middle;
      else low = middle + 1;
    }
    return this.records.slice(low) as HistoryRecord[];
  }

  private dropOldest(): void {
    const cost = this.costs[this.first] as { changes: number; bytes: number };
    this.changes -= cost.changes;
    this.bytes -= cost.bytes;
    this.records[this.first] = undefined;
    this.costs[this.first] = undefined;
    this.first++;
    if (this.first === this.records.length) {
      this.records = [];
      this.costs = [];
      this.first = 0;
    } else if (this.first >= COMPACT_AFTER && this.first * 2 >= this.records.length) {
      this.records = this.records.slice(this.first);
      this.costs = this.costs.slice(this.first);
      this.first = 0;
    }
  }
}

function positiveInteger(value: number, option: string): number {
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new KindlingError('INVALID', `${option} must be a positive integer, got ${value}`, {
      details: { option, value },
    });
  }
  return value;
}

/** A rough fixed cost of one change record and its references. */
const CHANGE_OVERHEAD = 64;

/** Entries are immutable: each one's estimate is computed once (see knownEntryBytes). */
const sizes = new WeakMap<Entry, number>();

/** The estimated JSON size of an entry's id, kind, meta and data; counting stops past `cap`. */
export function entryBytes(entry: Entry, cap: number): number {
  const known = knownEntryBytes(entry) ?? sizes.get(entry);
  if (known !== undefined) return known;
  const size = 32 + entry.id.length + entry.kind.length + jsonBytes(entry.meta, cap) + jsonBytes(entry.data, cap);
  // A count stopped at `cap` is not the entry's size: kept only when exact.
  if (size > cap) return size;
  if (isCanonicalEntry(entry)) rememberEntryBytes(entry, size);
  else sizes.set(entry, size);
  return size;
}
