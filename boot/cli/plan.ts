import { formatEntryLocation } from 'kindling';
import { deepEqual } from '../../src/common/deep-freeze.js';
import type { Entry, RegistryOp } from 'kindling';

/** An entry as it is compared: what a registry holds, or what an admin endpoint sent. */
export interface ComparableEntry {
  readonly id: string;
  readonly kind: string;
  readonly meta: unknown;
  readonly data: unknown;
}

/** One change of a {@link RegistryPlan}. */
export interface PlannedChange {
  readonly op: 'create' | 'update' | 'delete';
  readonly id: string;
  readonly kind: string;
  /** For an update, the changed fields: `kind`, `meta.groups`, `data.routes[0].path`. */
  readonly paths?: readonly string[];
  /** Where the declared entry is (`file:line:col`), for creates and updates from a file. */
  readonly at?: string;
}

/** What applying the declared entries would change. */
export interface RegistryPlan {
  /** Every change, ordered by id. */
  readonly changes: readonly PlannedChange[];
  /** The batch that makes the changes (declared order; deletes last). */
  readonly ops: readonly RegistryOp[];
  /** Ids this source applied before and no longer declares, left alone because prune was off. */
  readonly unpruned: readonly string[];
}

/** What {@link planRegistry} compares. */
export interface PlanInput {
  /** The entries the source declares (its registry YAML). */
  readonly desired: readonly Entry[];
  /** The entries the registry holds. */
  readonly current: readonly ComparableEntry[];
  /** Entry id → the source that last created or updated it. */
  readonly owners: Readonly<Record<string, string>>;
  /** The source label the declared entries are applied under (`yaml:<app dir>`). */
  readonly source: string;
  /** Whether to delete entries the source owns but no longer declares. */
  readonly prune: boolean;
}

/**
 * The diff between the declared entries and a registry's: a create for each new
 * id, an update (with the changed field paths) for each changed one, and — only with `prune` — a
 * delete for each id that `source` applied before and no longer declares. Entries of other
 * sources are never deleted.
 *
 * @example
 * const plan = planRegistry({ desired, current, owners, source: 'yaml:/srv/hello', prune: false });
 * for (const change of plan.changes) console.log(change.op, change.id, change.paths);
 */
export function planRegistry(input: PlanInput): RegistryPlan {
  const current = new Map(input.current.map((entry) => [entry.id, entry]));
  const declared = new Set<string>();
  const ops: RegistryOp[] = [];
  const changes: PlannedChange[] = [];
  for (const entry of input.desired) {
    declared.add(entry.id);
    const at = formatEntryLocation(entry);
    const before = current.get(entry.id);
    if (before === undefined) {
      ops.push({ op: 'create', entry });
      changes.push({ op: 'create', id: entry.id, kind: entry.kind, ...(at === undefined ? {} : { at }) });
      continue;
    }
    const paths = changedPaths(before, entry);
    if (paths.length === 0) continue;
    ops.push({ op: 'update', entry });
    changes.push({ op: 'update', id: entry.id, kind: entry.kind, paths, ...(at === undefined ? {} : { at }) });
  }
  const unpruned: string[] = [];
  for (const [id, entry] of current) {
    if (declared.has(id) || input.owners[id] !== input.source) continue;
    if (!input.prune) {
      unpruned.push(id);
      continue;
    }
    ops.push({ op: 'delete', entry: { id } });
    changes.push({ op: 'delete', id, kind: entry.kind });
  }
  changes.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return { changes, ops, unpruned: unpruned.sort() };
}

/** The paths of the fields that differ between two versions of an entry, in order. */
export function changedPaths(before: ComparableEntry, after: ComparableEntry): string[] {
  const out: string[] = [];
  if (before.kind !== after.kind) out.push('kind');
  diff(before.meta ?? {}, after.meta ?? {}, 'meta', out);
  diff(before.data, after.data, 'data', out);
  return out;
}

function diff(a: unknown, b: unknown, path: string, out: string[]): void {
  if (deepEqual(a, b)) return;
  if (isRecord(a) && isRecord(b)) {
    for (const key of [...new Set([...Object.keys(a), ...Object.keys(b)])].sort())
      diff(a[key], b[key], child(path, key), out);
    return;
  }
  if (Array.isArray(a) && Array.isArray(b)) {
    for (let i = 0; i < Math.max(a.length, b.length); i++) diff(a[i], b[i], `${path}[${i}]`, out);
    return;
  }
  out.push(path);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function child(path: string, key: string): string {
  return /^[A-Za-z_$][\w$-]*$/.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`;
}
