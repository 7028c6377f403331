// What OpenTelemetry costs: the bus's publish and a registry apply with no SDK registered (the
// default: each hot path checks one undefined field) beside Node's EventEmitter, and the same with
// an SDK registered that records every span (a processor that drops them, so the figure is
// Kindling's instrumentation and the SDK's span making, not an exporter).
//
// Method: as events-publish: each timed call publishes a batch calibrated to about 2 ms of CPU; time
// is the process's CPU time; each mode (no SDK, SDK) runs in a fresh child process of this script,
// since an SDK registered once stays registered; the figure is the median over ROUNDS rounds of
// tinybench's median sample.
import { execFileSync } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { fileURLToPath } from 'node:url';
import { context, metrics, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, NoopSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { HandlerRegistry, Registry, silentLogger, type EntryListener } from 'kindling';
import { DefaultEventBus } from 'kindling/events';
import { type BenchRow, calibrateCpu, compare, interleavedRates, report } from '../harness.js';

const NAME = 'bench.event';
/**
 * Each publish takes the next of these payloads and the handler adds its id to a sink read after the
 * runs: with one constant payload and a handler that only bumped a counter, V8 folded the publish
 * loop around the inlined handler and the bus showed some 450M events/s.
 */
const PAYLOADS = Array.from({ length: 1024 }, (_, i) => ({ id: i + 1, user: 'taylor' }));
const MASK = PAYLOADS.length - 1;
const TARGET_CALL_MS = 2;
const QUICK = process.env['BENCH_QUICK'] === '1';
const ROUNDS = Number(process.env['ROUNDS'] ?? (QUICK ? 1 : 3));
const TIME_MS = Number(process.env['TIME_MS'] ?? (QUICK ? 60 : 200));
const WARMUP_MS = QUICK ? 30 : 100;
const BATCH_OPS = 100;

type Mode = 'off' | 'on';

const sink = { sum: 0 };
const handler = (payload: unknown): void => {
  sink.sum += (payload as { id: number }).id;
};

interface Subject {
  readonly name: string;
  readonly run: (count: number) => void | Promise<void>;
  readonly async?: boolean;
}

/** The subjects of a mode; the SDK is registered before anything is made, as docs/telemetry.md says. */
function subjects(mode: Mode): { subjects: Subject[]; close: () => Promise<void> } {
  if (mode === 'on') {
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    propagation.setGlobalPropagator(new W3CTraceContextPropagator());
    trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new NoopSpanProcessor()] }));
    metrics.setGlobalMeterProvider(new MeterProvider());
  }
  const bus = new DefaultEventBus({ nodeID: 'bench', logger: silentLogger });
  bus.on(NAME, handler);
  const listener: EntryListener = { add: () => undefined, update: () => undefined, delete: () => undefined };
  const handlers = new HandlerRegistry();
  handlers.registerListener('bench.*', listener);
  const registry = new Registry({ handlers, logger: silentLogger });
  let round = 0;
  const list: Subject[] = [
    {
      name: `publish/${mode}`,
      run: (count) => {
        for (let i = 0; i < count; i++) bus.emit(NAME, PAYLOADS[i & MASK]);
      },
    },
    {
      name: `apply/${mode}`,
      async: true,
      run: async (count) => {
        for (let i = 0; i < count; i++) {
          const op = round++ % 2 === 0 ? 'create' : 'delete';
          await registry.apply(
            Array.from({ length: BATCH_OPS }, (_, n) =>
              op === 'create'
                ? { op, entry: { id: `bench:e${n}`, kind: 'bench.thing', data: { n } } }
                : { op, entry: { id: `bench:e${n}` } },
            ),
          );
        }
      },
    },
  ];
  if (mode === 'off') {
    const ee = new EventEmitter();
    ee.on(NAME, handler);
    list.push({
      name: 'publish/EventEmitter',
      run: (count) => {
        for (let i = 0; i < count; i++) ee.emit(NAME, PAYLOADS[i & MASK]);
      },
    });
  }
  return { subjects: list, close: () => bus.stop() };
}

/** Child mode: measure one mode, print `{ subject: per CPU-second }` as JSON. */
async function child(mode: Mode): Promise<void> {
  const { subjects: built, close } = subjects(mode);
  const batches = new Map<string, number>();
  for (const subject of built) {
    // An apply is asynchronous: it is timed per batch (one apply of BATCH_OPS entries per call).
    batches.set(
      subject.name,
      subject.async === true ? 1 : calibrateCpu((count) => void subject.run(count), TARGET_CALL_MS),
    );
  }
  const rates = await interleavedRates(built, batches, { rounds: ROUNDS, timeMs: TIME_MS, warmupMs: WARMUP_MS });
  await close();
  // The sink is read: no handler's work can be dropped.
  if (sink.sum === 0) throw new Error('no handler ran');
  process.stdout.write(JSON.stringify(rates));
}

function measure(mode: Mode): Record<string, number> {
  const output = execFileSync(process.execPath, [fileURLToPath(import.meta.url), '--child', mode], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return JSON.parse(output) as Record<string, number>;
}

async function main(): Promise<void> {
  const started = process.hrtime.bigint();
  const off = measure('off');
  const on = measure('on');
  const publish = 'publish, 1 subscriber';
  const apply = `registry apply, ${BATCH_OPS} entries`;
  const rows: BenchRow[] = [
    { name: publish, subject: 'kindling', value: off['publish/off'] as number, unit: 'events/s', better: 'higher' },
    {
      name: publish,
      subject: 'EventEmitter',
      value: off['publish/EventEmitter'] as number,
      unit: 'events/s',
      better: 'higher',
      target: '≥ 0.9×',
      met: (off['publish/off'] as number) / (off['publish/EventEmitter'] as number) >= 0.9,
    },
    {
      name: publish,
      subject: 'kindling, SDK registered',
      value: on['publish/on'] as number,
      unit: 'events/s',
      better: 'higher',
      detail: 'a producer and a consumer span per event',
    },
    { name: apply, subject: 'kindling', value: off['apply/off'] as number, unit: 'batches/s', better: 'higher' },
    {
      name: apply,
      subject: 'kindling, SDK registered',
      value: on['apply/on'] as number,
      unit: 'batches/s',
      better: 'higher',
      detail: `an apply span and ${BATCH_OPS} listener spans per batch`,
    },
  ];
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  report({
    case: 'OpenTelemetry: no SDK registered (kindling) beside an SDK recording every span (per CPU-second)',
    rows: compare(rows),
    notes: [
      'kindling = @opentelemetry/api installed, no SDK registered: the default, where each hot path checks one undefined field',
      'SDK registered = BasicTracerProvider with a span processor that drops every span, a MeterProvider without a reader',
      'each publish passes the next of 1,024 payloads; the handler adds its id to a sink read after the runs (the same for EventEmitter)',
      `time = process CPU time; each mode in its own process; median of ${ROUNDS} rounds × ${TIME_MS} ms (+${WARMUP_MS} ms warm-up) of tinybench's median sample`,
      ...(QUICK ? ['BENCH_QUICK=1: short rounds, for development only'] : []),
      `case took ${seconds.toFixed(0)} s`,
    ],
  });
}

if (process.argv[2] === '--child') await child(process.argv[3] as Mode);
else await main();
