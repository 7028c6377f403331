// Kindling's Moleculer face beside Moleculer's own ServiceBroker, for the same service definitions:
// - in one process: `emit` to one group of a service, `broadcast` to ten services, and a ctx handler
//   whose params are validated (the same shorthand rules, which both check with fastest-validator);
// - over NATS: the same three, from a node with no services to a node that has them; both nodes live
//   in this process, so the events cross the server and both sides' CPU is counted.
//
// In one process the time is the process's CPU time, the two libraries interleaved over ROUNDS
// rounds, the median round counting. Over NATS it is wall time from the first emit to the last
// handler call, bursts interleaved. Without a reachable NATS the NATS rows are left out with a note.
import { createConnection } from 'node:net';
import { silentLogger } from 'kindling';
import { DefaultEventBus, type EventBus, type ServiceSchema } from 'kindling/events';
import { createNatsEventBus } from 'kindling/nats';
import { type BenchRow, compare, cpuNowMs, loadMoleculer, median, report } from '../harness.js';
import { removeStreams } from '../nats-streams.js';

const QUICK = process.env['BENCH_QUICK'] === '1';
const URL_ = process.env['KINDLING_NATS_URL'] ?? 'nats://127.0.0.1:4222';
const ROUNDS = QUICK ? 3 : 7;
const LOCAL_EVENTS = QUICK ? 20_000 : 200_000;
const REMOTE_EVENTS = QUICK ? 5_000 : 30_000;
const REMOTE_TIMEOUT_MS = 60_000;
const BROADCAST_SERVICES = 10;

const KINDLING = 'kindling';
const MOLECULER = 'moleculer';

/** What every handler adds to, so that no handler's work can be dropped. */
let handled = 0;
const payload = { id: 42, name: 'taylor', email: 'taylor@example.com' };

interface Scenario {
  readonly name: string;
  /** Services on the node that handles. */
  readonly services: () => object[];
  /** One event, from the node that sends. */
  readonly send: (face: Face) => unknown;
  /** Handler calls per event sent. */
  readonly calls: number;
}

/** The calls both brokers share. */
interface Face {
  emit(name: string, payload: unknown): unknown;
  broadcast(name: string, payload: unknown): unknown;
}

const scenarios: Scenario[] = [
  {
    name: 'emit, one service (legacy handler)',
    services: () => [
      {
        name: 'users',
        events: {
          'user.created'(p: { id: number }) {
            handled += p.id;
          },
        },
      },
    ],
    send: (face) => face.emit('user.created', payload),
    calls: 1,
  },
  {
    name: `broadcast, ${BROADCAST_SERVICES} services`,
    services: () =>
      Array.from({ length: BROADCAST_SERVICES }, (_, i) => ({
        name: `watcher${i}`,
        events: {
          'config.changed'(p: { id: number }) {
            handled += p.id + i;
          },
        },
      })),
    send: (face) => face.broadcast('config.changed', payload),
    calls: BROADCAST_SERVICES,
  },
  {
    name: 'emit, ctx handler with params validated',
    services: () => [
      {
        name: 'mailer',
        events: {
          'mail.send': {
            params: { id: 'number', name: 'string', email: 'string' },
            handler(ctx: { params: { id: number } }) {
              handled += ctx.params.id;
            },
          },
        },
      },
    ],
    send: (face) => face.emit('mail.send', payload),
    calls: 1,
  },
];

interface Broker extends Face {
  createService(schema: object): unknown;
  start(): Promise<void>;
  stop(): Promise<void>;
}

interface MolBroker extends Broker {
  waitForServices(names: string[]): Promise<void>;
}

function kindlingBroker(bus: EventBus): Broker {
  return {
    emit: (name, p) => bus.emit(name, p),
    broadcast: (name, p) => bus.broadcast(name, p),
    createService: (schema) => bus.createService(schema as ServiceSchema),
    start: () => bus.start(),
    stop: () => bus.stop(),
  };
}

/** Waits until `handled` has counted `calls` more handler calls (Moleculer settles some after a tick). */
async function settle(target: number, timeoutMs: number, what: string): Promise<void> {
  const start = Date.now();
  while (calls < target) {
    if (Date.now() - start > timeoutMs) throw new Error(`${what}: ${calls} of ${target} handler calls arrived`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/** Handler calls counted by the wrapped services (reset per measurement). */
let calls = 0;

/** The scenario's services, each handler also counting its call. */
function countedServices(scenario: Scenario): object[] {
  return scenario.services().map((service) => {
    const events = (service as { events: Record<string, unknown> }).events;
    const counted: Record<string, unknown> = {};
    for (const [name, def] of Object.entries(events)) {
      if (typeof def === 'function') {
        const fn = def as (p: unknown) => void;
        counted[name] = function (this: unknown, p: unknown) {
          calls++;
          fn.call(this, p);
        };
      } else {
        const { handler, ...rest } = def as { handler: (ctx: unknown) => void };
        counted[name] = {
          ...rest,
          handler(this: unknown, ctx: unknown) {
            calls++;
            handler.call(this, ctx);
          },
        };
      }
    }
    return { ...service, events: counted };
  });
}

// ---------------------------------------------------------------- one process

async function localPair(subject: string, scenario: Scenario): Promise<Broker> {
  const broker =
    subject === KINDLING
      ? kindlingBroker(new DefaultEventBus({ nodeID: 'bench', logger: silentLogger }))
      : new (loadMoleculer<MolBroker>() as new (options: object) => MolBroker)({ nodeID: 'bench', logger: false });
  for (const service of countedServices(scenario)) broker.createService(service);
  await broker.start();
  return broker;
}

/** Events per CPU-second of `scenario` in one process, for each subject, interleaved. */
async function local(scenario: Scenario, subjects: string[]): Promise<Map<string, number>> {
  const brokers = new Map<string, Broker>();
  for (const subject of subjects) brokers.set(subject, await localPair(subject, scenario));
  const rates = new Map<string, number[]>(subjects.map((s) => [s, []]));
  for (let round = 0; round < ROUNDS + 1; round++) {
    for (const subject of subjects) {
      const broker = brokers.get(subject) as Broker;
      calls = 0;
      const start = cpuNowMs();
      for (let i = 0; i < LOCAL_EVENTS; i++) {
        scenario.send(broker);
        // Moleculer settles each emit through promises: yield now and then, as an app between
        // requests does, so that neither side is measured holding 100,000 pending results.
        if (i % 1000 === 999) await new Promise((resolve) => setImmediate(resolve));
      }
      await settle(LOCAL_EVENTS * scenario.calls, REMOTE_TIMEOUT_MS, `${subject} ${scenario.name}`);
      const ms = cpuNowMs() - start;
      if (round > 0) rates.get(subject)?.push((LOCAL_EVENTS * 1000) / Math.max(ms, 1e-3));
    }
  }
  for (const broker of brokers.values()) await broker.stop();
  return new Map([...rates].map(([s, values]) => [s, median(values)]));
}

// ---------------------------------------------------------------- over NATS

async function remotePair(subject: string, scenario: Scenario, prefix: string): Promise<[Broker, Broker]> {
  if (subject === KINDLING) {
    const node = (nodeID: string): Broker =>
      kindlingBroker(createNatsEventBus({ nodeID, nats: { url: URL_, prefix }, logger: silentLogger }));
    const receiver = node('bench-rx');
    for (const service of countedServices(scenario)) receiver.createService(service);
    await receiver.start();
    const sender = node('bench-tx');
    await sender.start();
    return [sender, receiver];
  }
  const ServiceBroker = loadMoleculer<MolBroker>() as new (options: object) => MolBroker;
  const node = (nodeID: string): MolBroker =>
    new ServiceBroker({ nodeID, logger: false, transporter: URL_, namespace: prefix, heartbeatInterval: 5 });
  const receiver = node('mol-rx');
  const services = countedServices(scenario);
  for (const service of services) receiver.createService(service);
  await receiver.start();
  const sender = node('mol-tx');
  await sender.start();
  await sender.waitForServices(services.map((s) => (s as { name: string }).name));
  return [sender, receiver];
}

/** Events per second of `scenario` from one node to another over NATS, for each subject, interleaved. */
async function remote(scenario: Scenario, subjects: string[]): Promise<Map<string, number>> {
  const pairs = new Map<string, [Broker, Broker]>();
  const prefixes: string[] = [];
  for (const subject of subjects) {
    const prefix = `bench-mf-${subject}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
    prefixes.push(prefix);
    pairs.set(subject, await remotePair(subject, scenario, prefix));
  }
  // The Kindling nodes find each other through presence: wait until an event gets across.
  for (const [subject, [sender]] of pairs) {
    const deadline = Date.now() + 10_000;
    calls = 0;
    while (calls === 0 && Date.now() < deadline) {
      scenario.send(sender);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    if (calls === 0) throw new Error(`${subject}: no event crossed NATS within 10 s`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  const rates = new Map<string, number[]>(subjects.map((s) => [s, []]));
  for (let round = 0; round < Math.max(3, ROUNDS - 2) + 1; round++) {
    for (const subject of subjects) {
      const [sender] = pairs.get(subject) as [Broker, Broker];
      calls = 0;
      const start = process.hrtime.bigint();
      for (let i = 0; i < REMOTE_EVENTS; i++) {
        scenario.send(sender);
        // Let the sockets drain now and then, as a real producer would between requests.
        if (i % 1000 === 999) await new Promise((resolve) => setImmediate(resolve));
      }
      await settle(REMOTE_EVENTS * scenario.calls, REMOTE_TIMEOUT_MS, `${subject} over NATS, ${scenario.name}`);
      const ms = Number(process.hrtime.bigint() - start) / 1e6;
      if (round > 0) rates.get(subject)?.push((REMOTE_EVENTS * 1000) / ms);
    }
  }
  for (const [sender, receiver] of pairs.values()) {
    await sender.stop();
    await receiver.stop();
  }
  for (const prefix of prefixes) await removeStreams(URL_, prefix);
  return new Map([...rates].map(([s, values]) => [s, median(values)]));
}

function natsReachable(): Promise<boolean> {
  const { hostname, port } = new URL(URL_);
  return new Promise((resolve) => {
    const socket = createConnection({ host: hostname, port: Number(port || 4222) });
    socket.setTimeout(1000);
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
    socket.once('timeout', () => (socket.destroy(), resolve(false)));
  });
}

async function main(): Promise<void> {
  const notes: string[] = [];
  const subjects = loadMoleculer<MolBroker>() === undefined ? [KINDLING] : [KINDLING, MOLECULER];
  if (subjects.length === 1) notes.push('moleculer is not installed: no Moleculer rows');
  const rows: BenchRow[] = [];
  const add = (name: string, results: Map<string, number>, target?: string): void => {
    for (const [subject, value] of results) {
      rows.push({
        name,
        subject: subject === KINDLING ? KINDLING : 'Moleculer ServiceBroker',
        value,
        unit: 'events/s',
        better: 'higher',
        ...(subject === KINDLING || target === undefined ? {} : { target }),
      });
    }
  };
  for (const scenario of scenarios) add(`one process: ${scenario.name}`, await local(scenario, subjects), '≥ 1×');
  if (await natsReachable()) {
    for (const scenario of scenarios) add(`over NATS: ${scenario.name}`, await remote(scenario, subjects), '≥ 1×');
  } else {
    notes.push(`NATS is not reachable at ${URL_}: no rows over NATS (start nats-server -js)`);
  }
  const compared = compare(rows).map((row) =>
    row.ratio === undefined || row.target === undefined ? row : { ...row, met: row.ratio >= 1 },
  );
  if (handled === 0) throw new Error('no handler ran');
  report({
    case: "Moleculer face: the same services on Kindling and on Moleculer's ServiceBroker (events/s)",
    rows: compared,
    notes,
  });
}

await main();
