import { isAlias, isMap, isPair, isScalar, isSeq, type Document, type Node } from 'yaml';
import { FORBIDDEN_KEYS } from '../common/deep-freeze.js';
import { quote } from '../common/visible-text.js';
import { tooManyBytesMessage, tooManyNodesMessage } from './expansion-meter.js';
import { displayTag, tooDeepMessage, type YamlReadLimits } from './yaml-reader.js';

/** A problem of a `yaml` document, at the offset in its text where the node concerned starts. */
export interface YamlDocumentProblem {
  readonly offset: number;
  readonly message: string;
}

/** The tags of plain YAML; anything else (`!!binary`, `!!set`, `!!timestamp`, `!foo`) is refused. */
const PLAIN_TAGS: ReadonlySet<string> = new Set(
  ['str', 'int', 'float', 'bool', 'null', 'map', 'seq'].map((name) => `tag:yaml.org,2002:${name}`),
);

/** An integer written in decimal, hexadecimal or octal, as the core schema reads it. */
const INTEGER = /^[-+]?(?:[0-9]+|0x[0-9a-fA-F]+|0o[0-7]+)$/;

interface Size {
  readonly nodes: number;
  readonly bytes: number;
  readonly height: number;
}

const IN_PROGRESS: Size = { nodes: -1, bytes: -1, height: -1 };
const STOP = Symbol('stop');

/**
 * Checks a document parsed by the `yaml` package (the boot manifest) with the rules of registry
 * YAML, before anything converts it: aliases may add at most `maxAliasNodes` nodes and its strings
 * may add up to at most `maxExpandedBytes` characters once aliases are expanded; nesting within
 * `maxDepth` (through aliases too); no alias inside the node it names; only plain YAML tags; no
 * `__proto__`-style key; no number JSON cannot carry (`.inf`, `.nan`, an integer past ±(2^53 − 1)).
 * Returns every problem (a limit or a cycle stops the walk), in document order.
 *
 * @example
 * const doc = parseDocument(text, { keepSourceTokens: false });
 * for (const { offset, message } of inspectYamlDocument(doc, limits)) report(offset, message);
 */
export function inspectYamlDocument(doc: Document.Parsed, limits: YamlReadLimits): YamlDocumentProblem[] {
  const problems: YamlDocumentProblem[] = [];
  const anchors = new Map<string, Node>();
  const sizes = new Map<Node, Size>();
  let addedNodes = 0;
  let expandedBytes = 0;
  let deepReported = false;

  const offsetOf = (node: Node): number => node.range?.[0] ?? 0;
  const problem = (node: Node, message: string): void => {
    problems.push({ offset: offsetOf(node), message });
  };
  const stop = (node: Node, message: string): never => {
    problem(node, message);
    // eslint-disable-next-line @typescript-eslint/only-throw-error -- a private sentinel that ends the walk, caught below
    throw STOP;
  };
  const tooDeep = (node: Node): void => {
    if (deepReported) return;
    deepReported = true;
    problem(node, tooDeepMessage(limits.maxDepth));
  };
  const checkTag = (node: Node): void => {
    if (node.tag !== undefined && !PLAIN_TAGS.has(node.tag)) {
      problem(node, `tag ${displayTag(node.tag)} is not allowed (plain YAML only: maps, lists, strings, numbers, booleans, null)`);
    }
  };

  /** The size of `node` once its aliases are expanded; `level` is its depth, collections counting. */
  const visit = (node: unknown, level: number): Size => {
    if (isAlias(node)) {
      const target = anchors.get(node.source);
      if (target === undefined) return { nodes: 1, bytes: 0, height: 0 }; // the parser reports it
      const size = sizes.get(target);
      if (size === undefined || size === IN_PROGRESS) return stop(node, 'this alias refers to a node that contains it (a cycle)');
      addedNodes += size.nodes;
      expandedBytes += size.bytes;
      if (addedNodes > limits.maxAliasNodes) stop(node, tooManyNodesMessage(limits.maxAliasNodes));
      if (expandedBytes > limits.maxExpandedBytes) stop(node, tooManyBytesMessage(limits.maxExpandedBytes));
      if (level + size.height - 1 > limits.maxDepth) tooDeep(node);
      return size;
    }
    if (!isScalar(node) && !isMap(node) && !isSeq(node)) return { nodes: 1, bytes: 0, height: 0 };
    if (node.anchor !== undefined) {
      anchors.set(node.anchor, node);
      sizes.set(node, IN_PROGRESS);
    }
    checkTag(node);
    let size: Size;
    if (isScalar(node)) {
      const value = node.value;
      let bytes = 0;
      if (typeof value === 'string') {
        bytes = value.length;
        expandedBytes += bytes;
        if (expandedBytes > limits.maxExpandedBytes) stop(node, tooManyBytesMessage(limits.maxExpandedBytes));
      } else if (typeof value === 'number') {
        const text = node.source ?? String(value);
        if (value - value !== 0) {
          problem(node, `${text} is not a finite number, which JSON cannot store (it would become null); quote it if it is text`);
        } else if (!Number.isSafeInteger(value) && INTEGER.test(text)) {
          problem(node, `the integer ${text} is beyond ±9007199254740991 and would silently lose precision; quote it as a string`);
        }
      }
      size = { nodes: 1, bytes, height: 0 };
    } else if (level > limits.maxDepth) {
      tooDeep(node);
      size = { nodes: 1, bytes: 0, height: 1 };
    } else {
      let nodes = 1;
      let bytes = 0;
      let height = 0;
      for (const item of node.items) {
        const parts = isPair(item) ? [item.key, item.value] : [item];
        if (isPair(item) && isScalar(item.key) && FORBIDDEN_KEYS.has(String(item.key.value))) {
          problem(item.key, `key ${quote(String(item.key.value))} is not allowed (it could reach an object's prototype)`);
        }
        for (const part of parts) {
          if (part === null || part === undefined) continue;
          const inner = visit(part, level + 1);
          nodes += inner.nodes;
          bytes += inner.bytes;
          if (inner.height > height) height = inner.height;
        }
      }
      size = { nodes, bytes, height: height + 1 };
    }
    if (node.anchor !== undefined) sizes.set(node, size);
    return size;
  };

  try {
    visit(doc.contents, 1);
  } catch (error) {
    if (error !== STOP) throw error;
  }
  return problems.sort((a, b) => a.offset - b.offset);
}
