// The bus over NATS, node to node (two connections, as two nodes would have): 128-byte events,
// throughput and one-way latency, beside the raw `nats` client doing the same publish/subscribe and
// beside Moleculer's events over its NATS transporter; durable channels beside raw JetStream.
// Without a reachable NATS it reports a note and no rows.
import { randomBytes } from 'node:crypto';
import { createConnection } from 'node:net';
import { createRequire } from 'node:module';
import { AckPolicy, connect, type NatsConnection } from 'nats';
import { createEventBus, type EventBus, type JetStreamChannels } from 'kindling';
import { compare, report, type BenchRow } from '../harness.js';

const URL_ = process.env['KINDLING_NATS_URL'] ?? 'nats://127.0.0.1:4222';
const EVENTS = 100_000;
const LATENCY_SAMPLES = 2_000;
const DURABLE = 10_000;
const quiet = { debug() {}, info() {}, warn() {}, error() {} };
const payload = { s: 'x'.repeat(120) }; // 128 bytes of JSON
const raw = new TextEncoder().encode(JSON.stringify(payload));

function reachable(url: string): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = createConnection({ host: hostname, port: Number(port || 4222) });
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
    socket.setTimeout(1000, () => done(false));
  });
}

const percentile = (sorted: readonly number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] as number;

interface Pair {
  /** Publishes event `i` (must not block for long). */
  send(i: number): void;
  /** Resolves with the receive time of event `i` once it arrived (latency mode). */
  onReceive(cb: (i: number) => void): void;
  /** Lets the publisher's buffers drain. */
  yield(): Promise<void>;
  close(): Promise<void>;
}

async function measure(pair: Pair): Promise<{ rate: number; p50: number; p99: number }> {
  // Throughput: publish EVENTS, time until the receiver has them all.
  let received = 0;
  let latencyTarget = -1;
  let latencyDone: (() => void) | undefined;
  pair.onReceive((i) => {
    received++;
    if (i === latencyTarget) latencyDone?.();
  });
  const allIn = (target: number): Promise<void> =>
    new Promise((resolve) => {
      const check = (): void => (received >= target ? resolve() : void setImmediate(check));
      check();
    });
  // warm-up
  for (let i = 0; i < 5_000; i++) pair.send(-1);
  await allIn(5_000);
  received = 0;
  const start = process.hrtime.bigint();
  for (let i = 0; i < EVENTS; i++) {
    pair.send(-1);
    if (i % 1000 === 999) await pair.yield();
  }
  await allIn(EVENTS);
  const rate = EVENTS / (Number(process.hrtime.bigint() - start) / 1e9);
  // Latency: one event at a time, one way.
  const samples: number[] = [];
  for (let i = 0; i < LATENCY_SAMPLES; i++) {
    latencyTarget = i;
    const arrived = new Promise<void>((resolve) => (latencyDone = resolve));
    const t = process.hrtime.bigint();
    pair.send(i);
    await arrived;
    samples.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  samples.sort((a, b) => a - b);
  return { rate, p50: percentile(samples, 0.5), p99: percentile(samples, 0.99) };
}

async function kindlingPair(prefix: string): Promise<Pair> {
  const a = createEventBus({ nodeID: 'bench-a', nats: { url: URL_, prefix }, logger: quiet });
  const b = createEventBus({ nodeID: 'bench-b', nats: { url: URL_, prefix }, logger: quiet });
  let cb: (i: number) => void = () => undefined;
  b.createService({ name: 'sink', events: { 'bench.event': (ctx) => cb((ctx.params as { i: number }).i) } });
  await b.start();
  await a.start();
  return {
    send: (i) => a.emit('bench.event', { i, ...payload }),
    onReceive: (f) => (cb = f),
    yield: () => new Promise((resolve) => setImmediate(resolve)),
    close: async () => {
      await a.stop();
      await b.stop();
    },
  };
}

async function rawPair(prefix: string): Promise<Pair> {
  const a = await connect({ servers: URL_ });
  const b = await connect({ servers: URL_ });
  let cb: (i: number) => void = () => undefined;
  const enc = new TextEncoder();
  const dec = new TextDecoder();
  b.subscribe(`${prefix}.raw`, { queue: 'sink', callback: (_e, m) => cb((JSON.parse(dec.decode(m.data)) as { i: number }).i) });
  await b.flush();
  return {
    send: (i) => a.publish(`${prefix}.raw`, enc.encode(JSON.stringify({ i, ...payload }))),
    onReceive: (f) => (cb = f),
    yield: () => new Promise((resolve) => setImmediate(resolve)),
    close: async () => {
      await a.drain();
      await b.drain();
    },
  };
}

async function moleculerPair(prefix: string): Promise<Pair | undefined> {
  let moleculer: { ServiceBroker: new (options: object) => MolBroker };
  try {
    moleculer = createRequire(import.meta.url)('moleculer') as typeof moleculer;
  } catch {
    return undefined;
  }
  interface MolBroker {
    start(): Promise<void>;
    stop(): Promise<void>;
    emit(name: string, payload: unknown): unknown;
    createService(schema: object): unknown;
    waitForServices(names: string[]): Promise<void>;
  }
  const common = { transporter: URL_, logger: false, namespace: prefix.replace(/\./g, '-'), heartbeatInterval: 5 };
  const a = new moleculer.ServiceBroker({ ...common, nodeID: 'mol-a' });
  const b = new moleculer.ServiceBroker({ ...common, nodeID: 'mol-b' });
  let cb: (i: number) => void = () => undefined;
  b.createService({ name: 'sink', events: { 'bench.event'(ctx: { params: { i: number } }) { cb(ctx.params.i); } } });
  await b.start();
  await a.start();
  await a.waitForServices(['sink']);
  return {
    send: (i) => void a.emit('bench.event', { i, ...payload }),
    onReceive: (f) => (cb = f),
    yield: () => new Promise((resolve) => setImmediate(resolve)),
    close: async () => {
      await a.stop();
      await b.stop();
    },
  };
}

async function durableKindling(prefix: string): Promise<number> {
  const a = createEventBus({ nodeID: 'dur-a', nats: { url: URL_, prefix }, logger: quiet });
  const b = createEventBus({ nodeID: 'dur-b', nats: { url: URL_, prefix }, logger: quiet });
  await a.start();
  await b.start();
  let got = 0;
  let done: () => void = () => undefined;
  const all = new Promise<void>((resolve) => (done = resolve));
  const start = process.hrtime.bigint();
  const sub = await b.channels.subscribe('bench', { group: 'g', maxInFlight: 256, handler: () => void (++got === DURABLE && done()) });
  for (let i = 0; i < DURABLE; i += 500) await Promise.all(Array.from({ length: 500 }, (_, j) => a.channels.send('bench', { i: i + j, ...payload })));
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
  const start = process.hrtime.bigint();
  const consumer = await b.jetstream().consumers.get(stream, 'g');
  const messages = await consumer.consume({ max_messages: 256 });
  const consumed = (async () => {
    let got = 0;
    for await (const m of messages) {
      JSON.parse(new TextDecoder().decode(m.data));
      m.ack();
      if (++got === DURABLE) break;
    }
  })();
  for (let i = 0; i < DURABLE; i += 500) {
    await Promise.all(Array.from({ length: 500 }, (_, j) => js.publish(`${prefix}.rawjs.bench`, enc.encode(JSON.stringify({ i: i + j, ...payload })), { msgID: `${i + j}` })));
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
  if (!(await reachable(URL_))) {
    report({ case: 'nats', rows: [], notes: [`skipped: NATS is not reachable at ${URL_}`] });
    return;
  }
  const prefix = `kindling.b${randomBytes(3).toString('hex')}`;
  const rows: BenchRow[] = [];
  const name = 'emit node→node, 128 B';
  const add = (subject: string, r: { rate: number; p50: number; p99: number }, target?: string): void => {
    rows.push({ name: `${name}: events/s`, subject, value: Math.round(r.rate), unit: 'events/s', better: 'higher', ...(target === undefined ? {} : { target }) });
    rows.push({ name: `${name}: p50 latency`, subject, value: Number(r.p50.toFixed(3)), unit: 'ms', better: 'lower' });
    rows.push({ name: `${name}: p99 latency`, subject, value: Number(r.p99.toFixed(3)), unit: 'ms', better: 'lower' });
  };
  const notes: string[] = ['two connections in one process; latency is one way, one event in flight'];
  let pair = await kindlingPair(prefix);
  add('kindling', await measure(pair));
  await pair.close();
  pair = await rawPair(prefix);
  const rawResult = await measure(pair);
  await pair.close();
  add('nats (raw)', rawResult, '≥ 0.8× raw nats');
  const mol = await moleculerPair(prefix);
  if (mol === undefined) notes.push('moleculer is not installed: no Moleculer rows');
  else {
    add('moleculer', await measure(mol), '≥ 3× moleculer');
    await mol.close();
  }
  const durName = 'durable channel send+consume, 128 B';
  rows.push({ name: durName, subject: 'kindling', value: Math.round(await durableKindling(prefix)), unit: 'msgs/s', better: 'higher' });
  rows.push({ name: durName, subject: 'jetstream (raw)', value: Math.round(await durableRaw(prefix)), unit: 'msgs/s', better: 'higher' });
  const compared = compare(rows).map((row) => {
    if (row.ratio === undefined || row.target === undefined) return row;
    const need = row.subject === 'nats (raw)' ? 0.8 : 3;
    return { ...row, met: row.ratio >= need };
  });
  report({ case: 'nats', rows: compared, notes });
}

await main();
