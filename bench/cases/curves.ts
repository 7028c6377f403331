// Growth curves: each path of the registry, boot planning and the bus measured at a size N and at
// 10·N (4·N where 10·N would take minutes on a quadratic path), in one process per path, so that
// both sizes share one JIT state. What is compared is the cost per item (per change, per component,
// per subscription...): a linear path keeps it flat, a quadratic one multiplies it by the size factor.
// A line is MISSED when the per-item cost grows more than 1.5× (2× for paths that sort, where
// n·log n is the best there is). Memory paths that must stay bounded compare totals instead.
//
// Time is this process's CPU time (process.cpuUsage), the median of up to 5 rounds at each size
// (fewer when a round is long), the sizes taking their rounds in turn. Each path runs in a child
// process of this script with a time limit (CURVE_TIMEOUT_S, default 60 s): a path still running at
// the limit is reported as MISSED with what it had measured. BENCH_QUICK=1 runs every path at a
// tenth of its sizes, for development only.
//
// Everything goes through the public API, as a user would call it.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import {
  HandlerRegistry,
  KindlingError,
  Registry,
  type EntryInput,
  type EntryListener,
  type RegistryOp,
} from 'kindling';
import { BootLoader, defineComponent } from 'kindling/boot';
import { DefaultEventBus } from 'kindling/events';
import { silentLogger } from 'kindling';
import { consume, cpuNowMs, report, type BenchRow } from '../harness.js';
import { copiesFor, heapUsed, noop, q, quiet, timed, type Path } from '../curve-kit.js';
import { EXTRA_PATHS } from '../curves/index.js';
import { EE2, emitterFaces, trailingBackground, type EmitterFace } from '../bus-fixture.js';

const QUICK = process.env['BENCH_QUICK'] === '1';
const TIMEOUT_S = Number(process.env['CURVE_TIMEOUT_S'] ?? 60);
const ROUNDS = 5;
/**
 * A size of a timed path takes at least this many rounds, whatever they cost. The budget below
 * counts a round's setup too, so a large size whose setup used it up took one or two rounds, and
 * with two the median read is the slower one: the http batch curve measured 1.4x and 1.6x that way,
 * and 1.02-1.07x with three rounds (its first round at 10,000 is the slow one).
 */
const MIN_ROUNDS = 3;
/** A size stops taking rounds once it has spent this much CPU (past {@link MIN_ROUNDS}). */
const ROUND_BUDGET_MS = 2_000;
/**
 * A size whose rounds are short keeps taking them, up to this many, while it has spent less than
 * {@link SHORT_BUDGET_MS}: the median of a few millisecond-long rounds moves with every pause of the
 * machine, and the small size of a curve is the one that divides.
 */
const MAX_ROUNDS = 25;
/** A `bounded` total below this many bytes counts as this many: the heap readings' noise. */
const BOUNDED_FLOOR = 1024 * 1024;
const SHORT_BUDGET_MS = 500;

/** A generator started from a fixed number, so that every run builds the same graphs. */
function random(start: number): () => number {
  let state = start >>> 0;
  return () => {
    state = (state * 1664525 + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

function shuffled<T>(items: readonly T[], next: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

const pad = (i: number): string => String(i).padStart(7, '0');

function registryWithout(listeners: { pattern: string; listener: EntryListener }[] = []): Registry {
  const handlers = new HandlerRegistry();
  for (const { pattern, listener } of listeners) handlers.registerListener(pattern, listener);
  return new Registry({ handlers, acceptKinds: ['bench.*'], logger: silentLogger });
}

const creates = (entries: readonly EntryInput[]): RegistryOp[] => entries.map((entry) => ({ op: 'create', entry }));

// ------------------------------------------------------------------ the paths

async function watchDrain(size: number, watchers: number): Promise<number> {
  const registry = registryWithout();
  const iterators = Array.from({ length: watchers }, () => registry.watch({ maxBuffered: size * 2 }));
  await registry.apply(creates(Array.from({ length: size }, (_, i) => ({ id: `app:e${pad(i)}`, kind: 'bench.node' }))));
  await quiet(); // the apply's garbage is collected before the clock starts
  return timed(async () => {
    for (const iterator of iterators) {
      for (let i = 0; i < size; i++) {
        const next = await iterator.next();
        if (next.done === true) throw new Error(`watch ended after ${i} of ${size} changes`);
      }
      await iterator.return?.();
    }
  });
}

type Naming = 'sorted' | 'random' | 'reverse';

/** A random DAG of `size` components, up to 6 dependencies each, named so that dependencies sort below, anywhere, or above their dependants. */
async function bootPlan(size: number, naming: Naming): Promise<number> {
  const next = random(7);
  const order = Array.from({ length: size }, (_, i) => i);
  const names =
    naming === 'sorted' ? order : naming === 'reverse' ? order.map((i) => size - 1 - i) : shuffled(order, next);
  const name = (i: number): string => `c${pad(names[i] as number)}`;
  const boot = new BootLoader({ logger: silentLogger });
  for (let i = 0; i < size; i++) {
    const deps =
      i === 0 ? [] : [...new Set(Array.from({ length: Math.floor(next() * 7) }, () => name(Math.floor(next() * i))))];
    boot.register(defineComponent({ name: name(i), dependsOn: deps, load: (ctx) => ctx }));
  }
  await quiet(); // the setup's garbage is collected before the clock starts
  return timed(() => consume(boot.plan()));
}

/** `size` members of group g, and 10 entries that depend on `group:g`. */
async function groupDeps(size: number): Promise<number> {
  const registry = registryWithout();
  const members = Array.from({ length: size }, (_, i) => ({
    id: `app:m${pad(i)}`,
    kind: 'bench.member',
    meta: { groups: ['g'] },
  }));
  const dependants = Array.from({ length: 10 }, (_, i) => ({
    id: `app:d${i}`,
    kind: 'bench.user',
    meta: { depends_on: ['group:g'] },
  }));
  const ops = creates([...dependants, ...members]);
  await quiet();
  return timed(() => registry.apply(ops));
}

/**
 * A chain of `size` entries, each of whose listener refuses with NOT_FOUND (naming the missing id in
 * `details.missing`) until the next one is in, and ids ordered so that every entry comes before the
 * one it waits for: the worst order for retries.
 */
async function notFoundChain(size: number): Promise<number> {
  const applied = new Set<string>();
  const accept = (entry: { id: string; data: unknown }): void => {
    const needs = (entry.data as { needs?: string }).needs;
    if (needs !== undefined && !applied.has(needs)) {
      throw new KindlingError('NOT_FOUND', `${entry.id} needs ${needs}`, { details: { missing: needs } });
    }
    applied.add(entry.id);
  };
  const listener: EntryListener = {
    add: (_ctx, entry) => accept(entry),
    update: (_ctx, entry) => accept(entry),
    delete: () => undefined,
  };
  const registry = registryWithout([{ pattern: 'bench.*', listener }]);
  const ops = creates(
    Array.from({ length: size }, (_, i) => ({
      id: `app:c${pad(i)}`,
      kind: 'bench.link',
      data: i + 1 < size ? { needs: `app:c${pad(i + 1)}` } : {},
    })),
  );
  await quiet();
  const ms = await timed(() => registry.apply(ops));
  if (applied.size !== size) throw new Error(`chain applied ${applied.size} of ${size}`);
  return ms;
}

/** `size` creates with up to 3 dependencies each on other entries of the batch, ids in random order. */
async function ordering(size: number): Promise<number> {
  const next = random(11);
  const names = shuffled(
    Array.from({ length: size }, (_, i) => i),
    next,
  );
  const id = (i: number): string => `app:n${pad(names[i] as number)}`;
  const entries = Array.from({ length: size }, (_, i) => ({
    id: id(i),
    kind: 'bench.node',
    meta:
      i === 0
        ? {}
        : {
            depends_on: [...new Set(Array.from({ length: Math.floor(next() * 4) }, () => id(Math.floor(next() * i))))],
          },
  }));
  const registry = registryWithout();
  const ops = creates(shuffled(entries, next));
  await quiet();
  return timed(() => registry.apply(ops));
}

/** Heap retained by a registry with default options after `batches` batches of 1,000 updates each. */
async function historyMemory(batches: number): Promise<number> {
  const ENTRIES = 1_000;
  consume(undefined); // let what an earlier round kept go
  const entry = (i: number, v: number): EntryInput => ({
    id: `app:e${pad(i)}`,
    kind: 'bench.node',
    data: { v, text: `entry ${i} version ${v}`, limits: { rps: 100 + v } },
  });
  const registry = registryWithout();
  await registry.apply(creates(Array.from({ length: ENTRIES }, (_, i) => entry(i, 0))));
  const before = heapUsed();
  for (let b = 1; b <= batches; b++) {
    await registry.apply(Array.from({ length: ENTRIES }, (_, i) => ({ op: 'update' as const, entry: entry(i, b) })));
  }
  const retained = heapUsed() - before;
  consume(registry);
  return retained;
}

/** The churn curve on the bus, or on EventEmitter as its control (no target: the machine's share of the growth). */
function churnPath(on: 'kindling' | 'EventEmitter'): Path {
  return {
    id: on === 'kindling' ? 'churn' : 'churn-ee',
    label: 'subscription churn, 1 subscribe+unsubscribe per 10 publishes',
    item: 'step',
    items: 'steps',
    sized: 'subscriptions',
    sizes: [q(1_000), q(10_000)],
    limit: 1.5,
    measure: 'time',
    ...(on === 'kindling' ? {} : { control: on }),
    run: (n) => churn(n, on),
  };
}

/**
 * Subscription churn: `size` subscriptions on distinct names; one step is 10 publishes to those
 * names, then one subscribe and its unsubscribe. The cost per step should not depend on `size`.
 * Every name is published twice before the clock starts: the bus keeps the plan of a name from its
 * second publish on, and that first-publish cost, once per name, belongs to the unique-names curve
 * (counted here over a fixed number of steps it would grow with `size` by construction).
 *
 * The small size runs on as many independent buses as make up the large size (ten of 1,000 beside
 * one of 10,000), the steps spread over them: both sizes then reach into the same amount of memory
 * at random, and what is left to grow is the bus's own work per step. On one bus of 1,000, every
 * name, plan and handler stays in the processor's cache and one of 10,000 does not; EventEmitter,
 * measured that way, grew about 1.8× with nothing in it that depends on the count.
 */
async function churn(size: number, on: 'kindling' | 'EventEmitter' = 'kindling'): Promise<number> {
  const copies = copiesFor(size, 10_000);
  const total = size * copies;
  const targets = Array.from({ length: copies }, () => (emitterFaces()[on] as () => EmitterFace)());
  // Name `n<j>` lives on bus j % copies: the same 10,000 names at either size.
  const on$ = (j: number): EmitterFace => targets[j % copies] as EmitterFace;
  for (let j = 0; j < total; j++) on$(j).on(`n${j}.changed`, (payload) => consume(payload));
  for (let round = 0; round < 2; round++) for (let j = 0; j < total; j++) on$(j).emit(`n${j}.changed`, j);
  await quiet();
  const STEPS = 20_000;
  let k = 0;
  const ms = await timed(() => {
    for (let s = 0; s < STEPS; s++) {
      for (let i = 0; i < 10; i++) {
        const j = (k++ * 7919) % total;
        on$(j).emit(`n${j}.changed`, k);
      }
      const j = s % total;
      on$(j).on(`n${j}.changed`, noop)();
    }
  });
  for (const target of targets) await target.close();
  // Per step, scaled so that the per-item arithmetic (ms / size) yields the cost of one step.
  return (ms / STEPS) * size;
}

/** The wildcard ramp on the bus, or on EventEmitter2 as its control. */
function wildcardPath(on: 'kindling' | typeof EE2): Path {
  return {
    id: on === 'kindling' ? 'wildcard' : 'wildcard-ee2',
    label: 'connections arriving, each subscribing user.<id>.* among the names cached',
    item: 'connection',
    items: 'connections',
    sizes: [q(4_000), q(40_000)],
    limit: 1.5,
    measure: 'time',
    ...(on === 'kindling' ? {} : { control: on }),
    run: (n) => wildcardRamp(n, on),
  };
}

/**
 * Connections arriving one by one, as on a server that pushes each user's events: each subscribes
 * `user.<id>.*` and then receives two events of its own. Every new wildcard must forget the cached
 * names it can match; the cost per connection should not depend on how many names are cached.
 */
async function wildcardRamp(size: number, on: 'kindling' | typeof EE2): Promise<number> {
  const target = (emitterFaces()[on] as () => EmitterFace)();
  let received = 0;
  const count = (): void => void received++;
  await quiet();
  const ms = await timed(() => {
    for (let i = 0; i < size; i++) {
      target.on(`user.${i}.*`, count);
      target.emit(`user.${i}.updated`, i);
      target.emit(`user.${i}.updated`, i);
    }
  });
  await target.close();
  if (received !== 2 * size) throw new Error(`wildcard ramp: ${received} of ${2 * size} delivered`);
  return ms;
}

/** Publishing `size` names never published before, with a subscriber of `*.created` and 1,000 other patterns. */
async function uniqueNames(size: number, what: 'time' | 'memory'): Promise<number> {
  const bus = new DefaultEventBus({ nodeID: 'curve', logger: silentLogger });
  for (const pattern of trailingBackground()) bus.on(pattern, noop);
  let received = 0;
  bus.on('*.created', () => void received++);
  bus.emit('warm.created', 1);
  consume(undefined);
  const before = what === 'memory' ? heapUsed() : 0;
  const ms = await timed(() => {
    for (let i = 0; i < size; i++) bus.emit(`u${i}.created`, i);
  });
  const retained = what === 'memory' ? heapUsed() - before : 0;
  if (received !== size + 1) throw new Error(`unique names: ${received} of ${size + 1} delivered`);
  await bus.stop();
  return what === 'memory' ? retained : ms;
}

/** `size` subscriptions of one name, then each disposed in subscription order. */
/**
 * The small size repeats on independent buses until it has as many unsubscribes as the large one:
 * one round of 10,000 takes a tenth of a millisecond, too short to time, and both sizes then walk
 * the same amount of memory. What is left to grow is the removal itself (a linear removal grows 10×).
 */
async function unsubscribeMany(size: number): Promise<number> {
  const copies = copiesFor(size, 100_000);
  const buses = Array.from({ length: copies }, () => new DefaultEventBus({ nodeID: 'curve', logger: silentLogger }));
  const subscriptions = buses.map((bus) => Array.from({ length: size }, () => bus.on('one.name', noop)));
  const ms = await timed(() => {
    for (const list of subscriptions) for (const subscription of list) subscription.dispose();
  });
  for (const bus of buses) await bus.stop();
  return ms / copies;
}

/** Heap retained by `size` subscriptions (distinct handler functions, made before the first measure) on 1,000 names. */
async function subscriptionMemory(size: number): Promise<number> {
  consume(undefined);
  const bus = new DefaultEventBus({ nodeID: 'curve', logger: silentLogger });
  const handlers = Array.from({ length: size }, (_, i) => (payload: unknown) => consume([i, payload]));
  const names = Array.from({ length: 1000 }, (_, i) => `app.e${i}.changed`);
  const before = heapUsed();
  const subscriptions = handlers.map((handler, i) => bus.on(names[i % 1000] as string, handler));
  const retained = heapUsed() - before;
  consume(subscriptions);
  await bus.stop();
  return retained;
}

export const PATHS: readonly Path[] = [
  {
    id: 'watch',
    label: 'registry.watch() draining one batch',
    item: 'change',
    items: 'changes',
    sizes: [q(10_000), q(100_000)],
    limit: 1.5,
    measure: 'time',
    run: (n) => watchDrain(n, 1),
  },
  {
    id: 'watch10',
    label: 'registry.watch() draining one batch, 10 watchers',
    item: 'change',
    items: 'changes',
    sizes: [q(10_000), q(40_000)],
    limit: 1.5,
    measure: 'time',
    run: (n) => watchDrain(n, 10),
  },
  {
    id: 'boot-sorted',
    label: 'boot planning, dependencies sort below dependants',
    item: 'component',
    items: 'components',
    sizes: [q(1_000), q(10_000)],
    limit: 2,
    measure: 'time',
    run: (n) => bootPlan(n, 'sorted'),
  },
  {
    id: 'boot-random',
    label: 'boot planning, random names, up to 6 dependencies',
    item: 'component',
    items: 'components',
    sizes: [q(1_000), q(10_000)],
    limit: 2,
    measure: 'time',
    run: (n) => bootPlan(n, 'random'),
  },
  {
    id: 'boot-reverse',
    label: 'boot planning, dependencies sort above dependants',
    item: 'component',
    items: 'components',
    sizes: [q(1_000), q(10_000)],
    limit: 2,
    measure: 'time',
    run: (n) => bootPlan(n, 'reverse'),
  },
  {
    id: 'group',
    label: "depends_on: ['group:g'], 10 dependants",
    item: 'member',
    items: 'members',
    sizes: [q(4_000), q(40_000)],
    limit: 2,
    measure: 'time',
    run: groupDeps,
  },
  {
    id: 'not-found',
    label: 'NOT_FOUND retry chain',
    item: 'entry',
    items: 'entries',
    sizes: [q(200), q(2_000)],
    limit: 2,
    measure: 'time',
    run: notFoundChain,
  },
  {
    id: 'ordering',
    label: 'ordering of ops (apply, up to 3 dependencies each)',
    item: 'op',
    items: 'ops',
    sizes: [q(10_000), q(100_000)],
    limit: 2,
    measure: 'time',
    run: ordering,
  },
  {
    id: 'history',
    label: 'history memory, batches of 1,000 updates, default limits',
    item: 'batch',
    items: 'batches',
    sizes: [q(100), q(400)],
    limit: 1.5,
    measure: 'bounded',
    run: historyMemory,
  },
  churnPath('kindling'),
  churnPath('EventEmitter'),
  wildcardPath('kindling'),
  wildcardPath(EE2),
  {
    id: 'unique',
    label: 'unique event names, 1,000 other patterns',
    item: 'publish',
    items: 'publishes',
    sizes: [q(100_000), q(1_000_000)],
    limit: 1.5,
    measure: 'time',
    run: (n) => uniqueNames(n, 'time'),
  },
  {
    id: 'unique-memory',
    label: 'unique event names: heap retained',
    item: 'publish',
    items: 'publishes',
    sizes: [q(100_000), q(1_000_000)],
    limit: 1.5,
    measure: 'bounded',
    run: (n) => uniqueNames(n, 'memory'),
  },
  {
    id: 'unsubscribe',
    label: 'unsubscribe many of one name',
    item: 'unsubscribe',
    items: 'unsubscribes',
    sizes: [q(10_000), q(100_000)],
    limit: 1.5,
    measure: 'time',
    run: unsubscribeMany,
  },
  {
    id: 'sub-memory',
    label: 'memory per subscription',
    item: 'subscription',
    items: 'subscriptions',
    sizes: [q(10_000), q(100_000)],
    limit: 1.5,
    measure: 'memory',
    run: subscriptionMemory,
  },
  ...EXTRA_PATHS,
];

// ------------------------------------------------------------------ child: one path, both sizes

interface Point {
  readonly size: number;
  /** Per item: µs (time) or bytes (memory); for `bounded`, the total in bytes. */
  readonly value: number;
  readonly rounds: number;
}

/** The rounds one size of a path has taken so far, and the CPU they spent. */
interface SizeRounds {
  readonly size: number;
  readonly values: number[];
  spent: number;
}

async function measurePath(path: Path): Promise<void> {
  // One round at each size first, not measured. The first round of a size is slow: V8 compiles what
  // only that size reaches and the heap grows to it (the http batch curve's first round at 10,000
  // endpoints took 1.4x its later ones, and with three rounds it pushed the median up).
  for (const size of path.sizes) await path.run(size);
  const byTime = path.measure === 'time';
  const sizes: SizeRounds[] = path.sizes.map((size) => ({ size, values: [], spent: 0 }));
  // The small size takes all of ROUNDS: its rounds cost a tenth of the large size's, and the
  // per-item cost divides by its figure. At 1,000 functions the http delete batch is ~10 ms of a
  // ~1 s round, and three rounds of it read 6.7 to 16.7 µs a function between runs.
  const small = sizes[0];
  const more = (at: SizeRounds): boolean =>
    at.values.length === 0 ||
    (byTime && at.values.length < (at === small ? ROUNDS : MIN_ROUNDS)) ||
    (byTime && at.values.length < ROUNDS && at.spent < ROUND_BUDGET_MS) ||
    (byTime && at.values.length < MAX_ROUNDS && at.spent < SHORT_BUDGET_MS);
  // The sizes take their rounds in turn, so that a slow spell of the machine (this VM's CPU time for
  // the same round moved up to 2x over a minute) lands on both sizes and not on one. A size's point
  // is written once it and the sizes before it are done: a path stopped at the time limit still
  // reports the sizes it finished.
  let written = 0;
  for (let taking = true; taking;) {
    taking = false;
    for (const at of sizes) {
      if (!more(at)) continue;
      taking = true;
      const started = cpuNowMs();
      at.values.push(await path.run(at.size));
      at.spent += cpuNowMs() - started;
    }
    for (let next = sizes[written]; next !== undefined && !more(next); next = sizes[++written]) {
      const { size, values } = next;
      const median = [...values].sort((a, b) => a - b)[values.length >> 1] as number;
      const value =
        path.measure === 'time' ? (median * 1000) / size : path.measure === 'memory' ? median / size : median;
      process.stdout.write(`@@point ${JSON.stringify({ size, value, rounds: values.length } satisfies Point)}\n`);
    }
  }
}

// ------------------------------------------------------------------ parent: every path, one row each

const count = (n: number): string => n.toLocaleString('en');

function show(value: number, measure: Path['measure']): string {
  if (measure === 'time')
    return value >= 100
      ? `${value.toFixed(0)} µs`
      : value >= 1
        ? `${value.toFixed(2)} µs`
        : `${(value * 1000).toFixed(0)} ns`;
  if (measure === 'memory') return `${value.toFixed(0)} B`;
  return `${(value / 1024 / 1024).toFixed(1)} MB`;
}

function main(): void {
  const started = process.hrtime.bigint();
  const rows: BenchRow[] = [];
  const notes: string[] = [];
  for (const path of PATHS) {
    process.stderr.write(`  curve: ${path.id}`);
    const pathStarted = process.hrtime.bigint();
    const run = spawnSync(
      process.execPath,
      ['--expose-gc', '--no-flush-bytecode', fileURLToPath(import.meta.url), '--path', path.id],
      {
        encoding: 'utf8',
        timeout: TIMEOUT_S * 1000,
        killSignal: 'SIGKILL',
        maxBuffer: 16 * 1024 * 1024,
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    process.stderr.write(` (${(Number(process.hrtime.bigint() - pathStarted) / 1e9).toFixed(0)} s)\n`);
    const points = run.stdout
      .split('\n')
      .filter((line) => line.startsWith('@@point '))
      .map((line) => JSON.parse(line.slice('@@point '.length)) as Point);
    const [small, large] = path.sizes;
    const name = `${path.label}: ${count(small)} → ${count(large)} ${path.sized ?? path.items}`;
    const target = `≤ ${path.limit}×`;
    const first = points[0];
    const second = points[1];
    const what = path.measure === 'bounded' ? 'in total' : `per ${path.item}`;
    if (first === undefined || second === undefined) {
      const timedOut = run.error !== undefined || run.signal !== null;
      const why = timedOut ? `stopped after ${TIMEOUT_S} s` : `failed (exit ${run.status})`;
      const known =
        first === undefined
          ? `nothing measured`
          : `${show(first.value, path.measure)} ${what} at ${count(first.size)}, ${count(large)} not finished`;
      rows.push({
        name,
        subject: 'kindling',
        value: Number.NaN,
        unit: '×',
        better: 'lower',
        target,
        met: false,
        detail: `${why}: ${known}`,
      });
      continue;
    }
    // A total that must stay bounded is compared from a floor: heap readings move by a few hundred
    // KB either way, and two totals near zero (or below it) have no meaningful ratio.
    const growth =
      path.measure === 'bounded'
        ? Math.max(second.value, BOUNDED_FLOOR) / Math.max(first.value, BOUNDED_FLOOR)
        : second.value / first.value;
    const rounds = path.measure === 'time' ? `; rounds ${first.rounds} and ${second.rounds}` : '';
    const detail = `${show(first.value, path.measure)} → ${show(second.value, path.measure)} ${what}${rounds}`;
    if (path.control !== undefined) {
      rows.push({ name, subject: `${path.control} (control)`, value: growth, unit: '×', better: 'lower', detail });
      continue;
    }
    rows.push({
      name,
      subject: 'kindling',
      value: growth,
      unit: '×',
      better: 'lower',
      target,
      met: growth <= path.limit,
      detail,
    });
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  notes.push(
    'value = growth of the cost per item from the smaller size to the larger (1.0 = linear); paths that sort are allowed 2×, the others 1.5×',
    '"in total" rows must stay bounded: their total may not grow with the work (a total under 1 MB counts as 1 MB, the noise of the heap readings)',
    'a "(control)" row runs the same steps on a peer, with no target: growth the peer shows too comes from the machine (caches, garbage collection), not from an algorithm',
    "churn, unsubscribe-many, emit-groups and the service curves (Moleculer's control too) run their small size on several independent buses that together hold as many subscriptions, names and services as the large size: both sizes reach into the same memory, so the growth shown is the bus's own work and not the processor cache filling up (a control on EventEmitter, timed on one emitter per size, grew about 1.8× with nothing in it that depends on the count)",
    'the watch, boot planning, ordering, retry, bus, service, channel and component paths collect the garbage of their setup and of earlier rounds before the clock starts (kindling and its controls alike), so that neither lands in one size and not the other',
    `time = process CPU time, median of ${ROUNDS} rounds or more at the small size and ${MIN_ROUNDS} to ${ROUNDS} at the large one (up to ${MAX_ROUNDS} when they are short; the detail gives how many), after one unmeasured round at each size, the sizes taking their rounds in turn; each path in its own process, stopped after ${TIMEOUT_S} s`,
    ...(QUICK ? ['BENCH_QUICK=1: sizes divided by 10, for development only'] : []),
    `case took ${seconds.toFixed(0)} s`,
  );
  report({ case: 'Growth curves (cost per item at N and 10·N or 4·N)', rows, notes });
}

if (process.argv[2] === '--path') {
  const path = PATHS.find((p) => p.id === process.argv[3]);
  if (path === undefined) throw new Error(`unknown curve ${process.argv[3]}`);
  await measurePath(path);
} else {
  main();
}
