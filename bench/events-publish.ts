// Synchronous publish throughput of the event bus beside Node's EventEmitter, mitt, EventEmitter2
// (wildcards on) and Moleculer's local emit (logger off), at 1, 10 and 100 subscribers of the
// published name, without and with 1,000 unrelated wildcard subscriptions registered. Every
// subscriber runs the same one-line handler; each timed call publishes BATCH events so that the
// timer's own cost does not flatten the differences. Prints one table with ratios and targets.
//
// Build and run (the script imports the compiled package from dist/):
//   npm run build
//   echo '{"extends":"'$PWD'/bench/tsconfig.json","include":["'$PWD'/bench/events-*.ts"]}' > /tmp/events-bench.json
//   npx tsc -p /tmp/events-bench.json && node dist-bench/events-publish.js
import { EventEmitter } from 'node:events';
import eventemitter2 from 'eventemitter2';
import mittModule from 'mitt';
import moleculer from 'moleculer';
import { Bench } from 'tinybench';
import { DefaultEventBus, silentLogger } from '../dist/src/index.js';

// mitt's types describe a CommonJS module under NodeNext, while Node loads its ESM build.
const mitt = ((mittModule as { default?: unknown }).default ?? mittModule) as typeof mittModule.default;

const { EventEmitter2 } = eventemitter2;

const NAME = 'bench.event';
const PAYLOAD = { id: 1, user: 'taylor' };
const BATCH = 1000;
const ROUNDS = Number(process.env['ROUNDS'] ?? 3);
const TIME_MS = Number(process.env['TIME_MS'] ?? 300);
const SUBSCRIBERS = [1, 10, 100] as const;
const UNRELATED = 1000;

/**
 * 1,000 wildcard patterns that never match `bench.event`, in forms all three wildcard-capable
 * libraries understand (`*` one segment, `**` any depth): 700 with a literal first segment, 300
 * starting with a wildcard.
 */
function unrelatedPatterns(): string[] {
  const out: string[] = [];
  for (let i = 0; i < UNRELATED; i++) {
    switch (i % 10) {
      case 0:
      case 1:
      case 2:
        out.push(`ns${i}.*`);
        break;
      case 3:
      case 4:
        out.push(`ns${i}.**`);
        break;
      case 5:
      case 6:
        out.push(`ns${i}.*.changed`);
        break;
      case 7:
        out.push(`*.ns${i}`);
        break;
      case 8:
        out.push(`**.ns${i}.done`);
        break;
      default:
        out.push(`*.ns${i}.*`);
    }
  }
  return out;
}

let counter = 0;
// One handler body for every library: the work a subscriber does is the same everywhere.
const handler = (payload: unknown): void => {
  if (payload !== undefined) counter++;
};
const noop = (): void => undefined;

interface Subject {
  readonly name: string;
  /** Publishes BATCH events. */
  readonly run: () => void;
  readonly close?: () => Promise<void>;
}

type Factory = (subscribers: number, unrelated: boolean) => Promise<Subject>;

const subjects: Record<string, Factory> = {
  EventEmitter: async (subscribers, unrelated) => {
    const ee = new EventEmitter();
    ee.setMaxListeners(0);
    // EventEmitter has no wildcards: its 1,000 unrelated subscriptions are exact names.
    if (unrelated) for (let i = 0; i < UNRELATED; i++) ee.on(`ns${i}.event`, noop);
    for (let i = 0; i < subscribers; i++) ee.on(NAME, handler);
    return {
      name: 'EventEmitter',
      run: () => {
        for (let i = 0; i < BATCH; i++) ee.emit(NAME, PAYLOAD);
      },
    };
  },
  mitt: async (subscribers, unrelated) => {
    const emitter = mitt<Record<string, unknown>>();
    if (unrelated) for (let i = 0; i < UNRELATED; i++) emitter.on(`ns${i}.event`, noop);
    for (let i = 0; i < subscribers; i++) emitter.on(NAME, handler);
    return {
      name: 'mitt',
      run: () => {
        for (let i = 0; i < BATCH; i++) emitter.emit(NAME, PAYLOAD);
      },
    };
  },
  'EventEmitter2 (wildcard)': async (subscribers, unrelated) => {
    const ee2 = new EventEmitter2({ wildcard: true, delimiter: '.', maxListeners: 0 });
    if (unrelated) for (const pattern of unrelatedPatterns()) ee2.on(pattern, noop);
    for (let i = 0; i < subscribers; i++) ee2.on(NAME, handler);
    return {
      name: 'EventEmitter2 (wildcard)',
      run: () => {
        for (let i = 0; i < BATCH; i++) ee2.emit(NAME, PAYLOAD);
      },
    };
  },
  'Moleculer emit': async (subscribers, unrelated) => {
    const broker = new moleculer.ServiceBroker({ logger: false, nodeID: 'bench', metrics: false, tracing: false });
    for (let i = 0; i < subscribers; i++) broker.createService({ name: `svc${i}`, events: { [NAME]: handler } });
    if (unrelated) {
      broker.createService({ name: 'unrelated', events: Object.fromEntries(unrelatedPatterns().map((p) => [p, noop])) });
    }
    await broker.start();
    return {
      name: 'Moleculer emit',
      // Moleculer calls local handlers synchronously inside emit; its returned promise is dropped.
      run: () => {
        for (let i = 0; i < BATCH; i++) void broker.emit(NAME, PAYLOAD);
      },
      close: () => broker.stop(),
    };
  },
  'kindling emit': async (subscribers, unrelated) => {
    const bus = new DefaultEventBus({ nodeID: 'bench', logger: silentLogger });
    if (unrelated) for (const pattern of unrelatedPatterns()) bus.on(pattern, noop);
    for (let i = 0; i < subscribers; i++) bus.on(NAME, handler);
    return {
      name: 'kindling emit',
      run: () => {
        for (let i = 0; i < BATCH; i++) bus.emit(NAME, PAYLOAD);
      },
      close: () => bus.stop(),
    };
  },
  'kindling emit (services)': async (subscribers, unrelated) => {
    const bus = new DefaultEventBus({ nodeID: 'bench', logger: silentLogger });
    if (unrelated) bus.createService({ name: 'unrelated', events: Object.fromEntries(unrelatedPatterns().map((p) => [p, noop])) });
    for (let i = 0; i < subscribers; i++) bus.createService({ name: `svc${i}`, events: { [NAME]: handler } });
    return {
      name: 'kindling emit (services)',
      run: () => {
        for (let i = 0; i < BATCH; i++) bus.emit(NAME, PAYLOAD);
      },
      close: () => bus.stop(),
    };
  },
  'kindling emit (ctx handlers)': async (subscribers, unrelated) => {
    const bus = new DefaultEventBus({ nodeID: 'bench', logger: silentLogger });
    if (unrelated) bus.createService({ name: 'unrelated', events: Object.fromEntries(unrelatedPatterns().map((p) => [p, noop])) });
    for (let i = 0; i < subscribers; i++) {
      bus.createService({ name: `svc${i}`, events: { [NAME]: { context: true, handler: (ctx: { params: unknown }) => handler(ctx.params) } } });
    }
    return {
      name: 'kindling emit (ctx handlers)',
      run: () => {
        for (let i = 0; i < BATCH; i++) bus.emit(NAME, PAYLOAD);
      },
      close: () => bus.stop(),
    };
  },
};

/** Events per second of each subject, one configuration, median over ROUNDS interleaved rounds. */
async function measure(subscribers: number, unrelated: boolean): Promise<Map<string, number>> {
  const built: Subject[] = [];
  for (const factory of Object.values(subjects)) built.push(await factory(subscribers, unrelated));
  const samples = new Map<string, number[]>();
  for (let round = 0; round < ROUNDS; round++) {
    const bench = new Bench({ time: TIME_MS, warmupTime: 100, throws: true });
    for (const subject of built) bench.add(subject.name, subject.run);
    await bench.run();
    for (const task of bench.tasks) {
      const result = task.result;
      if (result.state !== 'completed') throw new Error(`${task.name} did not complete: ${result.state}`);
      const perSecond = (BATCH * 1000) / result.latency.p50;
      samples.set(task.name, [...(samples.get(task.name) ?? []), perSecond]);
    }
  }
  for (const subject of built) await subject.close?.();
  const medians = new Map<string, number>();
  for (const [name, values] of samples) medians.set(name, [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number);
  return medians;
}

function millions(value: number): string {
  return `${(value / 1e6).toFixed(2)} M/s`;
}

function verdict(ratio: number, target: number): string {
  return `${ratio.toFixed(2)}× (target ≥ ${target}×: ${ratio >= target ? 'met' : 'MISSED'})`;
}

const results = new Map<string, Map<string, number>>();
for (const unrelated of [false, true]) {
  for (const subscribers of SUBSCRIBERS) {
    results.set(`${subscribers}/${unrelated}`, await measure(subscribers, unrelated));
  }
}

const names = Object.keys(subjects);
console.log(`\nSynchronous publish, events/s (median of ${ROUNDS} rounds × ${TIME_MS} ms, ${BATCH} events per timed call; handlers ran ${counter} times)`);
console.log(`node ${process.version}, ${process.platform}/${process.arch}\n`);
const header = ['subject', ...SUBSCRIBERS.flatMap((s) => [`${s} sub`, `${s} sub +1k`])];
const rows = names.map((name) => [
  name,
  ...SUBSCRIBERS.flatMap((s) => [millions(results.get(`${s}/false`)?.get(name) ?? 0), millions(results.get(`${s}/true`)?.get(name) ?? 0)]),
]);
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] as string).length)));
const line = (cells: readonly string[]): string => `| ${cells.map((c, i) => c.padEnd(widths[i] as number)).join(' | ')} |`;
console.log(line(header));
console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
for (const row of rows) console.log(line(row));

console.log('\nRatios of `kindling emit` (bus.on listeners):');
for (const s of SUBSCRIBERS) {
  const plain = results.get(`${s}/false`) as Map<string, number>;
  const loaded = results.get(`${s}/true`) as Map<string, number>;
  const ours = plain.get('kindling emit') as number;
  const oursLoaded = loaded.get('kindling emit') as number;
  console.log(`  ${s} subscriber(s):`);
  console.log(`    vs EventEmitter                 ${verdict(ours / (plain.get('EventEmitter') as number), 0.9)}`);
  console.log(`    vs mitt                         ${(ours / (plain.get('mitt') as number)).toFixed(2)}×`);
  console.log(`    +1k unrelated vs without        ${verdict(oursLoaded / ours, 0.9)}`);
  console.log(`    vs EventEmitter2, +1k           ${verdict(oursLoaded / (loaded.get('EventEmitter2 (wildcard)') as number), 10)}`);
  console.log(`    vs Moleculer emit, +1k          ${verdict(oursLoaded / (loaded.get('Moleculer emit') as number), 100)}`);
  console.log(
    `    services / ctx handlers vs Moleculer, +1k: ${((loaded.get('kindling emit (services)') as number) / (loaded.get('Moleculer emit') as number)).toFixed(1)}× / ` +
      `${((loaded.get('kindling emit (ctx handlers)') as number) / (loaded.get('Moleculer emit') as number)).toFixed(1)}×`,
  );
}
