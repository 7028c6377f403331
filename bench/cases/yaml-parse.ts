// Registry YAML throughput: a 10,000-entry registry (~4.5 MB) read by loadRegistryYaml, against the
// plain parsers on the same text. Prints the median MB/s of each and the ratios.
//
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadAll } from 'js-yaml';
import { parse, parseAllDocuments } from 'yaml';
import { loadRegistryYaml, parseRegistryYaml } from 'kindling';
import { report, type BenchRow } from '../harness.js';
import { registryText } from '../registry-fixture.js';

const ENTRIES = 10_000;
const WARMUP = 2;
const SAMPLES = 11;

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
          { name: 'yaml parse', run: (): unknown => parse(text) },
          { name: 'yaml parseAllDocuments', run: () => parseAllDocuments(text) },
        ],
        megabytes,
        3,
      )),
    ];
    const ours = results[0] as Result;
    const rows: BenchRow[] = results.map((result) => ({
      name: `parse ${megabytes.toFixed(1)} MB, ${ENTRIES} entries`,
      subject: result === ours ? 'kindling' : result.name,
      value: result.mbPerSecond,
      unit: 'MB/s',
      better: 'higher',
      ...(result === ours ? {} : { ratio: ours.mbPerSecond / result.mbPerSecond }),
    }));
    report({
      case: 'Registry YAML parse (loadRegistryYaml keeps positions for errors)',
      rows,
      notes: [`kindling = ${ours.name}`, 'candidates timed round-robin so machine load affects them alike'],
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
