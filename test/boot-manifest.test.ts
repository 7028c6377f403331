import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  ManifestError,
  defineComponent,
  loadBootManifest,
  parseBootManifest,
  resolveManifestComponents,
} from 'kindling/boot';
import type { Component } from 'kindling/boot';

const fixtures = resolve(import.meta.dirname, 'fixtures/boot');

function problemsOf(run: () => unknown): string[] {
  try {
    run();
  } catch (error) {
    if (error instanceof ManifestError) return error.problems.map((p) => `${p.line}:${p.column} ${p.message}`);
    throw error;
  }
  throw new Error('expected a ManifestError');
}

const builtins: Record<string, Component> = {
  registry: defineComponent({ name: 'registry', load: (ctx) => ctx }),
  events: defineComponent({ name: 'events', load: (ctx) => ctx }),
  http: defineComponent({ name: 'http', load: (ctx) => ctx }),
};

describe('parseBootManifest', () => {
  it('reads names, module paths, configs and registry sources relative to the manifest', () => {
    const manifest = parseBootManifest(
      [
        'name: demo',
        'log: debug',
        'components:',
        '  - http',
        '  - ./mine.js',
        '  - name: registry',
        '    config: { acceptKinds: [a.b] }',
        'registry: [./registry, /abs/x.yaml]',
        '',
      ].join('\n'),
      '/apps/demo/kindling.yaml',
    );
    expect(manifest.name).toBe('demo');
    expect(manifest.log).toBe('debug');
    expect(manifest.components.map((c) => [c.name, c.module, c.config])).toEqual([
      ['http', undefined, undefined],
      [undefined, '/apps/demo/mine.js', undefined],
      ['registry', undefined, { acceptKinds: ['a.b'] }],
    ]);
    expect(manifest.registry).toEqual(['/apps/demo/registry', '/abs/x.yaml']);
  });

  it('records where each component and each config value was written', () => {
    const manifest = parseBootManifest(
      ['components:', '  - name: http', '    config:', '      port: 80', ''].join('\n'),
      '/m.yaml',
    );
    const source = manifest.components[0]?.source;
    expect([source?.line, source?.column]).toEqual([2, 5]);
    expect(source?.locate?.(['data', 'port'])).toEqual({ line: 4, column: 13 });
  });

  it('refuses YAML syntax errors at file:line:col', () => {
    expect(
      problemsOf(() => parseBootManifest('name: x\ncomponents: [http, events\nlog: info\n', '/m.yaml'))[0],
    ).toMatch(/^3:1 invalid YAML: /);
  });

  it('refuses a duplicate key with its position', () => {
    expect(problemsOf(() => parseBootManifest('components: [http]\ncomponents: [events]\n', '/m.yaml'))).toEqual([
      '2:1 duplicate key "components" (first at line 1, column 1)',
    ]);
  });

  it('refuses unknown keys, a missing component list and bad items all at once', () => {
    const problems = problemsOf(() =>
      parseBootManifest(
        [
          'nmae: x',
          'log: loud',
          'components:',
          '  - 42',
          '  - { name: http, extra: 1 }',
          '  - {}',
          'registry: ./one',
          '',
        ].join('\n'),
        '/m.yaml',
      ),
    );
    expect(problems).toEqual([
      '1:1 unknown key "nmae" (expected name, log, components, registry, allow, cluster)',
      '2:6 log: must be one of debug, info, warn, error, silent',
      expect.stringMatching(/^4:5 components\[0\]: a component item is a name/),
      '5:19 unknown key "extra" in a component item (expected name, module, config)',
      expect.stringMatching(/^6:5 components\[2\]\.name: a component item needs a name/),
      '7:11 registry: must be a list of YAML files or directories, relative to the manifest',
    ]);
  });

  it('refuses a component listed twice', () => {
    expect(problemsOf(() => parseBootManifest('components:\n  - http\n  - http\n', '/m.yaml'))).toEqual([
      '3:5 components[1]: component "http" is listed twice (first at components[0])',
    ]);
  });

  it('reads the limits of the registry YAML that allow.yaml sets, and none when it is absent', () => {
    const limited = parseBootManifest(
      'components: [registry]\nallow:\n  yaml: { maxFileBytes: 1000, maxDepth: 8, maxAliasNodes: 50, maxExpandedBytes: 4000 }\n',
      '/m.yaml',
    );
    expect(limited.yamlLimits).toEqual({ maxFileBytes: 1000, maxDepth: 8, maxAliasNodes: 50, maxExpandedBytes: 4000 });
    expect(parseBootManifest('components: [registry]\n', '/m.yaml').yamlLimits).toEqual({});
  });

  it('refuses an unknown allow.yaml key and a limit that is not a positive integer, at their positions', () => {
    const problems = problemsOf(() =>
      parseBootManifest(
        'components: [registry]\nallow:\n  yaml:\n    maxDepht: 8\n    maxFileBytes: 0\n    maxAliasNodes: many\n',
        '/m.yaml',
      ),
    );
    expect(problems).toEqual([
      '4:5 unknown key "maxDepht" in allow.yaml (expected maxFileBytes, maxDepth, maxAliasNodes, maxExpandedBytes)',
      '5:19 allow.yaml.maxFileBytes: must be a positive integer',
      '6:20 allow.yaml.maxAliasNodes: must be a positive integer',
    ]);
  });

  it('refuses an allow.yaml that is not a mapping, at its position', () => {
    expect(problemsOf(() => parseBootManifest('components: [registry]\nallow:\n  yaml: 5\n', '/m.yaml'))).toEqual([
      '3:9 allow.yaml: must be a mapping of limits of the registry YAML: { maxFileBytes, maxDepth, maxAliasNodes, maxExpandedBytes }',
    ]);
  });

  it('reports every problem of the content at once, each with its field path and position', () => {
    const problems = problemsOf(() =>
      parseBootManifest(
        [
          'components: [registry]',
          'allow:',
          '  moduleBytes: -1',
          '  paths: [a, "", 3]',
          '  what: 1',
          'registry: [x, 5]',
          '',
        ].join('\n'),
        '/m.yaml',
      ),
    );
    expect(problems).toEqual([
      '3:16 allow.moduleBytes: must be a positive integer (bytes)',
      '4:10 allow.paths: must list directory paths: items [1], [2] are not a non-empty string',
      '5:3 unknown key "what" in allow (expected paths, moduleBytes, yaml)',
      '6:11 registry: must list paths to YAML files or directories: item [1] is not a non-empty string',
    ]);
  });

  it('refuses a file of more than one document', () => {
    expect(problemsOf(() => parseBootManifest('components: [http]\n---\ncomponents: [events]\n', '/m.yaml'))).toEqual([
      '3:1 a boot manifest is one YAML document; this file has 2',
    ]);
  });

  it('puts the file in the message of the error', () => {
    expect(() => parseBootManifest('components: []\n', '/apps/m.yaml')).toThrow(
      '/apps/m.yaml:1:13: components: must be a non-empty list',
    );
  });
});

describe('loadBootManifest', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kindling-manifest-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reads kindling.yaml from an app directory', async () => {
    const manifest = await loadBootManifest(join(fixtures, 'manifest-app'));
    expect(manifest.file).toBe(join(fixtures, 'manifest-app/kindling.yaml'));
    expect(manifest.registry).toEqual([join(fixtures, 'manifest-app/registry')]);
  });

  it('refuses a path that does not exist with NOT_FOUND', async () => {
    await expect(loadBootManifest(join(dir, 'nothing'))).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('refuses a registry source that does not exist, at its line', async () => {
    await writeFile(join(dir, 'kindling.yaml'), 'components: [registry]\nregistry:\n  - ./missing\n');
    await expect(loadBootManifest(dir)).rejects.toThrow(
      `${join(dir, 'kindling.yaml')}:3:5: registry source ${join(dir, 'missing')} does not exist`,
    );
  });
});

describe('resolveManifestComponents', () => {
  it('finds built-ins by name and app components by module (default or `component` export)', async () => {
    const manifest = await loadBootManifest(join(fixtures, 'manifest-app'));
    const resolved = await resolveManifestComponents(manifest, builtins);
    expect(resolved.map((r) => r.component.name)).toEqual(['events', 'registry', 'greeter', 'named']);
    expect(resolved[3]?.config).toEqual({ greeting: 'hi' });
  });

  it('refuses an unknown built-in, suggesting the nearest name', async () => {
    const manifest = parseBootManifest('components:\n  - htp\n', '/m.yaml');
    await expect(resolveManifestComponents(manifest, builtins)).rejects.toThrow(
      /^\/m\.yaml:2:5: unknown component "htp" \(did you mean "http"\?\); built-in components: registry, events, http/,
    );
  });

  it('refuses a module that does not export a component, and one that cannot be imported', async () => {
    const manifest = parseBootManifest(
      ['components:', '  - ./components/not-a-component.js', '  - ./components/missing.js', ''].join('\n'),
      join(fixtures, 'kindling.yaml'),
    );
    const error = (await resolveManifestComponents(manifest, builtins).catch(
      (caught: unknown) => caught,
    )) as ManifestError;
    expect(error.problems.map((p) => `${p.line}:${p.column}`)).toEqual(['2:5', '3:5']);
    expect(error.problems[0]?.message).toContain(
      'does not export a component: it has no default export and no export named "component"',
    );
    expect(error.problems[1]?.message).toMatch(/^component module \S+missing\.js does not exist$/);
  });

  it('refuses a module whose component has another name than the manifest says', async () => {
    const manifest = parseBootManifest(
      ['components:', '  - module: ./components/greeter.js', '    name: other', ''].join('\n'),
      join(fixtures, 'kindling.yaml'),
    );
    await expect(resolveManifestComponents(manifest, builtins)).rejects.toThrow(':3:11: module');
  });
});
