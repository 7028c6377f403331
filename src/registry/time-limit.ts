import { KindlingError } from '../common/errors.js';

/**
 * Settles with `pending`, or rejects with a retryable `TIMEOUT` naming `what` once `timeoutMs` has
 * passed. `onTimeout` runs after the rejection is decided (so a call that settles in reaction to it,
 * say on an abort, cannot win the race); the timer never outlives the race.
 */
export function withinTimeLimit(
  pending: PromiseLike<unknown>,
  timeoutMs: number,
  what: () => string,
  onTimeout?: (error: KindlingError) => void,
): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const error = new KindlingError('TIMEOUT', `${what()} did not finish within ${timeoutMs} ms`, {
        details: { timeoutMs },
        retryable: true,
      });
      reject(error);
      onTimeout?.(error);
    }, timeoutMs);
  });
  return Promise.race([Promise.resolve(pending), timeout]).then(
    () => clearTimeout(timer),
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
