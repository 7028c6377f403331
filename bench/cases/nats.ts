// The bus over NATS, node to node: two processes, as two nodes would be. This script is the
// receiving node; it spawns itself as the publishing node (argument `publisher`) and drives it over
// stdin/stdout. The same 128-byte payload for kindling, the raw `nats` client (publish/subscribe in
// a queue group, JSON both ends) and Moleculer's events over its NATS transporter: throughput (the
// median of several bursts, timed on the receiver from the burst command to the last arrival; the
// subjects' bursts interleaved, so that other load on the machine hits all of them alike) and
// one-way latency with one event in flight (the publisher stamps the event with the system-wide
// monotonic clock, the receiver subtracts). Durable channels beside raw JetStream run in this
// process. Without a reachable NATS it reports a note and no rows.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { createInterface } from 'node:readline';
import { AckPolicy, connect, type NatsConnection } from 'nats';
import { createNatsEventBus, type JetStreamChannels } from 'kindling/nats';
import { compare, report, type BenchRow } from '../harness.js';
import { reachable, removeStreams } from '../nats-streams.js';

const URL_ = process.env['KINDLING_NATS_URL'] ?? 'nats://127.0.0.1:4222';
const WARMUP = 20_000;
const BURST = 30_000;
const SAMPLES = 7;
const LATENCY_SAMPLES = 1_000;
const DURABLE = 10_000;
const BURST_TIMEOUT_MS = 30_000;
const quiet = { debug() {}, info() {}, warn() {}, error() {} };
/** Every event of every subject: `{ i, t, s }`, 128 bytes of JSON in a burst (a latency probe carries a µs timestamp: ~140). */
const FILL = 'x'.repeat(107);
const event = (i: number, t: number): { i: number; t: number; s: string } => ({ i, t, s: FILL });
/** Microseconds on the system-wide monotonic clock (the same in both processes). */
const nowUs = (): number => Number(process.hrtime.bigint() / 1000n);

/**
 * `kindling-1` is kindling with `maxBatch: 1`: one NATS message per event, as the peers send.
 * `nats-32` is the raw client sending what kindling sends by default: up to 32 consecutive events
 * as one message (a JSON array), flushed when the publisher yields.
 */
type Subject = 'kindling' | 'kindling-1' | 'nats' | 'nats-32' | 'moleculer';
/** Kindling's default `maxBatch`, which the batching raw peer copies. */
const BATCH = 32;
type Sample = { i: number; t: number };

const percentile = (sorted: readonly number[], p: number): number =>
  sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] as number;
const median = (values: readonly number[]): number =>
  percentile(
    [...values].sort((a, b) => a - b),
    0.5,
  );

interface MolBroker {
  start(): Promise<void>;
  stop(): Promise<void>;
  emit(name: string, payload: unknown): unknown;
  createService(schema: object): unknown;
  waitForServices(names: string[]): Promise<void>;
}

function loadMoleculer(): { ServiceBroker: new (options: object) => MolBroker } | undefined {
  try {
    return createRequire(import.meta.url)('moleculer') as { ServiceBroker: new (options: object) => MolBroker };
  } catch {
    return undefined;
  }
}

const molOptions = (prefix: string, nodeID: string): object => ({
  transporter: URL_,
  logger: false,
  namespace: prefix.replace(/\./g, '-'),
  heartbeatInterval: 5,
  nodeID,
});

// ---------------------------------------------------------------- the publishing node (child)

async function publisher(subject: Subject, prefix: string): Promise<void> {
  const out = (line: object): void => void process.stdout.write(`${JSON.stringify(line)}\n`);
  let send: (i: number, t: number) => void;
  let close: () => Promise<void>;
  /** Sends what is held back (only the batching raw peer holds any). */
  let flush: () => void = () => undefined;
  if (subject === 'kindling' || subject === 'kindling-1') {
    const nats = subject === 'kindling' ? { url: URL_, prefix } : { url: URL_, prefix, maxBatch: 1 };
    const bus = createNatsEventBus({ nodeID: 'bench-pub', nats, logger: quiet });
    await bus.start();
    send = (i, t) => bus.emit('bench.event', event(i, t));
    close = () => bus.stop();
  } else if (subject === 'nats') {
    const nc = await connect({ servers: URL_ });
    const enc = new TextEncoder();
    send = (i, t) => nc.publish(`${prefix}.raw`, enc.encode(JSON.stringify(event(i, t))));
    close = () => nc.drain();
  } else if (subject === 'nats-32') {
    const nc = await connect({ servers: URL_ });
    const enc = new TextEncoder();
    let held: { i: number; t: number; s: string }[] = [];
    flush = () => {
      if (held.length === 0) return;
      nc.publish(`${prefix}.raw`, enc.encode(JSON.stringify(held)));
      held = [];
    };
    send = (i, t) => {
      held.push(event(i, t));
      if (held.length === BATCH) flush();
    };
    close = () => nc.drain();
  } else {
    const broker = new (loadMoleculer() as { ServiceBroker: new (options: object) => MolBroker }).ServiceBroker(
      molOptions(prefix, 'mol-pub'),
    );
    await broker.start();
    await broker.waitForServices(['sink']);
    send = (i, t) => void broker.emit('bench.event', event(i, t));
    close = () => broker.stop();
  }
  out({ ready: true });
  let cpuMark = process.cpuUsage();
  for await (const text of createInterface({ input: process.stdin })) {
    const cmd = JSON.parse(text) as { burst?: number; ping?: number; cpu?: true; stop?: true };
    if (cmd.cpu === true) {
      // The CPU this process spent since the last report (the receiver asks once a burst has arrived).
      const spent = process.cpuUsage(cpuMark);
      cpuMark = process.cpuUsage();
      out({ cpuUs: spent.user + spent.system });
    } else if (cmd.burst !== undefined) {
      for (let i = 0; i < cmd.burst; i++) {
        send(-1, 0);
        if (i % 1000 === 999) {
          flush();
          await new Promise((resolve) => setImmediate(resolve));
        }
      }
      flush();
    } else if (cmd.ping !== undefined) {
      send(cmd.ping, nowUs());
      flush();
    } else if (cmd.stop === true) {
      await close();
      out({ stopped: true });
      break;
    }
  }
}

// ---------------------------------------------------------------- the receiving node (this process)

interface Receiver {
  close(): Promise<void>;
}

async function receiver(subject: Subject, prefix: string, onEvent: (e: Sample) => void): Promise<Receiver> {
  if (subject === 'kindling' || subject === 'kindling-1') {
    const bus = createNatsEventBus({ nodeID: 'bench-sub', nats: { url: URL_, prefix }, logger: quiet });
    bus.createService({
      name: 'sink',
      events: { 'bench.event': (ctx: { params: unknown }) => onEvent(ctx.params as Sample) },
    });
    await bus.start();
    return { close: () => bus.stop() };
  }
  if (subject === 'nats') {
    const nc = await connect({ servers: URL_ });
    const dec = new TextDecoder();
    nc.subscribe(`${prefix}.raw`, {
      queue: 'sink',
      callback: (_e, m) => onEvent(JSON.parse(dec.decode(m.data)) as Sample),
    });
    await nc.flush();
    return { close: () => nc.drain() };
  }
  if (subject === 'nats-32') {
    const nc = await connect({ servers: URL_ });
    const dec = new TextDecoder();
    nc.subscribe(`${prefix}.raw`, {
      queue: 'sink',
      callback: (_e, m) => {
        for (const e of JSON.parse(dec.decode(m.data)) as Sample[]) onEvent(e);
      },
    });
    await nc.flush();
    return { close: () => nc.drain() };
  }
  const broker = new (loadMoleculer() as { ServiceBroker: new (options: object) => MolBroker }).ServiceBroker(
    molOptions(prefix, 'mol-sub'),
  );
  broker.createService({
    name: 'sink',
    events: {
      'bench.event'(ctx: { params: Sample }) {
        onEvent(ctx.params);
      },
    },
  });
  await broker.start();
  return { close: () => broker.stop() };
}

/** What one subject measured: medians over the bursts, latency percentiles in ms. */
interface Result {
  readonly rate: number;
  readonly p50: number;
  readonly p99: number;
  readonly publisherUs: number;
  readonly receiverUs: number;
}

/** One burst: events/s from the command to the last arrival, and the CPU each side spent per event. */
interface Burst {
  readonly rate: number;
  readonly publisherUs: number;
  readonly receiverUs: number;
}

interface Pair {
  /** Times one burst of `n` events. */
  burst(n: number): Promise<Burst>;
  /** One-way latencies in ms of `count` events, one in flight. */
  latencies(count: number): Promise<number[]>;
  close(): Promise<void>;
}

/** A receiver here and its publisher in a child process. */
async function pair(subject: Subject, prefix: string): Promise<Pair> {
  let received = 0;
  let waiting: { target: number; resolve: () => void } | undefined;
  let latency: ((e: Sample) => void) | undefined;
  const rx = await receiver(subject, prefix, (e) => {
    if (e.i >= 0) latency?.(e);
    else if (++received === waiting?.target) waiting.resolve();
  });
  const child = spawn(process.execPath, [process.argv[1] as string, 'publisher', subject, prefix], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const command = (cmd: object): void => void child.stdin.write(`${JSON.stringify(cmd)}\n`);
  await lines.next(); // ready
  const report = async (): Promise<number> => {
    command({ cpu: true });
    const line = await lines.next();
    return (JSON.parse(line.value as string) as { cpuUs: number }).cpuUs;
  };
  return {
    async burst(n) {
      received = 0;
      let timer: ReturnType<typeof setTimeout> | undefined;
      const all = new Promise<void>((resolve, reject) => {
        waiting = { target: n, resolve };
        timer = setTimeout(
          () => reject(new Error(`${subject}: only ${received} of ${n} events arrived within ${BURST_TIMEOUT_MS} ms`)),
          BURST_TIMEOUT_MS,
        );
      });
      await report(); // the publisher's CPU count starts here
      const start = process.hrtime.bigint();
      const cpu = process.cpuUsage();
      command({ burst: n });
      await all.finally(() => clearTimeout(timer));
      const seconds = Number(process.hrtime.bigint() - start) / 1e9;
      const spent = process.cpuUsage(cpu);
      // Asked after the last arrival: the publisher's sends and flushes are all done by then.
      const publisherUs = await report();
      return { rate: n / seconds, publisherUs: publisherUs / n, receiverUs: (spent.user + spent.system) / n };
    },
    async latencies(count) {
      const samples: number[] = [];
      for (let i = 0; i < count; i++) {
        const arrived = new Promise<Sample>((resolve) => (latency = (e) => e.i === i && resolve(e)));
        command({ ping: i });
        const e = await arrived;
        samples.push((nowUs() - e.t) / 1000);
      }
      return samples;
    },
    async close() {
      command({ stop: true });
      child.stdin.end();
      await exited;
      await rx.close();
    },
  };
}

/**
 * Every subject's pair is up at once and the bursts are interleaved (a round is one burst of each),
 * so that a load change on the machine hits every subject alike; the medians are compared.
 */
async function measureAll(subjects: readonly Subject[], prefix: string): Promise<Map<Subject, Result>> {
  const pairs = new Map<Subject, Pair>();
  try {
    for (const subject of subjects) pairs.set(subject, await pair(subject, `${prefix}.${subject}`));
    const bursts = new Map<Subject, Burst[]>(subjects.map((s) => [s, []]));
    for (const p of pairs.values()) await p.burst(WARMUP);
    for (let round = 0; round < SAMPLES; round++) {
      for (const [subject, p] of pairs) bursts.get(subject)?.push(await p.burst(BURST));
    }
    const of = (subject: Subject): Burst[] => bursts.get(subject) ?? [];
    const results = new Map<Subject, Result>();
    for (const [subject, p] of pairs) {
      const samples = (await p.latencies(LATENCY_SAMPLES)).sort((a, b) => a - b);
      results.set(subject, {
        rate: median(of(subject).map((b) => b.rate)),
        publisherUs: median(of(subject).map((b) => b.publisherUs)),
        receiverUs: median(of(subject).map((b) => b.receiverUs)),
        p50: percentile(samples, 0.5),
        p99: percentile(samples, 0.99),
      });
    }
    return results;
  } finally {
    for (const p of pairs.values()) await p.close();
  }
}

async function durableKindling(prefix: string): Promise<number> {
  const a = createNatsEventBus({ nodeID: 'dur-a', nats: { url: URL_, prefix }, logger: quiet });
  const b = createNatsEventBus({ nodeID: 'dur-b', nats: { url: URL_, prefix }, logger: quiet });
  await a.start();
  await b.start();
  let got = 0;
  let done: () => void = () => undefined;
  const all = new Promise<void>((resolve) => (done = resolve));
  // The subscription (its consumers) is set up before the clock starts, as the raw consumer is.
  const sub = await b.channels.subscribe('bench', {
    group: 'g',
    maxInFlight: 256,
    handler: () => void (++got === DURABLE && done()),
  });
  const start = process.hrtime.bigint();
  for (let i = 0; i < DURABLE; i += 500)
    await Promise.all(Array.from({ length: 500 }, (_, j) => a.channels.send('bench', event(i + j, 0))));
  await all;
  const rate = DURABLE / (Number(process.hrtime.bigint() - start) / 1e9);
  await sub.close();
  const store = a.channels as JetStreamChannels;
  const nc = await connect({ servers: URL_ });
  const jsm = await nc.jetstreamManager();
  await jsm.streams.delete(store.stream).catch(() => undefined);
  await jsm.streams.delete(store.dlqStream).catch(() => undefined);
  await nc.close();
  await a.stop();
  await b.stop();
  return rate;
}

async function durableRaw(prefix: string): Promise<number> {
  const a: NatsConnection = await connect({ servers: URL_ });
  const b: NatsConnection = await connect({ servers: URL_ });
  const jsm = await a.jetstreamManager();
  const stream = `RAW_${prefix.replace(/\W/g, '_')}`;
  await jsm.streams.add({ name: stream, subjects: [`${prefix}.rawjs.>`] });
  await jsm.consumers.add(stream, { durable_name: 'g', ack_policy: AckPolicy.Explicit, max_ack_pending: 16_384 });
  const js = a.jetstream();
  const enc = new TextEncoder();
  const consumer = await b.jetstream().consumers.get(stream, 'g');
  const messages = await consumer.consume({ max_messages: 256 });
  const start = process.hrtime.bigint();
  const consumed = (async () => {
    let got = 0;
    for await (const m of messages) {
      JSON.parse(new TextDecoder().decode(m.data));
      m.ack();
      if (++got === DURABLE) break;
    }
  })();
  for (let i = 0; i < DURABLE; i += 500) {
    await Promise.all(
      Array.from({ length: 500 }, (_, j) =>
        js.publish(`${prefix}.rawjs.bench`, enc.encode(JSON.stringify(event(i + j, 0))), { msgID: `${i + j}` }),
      ),
    );
  }
  await consumed;
  const rate = DURABLE / (Number(process.hrtime.bigint() - start) / 1e9);
  messages.stop();
  await jsm.streams.delete(stream);
  await a.drain();
  await b.drain();
  return rate;
}

async function main(): Promise<void> {
  if (process.argv[2] === 'publisher') {
    await publisher(process.argv[3] as Subject, process.argv[4] as string);
    return;
  }
  if (!(await reachable(URL_))) {
    report({ case: 'nats', rows: [], notes: [`skipped: NATS is not reachable at ${URL_}`] });
    return;
  }
  const prefix = `kindling.b${randomBytes(3).toString('hex')}`;
  const rows: BenchRow[] = [];
  const name = 'emit node→node, 128 B';
  const add = (subject: string, r: Result, target?: string): void => {
    rows.push({
      name: `${name}: events/s`,
      subject,
      value: Math.round(r.rate),
      unit: 'events/s',
      better: 'higher',
      ...(target === undefined ? {} : { target }),
    });
    rows.push({ name: `${name}: p50 latency`, subject, value: Number(r.p50.toFixed(3)), unit: 'ms', better: 'lower' });
    rows.push({ name: `${name}: p99 latency`, subject, value: Number(r.p99.toFixed(3)), unit: 'ms', better: 'lower' });
    rows.push({
      name: `${name}: CPU per event, both processes`,
      subject,
      value: Number((r.publisherUs + r.receiverUs).toFixed(3)),
      unit: 'µs',
      better: 'lower',
      detail: `publisher ${r.publisherUs.toFixed(2)} µs + receiver ${r.receiverUs.toFixed(2)} µs`,
    });
  };
  const notes: string[] = [
    `two processes (publisher → receiver), same payload for every subject; events/s: median of ${SAMPLES} bursts of ${BURST / 1000}k, interleaved across subjects; latency: one way, one event in flight, ${LATENCY_SAMPLES} samples`,
    'kindling sends consecutive events of one subject in one turn as one NATS message (default maxBatch 32); "kindling, maxBatch 1" sends one message per event, as raw nats and Moleculer do here',
    '"nats (raw, batches of 32)" publishes the same batches by hand: up to 32 events as one JSON array, flushed when the publisher yields; the receiver parses the array',
    "CPU per event: what the publishing and the receiving process each spent in a burst (median), divided by its events; the NATS server and the other processes on the machine are not counted. Raw nats sends bare JSON; kindling also carries each event's id, time, source and mode, and hands the receiver a Moleculer context",
  ];
  const molecular = loadMoleculer() !== undefined;
  if (!molecular) notes.push('moleculer is not installed: no Moleculer rows');
  const results = await measureAll(
    molecular
      ? ['kindling', 'kindling-1', 'nats', 'nats-32', 'moleculer']
      : ['kindling', 'kindling-1', 'nats', 'nats-32'],
    prefix,
  );
  add('kindling', results.get('kindling') as Result);
  add('kindling, maxBatch 1', results.get('kindling-1') as Result);
  add('nats (raw)', results.get('nats') as Result);
  add('nats (raw, batches of 32)', results.get('nats-32') as Result, '≥ 1×');
  const mol = results.get('moleculer');
  if (mol !== undefined) add('moleculer', mol, '≥ 3×');
  const durName = 'durable channel send+consume, 128 B';
  rows.push({
    name: durName,
    subject: 'kindling',
    value: Math.round(await durableKindling(prefix)),
    unit: 'msgs/s',
    better: 'higher',
  });
  rows.push({
    name: durName,
    subject: 'jetstream (raw)',
    value: Math.round(await durableRaw(prefix)),
    unit: 'msgs/s',
    better: 'higher',
  });
  notes.push(
    'durable channels: both sides in this process, 500 sends in flight; timed from the first send, the consumers already set up',
  );
  // The buses of the emit pairs made channel and dead-letter streams; each reserves storage on the server.
  await removeStreams(URL_, prefix);
  const compared = compare(rows).map((row) => {
    if (row.ratio === undefined || row.target === undefined) return row;
    const need = row.subject === 'nats (raw, batches of 32)' ? 1 : 3;
    return { ...row, met: row.ratio >= need };
  });
  report({ case: 'nats', rows: compared, notes });
}

await main();
