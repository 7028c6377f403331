// The hostile-input corpus: every file in test/fixtures/hostile/ must be refused with the code and
// position that expected.json records, within the per-test time bound, leaving the registry as it was.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { HandlerRegistry, KindlingError, loadRegistryYaml, Registry, RegistryYamlError } from 'kindling';
import { BootLoader, loadBootManifest, loadBuiltinComponents, ManifestError, resolveManifestComponents } from 'kindling/boot';

interface Expectation<Phase extends string = 'load' | 'apply'> {
  readonly phase: Phase;
  readonly code: string;
  readonly line: number;
  readonly column: number;
  readonly message: string;
}

const dir = join(import.meta.dirname, 'fixtures', 'hostile');
const expected = JSON.parse(readFileSync(join(dir, 'expected.json'), 'utf8')) as Record<string, Expectation>;
const files = readdirSync(dir).filter((file) => file.endsWith('.yaml')).sort();
const silent = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

/** A time bound the runner enforces: a refusal must come quickly, even for bombs. */
const BOUND_MS = 5_000;

async function baselineRegistry(): Promise<Registry> {
  const handlers = new HandlerRegistry();
  handlers.registerListener('http.*', { add: () => undefined, update: () => undefined, delete: () => undefined });
  const registry = new Registry({ handlers, acceptKinds: ['x.*'], logger: silent });
  await registry.apply([{ op: 'create', entry: { id: 'baseline:kept', kind: 'x.y', data: { v: 1 } } }]);
  return registry;
}

describe('hostile registry input', () => {
  it('has at least 50 files, each with an expectation', () => {
    expect(files.length).toBeGreaterThanOrEqual(50);
    expect(Object.keys(expected).sort()).toEqual(files);
  });

  it.each(files)(
    'refuses %s with its code and position, leaving the registry unchanged',
    async (file) => {
      const want = expected[file] as Expectation;
      const registry = await baselineRegistry();
      const before = { entries: registry.entries(), revision: registry.revision };
      let error: unknown;
      try {
        const { entries } = await loadRegistryYaml(join(dir, file));
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
        expect(refusal.message).toContain(`${file}:${want.line}:${want.column}`);
        expect(refusal.message).toContain(want.message);
      }
      expect(registry.entries()).toBe(before.entries);
      expect(registry.revision).toBe(before.revision);
    },
    BOUND_MS,
  );
});

describe('hostile boot manifests', () => {
  const manifestDir = join(dir, 'manifests');
  const manifestExpected = JSON.parse(readFileSync(join(manifestDir, 'expected.json'), 'utf8')) as Record<string, Expectation<'manifest' | 'boot'>>;
  const manifests = readdirSync(manifestDir).filter((file) => file.endsWith('.yaml')).sort();

  it('has an expectation for each manifest', () => {
    expect(manifests.length).toBeGreaterThanOrEqual(15);
    expect(Object.keys(manifestExpected).sort()).toEqual(manifests);
  });

  it.each(manifests)(
    'refuses %s with its code and position, starting nothing',
    async (file) => {
      const want = manifestExpected[file] as Expectation<'manifest' | 'boot'>;
      const builtins = await loadBuiltinComponents();
      let error: unknown;
      const boot = new BootLoader();
      try {
        const manifest = await loadBootManifest(join(manifestDir, file));
        const resolved = await resolveManifestComponents(manifest, builtins);
        expect(want.phase, 'the manifest parsed, so booting it must fail').toBe('boot');
        for (const component of resolved) boot.register(component.component, component.config, { source: component.source });
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
    },
    BOUND_MS,
  );
});
