// What the inspector page reads, as plain JSON-ready values: the entry list, one entry with its
// history, the retained revisions and their diffs, and a bounded preview of any value (an event's
// payload may be anything a handler published: cyclic, huge, or a Proxy whose traps throw).

import { relative } from 'node:path';
import { getEntrySource } from 'kindling';
import type { Entry, HistoryRecord, Registry } from 'kindling';

/** The entry list: `[id, kind]` pairs, sorted by id, at one revision. */
export interface EntryList {
  readonly revision: number;
  readonly entries: readonly (readonly [string, string])[];
}

export function entryList(registry: Registry): EntryList {
  return { revision: registry.revision, entries: registry.entries().map((entry) => [entry.id, entry.kind] as const) };
}

/** One entry as the page shows it. */
export interface EntryView {
  readonly revision: number;
  readonly id: string;
  readonly kind: string;
  /** The meta and data as JSON text, cut at {@link MAX_VALUE_CHARS}. */
  readonly meta: string;
  readonly data: string;
  /** Where it was declared, `file:line:col` (relative to the app), when it came from a file. */
  readonly source: string | undefined;
  /** Its changes in the retained history, newest first. */
  readonly history: readonly {
    readonly revision: number;
    readonly time: string;
    readonly source: string | undefined;
    readonly op: string;
  }[];
}

/** The longest JSON text of one value the page is sent. */
export const MAX_VALUE_CHARS = 256 * 1024;
/** The most history rows of one entry. */
const MAX_ENTRY_HISTORY = 100;

export function entryView(registry: Registry, id: string, appDir: string | undefined): EntryView | undefined {
  const entry = registry.get(id);
  if (entry === undefined) return undefined;
  const history: EntryView['history'][number][] = [];
  const records = registry.historyRecords();
  for (let i = records.length - 1; i >= 0 && history.length < MAX_ENTRY_HISTORY; i--) {
    const record = records[i] as HistoryRecord;
    for (const change of record.changes) {
      if (change.entry.id === id)
        history.push({ revision: record.revision, time: record.time, source: record.source, op: change.op });
    }
  }
  const at = getEntrySource(entry);
  return {
    revision: registry.revision,
    id: entry.id,
    kind: entry.kind,
    meta: preview(entry.meta, MAX_VALUE_CHARS, 2),
    data: preview(entry.data, MAX_VALUE_CHARS, 2),
    source: at === undefined ? undefined : `${shownFile(at.file, appDir)}:${at.line}:${at.column}`,
    history,
  };
}

function shownFile(file: string, appDir: string | undefined): string {
  if (appDir === undefined) return file;
  const rel = relative(appDir, file);
  return rel === '' || rel.startsWith('..') ? file : rel;
}

/** One retained batch in the revision list. */
export interface RevisionSummary {
  readonly revision: number;
  readonly time: string;
  readonly source: string | undefined;
  readonly create: number;
  readonly update: number;
  readonly delete: number;
  /** The first few ids it changed. */
  readonly ids: readonly string[];
}

export function revisionSummary(record: HistoryRecord): RevisionSummary {
  let create = 0;
  let update = 0;
  let del = 0;
  for (const change of record.changes) {
    if (change.op === 'create') create++;
    else if (change.op === 'update') update++;
    else del++;
  }
  return {
    revision: record.revision,
    time: record.time,
    source: record.source,
    create,
    update,
    delete: del,
    ids: record.changes.slice(0, 3).map((change) => change.entry.id),
  };
}

/** The retained revisions, newest first, `limit` of them from `before` down. */
export function revisionList(
  registry: Registry,
  before: number | undefined,
  limit: number,
): { readonly revision: number; readonly oldest: number | undefined; readonly revisions: RevisionSummary[] } {
  const records = registry.historyRecords();
  const out: RevisionSummary[] = [];
  for (let i = records.length - 1; i >= 0 && out.length < limit; i--) {
    const record = records[i] as HistoryRecord;
    if (before !== undefined && record.revision >= before) continue;
    out.push(revisionSummary(record));
  }
  return { revision: registry.revision, oldest: records[0]?.revision, revisions: out };
}

/** One changed path of an entry: its value before and after, as short JSON (undefined: absent). */
export interface DiffLine {
  readonly path: string;
  readonly before?: string;
  readonly after?: string;
}

/** One batch with what each change did. */
export interface RevisionView {
  readonly revision: number;
  readonly time: string;
  readonly source: string | undefined;
  readonly total: number;
  readonly changes: readonly {
    readonly op: string;
    readonly id: string;
    readonly kind: string;
    readonly diff: readonly DiffLine[];
    /** More changed paths than listed. */
    readonly more: number;
  }[];
}

const MAX_REVISION_CHANGES = 500;
const MAX_DIFF_LINES = 50;
const DIFF_VALUE_CHARS = 300;

export function revisionView(registry: Registry, revision: number): RevisionView | undefined {
  const record = registry.historyRecords().find((r) => r.revision === revision);
  if (record === undefined) return undefined;
  return {
    revision: record.revision,
    time: record.time,
    source: record.source,
    total: record.changes.length,
    changes: record.changes.slice(0, MAX_REVISION_CHANGES).map((change) => {
      const before = change.op === 'create' ? undefined : change.op === 'update' ? change.previous : change.entry;
      const after = change.op === 'delete' ? undefined : change.entry;
      const { lines, more } = diffValues(entryBody(before), entryBody(after));
      return { op: change.op, id: change.entry.id, kind: change.entry.kind, diff: lines, more };
    }),
  };
}

function entryBody(entry: Entry | undefined): unknown {
  return entry === undefined ? undefined : { kind: entry.kind, meta: entry.meta, data: entry.data };
}

/** Every path where `a` and `b` differ, in key order; beyond {@link MAX_DIFF_LINES} only counted. */
export function diffValues(a: unknown, b: unknown): { lines: DiffLine[]; more: number } {
  const result = { lines: [] as DiffLine[], more: 0 };
  diffInto(result, a, b, { path: '', depth: 0 });
  return result;
}

function diffInto(
  out: { lines: DiffLine[]; more: number },
  a: unknown,
  b: unknown,
  { path, depth }: { readonly path: string; readonly depth: number },
): void {
  if (Object.is(a, b)) return;
  // A value added or removed whole is listed by its leaves, as a change of each.
  if (a === undefined && isContainer(b)) a = Array.isArray(b) ? [] : {};
  if (b === undefined && isContainer(a)) b = Array.isArray(a) ? [] : {};
  if (isContainer(a) && isContainer(b) && Array.isArray(a) === Array.isArray(b) && depth < 32) {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    for (const key of keys) {
      const sub = Array.isArray(a) ? `${path}[${key}]` : path === '' ? key : `${path}.${key}`;
      diffInto(out, (a as Record<string, unknown>)[key], (b as Record<string, unknown>)[key], {
        path: sub,
        depth: depth + 1,
      });
    }
    return;
  }
  if (out.lines.length >= MAX_DIFF_LINES) {
    out.more++;
    return;
  }
  out.lines.push({
    path: path === '' ? '(entry)' : path,
    ...(a === undefined ? {} : { before: preview(a, DIFF_VALUE_CHARS) }),
    ...(b === undefined ? {} : { after: preview(b, DIFF_VALUE_CHARS) }),
  });
}

function isContainer(value: unknown): value is object {
  return typeof value === 'object' && value !== null;
}

/**
 * A JSON-like text of any value, at most `maxChars` long (cut with `…`), that never throws and
 * runs no code of the value beyond plain property reads (a throwing getter or trap shows as
 * `[unreadable]`): cycles show as `[cycle]`, a BigInt as `12n`, a function as `[function]`.
 */
export function preview(value: unknown, maxChars: number, indent = 0): string {
  const state = { out: [] as string[], length: 0, cut: false, seen: new Set<object>() };
  const push = (text: string): boolean => {
    if (state.cut) return false;
    if (state.length + text.length > maxChars) {
      state.out.push(text.slice(0, Math.max(0, maxChars - state.length)));
      state.cut = true;
      return false;
    }
    state.out.push(text);
    state.length += text.length;
    return true;
  };
  const pad = (level: number): string => (indent === 0 ? '' : `\n${' '.repeat(indent * level)}`);
  const walk = (item: unknown, level: number): void => {
    if (state.cut) return;
    switch (typeof item) {
      case 'string':
        push(JSON.stringify(item));
        return;
      case 'number':
        push(String(item));
        return;
      case 'boolean':
        push(String(item));
        return;
      case 'bigint':
        push(`${item.toString()}n`);
        return;
      case 'undefined':
        push('undefined');
        return;
      case 'function':
        push('[function]');
        return;
      case 'symbol':
        push('[symbol]');
        return;
    }
    if (item === null) {
      push('null');
      return;
    }
    const object = item as object;
    if (state.seen.has(object)) {
      push('[cycle]');
      return;
    }
    if (level > 64) {
      push('[too deep]');
      return;
    }
    state.seen.add(object);
    try {
      const array = Array.isArray(object);
      const keys = array ? undefined : Object.keys(object);
      const size = array ? (object as unknown[]).length : (keys as string[]).length;
      if (size === 0) {
        push(array ? '[]' : '{}');
        return;
      }
      push(array ? '[' : '{');
      for (let i = 0; i < size && !state.cut; i++) {
        if (i > 0) push(indent === 0 ? ', ' : ',');
        push(pad(level + 1));
        let child: unknown;
        let readable = true;
        try {
          child = array
            ? (object as unknown[])[i]
            : (object as Record<string, unknown>)[(keys as string[])[i] as string];
        } catch {
          readable = false;
        }
        if (!array) push(`${JSON.stringify((keys as string[])[i])}: `);
        if (readable) walk(child, level + 1);
        else push('[unreadable]');
      }
      push(pad(level));
      push(array ? ']' : '}');
    } catch {
      push('[unreadable]');
    } finally {
      state.seen.delete(object);
    }
  };
  walk(value, 0);
  const text = state.out.join('');
  return state.cut ? `${text}…` : text;
}
