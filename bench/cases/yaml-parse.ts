// Registry YAML throughput: a 10,000-entry registry (~4.5 MB) read by loadRegistryYaml, against the
// plain parsers on the same text. Prints the median MB/s of each and the ratios.
//
// It imports `kindling`: type-checked against src/ (tsconfig paths), resolved at run time through the
// package's own `exports`, i.e. the compiled build in dist/. So: `npm run build`, compile this file to
// somewhere inside the package (e.g. `npx tsc -p tsconfig.json --outDir dist-bench`), run it with node.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadAll } from 'js-yaml';
import { parse, parseAllDocuments } from 'yaml';
import { loadRegistryYaml, parseRegistryYaml } from 'kindling';

const ENTRIES = 10_000;
const WARMUP = 2;
const SAMPLES = 11;

/** A realistic registry: file meta, and per entry meta with depends_on/groups and nested data. */
function registryText(count: number): string {
  const lines = ['namespace: app.bench', 'meta:', '  owner: platform', 'entries:'];
  for (let i = 0; i < count; i += 1) {
    const name = `service-${String(i).padStart(5, '0')}`;
    lines.push(
      `  - name: ${name}`,
      '    kind: http.service',
      '    meta:',
      `      description: Service ${i} of the benchmark registry`,
      `      depends_on: [db-${i % 10}, cache, "other.ns:shared"]`,
      `      groups: [web, group-${i % 7}]`,
      '    data:',
      '      host: 0.0.0.0',
      `      port: ${8000 + (i % 1000)}`,
      '      routes:',
      `        - path: /api/v1/items/${i}`,
      '          method: GET',
      `          handler: app.api:list-${i}`,
      `        - path: /api/v1/items/${i}/{id}`,
      '          method: POST',
      '          timeout_ms: 2500',
      `      limits: { rps: ${100 + i}, burst: 20 }`,
    );
  }
  return `${lines.join('\n')}\n`;
}

interface Candidate {
  readonly name: string;
  readonly run: () => unknown;
}

interface Result {
  readonly name: string;
  readonly medianMs: number;
  readonly mbPerSecond: number;
}

/**
 * Times candidates round-robin (one sample of each per round, after warm-up rounds), so that a change
 * in machine load affects them all alike; returns each one's median.
 */
async function measure(candidates: readonly Candidate[], megabytes: number, samples: number): Promise<Result[]> {
  const times = candidates.map((): number[] => []);
  for (let round = 0; round < WARMUP + samples; round += 1) {
    for (const [i, candidate] of candidates.entries()) {
      const start = performance.now();
      await candidate.run();
      if (round >= WARMUP) times[i]?.push(performance.now() - start);
    }
  }
  return candidates.map((candidate, i) => {
    const sorted = [...(times[i] ?? [])].sort((a, b) => a - b);
    const medianMs = sorted[Math.floor(sorted.length / 2)] as number;
    return { name: candidate.name, medianMs, mbPerSecond: megabytes / (medianMs / 1000) };
  });
}

async function main(): Promise<void> {
  const text = registryText(ENTRIES);
  const megabytes = Buffer.byteLength(text) / (1024 * 1024);
  const dir = await mkdtemp(join(tmpdir(), 'kindling-yaml-bench-'));
  const file = join(dir, 'registry.yaml');
  await writeFile(file, text);
  try {
    const loaded = await loadRegistryYaml(file);
    if (loaded.entries.length !== ENTRIES) throw new Error(`expected ${ENTRIES} entries, got ${loaded.entries.length}`);
    console.log(`registry: ${ENTRIES} entries, ${megabytes.toFixed(2)} MB, node ${process.version}`);

    const results = [
      ...(await measure(
        [
          { name: 'loadRegistryYaml (file, entries, positions)', run: () => loadRegistryYaml(file) },
          { name: 'parseRegistryYaml (text)', run: () => parseRegistryYaml(text, file) },
          { name: 'js-yaml loadAll (default schema)', run: () => loadAll(text) },
        ],
        megabytes,
        SAMPLES,
      )),
      // The yaml package is about twenty times slower: fewer samples keep the run short.
      ...(await measure(
        [
          { name: 'yaml parse', run: () => parse(text) },
          { name: 'yaml parseAllDocuments', run: () => parseAllDocuments(text) },
        ],
        megabytes,
        3,
      )),
    ];
    const ours = results[0] as Result;
    for (const result of results) {
      const ratio = result.mbPerSecond / ours.mbPerSecond;
      console.log(
        `${result.name.padEnd(46)} ${result.medianMs.toFixed(1).padStart(8)} ms ${result.mbPerSecond
          .toFixed(1)
          .padStart(7)} MB/s  ×${ratio.toFixed(2)} of loadRegistryYaml`,
      );
    }
    const target = 15;
    console.log(
      ours.mbPerSecond >= target
        ? `ok: loadRegistryYaml ≥ ${target} MB/s`
        : `SLOW: loadRegistryYaml below ${target} MB/s`,
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
