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
    const { entries, files, fileEntries } = await loadRegistryYaml(dir, {
      ...(cache === undefined ? {} : { cache }),
      ...(changedFiles === undefined ? {} : { changedFiles }),
    });
    // Each file's entries, in the order of the files, are the entries.
    expect([...fileEntries.keys()]).toEqual(files);
    expect([...fileEntries.values()].flat()).toEqual(entries);
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

  it('gives the same array for each file whose text did not change', async () => {
    await writeFile(join(dir, 'a.yaml'), fileText(['one'], 1, false));
    await writeFile(join(dir, 'b.yaml'), fileText(['two'], 1, false));
    const cache = new RegistryYamlCache();
    const first = await loadRegistryYaml(dir, { cache });
    await writeFile(join(dir, 'b.yaml'), fileText(['two', 'three'], 2, false));
    const second = await loadRegistryYaml(dir, { cache, changedFiles: [join(dir, 'b.yaml')] });
    const a = join(dir, 'a.yaml');
    const b = join(dir, 'b.yaml');
    expect(second.fileEntries.get(a)).toBe(first.fileEntries.get(a));
    expect(second.fileEntries.get(b)).not.toBe(first.fileEntries.get(b));
    expect(second.fileEntries.get(b)?.map((entry) => entry.id)).toEqual(['app:two', 'app:three']);
    // An id moved into a file that did not change is a duplicate, reported where a load without the cache reports it.
    await writeFile(join(dir, 'b.yaml'), fileText(['one'], 3, false));
    expect(await outcome(dir, cache, [b])).toEqual(await outcome(dir));
  });

  // Files edited at random between loads (ids moved between files, so that duplicates come and go,
  // files broken and mended, removed and made again): a load with the cache gives what a load
  // without one gives, entries and positions, or the same problems. Breaks and removals come often
  // in the first run, rarely in the second: there most loads are of the same files, all of them
  // clean before, which a cache settles by reading only the files that changed.
  it.each([
    ['often', 2],
    ['rarely', 8],
  ])('loads as a load without it would, through any sequence of edits (breaks and removals %s)', async (_, odds) => {
    const names = ['n0', 'n1', 'n2', 'n3'];
    const sometimes = fc.nat(odds - 1).map((n) => n === 0);
    const edit = fc.record({
      file: fc.constantFrom('a.yaml', 'b.yaml', 'c.yaml'),
      names: fc.subarray(names),
      v: fc.nat(3),
      broken: sometimes,
      remove: sometimes,
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
