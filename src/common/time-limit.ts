import { KindlingError } from './errors.js';

/**
 * Resolves as `pending` does (rejects as it does), or rejects once `timeoutMs` has passed: with what `what` returns when
 * it is an error (a caller's own, say naming a component), otherwise with a retryable `TIMEOUT`
 * saying that `what()` did not finish in time. `onTimeout` runs after the rejection is decided (so a
 * call that settles in reaction to it, say on an abort, cannot win the race); the timer never
 * outlives the race.
 *
 * @example
 * await withinTimeLimit(listener.add(ctx, entry), 30_000, () => `add of entry ${entry.id}`);
 */
export function withinTimeLimit<T>(
  pending: PromiseLike<T>,
  timeoutMs: number,
  what: () => string | KindlingError,
  onTimeout?: (error: KindlingError) => void,
): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const described = what();
      const error =
        described instanceof KindlingError
          ? described
          : new KindlingError('TIMEOUT', `${described} did not finish within ${timeoutMs} ms`, {
              details: { timeoutMs },
              retryable: true,
            });
      reject(error);
      onTimeout?.(error);
    }, timeoutMs);
  });
  return Promise.race([Promise.resolve(pending), timeout]).then(
    (value) => {
      clearTimeout(timer);
      return value;
    },
    (error: unknown) => {
      clearTimeout(timer);
      throw error;
    },
  );
}

/** Whether `value` is a promise-like (what a listener returns when it is async). */
export function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as { then?: unknown } | undefined)?.then === 'function';
}
