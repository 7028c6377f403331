// The measuring side of `npm run bench`: every case is a script that measures, then reports one
// JSON document on stdout for the runner (bench/run.ts) to tabulate.
import { Bench } from 'tinybench';
import { createRequire } from 'node:module';

/** One line of a case's table: our figure beside a peer's, and how they compare. */
export interface BenchRow {
  /** What was measured (`publish, 10 subscribers`). */
  readonly name: string;
  /** Who: `kindling` or the peer's name. */
  readonly subject: string;
  /** The median figure. */
  readonly value: number;
  readonly unit: string;
  /** Whether more is better (ops/s) or less is better (ms, bytes). */
  readonly better: 'higher' | 'lower';
  /** For peers: our value relative to theirs, >1 meaning we are better. Filled by {@link compare}. */
  readonly ratio?: number;
  /** The target, stated as text (`≥ 0.9× EventEmitter`), and whether this run met it. */
  readonly target?: string;
  readonly met?: boolean;
  /** What the figure is made of, when the value alone does not say (`1.2 µs → 1.4 µs per change`). */
  readonly detail?: string;
}

/** A figure with its unit, in a few significant digits (`14.7M events/s`, `821 ms`). */
export function formatValue(value: number | null, unit: string): string {
  // A value that could not be measured (a curve stopped at its time limit) is null in the JSON.
  if (value === null || !Number.isFinite(value)) return '—';
  const digits = value >= 100 ? 0 : value >= 10 ? 1 : 2;
  const text =
    value >= 1e6
      ? `${(value / 1e6).toFixed(2)}M`
      : value >= 1e4
        ? `${(value / 1e3).toFixed(1)}k`
        : value.toFixed(digits);
  return unit === '×' ? `${text}×` : `${text} ${unit}`;
}

/** What one case prints. */
export interface BenchReport {
  readonly case: string;
  readonly rows: readonly BenchRow[];
  readonly notes?: readonly string[];
}

export interface MeasureOptions {
  /** Calls per sample (default: calibrated so a sample takes ~50 ms). */
  readonly iterations?: number;
  readonly samples?: number;
  readonly warmupSamples?: number;
}

/** The median of `values`. */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/** Median operations per second of a synchronous `fn`, over several samples after a warm-up. */
export function opsPerSecond(fn: () => void, options: MeasureOptions = {}): number {
  let iterations = options.iterations;
  if (iterations === undefined) {
    iterations = 1;
    for (;;) {
      const start = process.hrtime.bigint();
      for (let i = 0; i < iterations; i++) fn();
      const ns = Number(process.hrtime.bigint() - start);
      if (ns > 20e6 || iterations > 1e8) {
        iterations = Math.max(1, Math.round((iterations * 50e6) / Math.max(ns, 1)));
        break;
      }
      iterations *= 4;
    }
  }
  const rates: number[] = [];
  const total = (options.warmupSamples ?? 2) + (options.samples ?? 7);
  for (let s = 0; s < total; s++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < iterations; i++) fn();
    const ns = Number(process.hrtime.bigint() - start);
    if (s >= (options.warmupSamples ?? 2)) rates.push((iterations * 1e9) / ns);
  }
  return median(rates);
}

/** Median wall time in ms of an async `fn` over several runs after a warm-up. */
export async function medianMs<T = undefined>(
  fn: (prepared: T) => unknown,
  options: { samples?: number; warmupSamples?: number; setup?: () => T } = {},
): Promise<number> {
  const times: number[] = [];
  const total = (options.warmupSamples ?? 1) + (options.samples ?? 5);
  for (let s = 0; s < total; s++) {
    // What `setup` prepares for a sample (its input) is made before the clock starts.
    const prepared = options.setup === undefined ? (undefined as T) : options.setup();
    const start = process.hrtime.bigint();
    await fn(prepared);
    const ms = Number(process.hrtime.bigint() - start) / 1e6;
    if (s >= (options.warmupSamples ?? 1)) times.push(ms);
  }
  return median(times);
}

/** Fills `ratio` of each peer row against the `kindling` row of the same name. */
export function compare(rows: readonly BenchRow[]): BenchRow[] {
  return rows.map((row) => {
    if (row.subject === 'kindling') return row;
    const ours = rows.find((r) => r.name === row.name && r.subject === 'kindling');
    if (ours === undefined) return row;
    const ratio = row.better === 'higher' ? ours.value / row.value : row.value / ours.value;
    return { ...row, ratio };
  });
}

/** Prints the report for the runner (one JSON document on the last line of stdout). */
export function report(result: BenchReport): void {
  process.stdout.write(`\n@@bench ${JSON.stringify(result)}\n`);
}

/** Keeps a value alive so the engine cannot drop the work that made it. */
export let sink: unknown;
export function consume(value: unknown): void {
  sink = value;
}

/** CPU time of this process in ms: unlike wall time, it does not count while other processes run. */
export function cpuNowMs(): number {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1000;
}

/** How many iterations make one call of `run(count)` last about `targetMs` of CPU. */
export function calibrateCpu(run: (count: number) => void, targetMs: number): number {
  let count = 1;
  for (;;) {
    const start = cpuNowMs();
    run(count);
    const elapsed = cpuNowMs() - start;
    if (elapsed >= 20 || count >= 1 << 24) return Math.max(1, Math.round((count * targetMs) / Math.max(elapsed, 1e-3)));
    count *= 4;
  }
}

/** One subject of {@link interleavedRates}: `run(count)` does `count` units of its work. */
export interface RatedSubject {
  readonly name: string;
  /** An asynchronous `run` is awaited. */
  readonly async?: boolean;
  run(count: number): unknown;
}

/** Options of {@link interleavedRates}. */
export interface RoundOptions {
  readonly rounds: number;
  readonly timeMs: number;
  readonly warmupMs: number;
}

/**
 * Each subject's units per CPU-second: `rounds` tinybench runs in which every subject takes its turn
 * (so that load on the machine hits them alike), each timing calls of `run(batches[name])` in CPU
 * time and keeping the median call; the median over the rounds.
 */
export async function interleavedRates(
  subjects: readonly RatedSubject[],
  batches: ReadonlyMap<string, number>,
  options: RoundOptions,
): Promise<Record<string, number>> {
  const samples = new Map<string, number[]>();
  for (let round = 0; round < options.rounds; round++) {
    const bench = new Bench({ time: options.timeMs, warmupTime: options.warmupMs, throws: true, now: cpuNowMs });
    for (const subject of subjects) {
      const batch = batches.get(subject.name) as number;
      if (subject.async === true) bench.add(subject.name, async () => subject.run(batch));
      else bench.add(subject.name, () => void subject.run(batch));
    }
    await bench.run();
    for (const task of bench.tasks) {
      const result = task.result;
      if (result.state !== 'completed') throw new Error(`${task.name} did not complete: ${result.state}`);
      samples.set(task.name, [
        ...(samples.get(task.name) ?? []),
        ((batches.get(task.name) as number) * 1000) / result.latency.p50,
      ]);
    }
  }
  const rates: Record<string, number> = {};
  for (const [name, values] of samples) rates[name] = median(values);
  return rates;
}

/**
 * Moleculer's ServiceBroker class, typed as the broker face a case uses, or `undefined` when the
 * package is not installed (a case then measures kindling alone).
 */
export function loadMoleculer<B>(): (new (options: object) => B) | undefined {
  try {
    return (createRequire(import.meta.url)('moleculer') as { ServiceBroker: new (options: object) => B }).ServiceBroker;
  } catch {
    return undefined;
  }
}
