/**
 * Linear-time graph helpers for dependency checks: strongly connected components and a shortest
 * cycle inside one of them. Nodes are the integers `0 .. size-1`; `successors(node)` lists a node's
 * edges. Both are iterative, so a chain of 100,000 nodes needs no deep call stack.
 */

/** The strongly connected components of a graph. */
export interface Components {
  /** The component of each node. */
  readonly componentOf: Int32Array;
  /** How many components there are. */
  readonly count: number;
  /**
   * Every node, component by component, in the order the components were completed: a component
   * comes after every component it has an edge to (for "depends on" edges, dependencies first).
   */
  readonly order: Int32Array;
  /** Whether each component holds a cycle: two or more nodes, or one node with an edge to itself. */
  readonly cyclic: Uint8Array;
}

/**
 * Tarjan's algorithm, iterative: O(nodes + edges). When `include` is given, only the nodes it
 * accepts take part, and edges to other nodes are ignored (their component is -1).
 */
export function stronglyConnected(
  size: number,
  successors: (node: number) => readonly number[],
  include?: (node: number) => boolean,
): Components {
  const index = new Int32Array(size).fill(-1);
  const low = new Int32Array(size);
  const componentOf = new Int32Array(size).fill(-1);
  const onStack = new Uint8Array(size);
  const order = new Int32Array(size);
  const cyclicList: number[] = [];
  const stack: number[] = [];
  // The explicit call stack: a node and how many of its edges it has followed.
  const visiting: number[] = [];
  const edgeAt: number[] = [];
  let counter = 0;
  let count = 0;
  let ordered = 0;

  const enter = (node: number): void => {
    index[node] = counter;
    low[node] = counter;
    counter++;
    stack.push(node);
    onStack[node] = 1;
    visiting.push(node);
    edgeAt.push(0);
  };

  for (let root = 0; root < size; root++) {
    if (index[root] !== -1 || (include !== undefined && !include(root))) continue;
    enter(root);
    while (visiting.length > 0) {
      const top = visiting.length - 1;
      const node = visiting[top] as number;
      const edges = successors(node);
      const at = edgeAt[top] as number;
      if (at < edges.length) {
        edgeAt[top] = at + 1;
        const next = edges[at] as number;
        if (include !== undefined && !include(next)) continue;
        if (index[next] === -1) enter(next);
        else if (onStack[next] === 1 && (index[next] as number) < (low[node] as number))
          low[node] = index[next] as number;
        continue;
      }
      visiting.pop();
      edgeAt.pop();
      if (visiting.length > 0) {
        const parent = visiting[visiting.length - 1] as number;
        if ((low[node] as number) < (low[parent] as number)) low[parent] = low[node] as number;
      }
      if (low[node] !== index[node]) continue;
      // `node` is the root of a component: everything above it on the stack belongs to it.
      let member: number;
      let members = 0;
      let selfLoop = false;
      do {
        member = stack.pop() as number;
        onStack[member] = 0;
        componentOf[member] = count;
        order[ordered++] = member;
        members++;
      } while (member !== node);
      if (members === 1) selfLoop = successors(node).includes(node);
      cyclicList.push(members > 1 || selfLoop ? 1 : 0);
      count++;
    }
  }
  return { componentOf, count, order: order.subarray(0, ordered), cyclic: Uint8Array.from(cyclicList) };
}

/**
 * A shortest cycle through `start` that stays inside its component, as the list of nodes from
 * `start` back to `start` (`[start, start]` for an edge to itself). Breadth-first over the
 * component: O(its nodes + edges). Among cycles of the same length, the one found by following
 * `successors` in the order given wins, so sorted successor lists give a deterministic answer.
 * Returns undefined when no cycle passes through `start`.
 */
export function shortestCycleThrough(
  start: number,
  successors: (node: number) => readonly number[],
  componentOf: Int32Array,
): number[] | undefined {
  const component = componentOf[start];
  const parent = new Map<number, number>([[start, -1]]);
  let frontier = [start];
  while (frontier.length > 0) {
    const next: number[] = [];
    for (const node of frontier) {
      for (const to of successors(node)) {
        if (to === start) {
          // Walk the parents back from `node`, then put them in edge order.
          const inner: number[] = [];
          for (let at = node; at !== start; at = parent.get(at) as number) inner.push(at);
          return [start, ...inner.reverse(), start];
        }
        if (componentOf[to] !== component || parent.has(to)) continue;
        parent.set(to, node);
        next.push(to);
      }
    }
    frontier = next;
  }
  return undefined;
}
