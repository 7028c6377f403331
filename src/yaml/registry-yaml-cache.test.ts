import { mkdtemp, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { getEntrySource } from '../entry/entry.js';
import { loadRegistryYaml, RegistryYamlCache, RegistryYamlError } from './registry-yaml.js';

/** What a load gave: its entries with where each was declared, or its problems. */
async function outcome(dir: string, cache?: RegistryYamlCache, changedFiles?: readonly string[]): Promise<unknown> {
  try {
    const { entries, files } = await loadRegistryYaml(dir, {
      ...(cache === undefined ? {} : { cache }),
      ...(changedFiles === undefined ? {} : { changedFiles }),
    });
    return {
      files,
      entries: entries.map((entry) => {
        const source = getEntrySource(entry);
        return [entry.id, entry.kind, entry.data, source?.file, source?.line, source?.column];
      }),
    };
  } catch (error) {
    if (!(error instanceof RegistryYamlError)) throw error;
    return { problems: error.problems };
  }
}

/** A registry file of `names` (kind `a.b`, data `{ v }`); `broken` adds a line js-yaml refuses. */
function fileText(names: readonly string[], v: number, broken: boolean): string {
  const lines = ['namespace: app', 'entries:'];
  for (const name of names) lines.push(`  - name: ${name}`, '    kind: a.b', `    v: ${v}`);
  if (broken) lines.push('  - [unclosed');
  return `${lines.join('\n')}\n`;
}

describe('RegistryYamlCache', () => {
  let dir: string;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kindling-yaml-cache-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reads again only the files whose text changed, and gives back the same entries for the others', async () => {
    await writeFile(join(dir, 'a.yaml'), fileText(['one'], 1, false));
    await writeFile(join(dir, 'b.yaml'), fileText(['two'], 1, false));
    const cache = new RegistryYamlCache();
    const first = await loadRegistryYaml(dir, { cache });
    await writeFile(join(dir, 'b.yaml'), fileText(['two'], 2, false));
    const second = await loadRegistryYaml(dir, { cache });
    expect(second.entries[0]).toBe(first.entries[0]);
    expect(second.entries[1]).not.toBe(first.entries[1]);
    expect(second.entries[1]?.data).toEqual({ v: 2 });
    await unlink(join(dir, 'b.yaml'));
    await loadRegistryYaml(dir, { cache });
    expect(cache.size).toBe(1);
  });

  it('takes the files a watch does not name as they were, unread', async () => {
    await writeFile(join(dir, 'a.yaml'), fileText(['one'], 1, false));
    await writeFile(join(dir, 'b.yaml'), fileText(['two'], 1, false));
    const cache = new RegistryYamlCache();
    await loadRegistryYaml(dir, { cache });
    await writeFile(join(dir, 'a.yaml'), fileText(['one'], 2, false));
    await writeFile(join(dir, 'b.yaml'), fileText(['two'], 2, false));
    const loaded = await loadRegistryYaml(dir, { cache, changedFiles: [join(dir, 'a.yaml')] });
    expect(loaded.entries.map((entry) => entry.data)).toEqual([{ v: 2 }, { v: 1 }]);
    const everything = await loadRegistryYaml(dir, { cache });
    expect(everything.entries.map((entry) => entry.data)).toEqual([{ v: 2 }, { v: 2 }]);
  });

  // Files edited at random between loads (ids moved between files, so that duplicates come and go,
  // files broken and mended, removed and made again): a load with the cache gives what a load
  // without one gives, entries and positions, or the same problems.
  it('loads as a load without it would, through any sequence of edits', async () => {
    const names = ['n0', 'n1', 'n2', 'n3'];
    const edit = fc.record({
      file: fc.constantFrom('a.yaml', 'b.yaml', 'c.yaml'),
      names: fc.subarray(names),
      v: fc.nat(3),
      broken: fc.boolean(),
      remove: fc.boolean(),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(fc.array(edit, { maxLength: 3 }), { minLength: 1, maxLength: 6 }), async (rounds) => {
        await rm(dir, { recursive: true, force: true });
        dir = await mkdtemp(join(tmpdir(), 'kindling-yaml-cache-'));
        const cache = new RegistryYamlCache();
        for (const round of rounds) {
          for (const step of round) {
            const path = join(dir, step.file);
            if (step.remove) await unlink(path).catch(() => undefined);
            else await writeFile(path, fileText(step.names, step.v, step.broken));
          }
          // As a file watch calls it (naming the files it saw change), or as a plain reload.
          const changed = round.length % 2 === 0 ? undefined : round.map((step) => join(dir, step.file));
          expect(await outcome(dir, cache, changed)).toEqual(await outcome(dir));
        }
      }),
      { numRuns: 60 },
    );
  });
});
