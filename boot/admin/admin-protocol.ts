// The JSON spoken over a running app's admin socket (boot/admin-server.ts, boot/admin-client.ts).

import { createHash } from 'node:crypto';
import { ErrorCode, KindlingError, getEntrySource, messageOf, parseRegistryYaml, quote, readBoundedFile, show } from 'kindling';
import { DEFAULT_MAX_FILE_BYTES } from '../../src/yaml/registry-yaml.js';
import { findInvisible } from '../../src/common/visible-text.js';
import { setEntrySource } from '../../src/entry/entry.js';
import type { Entry, EntryInput, EntrySource, FileBoundary, HistoryRecord, RegistryOp, RegistryYamlLimits } from 'kindling';

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
  /** Batches read back from the journal at start (folded into one replay batch), after its snapshot if any. */
  readonly replayedBatches: number;
  /** The revision of the snapshot the journal began with at start, when it had been compacted. */
  readonly snapshotRevision?: number;
  /** Whether a torn last record (a crash mid-write) was dropped at start. */
  readonly tornTail: boolean;
}

/** `POST /compact`: what the compaction of the journal did. */
export interface AdminCompaction {
  readonly path: string;
  /** The revision the snapshot stands for. */
  readonly revision: number;
  /** Entries in the snapshot (deletions included). */
  readonly entries: number;
  readonly bytesBefore: number;
  readonly bytesAfter: number;
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

/** `POST /apply` once decoded: operations ready for `registry.apply`. */
export interface DecodedApplyRequest {
  readonly ops: RegistryOp[];
  readonly dryRun: boolean;
  readonly expectRevision?: number;
  readonly source?: string;
}

/** `POST /rollback` once decoded. */
export interface DecodedRollbackRequest {
  readonly revision: number;
  readonly dryRun: boolean;
  readonly expectRevision?: number;
}

/** Default largest number of operations in one `POST /apply`. */
export const DEFAULT_MAX_OPS = 100_000;
/** Default longest `source` label of a `POST /apply`, in characters. */
export const DEFAULT_MAX_SOURCE_LENGTH = 256;

/** What one decoded request may carry. */
export interface RequestLimits {
  /** The most operations of one batch (default {@link DEFAULT_MAX_OPS}). */
  readonly maxOps?: number;
  /** The longest `source` label (default {@link DEFAULT_MAX_SOURCE_LENGTH}). */
  readonly maxSourceLength?: number;
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
 * declared at the same place. Decoded strictly: `id` and `kind` strings, `meta` an object, `at` a
 * position, nothing else; throws `INVALID` naming the field (under `where`).
 */
export function fromWireEntry(value: unknown, where = 'entry'): EntryInput {
  const wire = record(value, where, ['id', 'kind', 'meta', 'data', 'at']);
  const id = text(wire['id'], `${where}.id`);
  const kind = text(wire['kind'], `${where}.kind`);
  const meta = wire['meta'] === undefined ? {} : record(wire['meta'], `${where}.meta`);
  const entry = { id, kind, meta, data: wire['data'] };
  if (wire['at'] !== undefined) setEntrySource(entry, lazySource(id, fromWirePosition(wire['at'], `${where}.at`)));
  return entry;
}

/**
 * Operations received over the wire, ready for `registry.apply` (the registry checks them against
 * its state): a list of at most `maxOps` `{ op, entry }`, decoded strictly. Throws `INVALID` naming
 * the operation and the field.
 */
export function fromWireOps(value: unknown, maxOps = DEFAULT_MAX_OPS): RegistryOp[] {
  if (!Array.isArray(value)) throw invalid('ops must be a list of { op, entry } operations');
  if (value.length > maxOps) {
    throw invalid(`the batch has ${value.length} operations, more than the ${maxOps} one request may carry (maxOps); apply it in smaller batches, or raise the limit (kindling run --admin-max-ops)`, {
      ops: value.length,
      limit: maxOps,
    });
  }
  return value.map((item: unknown, index): RegistryOp => {
    const where = `ops[${index}]`;
    const op = record(item, where, ['op', 'entry']);
    if (op['op'] === 'delete') {
      const entry = record(op['entry'], `${where}.entry`, ['id']);
      return { op: 'delete', entry: { id: text(entry['id'], `${where}.entry.id`) } };
    }
    if (op['op'] === 'create' || op['op'] === 'update') return { op: op['op'], entry: fromWireEntry(op['entry'], `${where}.entry`) };
    throw invalid(`${where}.op must be create, update or delete, not ${op['op'] === undefined ? 'missing' : show(op['op'], 64)}`);
  });
}

/** Decodes the body of `POST /apply` strictly (unknown fields refused); throws `INVALID` naming the field. */
export function decodeApplyRequest(body: unknown, limits: RequestLimits = {}): DecodedApplyRequest {
  const request = record(body, 'the request', ['ops', 'dryRun', 'expectRevision', 'source']);
  const source = request['source'];
  if (source !== undefined) checkSource(source, limits.maxSourceLength ?? DEFAULT_MAX_SOURCE_LENGTH);
  return {
    ops: fromWireOps(request['ops'], limits.maxOps ?? DEFAULT_MAX_OPS),
    ...decodeFlags(request),
    ...(source === undefined ? {} : { source: source as string }),
  };
}

/** Decodes the body of `POST /rollback` strictly; throws `INVALID` naming the field. */
export function decodeRollbackRequest(body: unknown): DecodedRollbackRequest {
  const request = record(body, 'the request', ['revision', 'dryRun', 'expectRevision']);
  return { revision: revisionNumber(request['revision'], 'revision'), ...decodeFlags(request) };
}

/** Decodes the body of `POST /compact` (an empty object); throws `INVALID` for any field. */
export function decodeCompactRequest(body: unknown): void {
  record(body, 'the request', []);
}

function decodeFlags(request: Record<string, unknown>): { dryRun: boolean; expectRevision?: number } {
  const dryRun = request['dryRun'];
  if (dryRun !== undefined && typeof dryRun !== 'boolean') throw invalid(`dryRun must be true or false, not ${show(dryRun, 64)}`);
  const expect = request['expectRevision'];
  return { dryRun: dryRun === true, ...(expect === undefined ? {} : { expectRevision: revisionNumber(expect, 'expectRevision') }) };
}

function checkSource(source: unknown, maxLength: number): void {
  if (typeof source !== 'string' || source.length === 0) throw invalid('source must be a non-empty string');
  if (source.length > maxLength) throw invalid(`source is ${source.length} characters long, more than ${maxLength} (maxSourceLength)`);
  const found = findInvisible(source);
  if (found !== undefined) {
    const code = (found.character.codePointAt(0) as number).toString(16).toUpperCase().padStart(4, '0');
    throw invalid(`source must be printable: it has a control or invisible character (U+${code}) at index ${found.index}`);
  }
}

function revisionNumber(value: unknown, name: string): number {
  if (!Number.isSafeInteger(value) || (value as number) < 0) throw invalid(`${name} must be a revision number (an integer, 0 or more), not ${value === undefined ? 'missing' : show(value, 64)}`);
  return value as number;
}

/** A declaration site received over the wire (or read back from the journal), decoded strictly. */
export function fromWirePosition(value: unknown, where = 'at'): WirePosition {
  const at = record(value, where, ['file', 'line', 'column']);
  const file = text(at['file'], `${where}.file`);
  for (const key of ['line', 'column'] as const) {
    if (!Number.isSafeInteger(at[key]) || (at[key] as number) < 1) throw invalid(`${where}.${key} must be a positive integer`);
  }
  return { file, line: at['line'] as number, column: at['column'] as number };
}

/** `value` as an object with no field but `known` (any fields when `known` is undefined). */
function record(value: unknown, where: string, known?: readonly string[]): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalid(`${where} must be an object`);
  if (known !== undefined) {
    for (const key of Object.keys(value)) {
      if (!known.includes(key)) {
        const expected = known.length === 0 ? 'no fields' : known.join(', ');
        throw invalid(`${where} has an unknown field ${quote(key, 64)} (expected ${expected})`);
      }
    }
  }
  return value as Record<string, unknown>;
}

function text(value: unknown, where: string): string {
  if (typeof value !== 'string' || value.length === 0) throw invalid(`${where} must be a non-empty string`);
  return value;
}

function invalid(message: string, details?: Record<string, unknown>): KindlingError {
  return new KindlingError('INVALID', message, details === undefined ? {} : { details });
}

/** The changes of a batch, without their content. */
export function toWireChanges(changes: HistoryRecord['changes']): WireChange[] {
  return changes.map((change) => ({ op: change.op, id: change.entry.id, kind: change.entry.kind }));
}

/** An error as it travels; details are kept only as far as they are plain JSON. Never throws. */
export function toWireError(error: unknown): WireError {
  try {
    const code = error instanceof KindlingError ? error.code : 'INTERNAL';
    const details = error instanceof KindlingError ? jsonSafe(error.details) : {};
    return { code, message: messageOf(error), details: (details ?? {}) as Record<string, unknown> };
  } catch {
    // A hostile thrown value (a revoked proxy, a throwing getter) must still become an answer.
    return { code: 'INTERNAL', message: messageOf(error), details: {} };
  }
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

/** A few recently read files by content hash and limits, so that the rounds of one dry run parse a file once. */
const parsedFiles = new Map<string, { readonly hash: string; readonly limits: RegistryYamlLimits; readonly parsed: ParsedFile }>();
const PARSED_FILES_KEPT = 8;
/** The limits of registry YAML when the app sets none (one object: the cache compares limits by identity). */
const DEFAULT_LIMITS: RegistryYamlLimits = Object.freeze({});

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
 * only regular files of bounded size inside `boundary` are read, asynchronously, and parsed under
 * the app's `limits`; any other is left unread, and its entries are located at their declaration
 * only. Never throws.
 */
export async function readWireSources(ops: readonly RegistryOp[], boundary: FileBoundary, limits: RegistryYamlLimits = DEFAULT_LIMITS): Promise<void> {
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
      const parsed = await readParsedFile(file, boundary, limits);
      for (const slot of list) slot.parsed = parsed;
    }),
  );
}

async function readParsedFile(file: string, boundary: FileBoundary, limits: RegistryYamlLimits): Promise<ParsedFile | undefined> {
  let bytes: Buffer;
  try {
    ({ bytes } = await readBoundedFile(file, { maxBytes: limits.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES, limitName: 'maxFileBytes', boundary }));
  } catch {
    return undefined;
  }
  const hash = createHash('sha256').update(bytes).digest('hex');
  const cached = parsedFiles.get(file);
  if (cached?.hash === hash && cached.limits === limits) return cached.parsed;
  let text: string | undefined = bytes.toString('utf8');
  let sources: Map<string, EntrySource> | undefined;
  const parsed: ParsedFile = () => {
    if (text !== undefined) {
      try {
        sources = new Map();
        for (const entry of parseRegistryYaml(text, file, limits)) {
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
  parsedFiles.set(file, { hash, limits, parsed });
  while (parsedFiles.size > PARSED_FILES_KEPT) parsedFiles.delete(parsedFiles.keys().next().value as string);
  return parsed;
}
