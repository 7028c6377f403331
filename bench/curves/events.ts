// Growth curves of the Moleculer face and the bus core's balancing groups: creating and destroying
// services one by one, the members of one queue leaving oldest first, and an `emit` naming many
// groups. Moleculer's own ServiceBroker runs beside the service paths as a control, when installed.
import { silentLogger } from 'kindling';
import { DefaultEventBus, LocalTransport, type Service } from 'kindling/events';
import { copiesFor, noop, q, quiet, timed, type Path } from '../curve-kit.js';
import { loadMoleculer, median } from '../harness.js';

interface MolService {
  readonly name: string;
}

interface MolBroker {
  createService(schema: object): MolService;
  destroyService(service: MolService): Promise<void>;
  stop(): Promise<void>;
}

const ServiceBroker = loadMoleculer<MolBroker>();

/** A service of the curves: a name and one event handler, as most services have. */
type Schema = { name: string; events: Record<string, () => void> };

/** The schema of the i-th service. */
function schema(i: number): Schema {
  return { name: `svc${i}`, events: { [`job.${i}`]: noop } };
}

/** What the service curves run on: the bus, or Moleculer's ServiceBroker as a control. */
interface ServiceHost<S> {
  createService(schema: Schema): S;
  destroyService(service: S): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Creates `size` services one by one (and, with `destroy`, destroys them oldest first).
 *
 * As in the churn and emit-groups curves, the small size runs on as many hosts as make up the large
 * one (ten of 1,000 beside one of 10,000), taking turns, so that both sizes reach into the same
 * memory. Every destroy deletes from a few maps the size of the host; on an AMD EPYC VM a plain
 * `Map#delete` grew from 75 to 160 ns between maps of 1,000 and of 10,000 string keys, and
 * destroying on one bus of each size grew 1.8x with nothing in it that depends on the count.
 *
 * A round's 10,000 steps are timed in blocks of 1,000 and the median block is its figure: a whole
 * round of destroys is ~15 ms, and one pause of the machine in it moved the curve from 0.9x to 1.5x.
 */
async function services<S>(size: number, destroy: boolean, host: () => ServiceHost<S>): Promise<number> {
  const copies = copiesFor(size, 10_000);
  const hosts = Array.from({ length: copies }, host);
  const created: S[][] = hosts.map(() => []);
  const steps = size * copies;
  const BLOCK = Math.min(q(1_000), steps);
  // Step `s` creates or destroys service `s / copies` of host `s % copies`: the hosts take turns.
  const create = (s: number): void => {
    (created[s % copies] as S[]).push(
      (hosts[s % copies] as ServiceHost<S>).createService(schema(Math.floor(s / copies))),
    );
  };
  const remove = (s: number): Promise<void> =>
    (hosts[s % copies] as ServiceHost<S>).destroyService((created[s % copies] as S[])[Math.floor(s / copies)] as S);
  if (destroy) for (let s = 0; s < steps; s++) create(s);
  await quiet();
  const blocks: number[] = [];
  for (let from = 0; from < steps; from += BLOCK) {
    const to = Math.min(steps, from + BLOCK);
    blocks.push(
      await timed(async () => {
        for (let s = from; s < to; s++)
          if (destroy) await remove(s);
          else create(s);
      }),
    );
  }
  for (const h of hosts) await h.stop();
  // Per service, scaled so that the per-item arithmetic (ms / size) yields it.
  return (median(blocks) / BLOCK) * size;
}

/** The bus, checked for what the curve left on it. */
function busHost(size: number, destroy: boolean): () => ServiceHost<Service> {
  return () => {
    const bus = new DefaultEventBus({ nodeID: 'curve', logger: silentLogger });
    return {
      createService: (schema) => bus.createService(schema),
      destroyService: (service) => bus.destroyService(service),
      async stop() {
        const left = bus.services().length;
        const expected = destroy ? 0 : size;
        if (left !== expected) throw new Error(`${destroy ? 'destroy' : 'create'}: ${left} services, not ${expected}`);
        await bus.stop();
      },
    };
  };
}

/** Moleculer's ServiceBroker (not started: no transporter, no timers). */
function molHost(): ServiceHost<MolService> {
  const Broker = ServiceBroker as new (options: object) => MolBroker;
  return new Broker({ nodeID: 'curve', logger: false });
}

/** A transport that tells other nodes this node's services as presence does: their JSON text. */
class AnnouncingTransport extends LocalTransport {
  announcedBytes = 0;
  updateNodeInfo(fields: Readonly<Record<string, unknown>>): void {
    this.announcedBytes += JSON.stringify(fields).length;
  }
}

/**
 * `size` services created one after another, each awaited, on a bus whose transport announces its
 * services to other nodes (as the reactive component starts event listeners on a NATS node). Each
 * announcement describes every service of its bus, so the cost per service must not depend on how
 * many came before it. As in the service curves, the small size runs on ten buses, taking turns.
 */
async function announcedServices(size: number): Promise<number> {
  const copies = copiesFor(size, 10_000);
  const transports = Array.from({ length: copies }, () => new AnnouncingTransport());
  const buses = transports.map(
    (transport) => new DefaultEventBus({ nodeID: 'curve', logger: silentLogger, transport }),
  );
  for (const bus of buses) await bus.start();
  await quiet();
  const ms = await timed(async () => {
    for (let i = 0; i < size; i++) {
      for (const bus of buses) {
        bus.createService(schema(i));
        await Promise.resolve();
      }
    }
    await new Promise((resolve) => setImmediate(resolve));
  });
  if (transports.some((t) => t.announcedBytes === 0)) throw new Error('announce: services never announced');
  for (const bus of buses) await bus.stop();
  // Per bus, so that the per-item arithmetic (ms / size) yields the cost per service.
  return ms / copies;
}

/** `size` consumers of one queue, then closed oldest first. */
async function slotLeave(size: number): Promise<number> {
  const bus = new DefaultEventBus({ nodeID: 'curve', logger: silentLogger });
  const consumers = Array.from({ length: size }, () => bus.broker.consume('workers', 'job-created'));
  await quiet();
  const ms = await timed(() => {
    for (const consumer of consumers) consumer.close();
  });
  await bus.stop();
  return ms;
}

/** `size` consumers of one queue, closed by stopping the bus. */
async function slotStop(size: number): Promise<number> {
  const bus = new DefaultEventBus({ nodeID: 'curve', logger: silentLogger });
  for (let i = 0; i < size; i++) bus.broker.consume('workers', 'job-created');
  await quiet();
  return timed(() => bus.stop());
}

/**
 * `size` services, each its own group listening to one name, and emits naming every group.
 *
 * As in the churn curve, the small size runs on as many buses as make up the large one (ten of 1,000
 * beside one of 10,000), the emits spread over them, so that both sizes reach into the same memory.
 * Every emit touches each of its subscribers; on one bus of 1,000 they all stay in the processor's
 * cache and on one of 10,000 they do not. Measured that way on an AMD EPYC VM, emits naming no group
 * (a path with nothing per publish that depends on the count) grew 3-5x from one bus of 1,000 to
 * one of 10,000, and by as much as those naming every group.
 */
async function emitGroups(size: number): Promise<number> {
  const copies = copiesFor(size, 10_000);
  const buses = Array.from({ length: copies }, () => new DefaultEventBus({ nodeID: 'curve', logger: silentLogger }));
  let received = 0;
  const groups: string[] = [];
  for (let i = 0; i < size; i++) groups.push(`g${i}`);
  for (const bus of buses) {
    for (const group of groups) bus.createService({ name: group, events: { 'job.run': () => void received++ } });
  }
  // The same number of emits at both sizes, timed in blocks: a round at the large size is mostly
  // setting up its services, so it may be the only round of that size, and one pause of the machine
  // inside a single timed stretch moved it 3x. The median block is the round's figure.
  const BLOCKS = 5;
  const EMITS_PER_BLOCK = 40;
  await quiet();
  const blocks: number[] = [];
  let e = 0;
  for (let b = 0; b < BLOCKS; b++) {
    blocks.push(
      await timed(() => {
        for (let n = 0; n < EMITS_PER_BLOCK; n++, e++)
          (buses[e % copies] as DefaultEventBus).emit('job.run', e, { groups });
      }),
    );
  }
  for (const bus of buses) await bus.stop();
  const emits = BLOCKS * EMITS_PER_BLOCK;
  if (received !== emits * size) throw new Error(`emit groups: ${received} of ${emits * size} delivered`);
  // Per emit, so that the per-item arithmetic (ms / size) yields the cost per subscriber reached.
  return median(blocks) / EMITS_PER_BLOCK;
}

function servicePath(destroy: boolean, on: 'kindling' | 'moleculer'): Path {
  const id = destroy ? 'mol-destroy' : 'mol-create';
  return {
    id: on === 'kindling' ? id : `${id}-moleculer`,
    label: destroy ? 'destroyService oldest first, one at a time' : 'createService one by one',
    item: 'service',
    items: 'services',
    sizes: [q(1_000), q(10_000)],
    limit: 1.5,
    measure: 'time',
    ...(on === 'kindling' ? {} : { control: 'moleculer' }),
    run: (n) => (on === 'kindling' ? services(n, destroy, busHost(n, destroy)) : services(n, destroy, molHost)),
  };
}

export const EVENTS_PATHS: readonly Path[] = [
  servicePath(false, 'kindling'),
  ...(ServiceBroker === undefined ? [] : [servicePath(false, 'moleculer')]),
  servicePath(true, 'kindling'),
  ...(ServiceBroker === undefined ? [] : [servicePath(true, 'moleculer')]),
  {
    id: 'announce',
    label: 'createService one after another, each awaited, on a node that announces its services',
    item: 'service',
    items: 'services',
    sizes: [q(1_000), q(10_000)],
    limit: 1.5,
    measure: 'time',
    run: announcedServices,
  },
  {
    id: 'slot-leave',
    label: 'consumers of one queue closed oldest first',
    item: 'consumer',
    items: 'consumers',
    sizes: [q(5_000), q(50_000)],
    limit: 1.5,
    measure: 'time',
    run: slotLeave,
  },
  {
    id: 'slot-stop',
    label: 'bus.stop() with the consumers of one queue',
    item: 'consumer',
    items: 'consumers',
    sizes: [q(5_000), q(50_000)],
    limit: 1.5,
    measure: 'time',
    run: slotStop,
  },
  {
    id: 'emit-groups',
    label: 'emit naming every group, one service per group',
    item: 'subscriber',
    items: 'subscribers',
    sizes: [q(1_000), q(10_000)],
    limit: 1.5,
    measure: 'time',
    run: emitGroups,
  },
];
