// Memory: a registry of 100,000 entries with 10 retained revisions (resident size per entry), and a
// slow subscriber under a burst of 1,000,000 events (its buffer must stay within its bound).
import { HandlerRegistry, Registry } from 'kindling';
import { createEventBus } from 'kindling/events';
import { report, type BenchRow } from '../harness.js';

const gc = (globalThis as { gc?: () => void }).gc;
function settle(): void {
  for (let i = 0; i < 3; i++) gc?.();
}
const heap = (): number => {
  settle();
  return process.memoryUsage().heapUsed;
};

const ENTRIES = 100_000;
const REVISIONS = 10;
const rows: BenchRow[] = [];

async function registryMemory(): Promise<void> {
  const before = heap();
  const rssBefore = process.memoryUsage().rss;
  const handlers = new HandlerRegistry();
  handlers.registerListener('app.*', { add: () => undefined, update: () => undefined, delete: () => undefined });
  const registry = new Registry({ handlers, historyLimit: REVISIONS });
  const entry = (i: number, v: number) => ({
    id: `app.n${i % 100}:e${i}`,
    kind: `app.kind${i % 50}`,
    meta: { groups: ['web'], description: `entry ${i}` },
    data: { port: 1000 + (i % 5000), path: `/items/${i}`, version: v, limits: { rps: 100, burst: 20 } },
  });
  await registry.apply(Array.from({ length: ENTRIES }, (_, i) => ({ op: 'create' as const, entry: entry(i, 0) })));
  // Ten more revisions, each updating 1% of the entries: history keeps the previous versions.
  for (let r = 1; r <= REVISIONS; r++) {
    await registry.apply(
      Array.from({ length: ENTRIES / 100 }, (_, k) => ({
        op: 'update' as const,
        entry: entry((k * 100 + r) % ENTRIES, r),
      })),
    );
  }
  const after = heap();
  const perEntry = (after - before) / ENTRIES;
  rows.push({
    name: `heap per entry (${ENTRIES.toLocaleString('en')} entries, ${REVISIONS} revisions kept)`,
    subject: 'kindling',
    value: perEntry,
    unit: 'B',
    better: 'lower',
  });
  rows.push({
    name: 'resident size growth per entry',
    subject: 'kindling',
    value: (process.memoryUsage().rss - rssBefore) / ENTRIES,
    unit: 'B',
    better: 'lower',
  });
  if (registry.entries().length !== ENTRIES) throw new Error('registry lost entries');
}

async function slowSubscriber(): Promise<void> {
  const BUFFER = 1024;
  const BURST = 1_000_000;
  const bus = createEventBus({
    bufferSize: BUFFER,
    overflow: 'drop-oldest',
    logger: { debug() {}, info() {}, warn() {}, error() {} },
  });
  const slow = bus.events.subscribe('burst');
  const before = heap();
  for (let i = 0; i < BURST; i++) void bus.events.send('burst', 'tick', '/t', { i, payload: 'x'.repeat(64) });
  const retained = heap() - before;
  const stats = bus.stats();
  rows.push({
    name: `slow subscriber, ${BURST.toLocaleString('en')}-event burst: retained heap`,
    subject: 'kindling',
    value: retained / 1024,
    unit: 'KiB',
    better: 'lower',
    target: `bounded by ${BUFFER} buffered events (< 1 MiB)`,
    met: retained < 1024 * 1024,
  });
  rows.push({
    name: 'slow subscriber: events dropped and reported',
    subject: 'kindling',
    value: stats.dropped,
    unit: 'events',
    better: 'lower',
    target: `= ${BURST - BUFFER}`,
    met: stats.dropped === BURST - BUFFER,
  });
  slow.close();
  await bus.stop();
}

await registryMemory();
await slowSubscriber();
report({
  case: 'Memory',
  rows,
  notes: [
    gc === undefined ? 'run without --expose-gc: heap figures include garbage' : 'heap measured after forced GC',
    'slow subscriber: Wippy subscribe, bufferSize 1024, overflow drop-oldest (each drop counted and reported)',
  ],
});
