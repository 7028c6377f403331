/** The numbers 0 to 99 as text. */
const BELOW_100: readonly string[] = Array.from({ length: 100 }, (_, n) => String(n));
/** The last two digits of a number of 100 or more: `00` to `99`. */
const ENDINGS: readonly string[] = BELOW_100.map((text) => text.padStart(2, '0'));

/**
 * Makes the ids `<prefix><n>` of a counter (event ids are `${nodeID}-${sequence}`) without turning
 * each number into text: converting a number is the dearest part of a fresh id, and consecutive
 * numbers share all but their last two digits. The text of `prefix` and the hundreds is kept and
 * made again once every hundred numbers; the last two digits come from a table. Any number may be
 * asked for in any order (a change of hundreds only costs one conversion).
 *
 * @example
 * const ids = new SequenceIds('node-1-');
 * ids.idOf(12345); // 'node-1-12345', the same as 'node-1-' + String(12345)
 */
export class SequenceIds {
  private hundreds = -1;
  /** `prefix` and the text of {@link hundreds}. */
  private head = '';

  constructor(readonly prefix: string) {}

  /** `prefix + String(n)` for a non-negative safe integer `n`. */
  idOf(n: number): string {
    if (n < 100) return this.prefix + (BELOW_100[n] as string);
    // Both exact in doubles: the remainder of an integer, and an exact multiple of 100 divided by it.
    const rest = n % 100;
    const hundreds = (n - rest) / 100;
    if (hundreds !== this.hundreds) {
      this.hundreds = hundreds;
      this.head = this.prefix + String(hundreds);
    }
    return this.head + (ENDINGS[rest] as string);
  }
}
