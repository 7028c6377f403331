// Synchronous publish throughput of the event bus beside Node's EventEmitter, mitt and
// EventEmitter2 (wildcards on), at 1, 10 and 100 subscribers of the published name, each subscriber
// its own handler function (distinct code, as in an application), on three backgrounds of unrelated
// subscriptions: none; 1,000 trailing-wildcard patterns (`ns1.*`, `ns2.**`); 1,000 mixed patterns
// of which 300 start with a wildcard (`*.ns7`, `**.ns8.done`). EventEmitter and mitt have no
// wildcards: their background is 1,000 unrelated exact names.
//
// Method: each timed call publishes a batch of events calibrated to about 2 ms of CPU, so that the
// timer's own cost does not flatten the differences. Time is the process's CPU time
// (process.cpuUsage), so that other work on the machine does not leak into the figures. Each
// configuration runs in a fresh child process of this script (one configuration's JIT state cannot
// favour another), with every library side by side in it, interleaved over ROUNDS rounds; the figure
// is the median over rounds of tinybench's median sample.
//
// The parent (run by bench/run.ts) only spawns the children and reports their figures.
import { execFileSync } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { fileURLToPath } from 'node:url';
import eventemitter2 from 'eventemitter2';
import mittModule from 'mitt';
import { silentLogger } from 'kindling';
import { DefaultEventBus } from 'kindling/events';
import { type BenchRow, calibrateCpu, compare, interleavedRates, report } from '../harness.js';
import { type Background, backgroundPatterns, distinctHandlers, handled } from '../bus-fixture.js';

const { EventEmitter2 } = eventemitter2;
// mitt's types describe a CommonJS module under NodeNext, while Node loads its ESM build.
const mitt = ((mittModule as { default?: unknown }).default ?? mittModule) as typeof mittModule.default;

const NAME = 'bench.event';
const PAYLOAD = { id: 1, user: 'taylor' };
/** CPU time of one timed call, in ms (the batch of events per call is calibrated to it). */
const TARGET_CALL_MS = 2;
const QUICK = process.env['BENCH_QUICK'] === '1';
const ROUNDS = Number(process.env['ROUNDS'] ?? (QUICK ? 1 : 3));
const TIME_MS = Number(process.env['TIME_MS'] ?? (QUICK ? 60 : 200));
const WARMUP_MS = QUICK ? 30 : 100;
const SUBSCRIBERS = [1, 10, 100] as const;
const BACKGROUNDS: readonly Background[] = ['none', 'trailing', 'mixed'];

const noop = (): void => undefined;

interface Subject {
  readonly name: string;
  /** Publishes `count` events. */
  readonly run: (count: number) => void;
  readonly close?: () => Promise<void>;
}

interface Config {
  readonly subscribers: number;
  readonly background: Background;
}

const EE = 'EventEmitter';
const MITT = 'mitt';
const EE2 = 'EventEmitter2 (wildcard)';
const KINDLING = 'kindling';

type Factory = (config: Config, handlers: readonly ((payload: unknown) => void)[]) => Subject;

const factories: Record<string, Factory> = {
  [EE]: ({ background }, handlers) => {
    const ee = new EventEmitter();
    ee.setMaxListeners(0);
    for (const name of backgroundPatterns(background, false)) ee.on(name, noop);
    for (const handler of handlers) ee.on(NAME, handler);
    return {
      name: EE,
      run: (count) => {
        for (let i = 0; i < count; i++) ee.emit(NAME, PAYLOAD);
      },
    };
  },
  [MITT]: ({ background }, handlers) => {
    const emitter = mitt<Record<string, unknown>>();
    for (const name of backgroundPatterns(background, false)) emitter.on(name, noop);
    for (const handler of handlers) emitter.on(NAME, handler);
    return {
      name: MITT,
      run: (count) => {
        for (let i = 0; i < count; i++) emitter.emit(NAME, PAYLOAD);
      },
    };
  },
  [EE2]: ({ background }, handlers) => {
    const ee2 = new EventEmitter2({ wildcard: true, delimiter: '.', maxListeners: 0 });
    for (const pattern of backgroundPatterns(background, true)) ee2.on(pattern, noop);
    for (const handler of handlers) ee2.on(NAME, handler);
    return {
      name: EE2,
      run: (count) => {
        for (let i = 0; i < count; i++) ee2.emit(NAME, PAYLOAD);
      },
    };
  },
  [KINDLING]: ({ background }, handlers) => {
    const bus = new DefaultEventBus({ nodeID: 'bench', logger: silentLogger });
    for (const pattern of backgroundPatterns(background, true)) bus.on(pattern, noop);
    for (const handler of handlers) bus.on(NAME, handler);
    return {
      name: KINDLING,
      run: (count) => {
        for (let i = 0; i < count; i++) bus.emit(NAME, PAYLOAD);
      },
      close: () => bus.stop(),
    };
  },
};

/** Child mode: measure every library in one configuration, print `{ subject: events/s }` as JSON. */
async function child(config: Config): Promise<void> {
  // One set of handler functions, registered with every library alike.
  const handlers = distinctHandlers(config.subscribers);
  const built = Object.values(factories).map((factory) => factory(config, handlers));
  const batches = new Map(built.map((subject) => [subject.name, calibrateCpu(subject.run, TARGET_CALL_MS)]));
  const rates = await interleavedRates(built, batches, { rounds: ROUNDS, timeMs: TIME_MS, warmupMs: WARMUP_MS });
  for (const subject of built) await subject.close?.();
  if (handled.count === 0) throw new Error('no handler ran');
  process.stdout.write(JSON.stringify(rates));
}

function measure(config: Config): Record<string, number> {
  const output = execFileSync(process.execPath, [fileURLToPath(import.meta.url), '--child', JSON.stringify(config)], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return JSON.parse(output) as Record<string, number>;
}

const subs = (n: number): string => `${n} subscriber${n === 1 ? '' : 's'}`;
const backgroundLabel: Record<Background, string> = {
  none: 'no background',
  trailing: '+1k trailing wildcards',
  mixed: '+1k mixed wildcards',
};

async function main(): Promise<void> {
  const started = process.hrtime.bigint();
  const rows: BenchRow[] = [];
  for (const background of BACKGROUNDS) {
    for (const subscribers of SUBSCRIBERS) {
      const figures = measure({ subscribers, background });
      const ours = figures[KINDLING] as number;
      const name = `publish, ${subs(subscribers)}, ${backgroundLabel[background]}`;
      const row = (subject: string, target?: { text: string; min: number }): void => {
        const value = figures[subject] as number;
        const base: BenchRow = { name, subject, value, unit: 'events/s', better: 'higher' };
        rows.push(target === undefined ? base : { ...base, target: target.text, met: ours / value >= target.min });
      };
      row(KINDLING);
      row(EE, { text: '≥ 0.9×', min: 0.9 });
      row(MITT);
      row(EE2, background === 'trailing' ? { text: '≥ 3×', min: 3 } : undefined);
    }
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  report({
    case: 'Event bus: synchronous publish, distinct handlers (events per CPU-second)',
    rows: compare(rows),
    notes: [
      'kindling = bus.on listeners; every subscriber is its own handler function (distinct code), the same functions for every library',
      'an event name published 64 times gets a delivery function written for its subscribers (one call site per handler, src/events/core/compiled-delivery.ts); the warm-up passes that point, so the figures are the compiled ones',
      'backgrounds: 1,000 unrelated subscriptions; trailing = wildcards after a literal first segment (ns1.*, ns2.**); mixed = 300 of them start with a wildcard (*.ns7, **.ns8.done); EventEmitter and mitt: 1,000 unrelated exact names',
      `time = process CPU time; each configuration in its own process; median of ${ROUNDS} rounds × ${TIME_MS} ms (+${WARMUP_MS} ms warm-up) of tinybench's median sample; each timed call ≈ ${TARGET_CALL_MS} ms of CPU`,
      ...(QUICK ? ['BENCH_QUICK=1: short rounds, for development only'] : []),
      `case took ${seconds.toFixed(0)} s`,
    ],
  });
}

if (process.argv[2] === '--child') await child(JSON.parse(process.argv[3] as string) as Config);
else await main();
