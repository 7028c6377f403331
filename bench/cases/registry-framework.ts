// Registry framework overhead: 10,000 entries through 50 kind patterns with 4 listeners each, no
// YAML and no decoding, so only checks, ordering, the transaction and the commit are measured.
import { HandlerRegistry, Registry, type RegistryOp } from 'kindling';
import { medianMs, report } from '../harness.js';

const ENTRIES = 10_000;
const KINDS = 50;

function batch(): RegistryOp[] {
  return Array.from({ length: ENTRIES }, (_, i) => ({
    op: 'create' as const,
    entry: {
      id: `app.n${i % 20}:e${i}`,
      kind: `k${i % KINDS}.svc`,
      meta: { depends_on: i % 7 === 0 ? [`e${i + 1}`] : [], groups: [`g${i % 5}`] },
      data: { port: 1000 + i, path: `/x/${i}`, options: { retries: 3, tags: ['a', 'b'] } },
    },
  }));
}

function registryWithListeners(): Registry {
  const handlers = new HandlerRegistry();
  const noop = { add: () => undefined, update: () => undefined, delete: () => undefined };
  for (let i = 0; i < KINDS; i++) handlers.registerListener(`k${i}.*`, noop);
  for (let i = 0; i < 3; i++) handlers.registerListener('**', { ...noop });
  return new Registry({ handlers });
}

// A fresh registry and batch per sample, made before the clock starts: only apply is timed.
const fresh = (): { registry: Registry; ops: RegistryOp[] } => ({ registry: registryWithListeners(), ops: batch() });
const cold = await medianMs(({ registry, ops }) => registry.apply(ops), { samples: 1, warmupSamples: 0, setup: fresh });
const warm = await medianMs(({ registry, ops }) => registry.apply(ops), { samples: 7, warmupSamples: 3, setup: fresh });
const perEntryUs = (warm * 1000) / ENTRIES;
report({
  case: 'Registry apply: framework overhead (10,000 entries, 50 patterns, 4 listeners each)',
  rows: [
    { name: 'apply, cold', subject: 'kindling', value: cold, unit: 'ms', better: 'lower' },
    { name: 'apply, warm', subject: 'kindling', value: warm, unit: 'ms', better: 'lower' },
    { name: 'per entry, warm', subject: 'kindling', value: perEntryUs, unit: 'µs', better: 'lower' },
  ],
  notes: [
    'framework = checks, entry copy+freeze, dependency ordering, listener calls, state swap, history; the registry and the 10,000 plain-object operations are made before the clock starts',
  ],
});
