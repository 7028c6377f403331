import { FORBIDDEN_KEYS } from '../common/deep-freeze.js';
import { quote } from '../common/visible-text.js';
import { tooManyBytesMessage, type Expansion } from './expansion-meter.js';
import type { YamlPath, YamlPathTarget } from './source-map.js';
import {
  RefusedNumber,
  refusedNumberMessage,
  RefusedTag,
  refusedTagMessage,
  tooDeepMessage,
  type YamlReadLimits,
} from './yaml-reader.js';

/** A problem the guard found in a composed document, at a path from the document's root. */
export interface GuardProblem {
  readonly path: YamlPath;
  readonly target: YamlPathTarget;
  readonly message: string;
}

interface Shape {
  /** Nodes (values, not keys) in the value, itself included. */
  readonly size: number;
  readonly height: number;
}

const IN_PROGRESS: Shape = { size: -1, height: -1 };
const STOP = Symbol('stop');

/**
 * Checks composed YAML values before anything copies them: no `__proto__`-style keys, no tags beyond
 * plain YAML, no number JSON cannot carry, nesting within the limit (also through aliases) and no
 * alias that contains itself. The parser's {@link Expansion} has already bounded what aliases add,
 * so a walk is bounded too; when the text has anchors, the shape of each shared object is
 * remembered so that it is walked once, however many aliases repeat it.
 */
export class YamlGuard {
  private addedNodes: number;
  private expandedBytes: number;
  private readonly shapes: Map<object, Shape> | undefined;
  private readonly path: (string | number)[] = [];
  private problems: GuardProblem[] = [];
  private deepReported = false;
  private height = 0;

  /** @param expansion what the parser counted while composing the documents to inspect. */
  constructor(
    private readonly limits: YamlReadLimits,
    expansion: Expansion,
  ) {
    this.addedNodes = expansion.addedNodes;
    this.expandedBytes = expansion.expandedBytes;
    this.shapes = expansion.sharing ? new Map() : undefined;
  }

  /** Checks one document; returns its problems (empty when the document is safe to copy). */
  inspect(document: unknown): GuardProblem[] {
    this.problems = [];
    this.deepReported = false;
    this.path.length = 0;
    try {
      this.walk(document, 1);
    } catch (error) {
      if (error !== STOP) throw error;
    }
    return this.problems;
  }

  /**
   * Charges `count` more copies of `value` (already inspected) to the file's expansion: the
   * file-level meta is copied into every entry. Returns a problem when a limit is crossed.
   */
  chargeCopies(value: unknown, count: number, path: YamlPath): GuardProblem | undefined {
    if (count <= 0) return undefined;
    const size = measure(value, this.shapes === undefined ? undefined : new Map());
    this.addedNodes += size.nodes * count;
    this.expandedBytes += size.bytes * count;
    const copies = `copying this meta into ${count + 1} entries`;
    if (this.addedNodes > this.limits.maxAliasNodes) {
      return {
        path,
        target: 'key',
        message: `${copies} adds more than ${this.limits.maxAliasNodes} nodes; raise maxAliasNodes if this is intended`,
      };
    }
    if (this.expandedBytes > this.limits.maxExpandedBytes) {
      return { path, target: 'key', message: `${copies}: ${tooManyBytesMessage(this.limits.maxExpandedBytes)}` };
    }
    return undefined;
  }

  private report(message: string, target: YamlPathTarget = 'value', key?: string): void {
    const path = key === undefined ? [...this.path] : [...this.path, key];
    this.problems.push({ path, target, message });
  }

  private walk(value: unknown, level: number): number {
    if (typeof value !== 'object' || value === null) {
      this.height = 0;
      return 1;
    }
    if (value instanceof RefusedTag || value instanceof RefusedNumber) {
      this.report(value instanceof RefusedTag ? refusedTagMessage(value) : refusedNumberMessage(value));
      this.height = 0;
      return 1;
    }
    const shapes = this.shapes;
    if (shapes !== undefined) {
      const known = shapes.get(value);
      if (known !== undefined) return this.revisit(known, level);
      shapes.set(value, IN_PROGRESS);
    }
    if (level > this.limits.maxDepth) {
      this.reportDeep();
      shapes?.set(value, { size: 1, height: 1 });
      this.height = 1;
      return 1;
    }
    let size = 1;
    let height = 0;
    const path = this.path;
    if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i += 1) {
        path.push(i);
        size += this.walk(value[i], level + 1);
        if (this.height > height) height = this.height;
        path.pop();
      }
    } else {
      const record = value as Record<string, unknown>;
      for (const key of Object.keys(record)) {
        if (FORBIDDEN_KEYS.has(key)) {
          this.report(`key ${quote(key)} is not allowed (it could reach an object's prototype)`, 'key', key);
          continue;
        }
        path.push(key);
        size += this.walk(record[key], level + 1);
        if (this.height > height) height = this.height;
        path.pop();
      }
    }
    height += 1;
    shapes?.set(value, { size, height });
    this.height = height;
    return size;
  }

  /** A value seen before is an alias (or a value merged by `<<`): it was checked already. */
  private revisit(known: Shape, level: number): number {
    if (known === IN_PROGRESS) {
      this.report('this alias refers to a node that contains it (a cycle)');
      // eslint-disable-next-line @typescript-eslint/only-throw-error -- a private sentinel that ends the walk, caught by the caller
      throw STOP;
    }
    if (level + known.height - 1 > this.limits.maxDepth) this.reportDeep();
    this.height = known.height;
    return known.size;
  }

  private reportDeep(): void {
    // One report per document: a too-deep branch usually comes with many more just like it.
    if (this.deepReported) return;
    this.deepReported = true;
    this.report(tooDeepMessage(this.limits.maxDepth));
  }
}

/**
 * Nodes (values, not keys) and characters of strings (keys and values) in a value; `memo` counts each
 * shared object once per alias without walking it again. Only called on values the guard passed, so
 * there is no cycle.
 */
function measure(
  value: unknown,
  memo: Map<object, { nodes: number; bytes: number }> | undefined,
): { nodes: number; bytes: number } {
  if (typeof value === 'string') return { nodes: 1, bytes: value.length };
  if (typeof value !== 'object' || value === null) return { nodes: 1, bytes: 0 };
  const known = memo?.get(value);
  if (known !== undefined) return known;
  let nodes = 1;
  let bytes = 0;
  for (const [key, item] of Array.isArray(value) ? value.entries() : Object.entries(value)) {
    const inner = measure(item, memo);
    nodes += inner.nodes;
    bytes += inner.bytes + (typeof key === 'string' ? key.length : 0);
  }
  const size = { nodes, bytes };
  memo?.set(value, size);
  return size;
}
