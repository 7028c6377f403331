// The JSON spoken over a running app's admin socket (boot/admin-server.ts, boot/admin-client.ts).

import { createHash } from 'node:crypto';
import { DEFAULT_MAX_FILE_BYTES, ErrorCode, KindlingError, getEntrySource, messageOf, parseRegistryYaml, readBoundedFile, setEntrySource } from 'kindling';
import type { Entry, EntryInput, EntrySource, FileBoundary, HistoryRecord, RegistryOp } from 'kindling';

/** Where an entry was declared, as it travels: the file and the position of the entry. */
export interface WirePosition {
  readonly file: string;
  readonly line: number;
  readonly column: number;
}

/** An entry as it travels, with where it was declared when it came from a file. */
export interface WireEntry {
  readonly id: string;
  readonly kind: string;
  readonly meta: Readonly<Record<string, unknown>>;
  readonly data: unknown;
  readonly at?: WirePosition;
}

/** One operation of a batch as it travels. */
export type WireOp =
  | { readonly op: 'create' | 'update'; readonly entry: WireEntry }
  | { readonly op: 'delete'; readonly entry: { readonly id: string } };

/** An error as it travels: `{ code, message, details }`. */
export interface WireError {
  readonly code: string;
  readonly message: string;
  readonly details: Readonly<Record<string, unknown>>;
}

/** Where a running app is in its life. */
export type AdminPhase = 'starting' | 'ready' | 'stopping';

/** `GET /status`. */
export interface AdminStatus {
  readonly pid: number;
  readonly name: string;
  readonly appDir: string;
  readonly stateDir: string;
  readonly phase: AdminPhase;
  readonly startedAt: string;
  /** The registry revision (0 while starting). */
  readonly revision: number;
  readonly entries: number;
  readonly journal: AdminJournalInfo;
}

/** What the app found in its journal when it started. */
export interface AdminJournalInfo {
  readonly path: string;
  /** Batches read back from the journal at start (folded into one replay batch). */
  readonly replayedBatches: number;
  /** Whether a torn last record (a crash mid-write) was dropped at start. */
  readonly tornTail: boolean;
}

/** `GET /entries`: the committed entries and which source applied each one last. */
export interface AdminEntries {
  readonly revision: number;
  readonly entries: readonly WireEntry[];
  /** Entry id → the source of the batch that last created or updated it. */
  readonly owners: Readonly<Record<string, string>>;
}

/** `POST /apply`. */
export interface AdminApplyRequest {
  readonly ops: readonly WireOp[];
  readonly dryRun?: boolean;
  readonly expectRevision?: number;
  readonly source?: string;
}

/** `POST /rollback`. */
export interface AdminRollbackRequest {
  readonly revision: number;
  readonly dryRun?: boolean;
  readonly expectRevision?: number;
}

/** One change of a batch, without the entry's content. */
export interface WireChange {
  readonly op: 'create' | 'update' | 'delete';
  readonly id: string;
  readonly kind: string;
}

/** What `POST /apply` and `POST /rollback` answer. */
export interface AdminApplyResult {
  readonly revision: number;
  readonly dryRun: boolean;
  readonly changes: readonly WireChange[];
  /** Failures after the point of no return (the batch stayed committed). */
  readonly faults: readonly { readonly phase: string; readonly name: string; readonly entryId?: string; readonly message: string }[];
}

/** One batch of `GET /history`. */
export interface WireHistoryRecord {
  readonly revision: number;
  readonly transactionId: string;
  readonly time: string;
  readonly source?: string;
  readonly changes: readonly WireChange[];
}

/** `GET /history`: the retained batches of this run, oldest first. */
export interface AdminHistory {
  readonly revision: number;
  readonly records: readonly WireHistoryRecord[];
  readonly journal: AdminJournalInfo;
}

/** The position of an entry when it came from a file. */
export function positionOf(entry: object): WirePosition | undefined {
  const source = getEntrySource(entry);
  return source === undefined ? undefined : { file: source.file, line: source.line, column: source.column };
}

/** An entry as it travels. */
export function toWireEntry(entry: Entry): WireEntry {
  const at = positionOf(entry);
  const wire = { id: entry.id, kind: entry.kind, meta: entry.meta, data: entry.data };
  return at === undefined ? wire : { ...wire, at };
}

/** Operations as they travel. */
export function toWireOps(ops: readonly RegistryOp[]): WireOp[] {
  return ops.map((op) => (op.op === 'delete' ? { op: 'delete', entry: { id: op.entry.id } } : { op: op.op, entry: toWireEntry(op.entry as Entry) }));
}

/**
 * An entry received over the wire (or read back from the journal), ready for `registry.apply`:
 * its declaration site is attached again, so that relative paths in its data (a function's module)
 * resolve against its YAML file and refusals point at `file:line:col`. The site can locate paths
 * under the entry once {@link readWireSources} has read its file, as long as the entry is still
 * declared at the same place.
 */
export function fromWireEntry(value: unknown): EntryInput {
  const wire = (typeof value === 'object' && value !== null ? value : {}) as Partial<WireEntry>;
  const entry = { id: wire.id as string, kind: wire.kind as string, meta: wire.meta as Record<string, unknown>, data: wire.data };
  const at = wire.at;
  if (at !== undefined && typeof at.file === 'string' && Number.isInteger(at.line) && Number.isInteger(at.column)) {
    setEntrySource(entry, lazySource(entry.id, at));
  }
  return entry;
}

/** Operations received over the wire, ready for `registry.apply` (the registry checks them). */
export function fromWireOps(value: unknown): RegistryOp[] {
  if (!Array.isArray(value)) throw new KindlingError('INVALID', 'ops must be a list of { op, entry } operations');
  return value.map((item: unknown, index) => {
    const op = (typeof item === 'object' && item !== null ? item : {}) as { op?: unknown; entry?: unknown };
    if (op.op === 'delete') return { op: 'delete', entry: { id: (op.entry as { id?: unknown } | undefined)?.id as string } };
    if (op.op === 'create' || op.op === 'update') return { op: op.op, entry: fromWireEntry(op.entry) };
    throw new KindlingError('INVALID', `operation ${index} has an unknown op ${JSON.stringify(op.op)} (create, update or delete)`);
  });
}

/** The changes of a batch, without their content. */
export function toWireChanges(changes: HistoryRecord['changes']): WireChange[] {
  return changes.map((change) => ({ op: change.op, id: change.entry.id, kind: change.entry.kind }));
}

/** An error as it travels; details are kept only as far as they are plain JSON. */
export function toWireError(error: unknown): WireError {
  const code = error instanceof KindlingError ? error.code : 'INTERNAL';
  const details = error instanceof KindlingError ? jsonSafe(error.details) : {};
  return { code, message: messageOf(error), details: (details ?? {}) as Record<string, unknown> };
}

/** The error a wire error stands for, with its code, message and details. */
export function fromWireError(wire: WireError): KindlingError {
  const known = Object.values(ErrorCode) as string[];
  const code = (known.includes(wire.code) ? wire.code : 'INTERNAL') as ErrorCode;
  return new KindlingError(code, wire.message, { details: wire.details });
}

function jsonSafe(value: unknown): unknown {
  try {
    return JSON.parse(
      JSON.stringify(value, (_key, inner: unknown) => {
        if (inner instanceof Error) return { name: inner.name, message: inner.message, ...(inner instanceof KindlingError ? { code: inner.code } : {}) };
        if (typeof inner === 'bigint') return inner.toString();
        return inner;
      }),
    ) as unknown;
  } catch {
    return {};
  }
}

// ---- locating paths under an entry that came over the wire --------------------------------------

/** The entries of one registry file by id, parsed when a refusal first needs a position. */
type ParsedFile = () => ReadonlyMap<string, EntrySource> | undefined;

/** Where a wire entry's file is, and (once read) its entries. */
interface WireSlot {
  readonly file: string;
  parsed: ParsedFile | undefined;
}

/** The slot of each declaration site made by {@link fromWireEntry}. */
const slots = new WeakMap<EntrySource, WireSlot>();

/** A few recently read files by content hash, so that the rounds of one dry run parse a file once. */
const parsedFiles = new Map<string, { readonly hash: string; readonly parsed: ParsedFile }>();
const PARSED_FILES_KEPT = 8;

function lazySource(id: string, at: WirePosition): EntrySource {
  const slot: WireSlot = { file: at.file, parsed: undefined };
  const source: EntrySource = {
    file: at.file,
    line: at.line,
    column: at.column,
    locate: (path) => {
      const found = slot.parsed?.()?.get(id);
      // Only while the entry is still where it was when it was sent: otherwise any position is a guess.
      if (found === undefined || found.line !== at.line || found.column !== at.column) return undefined;
      return found.locate?.(path);
    },
  };
  slots.set(source, slot);
  return source;
}

/**
 * Reads the registry files that the entries of `ops` were declared in, so that a refusal can point
 * at a path under an entry (`data.file` rather than the entry). The files are named by the client:
 * only regular files of bounded size inside `boundary` are read, asynchronously; any other is left
 * unread, and its entries are located at their declaration only. Never throws.
 */
export async function readWireSources(ops: readonly RegistryOp[], boundary: FileBoundary): Promise<void> {
  const byFile = new Map<string, WireSlot[]>();
  for (const op of ops) {
    const source = getEntrySource(op.entry);
    const slot = source === undefined ? undefined : slots.get(source);
    if (slot === undefined) continue;
    const list = byFile.get(slot.file);
    if (list === undefined) byFile.set(slot.file, [slot]);
    else list.push(slot);
  }
  await Promise.all(
    [...byFile].map(async ([file, list]) => {
      const parsed = await readParsedFile(file, boundary);
      for (const slot of list) slot.parsed = parsed;
    }),
  );
}

async function readParsedFile(file: string, boundary: FileBoundary): Promise<ParsedFile | undefined> {
  let bytes: Buffer;
  try {
    ({ bytes } = await readBoundedFile(file, { maxBytes: DEFAULT_MAX_FILE_BYTES, limitName: 'maxFileBytes', boundary }));
  } catch {
    return undefined;
  }
  const hash = createHash('sha256').update(bytes).digest('hex');
  const cached = parsedFiles.get(file);
  if (cached?.hash === hash) return cached.parsed;
  let text: string | undefined = bytes.toString('utf8');
  let sources: Map<string, EntrySource> | undefined;
  const parsed: ParsedFile = () => {
    if (text !== undefined) {
      try {
        sources = new Map();
        for (const entry of parseRegistryYaml(text, file)) {
          const source = getEntrySource(entry);
          if (source !== undefined) sources.set(entry.id, source);
        }
      } catch {
        sources = undefined;
      }
      text = undefined;
    }
    return sources;
  };
  parsedFiles.delete(file);
  parsedFiles.set(file, { hash, parsed });
  while (parsedFiles.size > PARSED_FILES_KEPT) parsedFiles.delete(parsedFiles.keys().next().value as string);
  return parsed;
}
