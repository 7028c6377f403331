import * as nodeFs from 'node:fs';
import { constants } from 'node:fs';
import { lstat, mkdir, open as openFile, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { crc32 } from 'node:zlib';
import { KindlingError, messageOf } from '../../common/errors.js';
import { quote, show } from '../../common/visible-text.js';
import type { Entry } from '../../entry/entry.js';
import type { HistoryRecord } from '../history.js';
import type { RegistryJournal } from '../registry-journal.js';

/** One batch as the journal stores it. */
export interface JournalRecord {
  readonly revision: number;
  readonly transactionId: string;
  readonly time: string;
  readonly source: string | undefined;
  readonly changes: readonly { readonly op: 'create' | 'update' | 'delete'; readonly entry: Entry }[];
}

/** The journal's last word on one entry. */
export interface JournalEntryState {
  /** The entry as journaled by its last change; undefined when that change deleted it. */
  readonly entry: Entry | undefined;
  /** The source of the batch of that change. */
  readonly source: string | undefined;
}

/** What {@link FileJournal.open} found in an existing file. */
export interface JournalReadResult {
  /**
   * The net change the journal makes over any state, by entry id: its last word on each entry it
   * touched (replaying the journal is reaching this). A compaction keeps exactly this.
   */
  readonly state: ReadonlyMap<string, JournalEntryState>;
  /** Batches read after the snapshot (all of them when the journal has none). */
  readonly batches: number;
  /** The revision of the snapshot the journal begins with, when it was compacted. */
  readonly snapshotRevision: number | undefined;
  /** True when the last record was cut short (a crash mid-write) and was dropped. */
  readonly tornTail: boolean;
}

/** What one compaction did. */
export interface JournalCompaction {
  /** The revision the snapshot stands for (the journal's last). */
  readonly revision: number;
  /** Entries in the snapshot (deletions included). */
  readonly entries: number;
  readonly bytesBefore: number;
  readonly bytesAfter: number;
}

/** The file operations a compaction makes; replaceable so that tests can fail each step. */
export type JournalFileSystem = Pick<
  typeof nodeFs,
  'openSync' | 'writeSync' | 'fsyncSync' | 'closeSync' | 'renameSync'
>;

/** Options of {@link FileJournal.open}. */
export interface FileJournalOptions {
  /**
   * The largest record, in bytes (default {@link DEFAULT_MAX_RECORD_BYTES}): a batch larger than
   * this is refused when appended, and a longer line refuses the journal when read.
   */
  readonly maxRecordBytes?: number;
  /**
   * Compacts the journal (a snapshot of its state, then the batches after it) once the batches
   * after the last snapshot take more than this many bytes, or more than the snapshot itself,
   * whichever is larger: on open and after an append (default {@link DEFAULT_COMPACT_BYTES}).
   */
  readonly compactBytes?: number;
  /**
   * Checks an entry read from the journal (an object) and returns it, throwing `INVALID` with what
   * is wrong; the default, {@link decodeJournalEntry}, accepts `id`, `kind`, `meta` and `data`
   * only. Fields a caller journals besides those are checked here.
   */
  readonly decodeEntry?: (value: Record<string, unknown>) => Entry;
  /** Told when a compaction fails (the journal stays as it was, and is tried again later). */
  readonly onCompactionError?: (error: KindlingError) => void;
  /** @internal The file operations of a compaction (tests fail them one by one). */
  readonly fileSystem?: JournalFileSystem;
}

/** Default largest journal record: 128 MiB. */
export const DEFAULT_MAX_RECORD_BYTES = 128 * 1024 * 1024;
/** Default size of the batches after the snapshot that triggers a compaction: 64 MiB. */
export const DEFAULT_COMPACT_BYTES = 64 * 1024 * 1024;

const FORMAT = 1;
const NEWLINE = 0x0a;
const READ_CHUNK_BYTES = 1024 * 1024;
/** Snapshot lines are written in pieces of about this size. */
const WRITE_CHUNK_BYTES = 1024 * 1024;
const BATCH_KEYS = new Set(['v', 'revision', 'transactionId', 'time', 'source', 'changes']);
const SNAPSHOT_KEYS = new Set(['v', 'type', 'revision', 'time', 'entries']);
const STATE_KEYS = new Set(['v', 'type', 'id', 'entry', 'source']);
const ENTRY_KEYS = ['id', 'kind', 'meta', 'data'];

/**
 * An append-only journal file: one line per committed batch, `crc32<TAB>json<LF>`, written and
 * fsynced before the batch becomes visible; after a compaction it begins with a snapshot (a header
 * line, then one line per entry). It is read as a stream, line by line, each line bounded, and
 * every record is decoded strictly.
 *
 * Only a last line without its line end is a torn write (a crash mid-write): it is dropped and cut
 * off. Anything else — a complete line that fails its CRC or its decoding, a damaged line end,
 * a line over the size limit — is refused with `file:line`, because dropping it would lose
 * committed batches.
 *
 * A compaction writes the snapshot to a new file, fsyncs it, renames it over the journal and fsyncs
 * the directory: a crash at any step leaves either the old journal or the new one, both whole.
 *
 * @example
 * const { journal, state } = await FileJournal.open('.kindling/journal.log');
 * const registry = new Registry({ handlers, journal, initialRevision: journal.lastRevision });
 */
export class FileJournal implements RegistryJournal {
  private fd: number | undefined;
  private readonly net: Map<string, JournalEntryState>;
  private snapshotBytes: number;
  private tailBytes: number;
  /** Tail size at which the next compaction is tried (moved on after a failed one). */
  private compactAt: number;
  private last: number;

  private readonly options: Required<Pick<FileJournalOptions, 'maxRecordBytes' | 'compactBytes'>> & FileJournalOptions;
  private readonly fs: JournalFileSystem;

  private constructor(
    /** The journal file. */
    readonly path: string,
    fd: number,
    read: Readonly<ReadState>,
    settings: { readonly options: FileJournal['options']; readonly fs: JournalFileSystem },
  ) {
    this.options = settings.options;
    this.fs = settings.fs;
    this.fd = fd;
    this.net = read.net;
    this.snapshotBytes = read.snapshotBytes;
    this.tailBytes = read.validBytes - read.snapshotBytes;
    this.last = read.lastRevision;
    this.compactAt = this.threshold();
  }

  /**
   * Opens (creating if needed, mode 0600) the journal at `path`, reads it as a stream and folds it
   * into its net state. Refuses (`INVALID`, naming `file:line`) a journal damaged anywhere but in a
   * torn last line, and anything at `path` that is not a regular file.
   */
  static async open(
    path: string,
    options: FileJournalOptions = {},
  ): Promise<JournalReadResult & { journal: FileJournal }> {
    const settings = {
      ...options,
      maxRecordBytes: positive(options.maxRecordBytes, DEFAULT_MAX_RECORD_BYTES, 'maxRecordBytes'),
      compactBytes: positive(options.compactBytes, DEFAULT_COMPACT_BYTES, 'compactBytes'),
    };
    await mkdir(dirname(path), { recursive: true, mode: 0o700 });
    // A compaction that did not reach its rename: the journal itself is whole, the copy is not needed.
    await unlink(compactionPath(path)).catch(() => undefined);
    const read = await readJournal(path, settings.maxRecordBytes, settings.decodeEntry ?? decodeJournalEntry);
    const fs = options.fileSystem ?? nodeFs;
    const fd = openForAppend(path);
    if (read.tornTail) {
      nodeFs.ftruncateSync(fd, read.validBytes);
      nodeFs.fsyncSync(fd);
    }
    const journal = new FileJournal(path, fd, read, { options: settings, fs });
    journal.compactIfDue();
    return {
      journal,
      // A copy: the journal's own goes on changing with every append.
      state: new Map(read.net),
      batches: read.batches,
      snapshotRevision: read.snapshotRevision,
      tornTail: read.tornTail,
    };
  }

  /** The revision of the last batch in the journal. */
  get lastRevision(): number {
    return this.last;
  }

  /** The size of the journal file, in bytes. */
  get bytes(): number {
    return this.snapshotBytes + this.tailBytes;
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
    const line = this.encode(stored, `batch of revision ${record.revision} (${record.changes.length} changes)`);
    try {
      writeAll(nodeFs, this.fd, line);
      nodeFs.fsyncSync(this.fd);
    } catch (error) {
      throw new KindlingError('UNAVAILABLE', `could not write the registry journal ${this.path}: ${messageOf(error)}`, {
        cause: error,
        retryable: true,
      });
    }
    this.tailBytes += line.length;
    this.last = record.revision;
    for (const { op, entry } of stored.changes)
      this.net.set(entry.id, { entry: op === 'delete' ? undefined : entry, source: record.source });
    // The batch is durable and committed from here on: a compaction that fails must not refuse it.
    this.compactIfDue();
  }

  /**
   * Replaces the journal by a snapshot of its state (the last word on each entry) at its last
   * revision: crash-safe (write a new file, fsync, rename, fsync the directory). What the journal
   * replays at the next start is unchanged; only the batches it was folded from are gone.
   */
  compact(): JournalCompaction {
    if (this.fd === undefined) throw new KindlingError('UNAVAILABLE', `journal ${this.path} is closed`);
    const fs = this.fs;
    const before = this.bytes;
    const temporary = compactionPath(this.path);
    let fd: number | undefined;
    try {
      fd = fs.openSync(
        temporary,
        constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW,
        0o600,
      );
      let written = 0;
      let pending: Buffer[] = [];
      let pendingBytes = 0;
      const flush = (): void => {
        const chunk = Buffer.concat(pending);
        writeAll(fs, fd as number, chunk);
        written += chunk.length;
        pending = [];
        pendingBytes = 0;
      };
      const add = (line: Buffer): void => {
        pending.push(line);
        pendingBytes += line.length;
        if (pendingBytes >= WRITE_CHUNK_BYTES) flush();
      };
      add(
        this.encode(
          { v: FORMAT, type: 'snapshot', revision: this.last, time: new Date().toISOString(), entries: this.net.size },
          'snapshot header',
        ),
      );
      for (const [id, { entry, source }] of this.net) {
        add(
          this.encode(
            {
              v: FORMAT,
              type: 'state',
              id,
              ...(entry === undefined ? {} : { entry }),
              ...(source === undefined ? {} : { source }),
            },
            `snapshot of entry ${id}`,
          ),
        );
      }
      flush();
      fs.fsyncSync(fd);
      fs.renameSync(temporary, this.path);
      // The new file is the journal from here on, whatever happens next: appends go to it.
      const previous = this.fd;
      this.fd = fd;
      fd = undefined;
      this.snapshotBytes = written;
      this.tailBytes = 0;
      this.compactAt = this.threshold();
      nodeFs.closeSync(previous);
      // Until the directory is synced, a power loss may bring the old name back, and with it a
      // journal without the batches appended from now on.
      const dir = fs.openSync(dirname(this.path), constants.O_RDONLY);
      try {
        fs.fsyncSync(dir);
      } finally {
        fs.closeSync(dir);
      }
      return { revision: this.last, entries: this.net.size, bytesBefore: before, bytesAfter: written };
    } catch (error) {
      if (fd !== undefined) {
        try {
          fs.closeSync(fd);
        } catch {
          // Already failing: the error below says why.
        }
        try {
          nodeFs.unlinkSync(temporary);
        } catch {
          // The next open removes it.
        }
      }
      this.compactAt = this.tailBytes + this.options.compactBytes;
      if (error instanceof KindlingError) throw error;
      throw new KindlingError(
        'UNAVAILABLE',
        `could not compact the registry journal ${this.path}: ${messageOf(error)} (it is unchanged)`,
        {
          cause: error,
          retryable: true,
        },
      );
    }
  }

  close(): void {
    if (this.fd === undefined) return;
    nodeFs.closeSync(this.fd);
    this.fd = undefined;
  }

  /** Compacts when the batches after the snapshot have grown past the threshold; never throws. */
  private compactIfDue(): void {
    if (this.tailBytes <= this.compactAt) return;
    try {
      this.compact();
    } catch (error) {
      this.options.onCompactionError?.(error as KindlingError);
    }
  }

  /** Amortised: the batches may grow as large as the snapshot before it is written again. */
  private threshold(): number {
    return Math.max(this.options.compactBytes, this.snapshotBytes);
  }

  private encode(value: object, what: string): Buffer {
    let json: string;
    try {
      json = JSON.stringify(value);
    } catch (error) {
      throw new KindlingError(
        'INVALID',
        `the ${what} cannot be written to the registry journal ${this.path}: ${messageOf(error)}`,
        { cause: error },
      );
    }
    const body = Buffer.from(json);
    const line = Buffer.allocUnsafe(body.length + 10);
    line.write(crc32(body).toString(16).padStart(8, '0'), 0, 'latin1');
    line[8] = 0x09;
    body.copy(line, 9);
    line[line.length - 1] = NEWLINE;
    if (line.length > this.options.maxRecordBytes) {
      throw new KindlingError(
        'INVALID',
        `the ${what} is ${line.length} bytes as a journal record, more than the limit of ${this.options.maxRecordBytes} (maxRecordBytes); apply it in smaller batches, or raise the limit (kindling run --journal-max-record-bytes)`,
        { details: { bytes: line.length, limit: this.options.maxRecordBytes } },
      );
    }
    return line;
  }
}

/**
 * Checks an entry read from a journal: an object with a non-empty string `id` and `kind`, a plain
 * object `meta` (when present) and any `data`, and no other field than `allowed` ones. Throws
 * `INVALID` naming the field.
 */
export function decodeJournalEntry(value: Record<string, unknown>, allowed: readonly string[] = []): Entry {
  for (const key of Object.keys(value)) {
    if (!ENTRY_KEYS.includes(key) && !allowed.includes(key))
      throw invalid(`entry has an unknown field ${quote(key, 64)}`);
  }
  if (typeof value['id'] !== 'string' || value['id'] === '') throw invalid('entry.id must be a non-empty string');
  if (typeof value['kind'] !== 'string' || value['kind'] === '')
    throw invalid(`entry ${value['id']}: kind must be a non-empty string`);
  if (value['meta'] !== undefined && !isPlainObject(value['meta']))
    throw invalid(`entry ${value['id']}: meta must be an object`);
  return value as unknown as Entry;
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

// ---- reading -------------------------------------------------------------------------------------

interface ReadState {
  net: Map<string, JournalEntryState>;
  batches: number;
  snapshotRevision: number | undefined;
  lastRevision: number;
  tornTail: boolean;
  /** Bytes of the whole lines kept (where a torn tail is cut off). */
  validBytes: number;
  snapshotBytes: number;
}

async function readJournal(
  path: string,
  maxRecordBytes: number,
  decodeEntry: (value: Record<string, unknown>) => Entry,
): Promise<ReadState> {
  const state: ReadState = {
    net: new Map(),
    batches: 0,
    snapshotRevision: undefined,
    lastRevision: 0,
    tornTail: false,
    validBytes: 0,
    snapshotBytes: 0,
  };
  let handle: Awaited<ReturnType<typeof openFile>>;
  try {
    await requireRegularFile(path);
    // No symbolic link, and no wait on a FIFO put there between the check and the open.
    handle = await openFile(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return state;
    throw error;
  }
  if (!(await handle.stat()).isFile()) {
    await handle.close();
    throw new KindlingError(
      'INVALID',
      `the registry journal ${path} is not a regular file; move it aside to start over`,
      { details: { path } },
    );
  }
  const decoder = new JournalDecoder(path, state, decodeEntry);
  try {
    const buffer = Buffer.allocUnsafe(READ_CHUNK_BYTES);
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    for (;;) {
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, null);
      if (bytesRead === 0) break;
      let start = 0;
      for (;;) {
        const end = buffer.indexOf(NEWLINE, start);
        const stop = end < 0 || end >= bytesRead ? bytesRead : end;
        pendingBytes += stop - start;
        if (pendingBytes + 1 > maxRecordBytes) decoder.tooLong(maxRecordBytes);
        // Copied: the buffer is reused by the next read.
        if (stop > start) pending.push(Buffer.from(buffer.subarray(start, stop)));
        if (stop === bytesRead) break;
        decoder.line(pending.length === 1 ? (pending[0] as Buffer) : Buffer.concat(pending, pendingBytes));
        pending = [];
        pendingBytes = 0;
        start = end + 1;
      }
    }
    decoder.end(pendingBytes === 0 ? undefined : Buffer.concat(pending, pendingBytes));
  } finally {
    await handle.close();
  }
  return state;
}

/** Decodes the lines of one journal file in order, folding them into `state`. */
class JournalDecoder {
  private lineNumber = 0;
  /** Entries of the snapshot still to come. */
  private snapshotLeft = 0;

  constructor(
    private readonly path: string,
    private readonly state: ReadState,
    private readonly decodeEntry: (value: Record<string, unknown>) => Entry,
  ) {}

  /** A whole line (its line feed read). */
  line(bytes: Buffer): void {
    this.lineNumber++;
    const value = this.verify(bytes);
    if (value === undefined) throw this.damaged(this.lineNumber, this.whyBroken(bytes));
    try {
      this.take(value);
    } catch (error) {
      throw this.damaged(this.lineNumber, messageOf(error), error);
    }
    this.state.validBytes += bytes.length + 1;
    if (this.snapshotLeft > 0 || value['type'] !== undefined) this.state.snapshotBytes = this.state.validBytes;
  }

  /** The end of the file, with the bytes after the last line feed, if any. */
  end(rest: Buffer | undefined): void {
    if (rest !== undefined) {
      const lineNumber = this.lineNumber + 1;
      // A crash mid-write leaves a prefix of a line: never a whole record followed by another byte.
      if (rest.length > 1 && this.verify(rest.subarray(0, -1)) !== undefined) {
        throw this.damaged(
          lineNumber,
          `a complete record whose line end is damaged (byte 0x${(rest.at(-1) as number).toString(16).padStart(2, '0')} instead of a line feed)`,
        );
      }
      if (
        this.snapshotLeft > 0 ||
        (this.lineNumber === 0 && rest.subarray(9).toString('latin1').startsWith('{"v":1,"t'))
      ) {
        throw this.damaged(
          lineNumber,
          'the snapshot is cut short (a snapshot is written whole before it replaces the journal, so a crash cannot do this)',
        );
      }
      this.state.tornTail = true;
    }
    if (this.snapshotLeft > 0) {
      throw this.damaged(
        this.lineNumber,
        `the snapshot ends ${this.snapshotLeft} entries short of what its header declares`,
      );
    }
  }

  tooLong(limit: number): never {
    throw this.damaged(
      this.lineNumber + 1,
      `a record longer than ${limit} bytes (maxRecordBytes); if the journal was written with a higher limit, start with it (kindling run --journal-max-record-bytes)`,
    );
  }

  /** The record of a line whose checksum holds, or undefined. */
  private verify(bytes: Buffer): Record<string, unknown> | undefined {
    if (bytes.length < 10 || bytes[8] !== 0x09) return undefined;
    const crc = bytes.toString('latin1', 0, 8);
    if (!/^[0-9a-f]{8}$/.test(crc)) return undefined;
    const body = bytes.subarray(9);
    if (crc32(body).toString(16).padStart(8, '0') !== crc) return undefined;
    let value: unknown;
    try {
      value = JSON.parse(body.toString('utf8'));
    } catch {
      return undefined;
    }
    return isPlainObject(value) ? value : undefined;
  }

  private whyBroken(bytes: Buffer): string {
    if (bytes.length < 10 || bytes[8] !== 0x09 || !/^[0-9a-f]{8}$/.test(bytes.toString('latin1', 0, 8)))
      return 'not a journal record (crc32<TAB>json)';
    if (crc32(bytes.subarray(9)).toString(16).padStart(8, '0') !== bytes.toString('latin1', 0, 8))
      return 'its checksum does not match its content';
    return 'its content is not a JSON object';
  }

  private take(value: Record<string, unknown>): void {
    if (value['v'] !== FORMAT)
      throw invalid(`unknown format version ${show(value['v'], 64)} (this version reads ${FORMAT})`);
    const type = value['type'];
    if (this.snapshotLeft > 0) {
      if (type !== 'state')
        throw invalid(`the snapshot declares ${this.snapshotLeft} more entries, but this line is not one`);
      this.takeState(value);
      this.snapshotLeft--;
      return;
    }
    if (type === 'snapshot') {
      if (this.lineNumber !== 1) throw invalid('a snapshot can only begin the journal');
      onlyKeys(value, SNAPSHOT_KEYS, 'snapshot');
      const revision = this.revision(value['revision']);
      checkTime(value['time']);
      const entries = value['entries'];
      if (!Number.isSafeInteger(entries) || (entries as number) < 0)
        throw invalid('snapshot.entries must be a count (an integer, 0 or more)');
      this.state.snapshotRevision = revision;
      this.snapshotLeft = entries as number;
      return;
    }
    if (type !== undefined) throw invalid(`unknown record type ${show(type, 64)}`);
    this.takeBatch(value);
  }

  private takeState(value: Record<string, unknown>): void {
    onlyKeys(value, STATE_KEYS, 'snapshot entry');
    const id = value['id'];
    if (typeof id !== 'string' || id === '') throw invalid('snapshot entry: id must be a non-empty string');
    const source = optionalString(value['source'], `snapshot entry ${id}: source`);
    let entry: Entry | undefined;
    if (value['entry'] !== undefined) {
      entry = this.entry(value['entry'], `snapshot entry ${id}`);
      if (entry.id !== id) throw invalid(`snapshot entry ${id} holds entry ${entry.id}`);
    }
    if (this.state.net.has(id)) throw invalid(`the snapshot holds entry ${id} twice`);
    this.state.net.set(id, { entry, source });
  }

  private takeBatch(value: Record<string, unknown>): void {
    onlyKeys(value, BATCH_KEYS, 'batch');
    this.revision(value['revision']); // checked here; the batch's changes carry what is replayed
    if (typeof value['transactionId'] !== 'string' || value['transactionId'] === '')
      throw invalid('transactionId must be a non-empty string');
    checkTime(value['time']);
    const source = optionalString(value['source'], 'source');
    const changes = value['changes'];
    if (!Array.isArray(changes)) throw invalid('changes must be a list');
    const decoded = changes.map((change: unknown, index) => {
      const where = `changes[${index}]`;
      if (!isPlainObject(change)) throw invalid(`${where} must be an object { op, entry }`);
      onlyKeys(change, new Set(['op', 'entry']), where);
      const op = change['op'];
      if (op !== 'create' && op !== 'update' && op !== 'delete')
        throw invalid(`${where}.op must be create, update or delete, not ${show(op, 64)}`);
      return { op, entry: this.entry(change['entry'], `${where}.entry`) };
    });
    // Only once the whole record is known good does it change the state.
    for (const { op, entry } of decoded)
      this.state.net.set(entry.id, { entry: op === 'delete' ? undefined : entry, source });
    this.state.batches++;
  }

  private entry(value: unknown, where: string): Entry {
    if (!isPlainObject(value)) throw invalid(`${where} must be an object`);
    try {
      return this.decodeEntry(value);
    } catch (error) {
      throw invalid(`${where}: ${messageOf(error)}`);
    }
  }

  private revision(value: unknown): number {
    if (!Number.isSafeInteger(value) || (value as number) < 1)
      throw invalid(`revision must be a positive integer, not ${show(value, 64)}`);
    const revision = value as number;
    if (revision <= this.state.lastRevision)
      throw invalid(`revision ${revision} does not follow revision ${this.state.lastRevision}`);
    this.state.lastRevision = revision;
    return revision;
  }

  private damaged(line: number, why: string, cause?: unknown): KindlingError {
    return new KindlingError(
      'INVALID',
      `registry journal ${this.path}:${line} is damaged: ${why}; refusing to drop committed batches (move the file aside to start over from the registry YAML)`,
      { details: { path: this.path, line }, ...(cause === undefined ? {} : { cause }) },
    );
  }
}

// ---- helpers -------------------------------------------------------------------------------------

function compactionPath(path: string): string {
  return `${path}.compact`;
}

async function requireRegularFile(path: string): Promise<void> {
  const info = await lstat(path);
  if (!info.isFile()) {
    const what = info.isSymbolicLink()
      ? 'a symbolic link'
      : info.isFIFO()
        ? 'a FIFO'
        : info.isDirectory()
          ? 'a directory'
          : 'not a regular file';
    throw new KindlingError(
      'INVALID',
      `the registry journal ${path} is ${what}; it must be a regular file (move it aside to start over)`,
      { details: { path } },
    );
  }
}

function openForAppend(path: string): number {
  return nodeFs.openSync(
    path,
    constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW,
    0o600,
  );
}

function writeAll(fs: JournalFileSystem, fd: number, bytes: Buffer): void {
  let offset = 0;
  while (offset < bytes.length) offset += fs.writeSync(fd, bytes, offset, bytes.length - offset);
}

function onlyKeys(value: Record<string, unknown>, known: ReadonlySet<string>, what: string): void {
  for (const key of Object.keys(value)) {
    if (!known.has(key)) throw invalid(`${what} has an unknown field ${quote(key, 64)}`);
  }
}

function optionalString(value: unknown, what: string): string | undefined {
  if (value !== undefined && typeof value !== 'string') throw invalid(`${what} must be a string`);
  return value;
}

function checkTime(value: unknown): void {
  if (typeof value !== 'string' || Number.isNaN(Date.parse(value)))
    throw invalid(`time must be an ISO date, not ${show(value, 64)}`);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function positive(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < 1)
    throw new KindlingError('INVALID', `${name} must be a positive whole number of bytes, got ${value}`);
  return value;
}

function invalid(message: string): KindlingError {
  return new KindlingError('INVALID', message);
}
