import type { HistoryRecord } from './history.js';

/** Where the registry writes each batch before it becomes visible (a write-ahead log). */
export interface RegistryJournal {
  /** Makes `record` durable; a throw refuses the batch. */
  append(record: HistoryRecord): void;
  /**
   * The revision of the last batch the journal held when it was opened: a registry replaying it
   * starts counting from there (`initialRevision`), so revisions never repeat across restarts.
   */
  readonly lastRevision?: number;
}
