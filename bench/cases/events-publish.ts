// Synchronous publish throughput of the event bus beside Node's EventEmitter, mitt, EventEmitter2
// (wildcards on) and Moleculer's local emit (logger off), at 1, 10 and 100 subscribers of the
// published name, without and with 1,000 unrelated wildcard subscriptions registered ("+1k").
//
// Method: every subscriber runs the same one-line handler; each timed call publishes a batch of
// events calibrated to about 2 ms, so that the timer's own cost does not flatten the differences.
// Time is the process's CPU time (process.cpuUsage), not wall time, so that other work on the machine
// does not leak into the figures (GC and JIT threads do count). Each configuration runs in a fresh
// child process of this script (so one configuration's JIT state cannot favour or penalise another),
// with the peers and `bus.on` listeners side by side in that process, interleaved over ROUNDS rounds;
// the figure is the median over rounds of tinybench's median sample. The kindling service and context
// faces share the bus's code, so they run in their own process. A last configuration publishes to 8
// names in rotation, to show that the figures do not depend on publishing one name over and over.
//
// ROUNDS is 3 (the standalone script used 5; ROUNDS=5 in the environment restores it) to keep the
// case near a minute and a half of wall time on a 2-core machine: 15 child processes in all.
//
// The parent (run by bench/run.ts) only spawns the children and reports their figures.
import { execFileSync } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { fileURLToPath } from 'node:url';
import eventemitter2 from 'eventemitter2';
import mittModule from 'mitt';
import moleculer from 'moleculer';
import { Bench } from 'tinybench';
import 'reflect-metadata';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { CqrsModule, EventBus as NestEventBus, EventsHandler } from '@nestjs/cqrs';
import { silentLogger } from 'kindling';
import { DefaultEventBus } from 'kindling/events';
import { type BenchRow, calibrateCpu, compare, cpuNowMs, report } from '../harness.js';

const { EventEmitter2 } = eventemitter2;
// mitt's types describe a CommonJS module under NodeNext, while Node loads its ESM build.
const mitt = ((mittModule as { default?: unknown }).default ?? mittModule) as typeof mittModule.default;

const NAME = 'bench.event';
const ROTATING = Array.from({ length: 8 }, (_, i) => `bench.event${i}`);
const PAYLOAD = { id: 1, user: 'taylor' };
/** CPU time of one timed call, in ms (the batch of events per call is calibrated to it). */
const TARGET_CALL_MS = 2;
const ROUNDS = Number(process.env['ROUNDS'] ?? 3);
const TIME_MS = Number(process.env['TIME_MS'] ?? 200);
const WARMUP_MS = 100;
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

const calibrate = (subject: Subject): number => calibrateCpu(subject.run, TARGET_CALL_MS);

type Factory = (config: Config) => Promise<Subject>;

// Subject names as the report shows them: `kindling` rows are the bus.on listeners; the service and
// context faces are separate kindling rows.
const EE = 'EventEmitter';
const MITT = 'mitt';
const EE2 = 'EventEmitter2 (wildcard)';
const MOLECULER = 'Moleculer emit';
const NEST = '@nestjs/cqrs EventBus';
const KINDLING = 'kindling';
const SERVICES = 'kindling (services)';
const CTX = 'kindling (ctx handlers)';

const factories: Record<string, Factory> = {
  [EE]: async ({ subscribers, unrelated, names }) => {
    const ee = new EventEmitter();
    ee.setMaxListeners(0);
    // EventEmitter has no wildcards: its 1,000 unrelated subscriptions are exact names.
    if (unrelated) for (let i = 0; i < UNRELATED; i++) ee.on(`ns${i}.event`, noop);
    for (const name of names) for (let i = 0; i < subscribers; i++) ee.on(name, handler);
    return { name: EE, run: publisher(names, (name) => ee.emit(name, PAYLOAD)) };
  },
  [MITT]: async ({ subscribers, unrelated, names }) => {
    const emitter = mitt<Record<string, unknown>>();
    if (unrelated) for (let i = 0; i < UNRELATED; i++) emitter.on(`ns${i}.event`, noop);
    for (const name of names) for (let i = 0; i < subscribers; i++) emitter.on(name, handler);
    return { name: MITT, run: publisher(names, (name) => emitter.emit(name, PAYLOAD)) };
  },
  [EE2]: async ({ subscribers, unrelated, names }) => {
    const ee2 = new EventEmitter2({ wildcard: true, delimiter: '.', maxListeners: 0 });
    if (unrelated) for (const pattern of unrelatedPatterns()) ee2.on(pattern, noop);
    for (const name of names) for (let i = 0; i < subscribers; i++) ee2.on(name, handler);
    return { name: EE2, run: publisher(names, (name) => ee2.emit(name, PAYLOAD)) };
  },
  [MOLECULER]: async ({ subscribers, unrelated, names }) => {
    const broker = new moleculer.ServiceBroker({ logger: false, nodeID: 'bench', metrics: false, tracing: false });
    for (let i = 0; i < subscribers; i++) {
      broker.createService({ name: `svc${i}`, events: Object.fromEntries(names.map((name) => [name, handler])) });
    }
    if (unrelated) broker.createService({ name: 'unrelated', events: Object.fromEntries(unrelatedPatterns().map((p) => [p, noop])) });
    await broker.start();
    // Moleculer calls local handlers synchronously inside emit; its returned promise is dropped.
    return { name: MOLECULER, run: publisher(names, (name) => void broker.emit(name, PAYLOAD)), close: () => broker.stop() };
  },
  [NEST]: async ({ subscribers, unrelated, names }) => {
    // As Nest's docs have it: CqrsModule in an application context, one @EventsHandler class per
    // subscriber, one event class per name. Nest has no wildcards: the 1,000 unrelated
    // subscriptions are handlers of 1,000 other event classes.
    const eventClass = (name: string): new (payload: unknown) => { payload: unknown } => {
      const Event = class {
        constructor(readonly payload: unknown) {}
      };
      Object.defineProperty(Event, 'name', { value: `Event_${name.replace(/\W/g, '_')}` });
      return Event;
    };
    const handlerClass = (Event: new (payload: unknown) => unknown, handle: (payload: unknown) => void): new () => unknown => {
      const Handler = class {
        handle(event: { payload: unknown }): void {
          handle(event.payload);
        }
      };
      EventsHandler(Event)(Handler);
      return Handler;
    };
    const events = new Map(names.map((name) => [name, eventClass(name)]));
    const providers: (new () => unknown)[] = [];
    for (const Event of events.values()) for (let i = 0; i < subscribers; i++) providers.push(handlerClass(Event, handler));
    if (unrelated) for (let i = 0; i < UNRELATED; i++) providers.push(handlerClass(eventClass(`ns${i}.event`), noop));
    class BenchModule {}
    Module({ imports: [CqrsModule.forRoot()], providers })(BenchModule);
    const app = await NestFactory.createApplicationContext(BenchModule, { logger: false });
    await app.init();
    const bus = app.get(NestEventBus);
    const instances = new Map([...events].map(([name, Event]) => [name, new Event(PAYLOAD)]));
    return { name: NEST, run: publisher(names, (name) => void bus.publish(instances.get(name) as object)), close: () => app.close() };
  },
  [KINDLING]: async ({ subscribers, unrelated, names }) => {
    const bus = new DefaultEventBus({ nodeID: 'bench', logger: silentLogger });
    if (unrelated) for (const pattern of unrelatedPatterns()) bus.on(pattern, noop);
    for (const name of names) for (let i = 0; i < subscribers; i++) bus.on(name, handler);
    return { name: KINDLING, run: publisher(names, (name) => bus.emit(name, PAYLOAD)), close: () => bus.stop() };
  },
  [SERVICES]: async ({ subscribers, unrelated, names }) => {
    const bus = new DefaultEventBus({ nodeID: 'bench', logger: silentLogger });
    if (unrelated) bus.createService({ name: 'unrelated', events: Object.fromEntries(unrelatedPatterns().map((p) => [p, noop])) });
    for (let i = 0; i < subscribers; i++) bus.createService({ name: `svc${i}`, events: Object.fromEntries(names.map((name) => [name, handler])) });
    return { name: SERVICES, run: publisher(names, (name) => bus.emit(name, PAYLOAD)), close: () => bus.stop() };
  },
  [CTX]: async ({ subscribers, unrelated, names }) => {
    const bus = new DefaultEventBus({ nodeID: 'bench', logger: silentLogger });
    if (unrelated) bus.createService({ name: 'unrelated', events: Object.fromEntries(unrelatedPatterns().map((p) => [p, noop])) });
    const ctxHandler = { context: true, handler: (ctx: { params: unknown }) => handler(ctx.params) };
    for (let i = 0; i < subscribers; i++) bus.createService({ name: `svc${i}`, events: Object.fromEntries(names.map((name) => [name, ctxHandler])) });
    return { name: CTX, run: publisher(names, (name) => bus.emit(name, PAYLOAD)), close: () => bus.stop() };
  },
};

const GROUPS: Record<string, readonly string[]> = {
  side: [EE, MITT, EE2, MOLECULER, NEST, KINDLING],
  faces: [SERVICES, CTX],
  rotating: [EE, KINDLING],
};

/** Child mode: measure one group in one configuration, print `{ subject: events/s }` as JSON. */
async function child(group: string, config: Config): Promise<void> {
  const built: Subject[] = [];
  for (const name of GROUPS[group] ?? []) built.push(await (factories[name] as Factory)(config));
  const batches = new Map(built.map((subject) => [subject.name, calibrate(subject)]));
  const samples = new Map<string, number[]>();
  for (let round = 0; round < ROUNDS; round++) {
    const bench = new Bench({ time: TIME_MS, warmupTime: WARMUP_MS, throws: true, now: cpuNowMs });
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

const subs = (n: number): string => `${n} subscriber${n === 1 ? '' : 's'}`;

async function main(): Promise<void> {
  const started = process.hrtime.bigint();
  const plain = new Map<number, Record<string, number>>();
  const loaded = new Map<number, Record<string, number>>();
  for (const unrelated of [false, true]) {
    for (const subscribers of SUBSCRIBERS) {
      const config: Config = { subscribers, unrelated, names: [NAME] };
      (unrelated ? loaded : plain).set(subscribers, { ...measure('side', config), ...measure('faces', config) });
    }
  }
  const rotating = new Map<number, Record<string, number>>();
  for (const subscribers of SUBSCRIBERS) rotating.set(subscribers, measure('rotating', { subscribers, unrelated: true, names: ROTATING }));

  const rows: BenchRow[] = [];
  const notes: string[] = [];
  const row = (name: string, subject: string, value: number, target?: { text: string; ratio: number; min: number }): void => {
    const base: BenchRow = { name, subject, value, unit: 'events/s', better: 'higher' };
    rows.push(target === undefined ? base : { ...base, target: target.text, met: target.ratio >= target.min });
  };
  for (const s of SUBSCRIBERS) {
    const p = plain.get(s) as Record<string, number>;
    const l = loaded.get(s) as Record<string, number>;
    const r = rotating.get(s) as Record<string, number>;
    const ours = p[KINDLING] as number;
    const oursLoaded = l[KINDLING] as number;
    const oursRotating = r[KINDLING] as number;

    const name = `publish, ${subs(s)}`;
    row(name, KINDLING, ours);
    row(name, EE, p[EE] as number, { text: '≥ 0.9×', ratio: ours / (p[EE] as number), min: 0.9 });
    row(name, MITT, p[MITT] as number);
    row(name, EE2, p[EE2] as number);
    row(name, MOLECULER, p[MOLECULER] as number);
    row(name, NEST, p[NEST] as number);

    const nameLoaded = `publish, ${subs(s)} +1k`;
    row(nameLoaded, KINDLING, oursLoaded);
    row(nameLoaded, EE, l[EE] as number, { text: '≥ 0.9×', ratio: oursLoaded / (l[EE] as number), min: 0.9 });
    row(nameLoaded, MITT, l[MITT] as number);
    row(nameLoaded, EE2, l[EE2] as number, { text: '≥ 10×', ratio: oursLoaded / (l[EE2] as number), min: 10 });
    row(nameLoaded, MOLECULER, l[MOLECULER] as number, { text: '≥ 100×', ratio: oursLoaded / (l[MOLECULER] as number), min: 100 });
    row(nameLoaded, NEST, l[NEST] as number);

    const nameRotating = `publish, ${subs(s)} +1k, 8 names`;
    row(nameRotating, KINDLING, oursRotating);
    row(nameRotating, EE, r[EE] as number, { text: '≥ 0.9×', ratio: oursRotating / (r[EE] as number), min: 0.9 });

    // What the 1,000 unrelated wildcard subscriptions cost kindling: 1 − (+1k / without), in %.
    const cost = (1 - oursLoaded / ours) * 100;
    rows.push({ name: `+1k subscriptions cost, ${subs(s)}`, subject: KINDLING, value: cost, unit: '%', better: 'lower', target: '< 10%', met: cost < 10 });

    row(`publish, ${subs(s)}, services face`, KINDLING, p[SERVICES] as number);
    row(`publish, ${subs(s)} +1k, services face`, KINDLING, l[SERVICES] as number);
    row(`publish, ${subs(s)}, ctx handlers`, KINDLING, p[CTX] as number);
    row(`publish, ${subs(s)} +1k, ctx handlers`, KINDLING, l[CTX] as number);
    notes.push(
      `${subs(s)} +1k: services face ${((l[SERVICES] as number) / (l[MOLECULER] as number)).toFixed(0)}×, ctx handlers ` +
        `${((l[CTX] as number) / (l[MOLECULER] as number)).toFixed(0)}× Moleculer emit`,
    );
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  report({
    case: 'Event bus: synchronous publish (events per CPU-second)',
    rows: compare(rows),
    notes: [
      'kindling = bus.on listeners; "+1k" = with 1,000 unrelated wildcard subscriptions (EventEmitter and mitt: 1,000 unrelated exact names); "8 names" = 8 names published in rotation',
      `time = process CPU time; each configuration in its own process; median of ${ROUNDS} rounds (5 before it joined the runner; ROUNDS=5 restores it) × ${TIME_MS} ms (+${WARMUP_MS} ms warm-up) of tinybench's median sample; each timed call ≈ ${TARGET_CALL_MS} ms of CPU`,
      'services face and ctx handlers: kindling createService() events, measured in their own process per configuration',
      ...notes,
      `case took ${seconds.toFixed(0)} s`,
    ],
  });
}

if (process.argv[2] === '--child') await child(process.argv[3] as string, JSON.parse(process.argv[4] as string) as Config);
else await main();
