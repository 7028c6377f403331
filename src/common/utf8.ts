/** Where the first byte that is not UTF-8 sits: its offset, and its 1-based line and column. */
export interface Utf8Position {
  readonly offset: number;
  readonly line: number;
  readonly column: number;
}

/**
 * Finds the first byte that is not part of well-formed UTF-8 (RFC 3629: no overlong forms, no
 * surrogates, nothing above U+10FFFF). A plain decode would silently turn such bytes into U+FFFD,
 * changing names and data without a word; readers of user files refuse them instead.
 *
 * @example
 * findInvalidUtf8(Buffer.from([0x61, 0xc0, 0xaf])); // { offset: 1, line: 1, column: 2 }
 */
export function findInvalidUtf8(bytes: Uint8Array): Utf8Position | undefined {
  const length = bytes.length;
  let i = 0;
  while (i < length) {
    const b = bytes[i] as number;
    if (b < 0x80) {
      i++;
      continue;
    }
    let need: number;
    let min: number;
    let max = 0xbf;
    if (b >= 0xc2 && b <= 0xdf) [need, min] = [1, 0x80];
    else if (b === 0xe0) [need, min] = [2, 0xa0];
    else if (b === 0xed) [need, min, max] = [2, 0x80, 0x9f];
    else if (b >= 0xe1 && b <= 0xef) [need, min] = [2, 0x80];
    else if (b === 0xf0) [need, min] = [3, 0x90];
    else if (b === 0xf4) [need, min, max] = [3, 0x80, 0x8f];
    else if (b >= 0xf1 && b <= 0xf3) [need, min] = [3, 0x80];
    else return positionOf(bytes, i);
    for (let k = 1; k <= need; k++) {
      const c = bytes[i + k];
      const lo = k === 1 ? min : 0x80;
      const hi = k === 1 ? max : 0xbf;
      if (c === undefined || c < lo || c > hi) return positionOf(bytes, i);
    }
    i += need + 1;
  }
  return undefined;
}

function positionOf(bytes: Uint8Array, offset: number): Utf8Position {
  const before = Buffer.from(bytes.buffer, bytes.byteOffset, offset).toString('utf8');
  const lastNewline = before.lastIndexOf('\n');
  return { offset, line: before.split('\n').length, column: before.length - lastNewline };
}
