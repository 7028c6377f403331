// What every growth curve is made of, shared by bench/cases/curves.ts and the paths in bench/curves/.
import { cpuNowMs } from './harness.js';

/** One path measured at two sizes. */
export interface Path {
  readonly id: string;
  readonly label: string;
  /** The item the cost is counted per (`change`, `component`...). */
  readonly item: string;
  readonly items: string;
  /** What the size counts, when it is not the items (churn: steps at 1,000 or 10,000 subscriptions). */
  readonly sized?: string;
  readonly sizes: readonly [number, number];
  /** The largest growth of the per-item cost that passes: 1.5, or 2 for paths that sort. */
  readonly limit: number;
  /** `time`: CPU ms of one round; `memory`: bytes retained, per item; `bounded`: bytes retained in total (must not grow). */
  readonly measure: 'time' | 'memory' | 'bounded';
  /** One round at `size`: returns CPU ms (time) or retained bytes (memory, bounded). */
  readonly run: (size: number) => Promise<number>;
  /** A peer run beside the line above it as a control: its growth is shown, with no target. */
  readonly control?: string;
}

const QUICK = process.env['BENCH_QUICK'] === '1';

/** A size, divided by 10 under BENCH_QUICK=1 (for development only). */
export const q = (n: number): number => (QUICK ? Math.max(1, Math.round(n / 10)) : n);

export const noop = (): void => undefined;

/**
 * How many independent copies (buses, hosts) a round at `size` runs on so that together they hold
 * `largest` items, as one copy at the large size does: both sizes then reach into the same memory,
 * and what is left to grow is the work per item, not the processor cache filling up.
 */
export const copiesFor = (size: number, largest: number): number => Math.max(1, Math.round(q(largest) / size));

const gc = (globalThis as { gc?: () => void }).gc;

/** The heap in use after forced collections (the curve runner passes --expose-gc). */
export function heapUsed(): number {
  for (let i = 0; i < 3; i++) gc?.();
  return process.memoryUsage().heapUsed;
}

/**
 * Collects what earlier rounds and the setup left, then lets the collector's background threads
 * finish: called before a round's clock starts, so that a large round does not pay for the garbage
 * of the rounds before it (which a small round, fitting in memory never collected, does not).
 */
export async function quiet(): Promise<void> {
  heapUsed();
  await new Promise((resolve) => setTimeout(resolve, 20));
}

/** CPU ms of `fn`, awaited. */
export async function timed(fn: () => unknown): Promise<number> {
  const start = cpuNowMs();
  await fn();
  return cpuNowMs() - start;
}
