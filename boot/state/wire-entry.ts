// An entry as JSON, with where it was declared: how the journal stores it and the admin socket
// carries it, and how it becomes an entry again with its declaration site attached.

import { createHash } from 'node:crypto';
import { KindlingError, getEntrySource, parseRegistryYaml, quote, readBoundedFile } from 'kindling';
import type { Entry, EntryInput, EntrySource, FileBoundary, RegistryOp, RegistryYamlLimits } from 'kindling';
import { setEntrySource } from '../../src/entry/entry.js';
import { DEFAULT_MAX_FILE_BYTES } from '../../src/yaml/registry-yaml.js';

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

/**
 * An entry received over the wire (or read back from the journal), ready for `registry.apply`:
 * its declaration site is attached again, so that relative paths in its data (a function's module)
 * resolve against its YAML file and refusals point at `file:line:col`. The site can locate paths
 * under the entry once {@link readWireSources} has read its file, as long as the entry is still
 * declared at the same place. Decoded strictly: `id` and `kind` strings, `meta` an object, `at` a
 * position, nothing else; throws `INVALID` naming the field (under `where`).
 */
export function fromWireEntry(value: unknown, where = 'entry'): EntryInput {
  const wire = wireObject(value, where, ['id', 'kind', 'meta', 'data', 'at']);
  const id = wireText(wire['id'], `${where}.id`);
  const kind = wireText(wire['kind'], `${where}.kind`);
  const meta = wire['meta'] === undefined ? {} : wireObject(wire['meta'], `${where}.meta`);
  const entry = { id, kind, meta, data: wire['data'] };
  if (wire['at'] !== undefined) setEntrySource(entry, lazySource(id, fromWirePosition(wire['at'], `${where}.at`)));
  return entry;
}

/** A declaration site received over the wire (or read back from the journal), decoded strictly. */
export function fromWirePosition(value: unknown, where = 'at'): WirePosition {
  const at = wireObject(value, where, ['file', 'line', 'column']);
  const file = wireText(at['file'], `${where}.file`);
  for (const key of ['line', 'column'] as const) {
    if (!Number.isSafeInteger(at[key]) || (at[key] as number) < 1)
      throw invalid(`${where}.${key} must be a positive integer`);
  }
  return { file, line: at['line'] as number, column: at['column'] as number };
}

/** `value` as an object with no field but `known` (any fields when `known` is undefined); throws `INVALID` naming `where`. */
export function wireObject(value: unknown, where: string, known?: readonly string[]): Record<string, unknown> {
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

/** `value` as a non-empty string; throws `INVALID` naming `where`. */
export function wireText(value: unknown, where: string): string {
  if (typeof value !== 'string' || value.length === 0) throw invalid(`${where} must be a non-empty string`);
  return value;
}

function invalid(message: string, details?: Record<string, unknown>): KindlingError {
  return new KindlingError('INVALID', message, details === undefined ? {} : { details });
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
const parsedFiles = new Map<
  string,
  { readonly hash: string; readonly limits: RegistryYamlLimits; readonly parsed: ParsedFile }
>();
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
export async function readWireSources(
  ops: readonly RegistryOp[],
  boundary: FileBoundary,
  limits: RegistryYamlLimits = DEFAULT_LIMITS,
): Promise<void> {
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

async function readParsedFile(
  file: string,
  boundary: FileBoundary,
  limits: RegistryYamlLimits,
): Promise<ParsedFile | undefined> {
  let bytes: Buffer;
  try {
    ({ bytes } = await readBoundedFile(file, {
      maxBytes: limits.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES,
      limitName: 'maxFileBytes',
      boundary,
    }));
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
