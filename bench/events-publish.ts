// Synchronous publish throughput of the event bus beside Node's EventEmitter, mitt, EventEmitter2
// (wildcards on) and Moleculer's local emit (logger off), at 1, 10 and 100 subscribers of the
// published name, without and with 1,000 unrelated wildcard subscriptions registered.
//
// Method: every subscriber runs the same one-line handler; each timed call publishes a batch of
// events calibrated to about 2 ms, so that the timer's own cost does not flatten the differences.
// Time is the process's CPU time (process.cpuUsage), not wall time, so that other work on the machine
// does not leak into the figures (GC and JIT threads do count). Each configuration runs in a fresh
// process (so one configuration's JIT state cannot favour or penalise another), with the peers and
// `kindling emit` side by side in that process, interleaved over ROUNDS rounds; the figure is the
// median over rounds of tinybench's median sample. The kindling service and context variants share
// the bus's code, so they run in their own process. A last table publishes to 8 names in rotation,
// to show that the figures do not depend on publishing one name over and over.
//
// Build and run (the script imports the compiled package from dist/):
//   npm run build
//   echo '{"extends":"'$PWD'/bench/tsconfig.json","compilerOptions":{"typeRoots":["'$PWD'/node_modules/@types"]},"include":["'$PWD'/bench/events-*.ts"]}' > /tmp/events-bench.json
//   npx tsc -p /tmp/events-bench.json && node dist-bench/events-publish.js
import { execFileSync } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { fileURLToPath } from 'node:url';
import eventemitter2 from 'eventemitter2';
import mittModule from 'mitt';
import moleculer from 'moleculer';
import { Bench } from 'tinybench';
import { DefaultEventBus, silentLogger } from '../dist/src/index.js';

const { EventEmitter2 } = eventemitter2;
// mitt's types describe a CommonJS module under NodeNext, while Node loads its ESM build.
const mitt = ((mittModule as { default?: unknown }).default ?? mittModule) as typeof mittModule.default;

const NAME = 'bench.event';
const ROTATING = Array.from({ length: 8 }, (_, i) => `bench.event${i}`);
const PAYLOAD = { id: 1, user: 'taylor' };
/** CPU time of one timed call, in ms (the batch of events per call is calibrated to it). */
const TARGET_CALL_MS = 2;
const ROUNDS = Number(process.env['ROUNDS'] ?? 5);
const TIME_MS = Number(process.env['TIME_MS'] ?? 200);
const SUBSCRIBERS = [1, 10, 100] as const;
const UNRELATED = 1000;

/**
 * 1,000 wildcard patterns that never match the published names, in forms all three wildcard-capable
 * libraries understand (`*` one segment, `**` any depth): 700 with a literal first segment, 300
 * starting with a wildcard.
 */
function unrelatedPatterns(): string[] {
  const forms = [
    (i: number) => `ns${i}.*`,
    (i: number) => `ns${i}.*`,
    (i: number) => `ns${i}.*`,
    (i: number) => `ns${i}.**`,
    (i: number) => `ns${i}.**`,
    (i: number) => `ns${i}.*.changed`,
    (i: number) => `ns${i}.*.changed`,
    (i: number) => `*.ns${i}`,
    (i: number) => `**.ns${i}.done`,
    (i: number) => `*.ns${i}.*`,
  ];
  return Array.from({ length: UNRELATED }, (_, i) => (forms[i % forms.length] as (i: number) => string)(i));
}

let counter = 0;
// One handler body for every library: the work a subscriber does is the same everywhere.
const handler = (payload: unknown): void => {
  if (payload !== undefined) counter++;
};
const noop = (): void => undefined;

interface Subject {
  readonly name: string;
  /** Publishes `count` events, cycling through the configured names. */
  readonly run: (count: number) => void;
  readonly close?: () => Promise<void>;
}

interface Config {
  readonly subscribers: number;
  readonly unrelated: boolean;
  /** The names published, in rotation (one name, or ROTATING). */
  readonly names: readonly string[];
}

function publisher(names: readonly string[], emit: (name: string) => void): (count: number) => void {
  if (names.length === 1) {
    const name = names[0] as string;
    return (count) => {
      for (let i = 0; i < count; i++) emit(name);
    };
  }
  return (count) => {
    for (let i = 0; i < count; i++) emit(names[i & 7] as string);
  };
}

/** CPU time of this process in ms: unlike wall time, it does not count while other processes run. */
function cpuNow(): number {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1000;
}

/** How many events make one timed call last about TARGET_CALL_MS of CPU. */
function calibrate(subject: Subject): number {
  let count = 1;
  for (;;) {
    const start = cpuNow();
    subject.run(count);
    const elapsed = cpuNow() - start;
    if (elapsed >= 20 || count >= 1 << 24) return Math.max(1, Math.round((count * TARGET_CALL_MS) / Math.max(elapsed, 1e-3)));
    count *= 4;
  }
}

type Factory = (config: Config) => Promise<Subject>;

const factories: Record<string, Factory> = {
  EventEmitter: async ({ subscribers, unrelated, names }) => {
    const ee = new EventEmitter();
    ee.setMaxListeners(0);
    // EventEmitter has no wildcards: its 1,000 unrelated subscriptions are exact names.
    if (unrelated) for (let i = 0; i < UNRELATED; i++) ee.on(`ns${i}.event`, noop);
    for (const name of names) for (let i = 0; i < subscribers; i++) ee.on(name, handler);
    return { name: 'EventEmitter', run: publisher(names, (name) => ee.emit(name, PAYLOAD)) };
  },
  mitt: async ({ subscribers, unrelated, names }) => {
    const emitter = mitt<Record<string, unknown>>();
    if (unrelated) for (let i = 0; i < UNRELATED; i++) emitter.on(`ns${i}.event`, noop);
    for (const name of names) for (let i = 0; i < subscribers; i++) emitter.on(name, handler);
    return { name: 'mitt', run: publisher(names, (name) => emitter.emit(name, PAYLOAD)) };
  },
  'EventEmitter2 (wildcard)': async ({ subscribers, unrelated, names }) => {
    const ee2 = new EventEmitter2({ wildcard: true, delimiter: '.', maxListeners: 0 });
    if (unrelated) for (const pattern of unrelatedPatterns()) ee2.on(pattern, noop);
    for (const name of names) for (let i = 0; i < subscribers; i++) ee2.on(name, handler);
    return { name: 'EventEmitter2 (wildcard)', run: publisher(names, (name) => ee2.emit(name, PAYLOAD)) };
  },
  'Moleculer emit': async ({ subscribers, unrelated, names }) => {
    const broker = new moleculer.ServiceBroker({ logger: false, nodeID: 'bench', metrics: false, tracing: false });
    for (let i = 0; i < subscribers; i++) {
      broker.createService({ name: `svc${i}`, events: Object.fromEntries(names.map((name) => [name, handler])) });
    }
    if (unrelated) broker.createService({ name: 'unrelated', events: Object.fromEntries(unrelatedPatterns().map((p) => [p, noop])) });
    await broker.start();
    // Moleculer calls local handlers synchronously inside emit; its returned promise is dropped.
    return { name: 'Moleculer emit', run: publisher(names, (name) => void broker.emit(name, PAYLOAD)), close: () => broker.stop() };
  },
  'kindling emit': async ({ subscribers, unrelated, names }) => {
    const bus = new DefaultEventBus({ nodeID: 'bench', logger: silentLogger });
    if (unrelated) for (const pattern of unrelatedPatterns()) bus.on(pattern, noop);
    for (const name of names) for (let i = 0; i < subscribers; i++) bus.on(name, handler);
    return { name: 'kindling emit', run: publisher(names, (name) => bus.emit(name, PAYLOAD)), close: () => bus.stop() };
  },
  'kindling emit (services)': async ({ subscribers, unrelated, names }) => {
    const bus = new DefaultEventBus({ nodeID: 'bench', logger: silentLogger });
    if (unrelated) bus.createService({ name: 'unrelated', events: Object.fromEntries(unrelatedPatterns().map((p) => [p, noop])) });
    for (let i = 0; i < subscribers; i++) bus.createService({ name: `svc${i}`, events: Object.fromEntries(names.map((name) => [name, handler])) });
    return { name: 'kindling emit (services)', run: publisher(names, (name) => bus.emit(name, PAYLOAD)), close: () => bus.stop() };
  },
  'kindling emit (ctx handlers)': async ({ subscribers, unrelated, names }) => {
    const bus = new DefaultEventBus({ nodeID: 'bench', logger: silentLogger });
    if (unrelated) bus.createService({ name: 'unrelated', events: Object.fromEntries(unrelatedPatterns().map((p) => [p, noop])) });
    const ctxHandler = { context: true, handler: (ctx: { params: unknown }) => handler(ctx.params) };
    for (let i = 0; i < subscribers; i++) bus.createService({ name: `svc${i}`, events: Object.fromEntries(names.map((name) => [name, ctxHandler])) });
    return { name: 'kindling emit (ctx handlers)', run: publisher(names, (name) => bus.emit(name, PAYLOAD)), close: () => bus.stop() };
  },
};

const GROUPS: Record<string, readonly string[]> = {
  side: ['EventEmitter', 'mitt', 'EventEmitter2 (wildcard)', 'Moleculer emit', 'kindling emit'],
  faces: ['kindling emit (services)', 'kindling emit (ctx handlers)'],
  rotating: ['EventEmitter', 'kindling emit'],
};

/** Child mode: measure one group in one configuration, print `{ subject: events/s }` as JSON. */
async function child(group: string, config: Config): Promise<void> {
  const built: Subject[] = [];
  for (const name of GROUPS[group] ?? []) built.push(await (factories[name] as Factory)(config));
  const batches = new Map(built.map((subject) => [subject.name, calibrate(subject)]));
  const samples = new Map<string, number[]>();
  for (let round = 0; round < ROUNDS; round++) {
    const bench = new Bench({ time: TIME_MS, warmupTime: 100, throws: true, now: cpuNow });
    for (const subject of built) {
      const batch = batches.get(subject.name) as number;
      bench.add(subject.name, () => subject.run(batch));
    }
    await bench.run();
    for (const task of bench.tasks) {
      const result = task.result;
      if (result.state !== 'completed') throw new Error(`${task.name} did not complete: ${result.state}`);
      samples.set(task.name, [...(samples.get(task.name) ?? []), ((batches.get(task.name) as number) * 1000) / result.latency.p50]);
    }
  }
  for (const subject of built) await subject.close?.();
  const medians: Record<string, number> = {};
  for (const [name, values] of samples) medians[name] = [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;
  if (counter === 0) throw new Error('no handler ran');
  process.stdout.write(JSON.stringify(medians));
}

function measure(group: string, config: Config): Record<string, number> {
  const output = execFileSync(process.execPath, [fileURLToPath(import.meta.url), '--child', group, JSON.stringify(config)], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return JSON.parse(output) as Record<string, number>;
}

function millions(value: number | undefined): string {
  return value === undefined ? '-' : `${(value / 1e6).toFixed(2)}`;
}

function table(header: readonly string[], rows: readonly (readonly string[])[]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] as string).length)));
  const line = (cells: readonly string[]): string => `| ${cells.map((c, i) => c.padEnd(widths[i] as number)).join(' | ')} |`;
  console.log(line(header));
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const row of rows) console.log(line(row));
}

function verdict(ratio: number, target: number): string {
  return `${ratio.toFixed(2)}× (target ≥ ${target}×: ${ratio >= target ? 'met' : 'MISSED'})`;
}

async function main(): Promise<void> {
  const results = new Map<string, Record<string, number>>();
  for (const unrelated of [false, true]) {
    for (const subscribers of SUBSCRIBERS) {
      const config: Config = { subscribers, unrelated, names: [NAME] };
      results.set(`${subscribers}/${unrelated}`, { ...measure('side', config), ...measure('faces', config) });
    }
  }
  const rotating = new Map<number, Record<string, number>>();
  for (const subscribers of SUBSCRIBERS) rotating.set(subscribers, measure('rotating', { subscribers, unrelated: true, names: ROTATING }));

  console.log(
    `\nSynchronous publish, millions of events per CPU-second (median of ${ROUNDS} rounds × ${TIME_MS} ms; each timed call ≈ ${TARGET_CALL_MS} ms of CPU)`,
  );
  console.log(`node ${process.version}, ${process.platform}/${process.arch}; "+1k" = with 1,000 unrelated wildcard subscriptions\n`);
  const subjects = [...GROUPS['side'] as string[], ...GROUPS['faces'] as string[]];
  table(
    ['subject', ...SUBSCRIBERS.flatMap((s) => [`${s} sub`, `${s} sub +1k`])],
    subjects.map((name) => [name, ...SUBSCRIBERS.flatMap((s) => [millions(results.get(`${s}/false`)?.[name]), millions(results.get(`${s}/true`)?.[name])])]),
  );

  console.log('\n8 names in rotation, +1k, millions of events per CPU-second\n');
  table(
    ['subject', ...SUBSCRIBERS.map((s) => `${s} sub`)],
    (GROUPS['rotating'] as string[]).map((name) => [name, ...SUBSCRIBERS.map((s) => millions(rotating.get(s)?.[name]))]),
  );

  console.log('\nRatios of `kindling emit` (bus.on listeners):');
  for (const s of SUBSCRIBERS) {
    const plain = results.get(`${s}/false`) as Record<string, number>;
    const loaded = results.get(`${s}/true`) as Record<string, number>;
    const rot = rotating.get(s) as Record<string, number>;
    const ours = plain['kindling emit'] as number;
    const oursLoaded = loaded['kindling emit'] as number;
    console.log(`  ${s} subscriber(s):`);
    console.log(`    vs EventEmitter                 ${verdict(ours / (plain['EventEmitter'] as number), 0.9)}`);
    console.log(`    vs EventEmitter, +1k            ${verdict(oursLoaded / (loaded['EventEmitter'] as number), 0.9)}`);
    console.log(`    vs EventEmitter, 8 names, +1k   ${verdict((rot['kindling emit'] as number) / (rot['EventEmitter'] as number), 0.9)}`);
    console.log(`    vs mitt                         ${(ours / (plain['mitt'] as number)).toFixed(2)}×`);
    console.log(`    +1k unrelated vs without        ${verdict(oursLoaded / ours, 0.9)}`);
    console.log(`    vs EventEmitter2, +1k           ${verdict(oursLoaded / (loaded['EventEmitter2 (wildcard)'] as number), 10)}`);
    console.log(`    vs Moleculer emit, +1k          ${verdict(oursLoaded / (loaded['Moleculer emit'] as number), 100)}`);
    console.log(
      `    services / ctx handlers vs Moleculer, +1k: ${((loaded['kindling emit (services)'] as number) / (loaded['Moleculer emit'] as number)).toFixed(0)}× / ` +
        `${((loaded['kindling emit (ctx handlers)'] as number) / (loaded['Moleculer emit'] as number)).toFixed(0)}×`,
    );
  }
}

if (process.argv[2] === '--child') await child(process.argv[3] as string, JSON.parse(process.argv[4] as string) as Config);
else await main();
