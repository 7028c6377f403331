import { KindlingError } from '../common/errors.js';
import { formatEntryLocation, type Entry } from '../entry/entry.js';
import type { KindConfig, ListenerRegistration } from '../handlers/handler-registry.js';
import { shortestCycleThrough, stronglyConnected } from './graph.js';

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
  /** The config class of the entry's kind, for a create or update: decoded before any listener runs. */
  readonly config: KindConfig | undefined;
}

function namespaceOf(id: string): string {
  return id.slice(0, id.indexOf(':'));
}

const NONE: readonly string[] = Object.freeze([]);
const NO_INDICES: readonly number[] = Object.freeze([]);

function asList(value: unknown): readonly string[] {
  if (typeof value === 'string') return [value];
  if (!Array.isArray(value) || value.length === 0) return NONE;
  return value.every((item) => typeof item === 'string')
    ? value
    : value.filter((item): item is string => typeof item === 'string');
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

function indexById(ids: readonly string[]): Map<string, number> {
  const byId = new Map<string, number>();
  for (let i = 0; i < ids.length; i++) byId.set(ids[i] as string, i);
  return byId;
}

/**
 * Orders a batch deterministically: a dependency (`meta.depends_on`: `name`, `ns:name`,
 * `ns:<namespace>`, `group:<g>`) is created or updated before its dependants and deleted after
 * them; ties break by id, so input order never changes the outcome. Dependencies outside the batch
 * impose no order. Throws `INVALID` with `details.cycle` (and `details.cycles`, one per cyclic
 * group) when the batch's dependencies form a cycle. O(n log n + e) for n ops and e edges; every
 * reference is resolved through a map, never by scanning. `indexOf`, when the caller has it already,
 * maps every op's id to its index in `ops`.
 */
export function orderOperations(ops: readonly PlannedOp[], indexOf?: ReadonlyMap<string, number>): PlannedOp[] {
  const ids = ops.map((op) => op.id);
  const byId = indexOf ?? indexById(ids);
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
  const successors = new Array<number[] | undefined>(ops.length);
  const indegree = new Array<number>(ops.length).fill(0);
  // `addedFor[t] === i + 1` once op i has an edge with op t: a group or namespace of any size is
  // deduplicated in O(1) per member.
  const addedFor = new Int32Array(ops.length);
  let edges = 0;
  // One edge adder for the whole batch (no closure per op): `current` is the op whose references are read.
  let current = 0;
  let deleting = false;
  const add = (target: number): void => {
    const i = current;
    if (target === i || addedFor[target] === i + 1) return;
    addedFor[target] = i + 1;
    // Deletes run dependants first; creates and updates run dependencies first.
    const from = deleting ? i : target;
    const to = deleting ? target : i;
    (successors[from] ??= []).push(to);
    indegree[to] = (indegree[to] as number) + 1;
    edges++;
  };
  for (let i = 0; i < ops.length; i++) {
    const op = ops[i] as PlannedOp;
    const refs = dependsOnOf(op.entry);
    if (refs.length === 0) continue;
    current = i;
    deleting = op.op === 'delete';
    let namespace: string | undefined;
    for (const ref of refs) {
      if (ref.startsWith('group:')) (byGroup ??= index((o) => groupsOf(o.entry))).get(ref.slice(6))?.forEach(add);
      else if (ref.startsWith('ns:'))
        (byNamespace ??= index((o) => [namespaceOf(o.id)])).get(ref.slice(3))?.forEach(add);
      else {
        const target = byId.get(ref.includes(':') ? ref : `${(namespace ??= namespaceOf(op.id))}:${ref}`);
        if (target !== undefined) add(target);
      }
    }
  }

  // Ids are unique within a batch (the check refuses repeats): one sort gives every op its rank.
  // The engine's own sort of strings (UTF-16 code units, as `<` compares) needs no callback per
  // comparison; the map gives each sorted id back its op.
  const byRank = ids
    .slice()
    .sort()
    .map((id) => byId.get(id) as number);
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
    const cycles = findCycles(indegree, successors, rank);
    const named = cycles.map((cycle) => cycle.map((i) => ids[i] as string));
    const where = [...new Set(cycles.flatMap((cycle) => cycle.slice(0, -1)))].flatMap((i) => {
      const at = formatEntryLocation((ops[i] as PlannedOp).entry);
      return at === undefined ? [] : [`${ids[i] as string} at ${at}`];
    });
    const suffix = where.length === 0 ? '' : ` (${where.join(', ')})`;
    const paths = named.map((cycle) => cycle.join(' → ')).join('; ');
    throw new KindlingError('INVALID', `dependency cycle${named.length === 1 ? '' : 's'} in batch: ${paths}${suffix}`, {
      details: { cycle: named[0], cycles: named },
    });
  }
  return ordered;
}

const MAX_CYCLES = 50;

/**
 * One shortest cycle per cyclic group of the ops left over by the topological sort, at most
 * {@link MAX_CYCLES}, each read in the "depends on" direction (for creates and updates; a delete's
 * edges run the other way) and starting at its first id. Groups are the strongly connected
 * components of what is left; each cycle is a breadth-first search through its group's first id.
 * Linear in the ops and edges left over.
 */
function findCycles(
  indegree: readonly number[],
  successors: readonly (number[] | undefined)[],
  rank: readonly number[],
): number[][] {
  const size = indegree.length;
  const stuck = new Uint8Array(size);
  for (let i = 0; i < size; i++) if ((indegree[i] as number) > 0) stuck[i] = 1;
  // Every op left has a predecessor that is left too: walk predecessors, in id order.
  const predecessors: number[][] = [];
  for (let from = 0; from < size; from++) {
    if (stuck[from] === 0) continue;
    for (const to of successors[from] ?? NO_INDICES) if (stuck[to] === 1) (predecessors[to] ??= []).push(from);
  }
  for (const list of predecessors) list?.sort((a, b) => (rank[a] as number) - (rank[b] as number));
  const before = (node: number): readonly number[] => predecessors[node] ?? NO_INDICES;
  const { componentOf, cyclic } = stronglyConnected(size, before, (node) => stuck[node] === 1);
  // The first id of each cyclic group, groups in the order of those ids.
  const firstOf = new Map<number, number>();
  for (let node = 0; node < size; node++) {
    const group = componentOf[node] as number;
    if (group < 0 || cyclic[group] !== 1) continue;
    const first = firstOf.get(group);
    if (first === undefined || (rank[node] as number) < (rank[first] as number)) firstOf.set(group, node);
  }
  const starts = [...firstOf.values()].sort((a, b) => (rank[a] as number) - (rank[b] as number)).slice(0, MAX_CYCLES);
  return starts.map((start) => shortestCycleThrough(start, before, componentOf) as number[]);
}
