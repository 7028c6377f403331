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

/** A min-heap of op indices keyed by id, so that ties always break the same way. */
class IdHeap {
  private readonly items: number[] = [];
  constructor(private readonly ids: readonly string[]) {}

  get size(): number {
    return this.items.length;
  }

  push(index: number): void {
    const items = this.items;
    items.push(index);
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (this.less(items[i] as number, items[parent] as number)) {
        [items[i], items[parent]] = [items[parent] as number, items[i] as number];
        i = parent;
      } else break;
    }
  }

  pop(): number {
    const items = this.items;
    const top = items[0] as number;
    const last = items.pop() as number;
    if (items.length > 0) {
      items[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < items.length && this.less(items[l] as number, items[m] as number)) m = l;
        if (r < items.length && this.less(items[r] as number, items[m] as number)) m = r;
        if (m === i) break;
        [items[i], items[m]] = [items[m] as number, items[i] as number];
        i = m;
      }
    }
    return top;
  }

  private less(a: number, b: number): boolean {
    return (this.ids[a] as string) < (this.ids[b] as string);
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
  const byNamespace = new Map<string, number[]>();
  const byGroup = new Map<string, number[]>();
  const addTo = (index: Map<string, number[]>, key: string, i: number): void => {
    const list = index.get(key);
    if (list === undefined) index.set(key, [i]);
    else list.push(i);
  };
  ops.forEach((op, i) => {
    byId.set(op.id, i);
    addTo(byNamespace, namespaceOf(op.id), i);
    for (const group of groupsOf(op.entry)) addTo(byGroup, group, i);
  });

  // Most entries have no dependencies: adjacency lists are made only where needed.
  const successors: (number[] | undefined)[] = new Array(ops.length);
  const indegree = new Array<number>(ops.length).fill(0);
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
      if (ref.startsWith('group:')) byGroup.get(ref.slice(6))?.forEach(add);
      else if (ref.startsWith('ns:')) byNamespace.get(ref.slice(3))?.forEach(add);
      else {
        const index = byId.get(ref.includes(':') ? ref : `${(namespace ??= namespaceOf(op.id))}:${ref}`);
        if (index !== undefined) add(index);
      }
    }
    for (const dep of targets) {
      // Deletes run dependants first; creates and updates run dependencies first.
      const from = op.op === 'delete' ? i : dep;
      const to = op.op === 'delete' ? dep : i;
      (successors[from] ??= []).push(to);
      indegree[to] = (indegree[to] as number) + 1;
    }
  });

  const ready = new IdHeap(ids);
  indegree.forEach((degree, i) => {
    if (degree === 0) ready.push(i);
  });
  const ordered: PlannedOp[] = [];
  while (ready.size > 0) {
    const i = ready.pop();
    ordered.push(ops[i] as PlannedOp);
    for (const next of successors[i] ?? NO_INDICES) {
      indegree[next] = (indegree[next] as number) - 1;
      if (indegree[next] === 0) ready.push(next);
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
