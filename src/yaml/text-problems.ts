import { quote } from '../common/visible-text.js';
import { positionAt } from './expansion-meter.js';
import type { YamlPosition } from './source-map.js';
import {
  RefusedNumber,
  refusedNumberMessage,
  RefusedTag,
  refusedTagMessage,
  type DetailedRead,
} from './yaml-reader.js';

/** A problem of a YAML text at its 1-based line and column, before it is given a file. */
export interface TextProblem extends YamlPosition {
  readonly message: string;
}

/** Byte order marks reported one by one before the rest are only counted. */
const MAX_BOM_REPORTS = 10;

const BOM_MESSAGE =
  'a byte order mark (U+FEFF) may only start the file; here it would become an invisible part of the text (files joined together?): remove it, or write "\\uFEFF" in a double-quoted string';

/**
 * A text without the byte order mark that may start it (js-yaml drops it before parsing; dropping it
 * here keeps offsets aligned), and every other one, refused: it would become an invisible part of a
 * key or value.
 */
export function withoutByteOrderMark(rawText: string): { readonly text: string; readonly problems: TextProblem[] } {
  const text = rawText.charCodeAt(0) === 0xfeff ? rawText.slice(1) : rawText;
  const problems: TextProblem[] = [];
  let skipped = 0;
  for (let at = text.indexOf('\uFEFF'); at >= 0; at = text.indexOf('\uFEFF', at + 1)) {
    if (problems.length === MAX_BOM_REPORTS) {
      skipped += 1;
      continue;
    }
    problems.push({ ...positionAt(text, at), message: BOM_MESSAGE });
  }
  if (skipped > 0) {
    const last = problems[problems.length - 1] as TextProblem;
    problems[problems.length - 1] = { ...last, message: `${last.message} (and ${skipped} more after this one)` };
  }
  return { text, problems };
}

/**
 * What a detailed read found wrong with the text itself, whatever format it holds: duplicate keys,
 * tagged values and numbers JSON cannot carry (also those a later duplicate key replaced, which no
 * walk of the composed value sees), and the error that stopped the read.
 */
export function readProblems(read: DetailedRead): TextProblem[] {
  const { sourceMap, error } = read;
  const out: TextProblem[] = [];
  for (const { key, first, second } of sourceMap.duplicateKeys()) {
    out.push({
      ...second,
      message: `duplicate key ${quote(key)} (first at line ${first.line}, column ${first.column})`,
    });
  }
  for (const { value, position } of sourceMap.findValues(
    (v): v is RefusedTag | RefusedNumber => v instanceof RefusedTag || v instanceof RefusedNumber,
  )) {
    out.push({
      ...position,
      message: value instanceof RefusedTag ? refusedTagMessage(value) : refusedNumberMessage(value),
    });
  }
  if (error !== undefined) out.push({ ...error.position, message: error.message });
  return out;
}
