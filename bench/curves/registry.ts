// Growth curves of the registry's size read and of the http and reactive components: reading how
// many entries there are after each batch, deleting many unused functions while many endpoints or
// listeners exist, and batches of one update each among many endpoints or listeners.
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HandlerRegistry, Registry, silentLogger, type Entry, type RegistryOp } from 'kindling';
import { Application } from 'kindling/boot';
import { builtinComponents } from 'kindling/components';
import { consume } from '../harness.js';
import { q, quiet, timed, type Path } from '../curve-kit.js';

const pad = (i: number): string => String(i).padStart(7, '0');

/**
 * A registry of `size` entries polled as the admin status, the inspector and the cluster poll it:
 * each step commits a batch of one update and then reads how many entries there are. The cost per
 * step should not depend on `size`.
 */
async function statusPolling(size: number): Promise<number> {
  const registry = new Registry({ handlers: new HandlerRegistry(), acceptKinds: ['bench.*'], logger: silentLogger });
  const entry = (i: number, v: number): Entry => ({ id: `app:e${pad(i)}`, kind: 'bench.node', meta: {}, data: { v } });
  await registry.apply(Array.from({ length: size }, (_, i): RegistryOp => ({ op: 'create', entry: entry(i, 0) })));
  // Enough steps that a round spans several collections of the young generation at either size.
  const STEPS = 10_000;
  await quiet();
  const ms = await timed(async () => {
    for (let s = 0; s < STEPS; s++) {
      await registry.apply([{ op: 'update', entry: entry((s * 7919) % size, s + 1) }]);
      consume(registry.size);
    }
  });
  // Per step, scaled so that the per-item arithmetic (ms / size) yields the cost of one step.
  return (ms / STEPS) * size;
}

const FUNCTIONS = 'export const hello = () => ({ body: "hello" });\nexport const hi = () => ({ body: "hi" });\n';

/**
 * An app of the function, http (and reactive) components in a new directory, started with a
 * service, a router and the function `hello`.
 */
async function startApp(components: readonly string[]): Promise<{ app: Application; dir: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'kindling-bench-guards-'));
  await mkdir(join(dir, 'registry'));
  await writeFile(join(dir, 'functions.js'), FUNCTIONS);
  await writeFile(
    join(dir, 'kindling.yaml'),
    `name: guards\nlog: silent\ncomponents:\n${components.map((c) => `  - ${c}\n`).join('')}registry:\n  - ./registry\n`,
  );
  await writeFile(
    join(dir, 'registry/app.yaml'),
    'namespace: app\nentries:\n' +
      '  - { name: hello, kind: function.js, file: ../functions.js, export: hello }\n' +
      (components.includes('http')
        ? '  - { name: server, kind: http.service, addr: "127.0.0.1:0" }\n  - { name: site, kind: http.router, server: server }\n'
        : ''),
  );
  const app = await Application.load(dir, { builtins: builtinComponents, logger: silentLogger });
  await app.start();
  return { app, dir };
}

/**
 * `size` entries that call `app:hello` (endpoints or event listeners, made by `user`) and `size`
 * functions no one calls; the measured batch deletes the unused functions. Each delete asks the
 * component whether something still calls the function: the cost per function should not depend
 * on how many callers of other functions there are.
 */
async function functionDelete(
  size: number,
  components: readonly string[],
  user: (i: number) => Entry,
): Promise<number> {
  const { app, dir } = await startApp(components);
  try {
    const unused = (i: number): string => `app:unused${pad(i)}`;
    const ops: RegistryOp[] = [];
    for (let i = 0; i < size; i++) {
      ops.push({ op: 'create', entry: user(i) });
      const data = { file: 'functions.js', export: 'hello' };
      ops.push({ op: 'create', entry: { id: unused(i), kind: 'function.js', meta: {}, data } });
    }
    await app.registry.apply(ops, { source: 'bench' });
    const deletes = Array.from({ length: size }, (_, i): RegistryOp => ({ op: 'delete', entry: { id: unused(i) } }));
    await quiet();
    return await timed(() => app.registry.apply(deletes, { source: 'bench' }));
  } finally {
    await app.shutdown('bench done');
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * `size` entries that call `app:hello` (endpoints or event listeners, made by `user`), then batches
 * of one update each, as an editor saving one file or an admin client changing one entry makes
 * them. The cost per batch should not depend on how many other entries the component holds.
 */
async function oneUpdatePerBatch(
  size: number,
  components: readonly string[],
  user: (i: number, version: number) => Entry,
): Promise<number> {
  const { app, dir } = await startApp(components);
  try {
    const ops = Array.from({ length: size }, (_, i): RegistryOp => ({ op: 'create', entry: user(i, 0) }));
    await app.registry.apply(ops, { source: 'bench' });
    const STEPS = 1_000;
    await quiet();
    const ms = await timed(async () => {
      for (let s = 0; s < STEPS; s++)
        await app.registry.apply([{ op: 'update', entry: user((s * 7919) % size, s + 1) }], { source: 'bench' });
    });
    // Per batch, scaled so that the per-item arithmetic (ms / size) yields the cost of one batch.
    return (ms / STEPS) * size;
  } finally {
    await app.shutdown('bench done');
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * An app whose registry is `size` function entries in files of 100, then saves of one file each (one
 * entry's export changes) and a reload after each, as the file watch makes them. The cost per save
 * should not depend on how many entries the other files hold.
 */
async function reloadOneFile(size: number): Promise<number> {
  const dir = await mkdtemp(join(tmpdir(), 'kindling-bench-reload-'));
  const PER_FILE = 100;
  const fileOf = (f: number): string => join(dir, 'registry', `part${pad(f)}.yaml`);
  /** Files whose first entry exports `hi` now (each save flips it). */
  const flipped = new Set<number>();
  const text = (f: number): string => {
    let out = 'namespace: app\nentries:\n';
    for (let i = f * PER_FILE; i < (f + 1) * PER_FILE; i++) {
      const name = i === f * PER_FILE && flipped.has(f) ? 'hi' : 'hello';
      out += `  - { name: fn${pad(i)}, kind: function.js, file: ../functions.js, export: ${name} }\n`;
    }
    return out;
  };
  try {
    await mkdir(join(dir, 'registry'));
    await writeFile(join(dir, 'functions.js'), FUNCTIONS);
    await writeFile(
      join(dir, 'kindling.yaml'),
      'name: reload\nlog: silent\ncomponents:\n  - events\n  - registry\n  - function\nregistry:\n  - ./registry\n',
    );
    const files = size / PER_FILE;
    for (let f = 0; f < files; f++) await writeFile(fileOf(f), text(f));
    const app = await Application.load(dir, { builtins: builtinComponents, logger: silentLogger });
    await app.start();
    try {
      const STEPS = 100;
      await quiet();
      const ms = await timed(async () => {
        for (let s = 1; s <= STEPS; s++) {
          const f = (s * 7919) % files;
          if (!flipped.delete(f)) flipped.add(f);
          await writeFile(fileOf(f), text(f));
          const outcome = await app.reload([fileOf(f)]);
          if (outcome.status !== 'applied') throw new Error(`reload ${s}: ${outcome.status}`);
        }
      });
      // Per save, scaled so that the per-item arithmetic (ms / size) yields the cost of one save.
      return (ms / STEPS) * size;
    } finally {
      await app.shutdown('bench done');
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Endpoint `i` (version 0 for the delete curves; a new version is a new path). */
const endpoint = (i: number, version = 0): Entry => ({
  id: `app:get${pad(i)}`,
  kind: 'http.endpoint',
  meta: {},
  data: { router: 'site', method: 'GET', path: `/p${i}/v${version}`, func: 'hello' },
});

/** Event listener `i` (version 0 for the delete curves; a new version is a new pattern). */
const listener = (i: number, version = 0): Entry => ({
  id: `app:on${pad(i)}`,
  kind: 'event.listener',
  meta: {},
  data: { pattern: `bench.e${i}.v${version}`, func: 'hello' },
});

/** Function `i`: a new version alternates its export. */
const versionedFunction = (i: number, version: number): Entry => ({
  id: `app:fn${pad(i)}`,
  kind: 'function.js',
  meta: {},
  data: { file: 'functions.js', export: version % 2 === 0 ? 'hello' : 'hi' },
});

const HTTP_APP = ['events', 'registry', 'function', 'http'];
const REACTIVE_APP = ['events', 'registry', 'function', 'reactive'];
const FUNCTION_APP = ['events', 'registry', 'function'];

/** The curve of batches of one update each among `size` entries that `user` makes, in an app of `components`. */
function onePerBatch(
  component: string,
  noun: { one: string; many: string },
  components: readonly string[],
  user: (i: number, version: number) => Entry,
): Path {
  return {
    id: `${component}-one-per-batch`,
    label: `${component}: batches of one ${noun.one} update among many ${noun.many}`,
    item: 'batch',
    items: 'batches',
    sized: noun.many,
    sizes: [q(1_000), q(10_000)],
    limit: 1.5,
    measure: 'time',
    run: (n) => oneUpdatePerBatch(n, components, user),
  };
}

export const REGISTRY_PATHS: readonly Path[] = [
  {
    id: 'status-polling',
    label: 'status polling: a batch of 1 update, then registry.size',
    item: 'batch',
    items: 'batches',
    sized: 'entries',
    sizes: [q(10_000), q(100_000)],
    limit: 1.5,
    measure: 'time',
    run: statusPolling,
  },
  {
    id: 'http-function-delete',
    label: 'http: deleting unused functions while endpoints exist',
    item: 'function',
    items: 'functions',
    sizes: [q(1_000), q(10_000)],
    limit: 1.5,
    measure: 'time',
    run: (n) => functionDelete(n, HTTP_APP, (i) => endpoint(i)),
  },
  {
    id: 'reactive-function-delete',
    label: 'reactive: deleting unused functions while event listeners exist',
    item: 'function',
    items: 'functions',
    sizes: [q(1_000), q(10_000)],
    limit: 1.5,
    measure: 'time',
    run: (n) => functionDelete(n, REACTIVE_APP, (i) => listener(i)),
  },
  onePerBatch('http', { one: 'endpoint', many: 'endpoints' }, HTTP_APP, endpoint),
  onePerBatch('function', { one: 'function.js', many: 'functions' }, FUNCTION_APP, versionedFunction),
  {
    id: 'reload-one-file',
    label: 'file watch: a save of one registry file of 100 entries, then its reload',
    item: 'save',
    items: 'saves',
    sized: 'entries',
    sizes: [q(1_000), q(10_000)],
    limit: 1.5,
    measure: 'time',
    run: reloadOneFile,
  },
  onePerBatch('reactive', { one: 'listener', many: 'listeners' }, REACTIVE_APP, listener),
];
