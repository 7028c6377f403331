let lastMs = Number.NaN;
let lastText = '';

/**
 * The current time as `new Date().toISOString()` writes it. Writing that text costs about half a
 * microsecond, so it is written once per millisecond and given again to every caller within it
 * (a registry stamps each batch with it, and small batches come many to a millisecond).
 *
 * @example
 * isoNow(); // '2026-12-03T10:04:05.678Z'
 */
export function isoNow(): string {
  const now = Date.now();
  if (now !== lastMs) {
    lastMs = now;
    lastText = new Date(now).toISOString();
  }
  return lastText;
}
