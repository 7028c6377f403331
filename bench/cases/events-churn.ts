// The bus where subscriptions change and names do not repeat, beside EventEmitter, EventEmitter2
// (wildcards on) and mitt:
// - churn: 10,000 subscriptions on distinct names; one subscribe and its unsubscribe per 10 publishes;
// - unique names: every publish a name never published before, with 1,000 trailing-wildcard
//   patterns and one `*.created` subscriber (EventEmitter has no wildcards: its publishes find no
//   listener; mitt's `*` handler receives every event), and the heap the bus keeps for them;
// - memory per subscription: 100,000 subscriptions on 1,000 names, each its own handler function;
//   and 100,000 wildcard subscriptions `user.<id>.*` (one per connection of a server), beside
//   EventEmitter2, the one peer with wildcards.
//
// Time is the process's CPU time; the libraries run interleaved over ROUNDS rounds and the median
// round counts. Heap is measured after forced GC (the runner passes --expose-gc).
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { type BenchRow, compare, consume, cpuNowMs, report } from '../harness.js';
import {
  distinctHandlers,
  EE,
  EE2,
  emitterFaces,
  handled,
  KINDLING,
  MITT,
  trailingBackground,
  type EmitterFace,
} from '../bus-fixture.js';

const QUICK = process.env['BENCH_QUICK'] === '1';
const ROUNDS = QUICK ? 3 : 15;
const CHURN_SUBSCRIPTIONS = 10_000;
const CHURN_STEPS = QUICK ? 2_000 : 20_000;
const UNIQUE_PER_ROUND = QUICK ? 20_000 : 200_000;
const MEMORY_SUBSCRIPTIONS = QUICK ? 10_000 : 100_000;
const UNIQUE_SMALL = QUICK ? 10_000 : 100_000;
const UNIQUE_LARGE = QUICK ? 100_000 : 1_000_000;
/** Heap figures below this (0.25 MB) are within measurement noise; the growth ratio counts them as this. */
const HEAP_NOISE = 256 * 1024;

const gc = (globalThis as { gc?: () => void }).gc;
function heapUsed(): number {
  for (let i = 0; i < 3; i++) gc?.();
  return process.memoryUsage().heapUsed;
}

const median = (values: readonly number[]): number => [...values].sort((a, b) => a - b)[values.length >> 1] as number;

/** Runs each subject's `round` interleaved ROUNDS times; returns each one's median rate (units per CPU-second). */
function interleaved(subjects: Record<string, (round: number) => number>): Record<string, number> {
  const rates: Record<string, number[]> = Object.fromEntries(Object.keys(subjects).map((name) => [name, []]));
  for (const run of Object.values(subjects)) run(-1); // warm-up
  for (let round = 0; round < ROUNDS; round++) {
    for (const [name, run] of Object.entries(subjects)) {
      const start = cpuNowMs();
      const units = run(round);
      rates[name]?.push((units * 1000) / (cpuNowMs() - start));
    }
  }
  return Object.fromEntries(Object.entries(rates).map(([name, values]) => [name, median(values)]));
}

function churn(): Record<string, number> {
  const names = Array.from({ length: CHURN_SUBSCRIPTIONS }, (_, i) => `n${i}.changed`);
  const handlers = distinctHandlers(CHURN_SUBSCRIPTIONS);
  const extra = distinctHandlers(1)[0] as (payload: unknown) => void;
  const subjects: Record<string, (round: number) => number> = {};
  for (const [name, make] of Object.entries(emitterFaces())) {
    const face = make();
    names.forEach((n, i) => face.on(n, handlers[i] as (payload: unknown) => void));
    let k = 0;
    subjects[name] = () => {
      for (let s = 0; s < CHURN_STEPS; s++) {
        for (let j = 0; j < 10; j++) face.emit(names[(k++ * 7919) % CHURN_SUBSCRIPTIONS] as string, k);
        face.on(names[s % CHURN_SUBSCRIPTIONS] as string, extra)();
      }
      return CHURN_STEPS * 10;
    };
  }
  return interleaved(subjects);
}

function uniqueNames(): Record<string, number> {
  const subjects: Record<string, (round: number) => number> = {};
  const catchAll = distinctHandlers(1)[0] as (payload: unknown) => void;
  for (const [name, make] of Object.entries(emitterFaces())) {
    const face = make();
    if (name !== EE && name !== MITT) for (const pattern of trailingBackground()) face.on(pattern, () => undefined);
    if (name === MITT) face.on('*', catchAll);
    else if (name !== EE) face.on('*.created', catchAll);
    let next = 0;
    subjects[name] = () => {
      for (let i = 0; i < UNIQUE_PER_ROUND; i++) face.emit(`u${next++}.created`, i);
      return UNIQUE_PER_ROUND;
    };
  }
  return interleaved(subjects);
}

/** Heap kept by the bus after `count` unique names were published (from a fresh bus). */
function uniqueRetained(count: number, make: () => EmitterFace): number {
  consume(undefined); // let what an earlier measure kept go
  const face = make();
  for (const pattern of trailingBackground()) face.on(pattern, () => undefined);
  face.on('*.created', (payload) => consume(payload));
  face.emit('warm.created', 0);
  const before = heapUsed();
  for (let i = 0; i < count; i++) face.emit(`u${i}.created`, i);
  const retained = heapUsed() - before;
  consume(face);
  return retained;
}

function subscriptionBytes(make: () => EmitterFace, count = MEMORY_SUBSCRIPTIONS, wildcard = false): number {
  consume(undefined);
  const face = make();
  const handlers = Array.from({ length: count }, (_, i) => (payload: unknown) => consume([i, payload]));
  const names = wildcard
    ? Array.from({ length: count }, (_, i) => `user.${i}.*`)
    : Array.from({ length: 1000 }, (_, i) => `app.e${i}.changed`);
  const before = heapUsed();
  const undo = handlers.map((handler, i) => face.on(names[i % names.length] as string, handler));
  const bytes = (heapUsed() - before) / count;
  consume(undo);
  return bytes;
}

/**
 * Heap figures come from a fresh process each (with bytecode flushing off), so that nothing an
 * earlier measure left, or the engine dropping unused code, moves the baseline.
 */
function inChild(what: 'unique' | 'subscriptions' | 'wildcards', subject: string, count: number): number {
  const output = execFileSync(
    process.execPath,
    ['--expose-gc', '--no-flush-bytecode', fileURLToPath(import.meta.url), '--memory', what, subject, String(count)],
    {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  return Number(output.trim());
}

/**
 * The timed parts each run in a fresh process: what one part leaves in the engine (code optimised
 * for another workload, its garbage) would otherwise move the next one's figures.
 */
function timedInChild(part: 'churn' | 'unique'): Record<string, number> {
  const output = execFileSync(process.execPath, ['--expose-gc', fileURLToPath(import.meta.url), '--timed', part], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return JSON.parse(output) as Record<string, number>;
}

async function main(): Promise<void> {
  const started = process.hrtime.bigint();
  const rows: BenchRow[] = [];
  const churned = timedInChild('churn');
  const churnName = `churn: ${CHURN_SUBSCRIPTIONS.toLocaleString('en')} subscriptions, 1 subscribe+unsubscribe per 10 publishes`;
  for (const [subject, value] of Object.entries(churned)) {
    const target = subject === EE ? { target: '≥ 0.5×', met: (churned[KINDLING] as number) / value >= 0.5 } : {};
    rows.push({ name: churnName, subject, value, unit: 'publishes/s', better: 'higher', ...target });
  }

  const unique = timedInChild('unique');
  const uniqueName = 'unique names: every publish a new name, 1,000 other patterns';
  for (const [subject, value] of Object.entries(unique)) {
    const target = subject === EE2 ? { target: '≥ 1×', met: (unique[KINDLING] as number) / value >= 1 } : {};
    rows.push({ name: uniqueName, subject, value, unit: 'events/s', better: 'higher', ...target });
  }

  const small = inChild('unique', KINDLING, UNIQUE_SMALL);
  const large = inChild('unique', KINDLING, UNIQUE_LARGE);
  // Below the noise of a heap measurement after GC (about ±0.1 MB here), "kept" is nothing: a ratio of
  // two such figures would be a ratio of noise, so both are counted as at least HEAP_NOISE.
  const growth = Math.max(large, HEAP_NOISE) / Math.max(small, HEAP_NOISE);
  rows.push({
    name: `unique names: heap kept, ${UNIQUE_SMALL.toLocaleString('en')} → ${UNIQUE_LARGE.toLocaleString('en')} names`,
    subject: KINDLING,
    value: growth,
    unit: '×',
    better: 'lower',
    target: '≤ 1.5× (flat)',
    met: growth <= 1.5,
    detail: `${(small / 1048576).toFixed(2)} MB → ${(large / 1048576).toFixed(2)} MB`,
  });

  const memoryName = `memory per subscription (${MEMORY_SUBSCRIPTIONS.toLocaleString('en')} on 1,000 names)`;
  const bytes: Record<string, number> = {};
  for (const subject of Object.keys(emitterFaces()))
    bytes[subject] = inChild('subscriptions', subject, MEMORY_SUBSCRIPTIONS);
  for (const [subject, value] of Object.entries(bytes)) {
    const target = subject === KINDLING ? { target: '≤ 600 B', met: value <= 600 } : {};
    rows.push({ name: memoryName, subject, value, unit: 'B', better: 'lower', ...target });
  }
  const wildcardName = `memory per wildcard subscription (${MEMORY_SUBSCRIPTIONS.toLocaleString('en')} of user.<id>.*)`;
  for (const subject of [KINDLING, EE2]) {
    const value = inChild('wildcards', subject, MEMORY_SUBSCRIPTIONS);
    const target = subject === KINDLING ? { target: '≤ 600 B', met: value <= 600 } : {};
    rows.push({ name: wildcardName, subject, value, unit: 'B', better: 'lower', ...target });
  }

  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  report({
    case: 'Event bus: churn, unique names, memory per subscription',
    rows: compare(rows),
    notes: [
      'churn: publishes go to the 10,000 subscribed names in a scattered order; the extra subscription is made and removed on one of them',
      'unique names: EventEmitter has no wildcards, so its publishes reach no listener (a pure miss); mitt\'s "*" handler receives every event; EventEmitter2 and kindling: "*.created" plus 1,000 trailing-wildcard patterns',
      "heap kept: retained heap after publishing that many new names on a fresh bus (forced GC); flat means the bus's caches are bounded; figures under 0.25 MB count as 0.25 MB in the ratio (measurement noise)",
      `time = process CPU time, median of ${ROUNDS} interleaved rounds, churn and unique names each in a fresh process${QUICK ? '; BENCH_QUICK=1: small sizes, for development only' : ''}`,
      `case took ${seconds.toFixed(0)} s`,
    ],
  });
}

if (process.argv[2] === '--timed') {
  const figures = process.argv[3] === 'churn' ? churn() : uniqueNames();
  if (process.argv[3] === 'churn' && handled.count === 0) throw new Error('no handler ran');
  process.stdout.write(JSON.stringify(figures));
} else if (process.argv[2] === '--memory') {
  const [what, subject, count] = process.argv.slice(3) as [string, string, string];
  const make = emitterFaces()[subject] as () => EmitterFace;
  process.stdout.write(
    String(
      what === 'unique'
        ? uniqueRetained(Number(count), make)
        : subscriptionBytes(make, Number(count), what === 'wildcards'),
    ),
  );
} else {
  await main();
}
