// Boot: 1,000 components with a random dependency DAG, each doing nothing in load/start/stop, so
// what is measured is the framework: planning levels, loading, starting and shutting down.
import { BootLoader, defineComponent, type Component } from 'kindling/boot';
import { medianMs, report } from '../harness.js';

const COMPONENTS = 1_000;

/** A deterministic generator from a fixed start value, so every run boots the same DAG. */
function random(start: number): () => number {
  let state = start >>> 0;
  return () => {
    state = (state * 1664525 + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

function components(): Component[] {
  const next = random(42);
  return Array.from({ length: COMPONENTS }, (_, i) => {
    // Up to 4 dependencies among earlier components: acyclic by construction.
    const dependsOn =
      i === 0 ? [] : [...new Set(Array.from({ length: Math.floor(next() * 5) }, () => `c${Math.floor(next() * i)}`))];
    return defineComponent({
      name: `c${i}`,
      dependsOn,
      load: (ctx) => ctx,
      start: async () => undefined,
      stop: async () => undefined,
    });
  });
}

async function bootOnce(): Promise<{ load: number; start: number; stop: number }> {
  const boot = new BootLoader();
  for (const component of components()) boot.register(component);
  let t = process.hrtime.bigint();
  await boot.load();
  const load = Number(process.hrtime.bigint() - t) / 1e6;
  t = process.hrtime.bigint();
  await boot.start();
  const start = Number(process.hrtime.bigint() - t) / 1e6;
  t = process.hrtime.bigint();
  await boot.shutdown();
  const stop = Number(process.hrtime.bigint() - t) / 1e6;
  return { load, start, stop };
}

const phases: { load: number; start: number; stop: number }[] = [];
const total = await medianMs(
  async () => {
    const run = await bootOnce();
    phases.push(run);
  },
  { samples: 7, warmupSamples: 2 },
);
const median = (pick: (p: { load: number; start: number; stop: number }) => number): number => {
  const values = phases
    .slice(2)
    .map(pick)
    .sort((a, b) => a - b);
  return values[values.length >> 1] as number;
};
const loadStart = median((p) => p.load + p.start);
report({
  case: 'Boot: 1,000 components, random dependency DAG (no-op load/start/stop)',
  rows: [
    { name: 'load + start', subject: 'kindling', value: loadStart, unit: 'ms', better: 'lower' },
    { name: 'load', subject: 'kindling', value: median((p) => p.load), unit: 'ms', better: 'lower' },
    { name: 'start', subject: 'kindling', value: median((p) => p.start), unit: 'ms', better: 'lower' },
    { name: 'shutdown', subject: 'kindling', value: median((p) => p.stop), unit: 'ms', better: 'lower' },
    { name: 'whole cycle incl. registration', subject: 'kindling', value: total, unit: 'ms', better: 'lower' },
  ],
});
