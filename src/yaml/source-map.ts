import type { State } from 'js-yaml';

/** A 1-based line and column in a YAML text (columns count UTF-16 code units). */
export interface YamlPosition {
  readonly line: number;
  readonly column: number;
}

/** A path from a document's root: map keys and list indexes (`['entries', 3, 'kind']`). */
export type YamlPath = readonly (string | number)[];

/** Whether a path points at the value it names or at the key that names it (`kind:` itself). */
export type YamlPathTarget = 'value' | 'key';

/** What js-yaml's parse listener sees; `depth`, `tag` and `anchor` are present at run time but not in its types. */
export interface ParserState extends State {
  readonly depth: number;
  readonly tag: string | null;
  readonly anchor: string | null;
}

/** One node as js-yaml composed it: where it opened, and what it became when it closed. */
interface NodeRecord {
  readonly offset: number;
  readonly line: number;
  readonly lineStart: number;
  kind: string | null;
  tag: string | null;
  value: unknown;
  children: NodeRecord[] | undefined;
  /** Key/value pairs (mappings) or items (sequences), once checked against the composed value. */
  layout: Layout | undefined;
}

interface Pair {
  readonly key: string;
  readonly keyNode: NodeRecord;
  readonly valueNode: NodeRecord;
  readonly merge: boolean;
}

type Layout =
  | { readonly type: 'mapping'; readonly pairs: readonly Pair[] }
  | { readonly type: 'sequence'; readonly items: readonly NodeRecord[] }
  | { readonly type: 'opaque' };

const MERGE_TAG = 'tag:yaml.org,2002:merge';
const OPAQUE: Layout = { type: 'opaque' };

/**
 * The 1-based position of the first content character at or after `offset`, skipping white space,
 * line breaks and comments (js-yaml opens some nodes before the separating space is consumed).
 */
export function contentPosition(text: string, offset: number, line: number, lineStart: number): YamlPosition {
  let at = offset;
  let currentLine = line;
  let currentStart = lineStart;
  for (;;) {
    const ch = text.charCodeAt(at);
    if (ch === 0x20 || ch === 0x09) {
      at += 1;
    } else if (ch === 0x0a || ch === 0x0d) {
      at += ch === 0x0d && text.charCodeAt(at + 1) === 0x0a ? 2 : 1;
      currentLine += 1;
      currentStart = at;
    } else if (ch === 0x23 /* # */ && (at === currentStart || isBlank(text.charCodeAt(at - 1)))) {
      while (at < text.length && text.charCodeAt(at) !== 0x0a && text.charCodeAt(at) !== 0x0d) at += 1;
    } else {
      break;
    }
  }
  if (at >= text.length) return { line: line + 1, column: offset - lineStart + 1 };
  return { line: currentLine + 1, column: at - currentStart + 1 };
}

function isBlank(ch: number): boolean {
  return ch === 0x20 || ch === 0x09 || ch === 0x0a || ch === 0x0d;
}

function isObject(value: unknown): value is object {
  return typeof value === 'object' && value !== null;
}

/**
 * Positions of every node of a YAML text, recorded through js-yaml's parse listener while the text is
 * composed, and looked up by path (`['entries', 0, 'data', 'routes', 1]`) afterwards. Paths through
 * aliases and `<<` merge keys lead to the anchored node, where the value was written.
 */
export class YamlSourceMap {
  private readonly roots: NodeRecord[] = [];
  private readonly stack: NodeRecord[] = [];
  /** The node that first composed each map or list, so that an alias leads back to its anchor. */
  private readonly definitions = new WeakMap<object, NodeRecord>();

  /** Records one js-yaml parse event: pass it as the `listener` option of `load` / `loadAll`. */
  readonly listener = (event: 'open' | 'close', state: State): void => {
    if (event === 'open') {
      this.stack.push({
        offset: state.position,
        line: state.line,
        lineStart: state.lineStart,
        kind: null,
        tag: null,
        value: undefined,
        children: undefined,
        layout: undefined,
      });
      return;
    }
    const node = this.stack.pop();
    if (node === undefined) return;
    node.kind = state.kind;
    node.tag = (state as ParserState).tag;
    node.value = state.result;
    const parent = this.stack[this.stack.length - 1];
    if (parent === undefined) {
      this.roots.push(node);
    } else if (parent.children === undefined) {
      parent.children = [node];
    } else {
      parent.children.push(node);
    }
    if ((node.kind === 'mapping' || node.kind === 'sequence') && isObject(node.value)) {
      if (!this.definitions.has(node.value)) this.definitions.set(node.value, node);
    }
  };

  constructor(private readonly text: string) {}

  /** The value of every document whose root node was composed, even when the text failed later. */
  documentValues(): unknown[] {
    return this.roots.map((root) => root.value);
  }

  /**
   * The position of the node at `path` in document `documentIndex`; when the path leaves the
   * document, the position of the deepest node on it that exists. A null value (`port:`) is pointed
   * at by its key.
   */
  locate(documentIndex: number, path: YamlPath, target: YamlPathTarget = 'value'): YamlPosition | undefined {
    const found = this.find(documentIndex, path);
    if (found === undefined) return undefined;
    if (found.exact && target === 'key' && found.keyNode !== undefined) return this.positionOf(found.keyNode);
    if (found.keyNode !== undefined && isEmpty(found.node)) return this.positionOf(found.keyNode);
    return this.positionOf(found.node);
  }

  /** Whether `path` names a node that was written in document `documentIndex` (or merged into it). */
  has(documentIndex: number, path: YamlPath): boolean {
    return this.find(documentIndex, path)?.exact === true;
  }

  private find(
    documentIndex: number,
    path: YamlPath,
  ): { node: NodeRecord; keyNode: NodeRecord | undefined; exact: boolean } | undefined {
    const root = this.roots[documentIndex];
    if (root === undefined) return undefined;
    let node = root;
    let keyNode: NodeRecord | undefined;
    for (const segment of path) {
      const layout = this.layoutOf(this.definitionOf(node));
      if (layout.type === 'mapping') {
        const pair = this.findPair(layout, String(segment), 0);
        if (pair === undefined) return { node, keyNode, exact: false };
        node = pair.valueNode;
        keyNode = pair.keyNode;
      } else if (layout.type === 'sequence' && typeof segment === 'number' && layout.items[segment] !== undefined) {
        node = layout.items[segment];
        keyNode = undefined;
      } else {
        return { node, keyNode, exact: false };
      }
    }
    return { node, keyNode, exact: true };
  }

  /**
   * Every node, anywhere in the text, whose composed value passes `test`, even one a later duplicate
   * key replaced; one result per position.
   */
  findValues<T>(test: (value: unknown) => value is T): { readonly value: T; readonly position: YamlPosition }[] {
    const found = new Map<string, { value: T; position: YamlPosition }>();
    const visit = (node: NodeRecord): void => {
      if (test(node.value)) {
        const position = this.positionOf(node);
        found.set(`${position.line}:${position.column}`, { value: node.value, position });
      }
      node.children?.forEach(visit);
    };
    this.roots.forEach(visit);
    return [...found.values()];
  }

  /** Every key written more than once in the same mapping, in document order. */
  duplicateKeys(): DuplicateKey[] {
    const found: DuplicateKey[] = [];
    const visit = (wrapper: NodeRecord): void => {
      const node = collapse(wrapper);
      const layout = this.layoutOf(node);
      if (layout.type === 'mapping') {
        const seen = new Map<string, NodeRecord>();
        for (const pair of layout.pairs) {
          if (pair.merge) continue;
          const first = seen.get(pair.key);
          if (first === undefined) {
            seen.set(pair.key, pair.keyNode);
          } else {
            found.push({ key: pair.key, first: this.positionOf(first), second: this.positionOf(pair.keyNode) });
          }
        }
      }
      if (layout.type !== 'opaque') node.children?.forEach(visit);
    };
    this.roots.forEach(visit);
    return found;
  }

  private positionOf(node: NodeRecord): YamlPosition {
    return contentPosition(this.text, node.offset, node.line, node.lineStart);
  }

  /** An alias occurrence stands for its anchored node; a composed node stands for itself. */
  private definitionOf(node: NodeRecord): NodeRecord {
    const collapsed = collapse(node);
    if (isObject(collapsed.value)) return this.definitions.get(collapsed.value) ?? collapsed;
    return collapsed;
  }

  private findPair(layout: Layout & { type: 'mapping' }, key: string, depth: number): Pair | undefined {
    // With duplicate keys allowed (positions are only needed for files with problems), the last wins,
    // as it does in the composed value.
    for (let i = layout.pairs.length - 1; i >= 0; i -= 1) {
      const pair = layout.pairs[i] as Pair;
      if (!pair.merge && pair.key === key) return pair;
    }
    if (depth > 64) return undefined;
    for (const pair of layout.pairs) {
      if (!pair.merge) continue;
      const source = this.definitionOf(pair.valueNode);
      const sources = source.kind === 'sequence' ? this.itemsOf(source) : [source];
      for (const item of sources) {
        const merged = this.layoutOf(this.definitionOf(item));
        if (merged.type !== 'mapping') continue;
        const found = this.findPair(merged, key, depth + 1);
        if (found !== undefined) return found;
      }
    }
    return undefined;
  }

  private itemsOf(node: NodeRecord): readonly NodeRecord[] {
    const layout = this.layoutOf(node);
    return layout.type === 'sequence' ? layout.items : [];
  }

  /**
   * Pairs up a node's children, and keeps the result only when it agrees with the composed value:
   * js-yaml may compose a node speculatively and read it again, so the event stream is checked
   * rather than trusted.
   */
  private layoutOf(node: NodeRecord): Layout {
    if (node.layout !== undefined) return node.layout;
    node.layout = computeLayout(node);
    return node.layout;
  }
}

/** A node whose only child composed the very same value is a wrapper js-yaml adds; use the child. */
function collapse(node: NodeRecord): NodeRecord {
  let current = node;
  while (current.children?.length === 1 && (current.children[0] as NodeRecord).value === current.value) {
    current = current.children[0] as NodeRecord;
  }
  return current;
}

function isEmpty(node: NodeRecord): boolean {
  return node.value === null && node.kind === null;
}

function computeLayout(wrapper: NodeRecord): Layout {
  const node = collapse(wrapper);
  const children = node.children ?? [];
  const value = node.value;
  if (node.kind === 'sequence' && Array.isArray(value)) {
    if (children.length !== value.length) return OPAQUE;
    for (let i = 0; i < children.length; i += 1) {
      if ((children[i] as NodeRecord).value !== value[i]) return OPAQUE;
    }
    return { type: 'sequence', items: children };
  }
  if (node.kind === 'mapping' && isObject(value) && !Array.isArray(value)) {
    // A block mapping ends by trying to read one more key and finding none (at `---`, say): that
    // attempt is recorded as a last child that composed nothing.
    const last = children[children.length - 1];
    const count =
      children.length % 2 === 1 && last !== undefined && isEmpty(last) ? children.length - 1 : children.length;
    if (count % 2 !== 0) return OPAQUE;
    const pairs: Pair[] = [];
    const record = value as Record<string, unknown>;
    for (let i = 0; i < count; i += 2) {
      const keyNode = children[i] as NodeRecord;
      const valueNode = children[i + 1] as NodeRecord;
      const merge = keyNode.tag === MERGE_TAG;
      const key = String(keyNode.value);
      if (!merge && !Object.prototype.hasOwnProperty.call(record, key)) return OPAQUE;
      pairs.push({ key, keyNode, valueNode, merge });
    }
    return { type: 'mapping', pairs };
  }
  return OPAQUE;
}

/** A key written twice in one mapping: where each occurrence is. */
export interface DuplicateKey {
  readonly key: string;
  readonly first: YamlPosition;
  readonly second: YamlPosition;
}
