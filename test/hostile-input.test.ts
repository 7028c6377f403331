// The hostile-input corpus: every file in test/fixtures/hostile/ (and in each class folder under it)
// must be refused with the code and position that its expected.json records, within the per-test
// time bound, with nothing invisible in the message, leaving the registry as it was.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HandlerRegistry, KindlingError, loadRegistryYaml, Registry, RegistryYamlError } from 'kindling';
import {
  BootLoader,
  loadBootManifest,
  ManifestError,
  parseBootManifest,
  resolveManifestComponents,
} from 'kindling/boot';
import { builtinComponents } from 'kindling/components';

interface Expectation<Phase extends string = 'load' | 'apply'> {
  readonly phase: Phase;
  readonly code: string;
  readonly line: number;
  readonly column: number;
  readonly message: string;
}

const dir = join(import.meta.dirname, 'fixtures', 'hostile');
const silent = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

/** A time bound the runner enforces (a hang guard): a refusal must come, even for bombs. */
const BOUND_MS = 5_000;

/** The classes of the corpus that have a folder of their own under test/fixtures/hostile/. */
const CLASSES = ['alias', 'number', 'id', 'bom', 'depends-on'] as const;

/** Controls, format characters (bidirectional, zero-width, BOM), lone surrogates and odd spaces. */
const INVISIBLE = /[\p{C}\p{Zl}\p{Zp}\u00a0\u2000-\u200a\u202f\u205f\u3000]/u;

/** The YAML files of a folder of the corpus and what each must give. */
function corpus<Phase extends string>(
  folder: string,
): { files: string[]; expected: Record<string, Expectation<Phase>> } {
  const expected = JSON.parse(readFileSync(join(folder, 'expected.json'), 'utf8')) as Record<
    string,
    Expectation<Phase>
  >;
  const files = readdirSync(folder)
    .filter((file) => file.endsWith('.yaml'))
    .sort();
  return { files, expected };
}

async function baselineRegistry(): Promise<Registry> {
  const handlers = new HandlerRegistry();
  handlers.registerListener('http.*', { add: () => undefined, update: () => undefined, delete: () => undefined });
  const registry = new Registry({ handlers, acceptKinds: ['x.*'], logger: silent });
  await registry.apply([{ op: 'create', entry: { id: 'baseline:kept', kind: 'x.y', data: { v: 1 } } }]);
  return registry;
}

/** Loads and applies `path`, expecting the refusal `want`; the registry must be as it was. */
async function expectRefused(path: string, name: string, want: Expectation): Promise<void> {
  const registry = await baselineRegistry();
  const before = { entries: registry.entries(), revision: registry.revision };
  let error: unknown;
  try {
    const { entries } = await loadRegistryYaml(path);
    expect(want.phase, 'the file loaded, so it must be refused when applied').toBe('apply');
    await registry.apply(entries.map((entry) => ({ op: 'create' as const, entry })));
  } catch (caught) {
    error = caught;
  }
  expect(error).toBeInstanceOf(KindlingError);
  const refusal = error as KindlingError;
  expect(refusal.code).toBe(want.code);
  if (want.phase === 'load') {
    expect(refusal).toBeInstanceOf(RegistryYamlError);
    const first = (refusal as RegistryYamlError).problems[0];
    expect(first).toMatchObject({ line: want.line, column: want.column });
    expect(first?.message).toContain(want.message);
  } else {
    expect(refusal.message).toContain(`${name}:${want.line}:${want.column}`);
    expect(refusal.message).toContain(want.message);
  }
  expect(refusal.message.split('\n').filter((line) => INVISIBLE.test(line))).toEqual([]);
  expect(registry.entries()).toBe(before.entries);
  expect(registry.revision).toBe(before.revision);
}

describe('hostile registry input', () => {
  const { files, expected } = corpus<'load' | 'apply'>(dir);

  it('has at least 50 files, each with an expectation', () => {
    expect(files.length).toBeGreaterThanOrEqual(50);
    expect(Object.keys(expected).sort()).toEqual(files);
  });

  it.each(files)(
    'refuses %s with its code and position, leaving the registry unchanged',
    async (file) => {
      await expectRefused(join(dir, file), file, expected[file] as Expectation);
    },
    BOUND_MS,
  );
});

describe.each(CLASSES)('hostile registry input: %s', (kind) => {
  const folder = join(dir, kind);
  const { files, expected } = corpus<'load' | 'apply'>(folder);

  it('has an expectation for each file', () => {
    expect(files.length).toBeGreaterThanOrEqual(5);
    expect(Object.keys(expected).sort()).toEqual(files);
  });

  it.each(files)(
    'refuses %s with its code and position, leaving the registry unchanged',
    async (file) => {
      await expectRefused(join(folder, file), file, expected[file] as Expectation);
    },
    BOUND_MS,
  );
});

describe('hostile registry input: long text repeated by aliases', () => {
  let tmp: string;
  const mebibyte = 'x'.repeat(1024 * 1024);

  beforeAll(async () => {
    tmp = await mkdtemp(join(tmpdir(), 'kindling-hostile-'));
  });

  afterAll(async () => {
    await rm(tmp, { recursive: true, force: true });
  });

  /** A registry file whose one entry's data lists `count` aliases of a 1 MiB string. */
  async function aliased(count: number): Promise<string> {
    const file = join(tmp, `aliased-${count}.yaml`);
    const aliases = Array.from({ length: count }, () => '*s').join(', ');
    await writeFile(
      file,
      `namespace: app\nx-text: &s "${mebibyte}"\nentries:\n  - name: a\n    kind: x.y\n    data: [${aliases}]\n`,
    );
    return file;
  }

  // The anchored string counts twice (js-yaml composes it once more while it looks ahead for a
  // mapping), then 1 MiB per alias, and the keys a few bytes: the 62nd alias (the first is at column
  // 12, every next one 4 further) crosses 64 MiB.
  const crossing = {
    phase: 'load' as const,
    code: 'INVALID',
    line: 6,
    column: 12 + 4 * 61,
    message: 'strings in this file add up to more than 67108864 bytes',
  };

  it(
    'refuses a 1 MiB string aliased 300 times, at the alias that crosses maxExpandedBytes (regression: accepted)',
    async () => {
      await expectRefused(await aliased(300), 'aliased-300.yaml', crossing);
    },
    BOUND_MS * 2,
  );

  it(
    'refuses a 1 MiB string aliased 2,000 times with a position (regression: "Invalid string length" without one)',
    async () => {
      await expectRefused(await aliased(2_000), 'aliased-2000.yaml', crossing);
    },
    BOUND_MS * 2,
  );
});

describe('hostile boot manifests', () => {
  const manifestDir = join(dir, 'manifests');
  const { files: manifests, expected: manifestExpected } = corpus<'manifest' | 'boot'>(manifestDir);

  it('has an expectation for each manifest', () => {
    expect(manifests.length).toBeGreaterThanOrEqual(15);
    expect(Object.keys(manifestExpected).sort()).toEqual(manifests);
  });

  it.each(manifests)(
    'refuses %s with its code and position, starting nothing',
    async (file) => {
      const want = manifestExpected[file] as Expectation<'manifest' | 'boot'>;
      const builtins = builtinComponents;
      let error: unknown;
      const boot = new BootLoader();
      try {
        const manifest = await loadBootManifest(join(manifestDir, file));
        const resolved = await resolveManifestComponents(manifest, builtins);
        expect(want.phase, 'the manifest parsed, so booting it must fail').toBe('boot');
        for (const component of resolved)
          boot.register(component.component, component.config, { source: component.source });
        await boot.load();
      } catch (caught) {
        error = caught;
      } finally {
        await boot.shutdown();
      }
      expect(error).toBeInstanceOf(KindlingError);
      const refusal = error as KindlingError;
      expect(refusal.code).toBe(want.code);
      if (want.phase === 'manifest') {
        expect(refusal).toBeInstanceOf(ManifestError);
        const first = (refusal as ManifestError).problems[0];
        expect(first).toMatchObject({ line: want.line, column: want.column });
        expect(first?.message).toContain(want.message);
      } else {
        expect(refusal.message).toContain(`${file}:${want.line}:${want.column}`);
        expect(refusal.message).toContain(want.message);
      }
      expect(refusal.message.split('\n').filter((line) => INVISIBLE.test(line))).toEqual([]);
    },
    BOUND_MS,
  );
});

describe('parseBootManifest', () => {
  describe('limits', () => {
    const manifest = [
      'name: app',
      'components: [events, registry]',
      'registry: &r [./a, ./b, ./c]',
      'x: [*r, *r]',
    ].join('\n');

    it('takes maxAliasNodes as an option, refusing at the alias that crosses it', () => {
      expect(() => parseBootManifest(manifest, 'kindling.yaml', { maxAliasNodes: 5 })).toThrow(
        'kindling.yaml:4:9: aliases expand this file by more than 5 nodes (an alias bomb?); raise maxAliasNodes if this is intended',
      );
    });

    it('takes maxExpandedBytes as an option', () => {
      expect(() => parseBootManifest(manifest, 'kindling.yaml', { maxExpandedBytes: 60 })).toThrow(
        'kindling.yaml:4:9: strings in this file add up to more than 60 bytes',
      );
    });

    it('takes maxDepth as an option', () => {
      expect(() =>
        parseBootManifest('name: app\ncomponents: [[[events]]]\n', 'kindling.yaml', { maxDepth: 3 }),
      ).toThrow('kindling.yaml:2:15: the YAML is nested more than 3 levels deep');
    });

    it('refuses a limit that is not a positive integer', () => {
      expect(() => parseBootManifest(manifest, 'kindling.yaml', { maxDepth: 0 })).toThrow(
        'maxDepth must be a positive integer, got 0',
      );
    });
  });
});
