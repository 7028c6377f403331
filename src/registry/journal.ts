import { closeSync, fsyncSync, ftruncateSync, mkdirSync, openSync, readFileSync, existsSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { crc32 } from 'node:zlib';
import { KindlingError, messageOf } from '../common/errors.js';
import type { Entry } from '../entry/entry.js';
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

/** One batch as the journal stores it. */
export interface JournalRecord {
  readonly revision: number;
  readonly transactionId: string;
  readonly time: string;
  readonly source: string | undefined;
  readonly changes: readonly { readonly op: 'create' | 'update' | 'delete'; readonly entry: Entry }[];
}

/** What {@link FileJournal.open} found in an existing file. */
export interface JournalReadResult {
  readonly records: readonly JournalRecord[];
  /** True when the last record was cut short (a crash mid-write) and was dropped. */
  readonly tornTail: boolean;
}

const FORMAT = 1;

/**
 * An append-only journal file: one line per committed batch, `crc32<TAB>json`, written and fsynced
 * before the batch becomes visible. On open, a torn last line (a crash mid-write) is detected,
 * dropped and cut off; damage anywhere before the last line is refused, because dropping it would
 * silently lose committed batches.
 *
 * @example
 * const { journal, records } = FileJournal.open('.kindling/journal.log');
 * const registry = new Registry({ handlers, journal });
 */
export class FileJournal implements RegistryJournal {
  private fd: number | undefined;

  private constructor(
    readonly path: string,
    fd: number,
    readonly lastRevision: number,
  ) {
    this.fd = fd;
  }

  /** Opens (creating if needed) the journal at `path` and reads the records it holds. */
  static open(path: string): JournalReadResult & { journal: FileJournal } {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    const read = existsSync(path) ? readJournal(path) : { records: [], tornTail: false, validBytes: 0 };
    const fd = openSync(path, existsSync(path) ? 'r+' : 'w+', 0o600);
    if (read.tornTail) {
      ftruncateSync(fd, read.validBytes);
      fsyncSync(fd);
    }
    closeSync(fd);
    const journal = new FileJournal(path, openSync(path, 'a', 0o600), read.records.at(-1)?.revision ?? 0);
    return { journal, records: read.records, tornTail: read.tornTail };
  }

  append(record: HistoryRecord): void {
    if (this.fd === undefined) throw new KindlingError('UNAVAILABLE', `journal ${this.path} is closed`);
    const stored: JournalRecord & { v: number } = {
      v: FORMAT,
      revision: record.revision,
      transactionId: record.transactionId,
      time: record.time,
      source: record.source,
      changes: record.changes.map(({ op, entry }) => ({ op, entry })),
    };
    const json = JSON.stringify(stored);
    const line = `${crc32(json).toString(16).padStart(8, '0')}\t${json}\n`;
    try {
      writeSync(this.fd, line);
      fsyncSync(this.fd);
    } catch (error) {
      throw new KindlingError('UNAVAILABLE', `could not write the registry journal ${this.path}: ${messageOf(error)}`, {
        cause: error,
        retryable: true,
      });
    }
  }

  close(): void {
    if (this.fd === undefined) return;
    closeSync(this.fd);
    this.fd = undefined;
  }
}

function readJournal(path: string): JournalReadResult & { validBytes: number } {
  const text = readFileSync(path, 'utf8');
  const records: JournalRecord[] = [];
  let offset = 0;
  let lineNumber = 0;
  while (offset < text.length) {
    lineNumber++;
    const end = text.indexOf('\n', offset);
    const line = end < 0 ? text.slice(offset) : text.slice(offset, end);
    const record = end < 0 ? undefined : parseLine(line);
    if (record === undefined) {
      const isLast = end < 0 || end === text.length - 1;
      if (isLast) return { records, tornTail: true, validBytes: Buffer.byteLength(text.slice(0, offset)) };
      throw new KindlingError(
        'INVALID',
        `registry journal ${path}:${lineNumber} is damaged before its last record; refusing to drop committed batches (move the file aside to start over)`,
        { details: { path, line: lineNumber } },
      );
    }
    records.push(record);
    offset = end + 1;
  }
  return { records, tornTail: false, validBytes: Buffer.byteLength(text) };
}

function parseLine(line: string): JournalRecord | undefined {
  const tab = line.indexOf('\t');
  if (tab !== 8) return undefined;
  const json = line.slice(9);
  if (crc32(json).toString(16).padStart(8, '0') !== line.slice(0, 8)) return undefined;
  try {
    const parsed = JSON.parse(json) as JournalRecord & { v?: number };
    return parsed.v === FORMAT ? parsed : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Folds journal records into the net change they make to any state: the last word on each id
 * (an entry, or undefined for deleted).
 */
export function foldJournal(records: readonly JournalRecord[]): Map<string, Entry | undefined> {
  const net = new Map<string, Entry | undefined>();
  for (const record of records) {
    for (const change of record.changes) net.set(change.entry.id, change.op === 'delete' ? undefined : change.entry);
  }
  return net;
}
