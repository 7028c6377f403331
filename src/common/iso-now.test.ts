import { afterEach, describe, expect, it, vi } from 'vitest';
import { isoNow } from './iso-now.js';

describe('isoNow', () => {
  afterEach(() => void vi.useRealTimers());

  it('writes the current millisecond as toISOString does, and follows the clock', () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(Date.UTC(2026, 11, 3, 10, 4, 5, 678));
    expect(isoNow()).toBe('2026-12-03T10:04:05.678Z');
    expect(isoNow()).toBe('2026-12-03T10:04:05.678Z');
    vi.setSystemTime(Date.UTC(2026, 11, 3, 10, 4, 5, 679));
    expect(isoNow()).toBe('2026-12-03T10:04:05.679Z');
    // A clock set back is followed too.
    vi.setSystemTime(Date.UTC(2020, 0, 1));
    expect(isoNow()).toBe('2020-01-01T00:00:00.000Z');
  });

  it('matches new Date().toISOString() on the real clock', () => {
    const before = Date.now();
    const text = isoNow();
    const after = Date.now();
    const at = Date.parse(text);
    expect(at).toBeGreaterThanOrEqual(before);
    expect(at).toBeLessThanOrEqual(after);
    expect(new Date(at).toISOString()).toBe(text);
  });
});
