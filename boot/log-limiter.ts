import type { LogFields, Logger } from 'kindling';

/** Options of a {@link LogLimiter}. */
export interface LogLimiterOptions {
  readonly logger: Logger;
  /** Lines of one key written per window; the rest are counted (default 10). */
  readonly linesPerWindow?: number;
  /** Length of a window, in ms (default 60 000). */
  readonly windowMs?: number;
  /** Keys tracked at once; past it the oldest key is forgotten (default 1 000). */
  readonly maxKeys?: number;
  /** The clock (for tests). */
  readonly now?: () => number;
}

interface KeyState {
  windowStart: number;
  written: number;
  suppressed: number;
}

/**
 * Writes log lines through a logger, at most `linesPerWindow` lines per key and window, so that a
 * client or a function repeating one fault cannot flood the log. Lines past the limit are counted,
 * and the next line written for the key says how many were suppressed. It keeps no timer.
 *
 * @example
 * const limiter = new LogLimiter({ logger });
 * limiter.write('warn', `client-error:${serviceId}`, `http.service ${serviceId}: malformed request`);
 */
export class LogLimiter {
  private readonly keys = new Map<string, KeyState>();
  private readonly linesPerWindow: number;
  private readonly windowMs: number;
  private readonly maxKeys: number;
  private readonly now: () => number;

  constructor(private readonly options: LogLimiterOptions) {
    this.linesPerWindow = options.linesPerWindow ?? 10;
    this.windowMs = options.windowMs ?? 60_000;
    this.maxKeys = options.maxKeys ?? 1_000;
    this.now = options.now ?? Date.now;
  }

  /** Writes `message` at `level` unless `key` has used up its lines in this window. Returns whether it was written. */
  write(level: 'debug' | 'info' | 'warn' | 'error', key: string, message: string, fields?: LogFields): boolean {
    const now = this.now();
    let state = this.keys.get(key);
    if (state === undefined || now - state.windowStart >= this.windowMs) {
      const suppressed = state?.suppressed ?? 0;
      state = { windowStart: now, written: 0, suppressed: 0 };
      this.remember(key, state);
      if (suppressed > 0) message = `${message} (${suppressed} similar line${suppressed === 1 ? '' : 's'} suppressed before this one)`;
    }
    if (state.written >= this.linesPerWindow) {
      state.suppressed++;
      return false;
    }
    state.written++;
    if (state.written === this.linesPerWindow) message = `${message} (more like this in the next ${Math.round(this.windowMs / 1000)} s are counted, not written)`;
    this.options.logger[level](message, fields);
    return true;
  }

  /** Writes one line per key with lines still suppressed, and forgets every key. */
  flush(level: 'info' | 'warn' = 'warn'): void {
    for (const [key, state] of this.keys) {
      if (state.suppressed > 0) this.options.logger[level](`${state.suppressed} more line${state.suppressed === 1 ? '' : 's'} of ${key} were suppressed`);
    }
    this.keys.clear();
  }

  private remember(key: string, state: KeyState): void {
    // Map order is insertion order: deleting first makes this key the newest.
    this.keys.delete(key);
    this.keys.set(key, state);
    if (this.keys.size > this.maxKeys) {
      const oldest = this.keys.keys().next().value;
      if (oldest !== undefined) this.keys.delete(oldest);
    }
  }
}
