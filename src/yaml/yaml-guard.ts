import { FORBIDDEN_KEYS } from '../common/deep-freeze.js';
import type { YamlPath, YamlPathTarget } from './source-map.js';
import { RefusedTag, refusedTagMessage, type YamlReadLimits } from './yaml-reader.js';

/** A problem the guard found in a composed document, at a path from the document's root. */
export interface GuardProblem {
  readonly path: YamlPath;
  readonly target: YamlPathTarget;
  readonly message: string;
}

interface Shape {
  readonly size: number;
  readonly height: number;
}

const IN_PROGRESS: Shape = { size: -1, height: -1 };
const STOP = Symbol('stop');

/**
 * Checks composed YAML values before anything copies them: no `__proto__`-style keys, no tags beyond
 * plain YAML, nesting within the limit (also through aliases), no alias that contains itself, and a
 * bounded number of nodes added by aliases. js-yaml shares one object between an anchor and its
 * aliases, so subtree sizes are remembered per object and each alias is charged without walking
 * it again: a "billion laughs" text is refused after a few thousand steps.
 */
export class YamlGuard {
  /** Nodes added so far by aliases and copies, over every document of the file. */
  private added = 0;
  private readonly shapes: Map<object, Shape> | undefined;
  private readonly path: (string | number)[] = [];
  private problems: GuardProblem[] = [];
  private deepReported = false;
  private height = 0;

  /**
   * @param sharing whether the text may contain anchors; without them no value is shared and the
   *   guard skips the bookkeeping that aliases need.
   */
  constructor(
    private readonly limits: YamlReadLimits,
    sharing: boolean,
  ) {
    this.shapes = sharing ? new Map() : undefined;
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
   * Charges `count` copies of `value` (already inspected) to the alias budget: the file-level meta is
   * copied into every entry. Returns a problem when the budget is exceeded.
   */
  chargeCopies(value: unknown, count: number, path: YamlPath): GuardProblem | undefined {
    if (count <= 0) return undefined;
    this.added += this.sizeOf(value) * count;
    if (this.added <= this.limits.maxAliasNodes) return undefined;
    return {
      path,
      target: 'key',
      message: `copying this meta into ${count + 1} entries adds more than ${this.limits.maxAliasNodes} nodes`,
    };
  }

  private sizeOf(value: unknown): number {
    if (typeof value !== 'object' || value === null) return 1;
    const known = this.shapes?.get(value);
    if (known !== undefined && known !== IN_PROGRESS) return known.size;
    let size = 1;
    for (const item of Array.isArray(value) ? value : Object.values(value)) size += this.sizeOf(item);
    return size;
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
    if (value instanceof RefusedTag) {
      this.report(refusedTagMessage(value));
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
          this.report(`key "${key}" is not allowed (it could reach an object's prototype)`, 'key', key);
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

  /** A value seen before is an alias (or a value merged by `<<`): charge it, do not walk it again. */
  private revisit(known: Shape, level: number): number {
    if (known === IN_PROGRESS) {
      this.report('this alias refers to a node that contains it (a cycle)');
      throw STOP;
    }
    this.added += known.size;
    if (this.added > this.limits.maxAliasNodes) {
      this.report(
        `aliases expand this file by more than ${this.limits.maxAliasNodes} nodes (an alias bomb?); raise maxAliasNodes if this is intended`,
      );
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
    this.report(`the YAML is nested more than ${this.limits.maxDepth} levels deep`);
  }
}
