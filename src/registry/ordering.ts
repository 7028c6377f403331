import { KindlingError } from '../common/errors.js';
import { formatEntryLocation, type Entry } from '../entry/entry.js';
import type { ListenerRegistration } from '../handlers/handler-registry.js';

/** One checked operation of a batch, with the entry it acts on. */
export interface PlannedOp {
  readonly op: 'create' | 'update' | 'delete';
  readonly id: string;
  /** The new entry for create/update; the stored entry for delete. */
  readonly entry: Entry;
  /** The stored entry an update or delete replaces. */
  readonly previous: Entry | undefined;
  /** The listeners of the entry's kind, resolved once when the batch is checked. */
  readonly listeners: readonly ListenerRegistration[];
}

function namespaceOf(id: string): string {
  return id.slice(0, id.indexOf(':'));
}

const NONE: readonly string[] = Object.freeze([]);
const NO_INDICES: readonly number[] = Object.freeze([]);

function asList(value: unknown): readonly string[] {
  if (typeof value === 'string') return [value];
  if (!Array.isArray(value) || value.length === 0) return NONE;
  return value.every((item) => typeof item === 'string') ? (value as string[]) : value.filter((item): item is string => typeof item === 'string');
}

/** The `meta.groups` of an entry as a list. */
export function groupsOf(entry: Entry): readonly string[] {
  return asList(entry.meta['groups']);
}

/** The `meta.depends_on` references of an entry as a list. */
export function dependsOnOf(entry: Entry): readonly string[] {
  return asList(entry.meta['depends_on']);
}

/**
 * A min-heap of ranks (an op's place in id order), so that ties always break by id: integers compare
 * far faster than the ids themselves.
 */
class RankHeap {
  private readonly items: number[] = [];

  get size(): number {
    return this.items.length;
  }

  push(rank: number): void {
    const items = this.items;
    let i = items.length;
    items.push(rank);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const above = items[parent] as number;
      if (above <= rank) break;
      items[i] = above;
      i = parent;
    }
    items[i] = rank;
  }

  pop(): number {
    const items = this.items;
    const top = items[0] as number;
    const last = items.pop() as number;
    const size = items.length;
    if (size > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= size) break;
        const r = l + 1;
        const child = r < size && (items[r] as number) < (items[l] as number) ? r : l;
        if ((items[child] as number) >= last) break;
        items[i] = items[child] as number;
        i = child;
      }
      items[i] = last;
    }
    return top;
  }
}

/**
 * Orders a batch deterministically: a dependency (`meta.depends_on`: `name`, `ns:name`,
 * `ns:<namespace>`, `group:<g>`) is created or updated before its dependants and deleted after
 * them; ties break by id, so input order never changes the outcome. Dependencies outside the batch
 * impose no order. Throws `INVALID` with `details.cycle` when the batch's dependencies form a cycle.
 */
export function orderOperations(ops: readonly PlannedOp[]): PlannedOp[] {
  const ids = ops.map((op) => op.id);
  const byId = new Map<string, number>();
  for (let i = 0; i < ids.length; i++) byId.set(ids[i] as string, i);
  // The namespace and group indexes are built only when a `ns:` or `group:` reference needs them.
  let byNamespace: Map<string, number[]> | undefined;
  let byGroup: Map<string, number[]> | undefined;
  const index = (keysOf: (op: PlannedOp) => readonly string[]): Map<string, number[]> => {
    const map = new Map<string, number[]>();
    ops.forEach((op, i) => {
      for (const key of keysOf(op)) {
        const list = map.get(key);
        if (list === undefined) map.set(key, [i]);
        else list.push(i);
      }
    });
    return map;
  };

  // Most entries have no dependencies: adjacency lists are made only where needed.
  const successors: (number[] | undefined)[] = new Array(ops.length);
  const indegree = new Array<number>(ops.length).fill(0);
  let edges = 0;
  ops.forEach((op, i) => {
    const refs = dependsOnOf(op.entry);
    if (refs.length === 0) return;
    // Few targets per entry: a list with indexOf beats a Set here.
    const targets: number[] = [];
    const add = (target: number): void => {
      if (target !== i && !targets.includes(target)) targets.push(target);
    };
    let namespace: string | undefined;
    for (const ref of refs) {
      if (ref.startsWith('group:')) (byGroup ??= index((o) => groupsOf(o.entry))).get(ref.slice(6))?.forEach(add);
      else if (ref.startsWith('ns:')) (byNamespace ??= index((o) => [namespaceOf(o.id)])).get(ref.slice(3))?.forEach(add);
      else {
        const target = byId.get(ref.includes(':') ? ref : `${(namespace ??= namespaceOf(op.id))}:${ref}`);
        if (target !== undefined) add(target);
      }
    }
    for (const dep of targets) {
      // Deletes run dependants first; creates and updates run dependencies first.
      const from = op.op === 'delete' ? i : dep;
      const to = op.op === 'delete' ? dep : i;
      (successors[from] ??= []).push(to);
      indegree[to] = (indegree[to] as number) + 1;
      edges++;
    }
  });

  // Ids are unique within a batch (the check refuses repeats): one sort gives every op its rank.
  const byRank = ids.map((_, i) => i).sort((a, b) => ((ids[a] as string) < (ids[b] as string) ? -1 : 1));
  if (edges === 0) return byRank.map((i) => ops[i] as PlannedOp);
  const rank = new Array<number>(ops.length);
  for (let r = 0; r < byRank.length; r++) rank[byRank[r] as number] = r;
  const ready = new RankHeap();
  for (let i = 0; i < ops.length; i++) if (indegree[i] === 0) ready.push(rank[i] as number);
  const ordered: PlannedOp[] = [];
  while (ready.size > 0) {
    const i = byRank[ready.pop()] as number;
    ordered.push(ops[i] as PlannedOp);
    for (const next of successors[i] ?? NO_INDICES) {
      indegree[next] = (indegree[next] as number) - 1;
      if (indegree[next] === 0) ready.push(rank[next] as number);
    }
  }
  if (ordered.length < ops.length) {
    const cycle = findCycle(indegree, successors, ids);
    const where = cycle
      .slice(0, -1)
      .flatMap((id) => {
        const at = formatEntryLocation((ops[byId.get(id) as number] as PlannedOp).entry);
        return at === undefined ? [] : [`${id} at ${at}`];
      });
    const suffix = where.length === 0 ? '' : ` (${where.join(', ')})`;
    throw new KindlingError('INVALID', `dependency cycle in batch: ${cycle.join(' → ')}${suffix}`, { details: { cycle } });
  }
  return ordered;
}

function findCycle(indegree: readonly number[], successors: readonly (number[] | undefined)[], ids: readonly string[]): string[] {
  const byId = (a: number, b: number): number => ((ids[a] as string) < (ids[b] as string) ? -1 : 1);
  const stuck = indegree.flatMap((degree, i) => (degree > 0 ? [i] : [])).sort(byId);
  const predecessors = new Map<number, number[]>(stuck.map((i) => [i, []]));
  for (const from of stuck) {
    for (const to of successors[from] ?? NO_INDICES) predecessors.get(to)?.push(from);
  }
  // Every node left with a positive in-degree has a predecessor that is also left, so walking
  // predecessors (for a create: "depends on") from any of them must come back to a node seen before.
  const path: number[] = [];
  const seenAt = new Map<number, number>();
  let node = stuck[0] as number;
  while (!seenAt.has(node)) {
    seenAt.set(node, path.length);
    path.push(node);
    node = (predecessors.get(node) as number[]).sort(byId)[0] as number;
  }
  const loop = path.slice(seenAt.get(node)).map((i) => ids[i] as string);
  return [...loop, loop[0] as string];
}
