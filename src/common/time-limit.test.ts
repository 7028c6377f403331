import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { KindlingError } from './errors.js';
import { withinTimeLimit } from './time-limit.js';

describe('withinTimeLimit', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('resolves with what the call resolves with, and clears its timer', async () => {
    await expect(withinTimeLimit(Promise.resolve(42), 1_000, () => 'the call')).resolves.toBe(42);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('rejects as the call does', async () => {
    await expect(withinTimeLimit(Promise.reject(new Error('failed')), 1_000, () => 'the call')).rejects.toThrow(
      'failed',
    );
  });

  it('rejects with a retryable TIMEOUT saying what did not finish once the time has passed', async () => {
    const late = withinTimeLimit(new Promise(() => undefined), 1_000, () => 'add of entry app:a');
    const settled = expect(late).rejects.toMatchObject({
      code: 'TIMEOUT',
      retryable: true,
      message: 'add of entry app:a did not finish within 1000 ms',
    });
    await vi.advanceTimersByTimeAsync(1_000);
    await settled;
  });

  it("rejects with the caller's own error when what() returns one, then calls onTimeout with it", async () => {
    const own = new KindlingError('TIMEOUT', 'did not answer within timeoutMs (50 ms)');
    const seen: unknown[] = [];
    const late = withinTimeLimit(
      new Promise(() => undefined),
      50,
      () => own,
      (error) => seen.push(error),
    );
    const settled = expect(late).rejects.toBe(own);
    await vi.advanceTimersByTimeAsync(50);
    await settled;
    expect(seen).toEqual([own]);
  });
});
