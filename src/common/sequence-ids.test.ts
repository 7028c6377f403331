import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SequenceIds } from './sequence-ids.js';

describe('SequenceIds', () => {
  it('writes each number as String does, across every edge of the hundreds', () => {
    const ids = new SequenceIds('node-1-');
    for (let n = 0; n < 100_500; n++) expect(ids.idOf(n)).toBe(`node-1-${n}`);
    for (const n of [Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER - 1, 2 ** 53 - 100, 10 ** 15 + 99, 10 ** 15])
      expect(ids.idOf(n)).toBe(`node-1-${n}`);
  });

  it('gives the same id for any safe integer asked in any order', () => {
    const ids = new SequenceIds('');
    fc.assert(
      fc.property(fc.array(fc.maxSafeNat(), { minLength: 1, maxLength: 50 }), (numbers) => {
        for (const n of numbers) expect(ids.idOf(n)).toBe(String(n));
      }),
      { numRuns: 500 },
    );
  });

  it('keeps its prefix', () => {
    expect(new SequenceIds('a-').prefix).toBe('a-');
    expect(new SequenceIds('a-').idOf(7)).toBe('a-7');
  });
});
