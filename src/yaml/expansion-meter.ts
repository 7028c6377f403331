import type { State } from 'js-yaml';
import { contentPosition, type ParserState, type YamlPosition } from './source-map.js';

/** The limits on what aliases may add to one file. */
export interface ExpansionLimits {
  /** Most nodes that aliases (and copies of the file-level meta) may add, counted with repetition. */
  readonly maxAliasNodes: number;
  /** Most characters of strings (keys and values) the file may hold once every alias is expanded. */
  readonly maxExpandedBytes: number;
}

/** How much a file's composed documents hold once every alias is expanded, as the meter counted it. */
export interface Expansion {
  /** Nodes that aliases added. */
  readonly addedNodes: number;
  /** Characters of every string composed, each alias of one counted again. */
  readonly expandedBytes: number;
  /** Whether the text has anchors at all: without them no value is shared. */
  readonly sharing: boolean;
}

/** A refusal the meter made while js-yaml composed the text, at the node that crossed a limit. */
export class ExpansionRefusal extends Error {
  constructor(
    message: string,
    readonly position: YamlPosition,
  ) {
    super(message);
  }
}

interface Size {
  readonly nodes: number;
  readonly bytes: number;
}

/** Why an alias bomb is refused, wherever it is found. */
export function tooManyNodesMessage(limit: number): string {
  return `aliases expand this file by more than ${limit} nodes (an alias bomb?); raise maxAliasNodes if this is intended`;
}

/** Why a file whose strings expand too far is refused, wherever it is found. */
export function tooManyBytesMessage(limit: number): string {
  return `strings in this file add up to more than ${limit} bytes once aliases are expanded (long text repeated by aliases?); raise maxExpandedBytes if this is intended`;
}

/**
 * Counts what js-yaml really builds, through its parse listener: every node and every character of
 * every string, with each alias charged the full size of the node it repeats (known when that
 * node closed), and refuses, at the alias or scalar that crosses a limit, before anything bigger is
 * built. A tag, a merge key or any spelling of an anchor makes no difference: the count is of the
 * values composed, not of the text. An alias to a node that is still open is a cycle.
 *
 * The count errs on the safe side only: js-yaml composes a tagged or anchored scalar written after
 * a block key (`key: &a text`) twice, once while it looks for a mapping, so such a scalar counts
 * twice; a file without aliases still counts at most twice its size.
 */
export class ExpansionMeter implements Expansion {
  addedNodes = 0;
  expandedBytes = 0;
  sharing = false;
  /** Every node composed so far, aliases expanded. */
  private nodes = 0;
  /**
   * Per open node, at three times its depth: its offset, and `nodes` and `expandedBytes` when it
   * opened. js-yaml stops at its own maxDepth, so the depth always fits.
   */
  private readonly open: Float64Array;
  /** The size of every anchored value once it closed; an alias of a value not here is a cycle. */
  private readonly sizes = new Map<object, Size>();
  /** Where the last node opened, for an error (a RangeError) that js-yaml raises without a position. */
  lastOffset = 0;

  /** @param maxParserDepth the `maxDepth` js-yaml runs with. */
  constructor(
    private readonly text: string,
    private readonly limits: ExpansionLimits,
    maxParserDepth: number,
  ) {
    this.open = new Float64Array(3 * (maxParserDepth + 2));
  }

  /** Records one js-yaml parse event; throws an {@link ExpansionRefusal} past a limit or at a cycle. */
  readonly listener = (event: 'open' | 'close', state: State): void => {
    const open = this.open;
    const at = 3 * (state as ParserState).depth;
    if (event === 'open') {
      this.lastOffset = state.position;
      open[at] = state.position;
      open[at + 1] = this.nodes;
      open[at + 2] = this.expandedBytes;
      return;
    }
    const result: unknown = state.result;
    const anchor = (state as ParserState).anchor;
    // js-yaml composes an alias as a node without kind, tag or anchor whose result is the value of
    // the anchor; every other node has a kind or a tag, or composes nothing (null).
    if (state.kind === null && (state as ParserState).tag === null && anchor === null && result !== null) {
      this.chargeAlias(result, open[at] as number);
    } else {
      this.nodes += 1;
      if (typeof result === 'string') this.expandedBytes += result.length;
    }
    if (anchor !== null) {
      this.sharing = true;
      if (typeof result === 'object' && result !== null) {
        this.sizes.set(result, {
          nodes: this.nodes - (open[at + 1] as number),
          bytes: this.expandedBytes - (open[at + 2] as number),
        });
      }
    }
    if (this.expandedBytes > this.limits.maxExpandedBytes)
      this.refuse(tooManyBytesMessage(this.limits.maxExpandedBytes), open[at] as number);
  };

  private chargeAlias(value: unknown, offset: number): void {
    let size: Size;
    if (typeof value === 'object' && value !== null) {
      const known = this.sizes.get(value);
      if (known === undefined) this.refuse('this alias refers to a node that contains it (a cycle)', offset);
      size = known;
    } else {
      size = { nodes: 1, bytes: typeof value === 'string' ? value.length : 0 };
    }
    this.nodes += size.nodes;
    this.addedNodes += size.nodes;
    this.expandedBytes += size.bytes;
    if (this.addedNodes > this.limits.maxAliasNodes)
      this.refuse(tooManyNodesMessage(this.limits.maxAliasNodes), offset);
  }

  private refuse(message: string, offset: number): never {
    throw new ExpansionRefusal(message, positionAt(this.text, offset));
  }
}

/** The 1-based position of the first content character at or after `offset` (counting lines as js-yaml does). */
export function positionAt(text: string, offset: number): YamlPosition {
  let line = 0;
  let lineStart = 0;
  const end = Math.min(offset, text.length);
  for (let i = 0; i < end; i += 1) {
    const ch = text.charCodeAt(i);
    if (ch === 0x0a || (ch === 0x0d && text.charCodeAt(i + 1) !== 0x0a)) {
      line += 1;
      lineStart = i + 1;
    }
  }
  return contentPosition(text, offset, line, lineStart);
}
