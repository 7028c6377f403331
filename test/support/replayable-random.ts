/**
 * A small deterministic generator (mulberry32) of numbers in [0, 1): the same `start` gives the same
 * sequence, so a generated case that fails can be replayed.
 */
export function replayableRandom(start: number): () => number {
  let a = start >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}
