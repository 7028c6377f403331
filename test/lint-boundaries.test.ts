// The layer rules of .dependency-cruiser.cjs bite: a small tree with the repository's folder names
// is clean, and each import across a forbidden boundary added to it is reported under its rule —
// and makes the `depcruise` command (what `npm run lint:deps` runs) exit non-zero.
import { execFile } from 'node:child_process';
import { cp, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { cruise } from 'dependency-cruiser';
import type { ICruiseResult, IForbiddenRuleType } from 'dependency-cruiser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..');
const configFile = join(root, '.dependency-cruiser.cjs');
const config = createRequire(import.meta.url)(configFile) as {
  forbidden: IForbiddenRuleType[];
  options: Record<string, unknown>;
};
const run = promisify(execFile);

/** A tree that keeps every rule: each layer imports only what it may. */
const CLEAN: Record<string, string> = {
  'package.json': JSON.stringify({
    name: 'probe',
    type: 'module',
    dependencies: { nats: '*' },
    devDependencies: { vitest: '*' },
  }),
  'tsconfig.json': JSON.stringify({
    compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext', strict: true },
  }),
  'node_modules/nats/package.json': JSON.stringify({ name: 'nats', main: 'index.js' }),
  'node_modules/nats/index.js': 'export const connect = () => undefined;\n',
  'node_modules/vitest/package.json': JSON.stringify({ name: 'vitest', main: 'index.js' }),
  'node_modules/vitest/index.js': 'export const it = () => undefined;\n',
  'src/core.ts': 'export const core = 1;\n',
  'src/transport/nats/transport.ts':
    "import { connect } from 'nats';\nimport { core } from '../../core.js';\nexport const transport = [connect, core];\n",
  'boot/kernel/kernel.ts': "import { core } from '../../src/core.js';\nexport const kernel = core;\n",
  'boot/index.ts': "export { kernel } from './kernel/kernel.js';\n",
  'boot/testing/index.ts': "import { a } from '../../components/a/index.js';\nexport const harness = a;\n",
  'boot/cli/main.ts':
    "import { a } from '../../components/a/index.js';\nimport { b } from '../../components/b/index.js';\nexport const main = [a, b];\n",
  'components/a/index.ts': "import { kernel } from '../../boot/index.js';\nexport const a = kernel;\n",
  'components/b/inner.ts': 'export const inner = 2;\n',
  'components/b/index.ts':
    "import { a } from '../a/index.js';\nimport { inner } from './inner.js';\nexport const b = [a, inner];\n",
  'components/b/b.test.ts':
    "import { it } from 'vitest';\nimport { harness } from '../../boot/testing/index.js';\nexport const t = [it, harness];\n",
  'components/index.ts': "export { a } from './a/index.js';\nexport { b } from './b/index.js';\n",
  'test/support/helper.ts': "import { core } from '../../src/core.js';\nexport const helper = core;\n",
};

/** One file added to the clean tree, and the violation it must bring: rule, from, to. */
const CROSSINGS: readonly (readonly [rule: string, file: string, source: string, to: string])[] = [
  [
    'core-not-to-boot-or-components',
    'src/uses-boot.ts',
    "export { kernel } from '../boot/index.js';\n",
    'boot/index.ts',
  ],
  [
    'core-not-to-boot-or-components',
    'src/uses-component.ts',
    "export { a } from '../components/a/index.js';\n",
    'components/a/index.ts',
  ],
  [
    'core-without-nats',
    'src/events/bus.ts',
    "export { transport } from '../transport/nats/transport.js';\n",
    'src/transport/nats/transport.ts',
  ],
  ['core-without-nats', 'src/events/client.ts', "export { connect } from 'nats';\n", 'node_modules/nats/index.js'],
  [
    'boot-not-to-components',
    'boot/kernel/builtins.ts',
    "export { b } from '../../components/b/index.js';\n",
    'components/b/index.ts',
  ],
  ['boot-not-to-assemblies', 'boot/app/app.ts', "export { main } from '../cli/main.js';\n", 'boot/cli/main.ts'],
  [
    'components-through-boot-entry',
    'components/a/deep.ts',
    "export { kernel } from '../../boot/kernel/kernel.js';\n",
    'boot/kernel/kernel.ts',
  ],
  [
    'components-not-to-testing',
    'components/a/uses-harness.ts',
    "export { harness } from '../../boot/testing/index.js';\n",
    'boot/testing/index.ts',
  ],
  [
    'components-not-to-each-others-internals',
    'components/a/reach.ts',
    "export { inner } from '../b/inner.js';\n",
    'components/b/inner.ts',
  ],
  ['components-not-to-aggregate', 'components/b/all.ts', "export { a } from '../index.js';\n", 'components/index.ts'],
  [
    'shipped-not-to-tests',
    'src/uses-helper.ts',
    "export { helper } from '../test/support/helper.js';\n",
    'test/support/helper.ts',
  ],
  [
    'shipped-not-to-dev-deps',
    'boot/kernel/uses-vitest.ts',
    "export { it } from 'vitest';\n",
    'node_modules/vitest/index.js',
  ],
];
/** Two files that import each other. */
const CIRCLE: Record<string, string> = {
  'src/ping.ts': "import { pong } from './pong.js';\nexport const ping = () => pong;\n",
  'src/pong.ts': "import { ping } from './ping.js';\nexport const pong = () => ping;\n",
};

async function writeTree(dir: string, files: Record<string, string>): Promise<void> {
  for (const [path, text] of Object.entries(files)) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), text);
  }
}

/** The violations of the tree in `dir`, checked against the repository's rules, as `rule from → to`. */
async function violationsIn(dir: string): Promise<string[]> {
  const cwd = process.cwd();
  // dependency-cruiser resolves the tsconfig and the package.json from the working directory.
  process.chdir(dir);
  try {
    const { output } = await cruise(['src', 'boot', 'components', 'test'], {
      ...config.options,
      tsConfig: { fileName: 'tsconfig.json' },
      validate: true,
      ruleSet: { forbidden: config.forbidden },
    });
    const result = output as ICruiseResult;
    return result.summary.violations.map((v) => `${v.rule.name} ${v.from} → ${v.to}`).sort();
  } finally {
    process.chdir(cwd);
  }
}

describe('layer boundaries (.dependency-cruiser.cjs)', () => {
  let clean: string;
  let crossed: string;

  beforeAll(async () => {
    clean = await mkdtemp(join(tmpdir(), 'kindling-layers-'));
    await writeTree(clean, CLEAN);
    crossed = await mkdtemp(join(tmpdir(), 'kindling-layers-'));
    await writeTree(crossed, {
      ...CLEAN,
      ...CIRCLE,
      ...Object.fromEntries(CROSSINGS.map(([, file, source]) => [file, source])),
    });
    await cp(configFile, join(crossed, '.dependency-cruiser.cjs'));
  });

  afterAll(async () => {
    await rm(clean, { recursive: true, force: true });
    await rm(crossed, { recursive: true, force: true });
  });

  it('finds nothing in a tree whose layers import only what they may', async () => {
    expect(await violationsIn(clean)).toEqual([]);
  });

  it('reports each import across a forbidden boundary under its rule', async () => {
    const expected = CROSSINGS.map(([rule, file, , to]) => `${rule} ${file} → ${to}`);
    // A circle is reported once, from its first file.
    expected.push('no-circular src/ping.ts → src/pong.ts');
    expect(await violationsIn(crossed)).toEqual(expected.sort());
  });

  it('fails the depcruise command, as `npm run lint:deps` runs it', async () => {
    const bin = join(root, 'node_modules/dependency-cruiser/bin/dependency-cruise.mjs');
    const failure = await run(
      process.execPath,
      [bin, 'src', 'boot', 'components', 'test', '--config', '.dependency-cruiser.cjs', '--output-type', 'err'],
      { cwd: crossed, timeout: 100_000 },
    ).then(
      () => undefined,
      (error: unknown) => error as { code?: number; stdout?: string },
    );
    expect(failure?.code).not.toBe(0);
    expect(failure?.stdout).toContain('error boot-not-to-components: boot/kernel/builtins.ts → components/b/index.ts');
    expect(failure?.stdout).toContain(`x ${CROSSINGS.length + 1} dependency violations`);
    // A whole process of its own: slow on a loaded machine.
  }, 120_000);
});
