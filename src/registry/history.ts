import { KindlingError } from '../common/errors.js';
import type { Entry } from '../entry/entry.js';

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

/** The last `limit` committed batches, oldest first. */
export class History {
  private readonly records: HistoryRecord[] = [];

  constructor(private readonly limit: number) {
    if (!Number.isInteger(limit) || limit < 1) {
      throw new KindlingError('INVALID', `historyLimit must be a positive integer, got ${limit}`);
    }
  }

  add(record: HistoryRecord): void {
    this.records.push(record);
    if (this.records.length > this.limit) this.records.splice(0, this.records.length - this.limit);
  }

  list(): readonly HistoryRecord[] {
    return this.records.slice();
  }

  /**
   * The records after `revision` up to `head`, oldest first. Throws `GONE` when some of them are no
   * longer retained.
   */
  after(revision: number, head: number): HistoryRecord[] {
    if (revision >= head) return [];
    const oldest = this.records[0]?.revision ?? head + 1;
    if (revision + 1 < oldest) {
      throw new KindlingError(
        'GONE',
        `revision ${revision} is older than the retained history (oldest kept: ${oldest - 1}); raise historyLimit or start from the current state`,
        { details: { revision, oldestRetained: oldest - 1 } },
      );
    }
    return this.records.filter((record) => record.revision > revision);
  }
}
