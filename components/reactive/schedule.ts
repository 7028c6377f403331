import { Cron } from 'croner';
import { messageOf, quote } from 'kindling';

/** When a timer fires: the tick after a moment, in epoch ms, or undefined when there is none. */
export interface Schedule {
  next(after: number): number | undefined;
}

/** The shortest interval a `timer.interval` accepts, in ms. */
export const MIN_INTERVAL_MS = 10;

const DURATION = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)$/;
const UNIT_MS: Readonly<Record<string, number>> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * Milliseconds of a duration: a number of ms, or a number with a unit (`500ms`, `10s`, `5m`, `1h`,
 * `1d`). Throws an `Error` saying what is expected.
 */
export function parseDuration(value: unknown): number {
  let ms: number | undefined;
  if (typeof value === 'number') ms = value;
  else if (typeof value === 'string') {
    const match = DURATION.exec(value.trim());
    if (match !== null) ms = Number(match[1]) * (UNIT_MS[match[2] as string] as number);
  }
  if (ms === undefined || !Number.isFinite(ms)) {
    throw new Error(
      `${typeof value === 'string' ? quote(value) : String(value)} is not a duration: write milliseconds or a number with a unit, such as "500ms", "10s", "5m", "1h"`,
    );
  }
  if (ms < MIN_INTERVAL_MS || ms > 2 ** 31 - 1) {
    throw new Error(`every must be between ${MIN_INTERVAL_MS} ms and about 24 days, got ${ms} ms`);
  }
  return Math.round(ms);
}

/**
 * Every `ms`, aligned on the epoch: every node computes the same ticks whenever it applied the entry
 * (what lets the nodes of a cluster agree on which tick they claim).
 */
export function intervalSchedule(ms: number): Schedule {
  return { next: (after) => (Math.floor(after / ms) + 1) * ms };
}

/**
 * A cron schedule, read by croner (five fields, or six with seconds first) in `timezone` (default:
 * the process's). Throws an `Error` with croner's reason for an expression or time zone it refuses.
 */
export function cronSchedule(expression: string, timezone?: string): Schedule {
  let cron: Cron;
  try {
    cron = new Cron(expression, { paused: true, ...(timezone === undefined ? {} : { timezone }) });
    // A bad time zone shows only when a date is computed.
    cron.nextRun(new Date(0));
  } catch (error) {
    throw new Error(
      `${quote(expression)}${timezone === undefined ? '' : ` in ${quote(timezone)}`} is not a cron schedule croner reads: ${messageOf(error)}`,
    );
  }
  return {
    next: (after) => cron.nextRun(new Date(after))?.getTime(),
  };
}
