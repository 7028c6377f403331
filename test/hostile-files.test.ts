// The hostile-files corpus (issue 12, classes 4 and 5). Special files (a FIFO, a unix socket, a
// directory, a file over its limit, a file that grows while read, /dev/zero, /dev/urandom) and
// paths that lead out of the app (../, absolute, symbolic links, a secret file) are tried wherever
// a user-named file is read: a function.js file, a registry source, the boot manifest, a component
// module and an admin at.file. Each is refused with a clear error that names the path and what is
// wrong, changes nothing, reads nothing it refuses, and leaves the process responsive in bounded
// memory. Dry runs (validate, plan, admin dry runs) run no code of a function module.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, symlink, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { FileBoundary, RegistryYamlError, loadRegistryYaml } from 'kindling';
import { DEFAULT_MAX_FILE_BYTES } from '../src/yaml/registry-yaml.js';
import { DEFAULT_MAX_MODULE_BYTES } from '../src/common/file-boundary.js';
import type { FileBoundaryOptions } from 'kindling';
import { AdminClient, ManifestError, loadBootManifest, resolveManifestComponents, statePaths } from 'kindling/boot';
import type { ComponentOptions } from 'kindling/boot';
import { bootTestApp } from 'kindling/testing';
import type { TestApp } from 'kindling/testing';
import { builtinComponents } from 'kindling/components';
import { RunningApp, copyHello, kindling, stateDir } from './support/cli-harness.js';
import type { CommandResult } from './support/cli-harness.js';
import { DEVICES, leaksSecret, makeSpecialFiles, writeSecret } from './support/special-files.js';
import type { SpecialFiles } from './support/special-files.js';
import { fetchOnce } from './support/http-client.js';

/** The special files every reader must refuse for what they are. */
const SPECIAL = ['fifo', 'socket', 'directory', 'oversized'] as const;

/** A module whose top level leaves a marker file next to it: proof that its code ran. */
const MARKED =
  'import { writeFileSync } from "node:fs";\nwriteFileSync(new URL("./marker", import.meta.url), "ran");\nexport const handler = () => "marked";\nexport default { name: "marked", load() {} };\n';

/** Peak memory any process of these tests may reach while refusing a file (the cases that broke reached gigabytes). */
const MAX_RSS_BYTES = 320 * 1024 * 1024;
/** Buffers this process may add while refusing a file. */
const MAX_BUFFER_GROWTH = 32 * 1024 * 1024;

const REPORT_MAX_RSS = pathToFileURL(join(import.meta.dirname, 'fixtures/hostile/files/report-max-rss.mjs')).href;

/** Resolves on the timers' next turn: the event loop is free. */
const timerFires = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 0));

/** `kindling <args>` in a child whose peak memory is reported; the report is taken out of `err`. */
async function measured(args: readonly string[]): Promise<CommandResult & { maxRssBytes: number }> {
  const result = await kindling(args, { env: { NODE_OPTIONS: `--import=${REPORT_MAX_RSS}` } });
  const match = /\n\[max-rss-kib\] (\d+)\n/.exec(result.err);
  expect(match, `no memory report in:\n${result.err}`).not.toBeNull();
  return { ...result, err: result.err.replace(/\n\[max-rss-kib\] \d+\n/, ''), maxRssBytes: Number(match?.[1]) * 1024 };
}

/** Peak resident memory of a running process (Linux). */
function peakRssBytes(pid: number): number {
  const kib = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  return Number(kib) * 1024;
}

/** A component that binds the app's boundary before the function component loads (as Application does). */
function boundaryComponent(options: FileBoundaryOptions): ComponentOptions {
  return {
    name: 'boundary',
    load: (ctx) => {
      ctx.container.bind(FileBoundary).toConstantValue(new FileBoundary(ctx.baseDir, options));
    },
  };
}

const functionYaml = (file: string, exportName = 'handler'): string =>
  `entries:\n  - name: hostile\n    kind: function.js\n    file: ${JSON.stringify(file)}\n    export: ${exportName}\n`;

let outside: string;
beforeAll(async () => {
  outside = await mkdtemp(join(tmpdir(), 'kindling-outside-'));
  await writeFile(join(outside, 'marked.js'), MARKED);
  await writeSecret(join(outside, 'secret.yaml'));
});
afterAll(async () => {
  await rm(outside, { recursive: true, force: true });
});

describe('FunctionManager (a function.js file)', () => {
  let app: TestApp;
  let special: SpecialFiles;
  beforeEach(async () => {
    app = await bootTestApp({ components: ['function'] });
    special = await makeSpecialFiles(join(app.dir, 'special'), '.js', DEFAULT_MAX_MODULE_BYTES);
    await app.write('functions/ok.js', 'export const handler = () => "ok";\n');
  });
  afterEach(async () => {
    await special.close();
    await app.shutdown();
  });

  describe('.add', () => {
    it.each(SPECIAL)('refuses %s in a real batch, at data.file, and loads a valid function after', async (name) => {
      const { path, expected } = special[name];
      const pending = app.expectRefused(functionYaml(path), expected);
      await timerFires();
      const error = await pending;
      expect((error.cause as Error).message).toMatch(
        new RegExp(`snippet-\\d+\\.yaml:5:11: function test:hostile: module file ${path}`),
      );
      await app.expectAccepted(functionYaml('./functions/ok.js'));
      expect(app.registry.get('test:hostile')?.data).toMatchObject({ file: './functions/ok.js' });
    });

    it.each(SPECIAL)('refuses %s in a dry run', async (name) => {
      const { path, expected } = special[name];
      await app.expectRefused(functionYaml(path), expected, { dryRun: true });
    });

    it.each(DEVICES)('refuses $label as outside the app root, reading nothing from it', async ({ path }) => {
      const before = process.memoryUsage().arrayBuffers;
      await app.expectRefused(functionYaml(path), {
        code: 'REJECTED',
        message: `module file ${path} is outside the app root`,
      });
      expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(MAX_BUFFER_GROWTH);
    });

    it.each([
      ['a path with ../', (): string => `../${outside.split('/').pop() ?? ''}/marked.js`],
      ['an absolute path', (): string => join(outside, 'marked.js')],
      ['a symbolic link', (): string => './functions/link.js'],
    ])('refuses %s that leads out of the app root, and runs none of its code', async (_label, file) => {
      await symlink(join(outside, 'marked.js'), join(app.dir, 'functions/link.js'));
      await app.expectRefused(functionYaml(file()), /is outside the app root/);
      await app.expectRefused(functionYaml(file()), /is outside the app root/, { dryRun: true });
      expect(existsSync(join(outside, 'marker'))).toBe(false);
    });

    it('refuses a symbolic link to a secret file without echoing a line of it', async () => {
      await symlink(join(outside, 'secret.yaml'), join(app.dir, 'functions/secret.js'));
      const error = await app.expectRefused(
        functionYaml('./functions/secret.js'),
        `(it resolves to ${join(outside, 'secret.yaml')})`,
      );
      expect(leaksSecret(`${error.message}\n${(error.cause as Error).message}`)).toBe(false);
    });

    // Regression (issue 12): each FIFO apply held one of libuv's four threads on a blocked open; after
    // four, no valid function could load.
    it('still loads a valid function, with timers firing, after many FIFO attempts', async () => {
      for (let i = 0; i < 8; i++) await app.expectRefused(functionYaml(special.fifo.path), special.fifo.expected);
      await timerFires();
      await app.expectAccepted(functionYaml('./functions/ok.js'));
      expect(app.registry.has('test:hostile')).toBe(true);
    });
  });

  describe('.add with allow.paths', () => {
    let opted: TestApp;
    afterEach(async () => {
      await opted.shutdown();
    });

    it.each(DEVICES)(
      'refuses $label for its type even where allow.paths opts /dev in, in bounded memory',
      async ({ path, expected }) => {
        opted = await bootTestApp({ components: [boundaryComponent({ allow: ['/dev'] }), 'function'] });
        const before = process.memoryUsage().arrayBuffers;
        await opted.expectRefused(functionYaml(path), expected);
        expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(MAX_BUFFER_GROWTH);
      },
    );

    it.runIf(process.platform === 'linux')(
      'refuses a module that grows past allow.moduleBytes while it is read',
      async () => {
        opted = await bootTestApp({
          components: [boundaryComponent({ allow: ['/proc'], maxModuleBytes: 64 }), 'function'],
        });
        await opted.expectRefused(
          functionYaml('/proc/self/status'),
          /module file \/proc\/self\/status grew past the limit of 64 bytes \(allow\.moduleBytes\) while it was read/,
        );
      },
    );

    it('loads a module from a directory allow.paths opts in', async () => {
      opted = await bootTestApp({ components: [boundaryComponent({ allow: [outside] }), 'function'] });
      await writeFile(join(outside, 'allowed.js'), 'export const handler = () => "allowed";\n');
      await opted.expectAccepted(functionYaml(join(outside, 'allowed.js')));
    });
  });
});

describe('loadRegistryYaml (a registry source)', () => {
  let dir: string;
  let special: SpecialFiles;
  const good = 'namespace: app\nentries:\n  - { name: note, kind: app.note }\n';
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kindling-registry-'));
    await mkdir(join(dir, 'registry'));
    await writeFile(join(dir, 'registry', 'good.yaml'), good);
    special = await makeSpecialFiles(join(dir, 'special'), '.yaml', DEFAULT_MAX_FILE_BYTES);
  });
  afterEach(async () => {
    await special.close();
    await rm(dir, { recursive: true, force: true });
  });

  const problemsOf = async (
    paths: string | string[],
    options: Parameters<typeof loadRegistryYaml>[1] = { root: dir },
  ): Promise<string[]> => {
    const error: unknown = await loadRegistryYaml(paths, options).then(
      () => undefined,
      (thrown: unknown) => thrown,
    );
    expect(error).toBeInstanceOf(RegistryYamlError);
    return (error as RegistryYamlError).problems.map((p) => `${p.file}:${p.line}:${p.column}: ${p.message}`);
  };

  it.each(SPECIAL.filter((name) => name !== 'directory'))('refuses %s named as a source, at file:1:1', async (name) => {
    const { path, expected } = special[name];
    const problems = await problemsOf(path);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(new RegExp(`^${path}:1:1: file ${expected.source}`));
  });

  it('reports each special file with a YAML name in a registry directory instead of skipping it', async () => {
    const problems = await problemsOf([join(dir, 'registry'), join(dir, 'special')]);
    expect(problems.map((line) => line.replace(/:1:1: .*/, ''))).toEqual(
      [special.fifo.path, special.oversized.path, special.socket.path].sort(),
    );
  });

  it.each(DEVICES)('refuses $label as a source outside the app root', async ({ path }) => {
    expect(await problemsOf(path)).toEqual([`${path}:1:1: path is outside the app root ${dir}`]);
  });

  it.each(DEVICES)('refuses $label for its type where the root opts /dev in', async ({ path, expected }) => {
    const [problem] = await problemsOf(path, { root: new FileBoundary(dir, { allow: ['/dev'] }) });
    expect(problem).toMatch(expected);
  });

  it.runIf(process.platform === 'linux')('refuses a file that grows past maxFileBytes while it is read', async () => {
    const [problem] = await problemsOf('/proc/self/status', {
      root: new FileBoundary(dir, { allow: ['/proc'] }),
      maxFileBytes: 64,
    });
    expect(problem).toBe(
      '/proc/self/status:1:1: file grew past the limit of 64 bytes (maxFileBytes) while it was read',
    );
  });

  it.each([
    ['a path with ../', async (): Promise<string> => `${dir}/../${outside.split('/').pop() ?? ''}/secret.yaml`],
    ['an absolute path', async (): Promise<string> => join(outside, 'secret.yaml')],
    [
      'a symbolic link to a file in a registry directory',
      async (): Promise<string> => {
        await symlink(join(outside, 'secret.yaml'), join(dir, 'registry', 'secret.yaml'));
        return join(dir, 'registry');
      },
    ],
    [
      'a symbolic link to a directory in a registry directory',
      async (): Promise<string> => {
        await symlink(outside, join(dir, 'registry', 'elsewhere'));
        return join(dir, 'registry');
      },
    ],
  ])('refuses %s that leads out of the app root, echoing no line of what is there', async (_label, source) => {
    const problems = await problemsOf(await source());
    expect(problems).toEqual([expect.stringMatching(/:1:1: (path|file) is outside the app root/)]);
    expect(leaksSecret(problems.join('\n'))).toBe(false);
  });

  it("skips a dangling symbolic link with a YAML name (an editor's lock file)", async () => {
    await symlink('user@host.1234:1700000000', join(dir, 'registry', '.#good.yaml'));
    const loaded = await loadRegistryYaml(join(dir, 'registry'), { root: dir });
    expect(loaded.files).toEqual([join(dir, 'registry', 'good.yaml')]);
  });

  it('reads a source in a directory the root opts in', async () => {
    await writeFile(join(outside, 'shared.yaml'), good.replace('note', 'shared'));
    const loaded = await loadRegistryYaml([join(dir, 'registry'), join(outside, 'shared.yaml')], {
      root: new FileBoundary(dir, { allow: [outside] }),
    });
    expect(loaded.entries.map((entry) => entry.id).sort()).toEqual(['app:note', 'app:shared']);
  });

  it('still refuses special files when no root is given (embedders reading paths they trust)', async () => {
    const problems = await problemsOf([special.fifo.path, '/dev/zero'], {});
    expect(problems).toEqual([
      '/dev/zero:1:1: file is a character device, not a regular file',
      `${special.fifo.path}:1:1: file is a FIFO (named pipe), not a regular file`,
    ]);
  });
});

describe('the boot manifest (loadBootManifest, resolveManifestComponents)', () => {
  let dir: string;
  let special: SpecialFiles;
  let modules: SpecialFiles;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kindling-manifest-'));
    special = await makeSpecialFiles(join(dir, 'special'), '.yaml', 1_048_576);
    modules = await makeSpecialFiles(join(dir, 'modules'), '.js', DEFAULT_MAX_MODULE_BYTES);
  });
  afterEach(async () => {
    await special.close();
    await modules.close();
    await rm(dir, { recursive: true, force: true });
  });

  const manifestProblems = async (pending: Promise<unknown>): Promise<string[]> => {
    const error: unknown = await pending.then(
      () => undefined,
      (thrown: unknown) => thrown,
    );
    expect(error).toBeInstanceOf(ManifestError);
    return (error as ManifestError).problems.map((p) => `${p.file}:${p.line}:${p.column}: ${p.message}`);
  };
  const withModule = async (module: string, extra = ''): Promise<string[]> => {
    await writeFile(
      join(dir, 'kindling.yaml'),
      `components:\n  - events\n  - module: ${JSON.stringify(module)}\n${extra}`,
    );
    return manifestProblems(
      loadBootManifest(dir).then((manifest) => resolveManifestComponents(manifest, builtinComponents)),
    );
  };

  describe('loadBootManifest', () => {
    it.each(SPECIAL.filter((name) => name !== 'directory'))(
      'refuses %s given as the manifest, at file:1:1',
      async (name) => {
        const { path, expected } = special[name];
        const problems = await manifestProblems(loadBootManifest(path));
        expect(problems).toEqual([
          expect.stringMatching(
            name === 'oversized'
              ? /:1:1: the manifest is larger than 1048576 bytes$/
              : new RegExp(`:1:1: the manifest ${expected.source}$`),
          ),
        ]);
      },
    );

    it('refuses an app directory whose kindling.yaml is a FIFO', async () => {
      const app = join(dir, 'fifo-app');
      await mkdir(app);
      execFileSync('mkfifo', [join(app, 'kindling.yaml')]);
      expect(await manifestProblems(loadBootManifest(app))).toEqual([
        `${join(app, 'kindling.yaml')}:1:1: the manifest is a FIFO (named pipe), not a regular file`,
      ]);
    });

    it.each(DEVICES)('refuses $label given as the manifest, reading nothing from it', async ({ path }) => {
      const before = process.memoryUsage().arrayBuffers;
      expect(await manifestProblems(loadBootManifest(path))).toEqual([
        `${path}:1:1: the manifest is a character device, not a regular file`,
      ]);
      expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(MAX_BUFFER_GROWTH);
    });

    it('refuses a registry source outside the app root, at its line', async () => {
      await writeFile(join(dir, 'kindling.yaml'), `components: [registry]\nregistry:\n  - ${outside}\n`);
      expect(await manifestProblems(loadBootManifest(dir))).toEqual([
        `${join(dir, 'kindling.yaml')}:3:5: registry source ${outside} is outside the app root ${dir}`,
      ]);
    });

    it('refuses allow.paths naming a directory that does not exist, at its line', async () => {
      await writeFile(join(dir, 'kindling.yaml'), 'components: [registry]\nallow:\n  paths: [./nowhere]\n');
      expect(await manifestProblems(loadBootManifest(dir))).toEqual([
        `${join(dir, 'kindling.yaml')}:3:11: allow.paths: ${join(dir, 'nowhere')} does not exist`,
      ]);
    });

    it('refuses an allow.moduleBytes that is not a positive integer, at its line', async () => {
      await writeFile(join(dir, 'kindling.yaml'), 'components: [registry]\nallow:\n  moduleBytes: -1\n');
      expect(await manifestProblems(loadBootManifest(dir))).toEqual([
        `${join(dir, 'kindling.yaml')}:3:16: allow.moduleBytes: must be a positive integer (bytes)`,
      ]);
    });
  });

  describe('resolveManifestComponents', () => {
    it.each(SPECIAL)('refuses %s as a component module, at its position', async (name) => {
      const { path, expected } = modules[name];
      const problems = await withModule(path);
      expect(problems).toEqual([
        expect.stringMatching(new RegExp(`kindling\\.yaml:3:13: component module ${path} ${expected.source}`)),
      ]);
    });

    it.each(DEVICES)('refuses module: $label as outside the app root', async ({ path }) => {
      expect(await withModule(path)).toEqual([
        `${join(dir, 'kindling.yaml')}:3:13: component module ${path} is outside the app root ${dir}`,
      ]);
    });

    it.each(DEVICES)(
      'refuses module: $label for its type where allow.paths opts /dev in, reading nothing from it',
      async ({ path, expected }) => {
        const before = process.memoryUsage().arrayBuffers;
        const problems = await withModule(path, 'allow:\n  paths: [/dev]\n');
        expect(problems).toEqual([expect.stringMatching(expected)]);
        expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(MAX_BUFFER_GROWTH);
      },
    );

    it.each([
      ['a path with ../', (): string => `../${outside.split('/').pop() ?? ''}/marked.js`],
      ['an absolute path', (): string => join(outside, 'marked.js')],
      ['a symbolic link', (): string => './link.js'],
    ])(
      'refuses a component module at %s that leads out of the app root, running none of its code',
      async (_label, module) => {
        await symlink(join(outside, 'marked.js'), join(dir, 'link.js'));
        expect(await withModule(module())).toEqual([
          expect.stringMatching(/:3:13: component module .* is outside the app root/),
        ]);
        expect(existsSync(join(outside, 'marker'))).toBe(false);
      },
    );

    it('refuses a component module over allow.moduleBytes', async () => {
      await writeFile(join(dir, 'big.js'), `export default { name: "big", load() {} };\n${'//'.repeat(100)}\n`);
      const problems = await withModule('./big.js', 'allow:\n  moduleBytes: 100\n');
      expect(problems).toEqual([
        expect.stringMatching(
          /component module \S+big\.js is \d+ bytes, more than the limit of 100 \(allow\.moduleBytes\)$/,
        ),
      ]);
    });

    it('imports a component module from a directory allow.paths opts in', async () => {
      await writeFile(join(outside, 'allowed-component.js'), 'export default { name: "allowed", load() {} };\n');
      await writeFile(
        join(dir, 'kindling.yaml'),
        `components:\n  - module: ${join(outside, 'allowed-component.js')}\nallow:\n  paths: [${outside}]\n`,
      );
      const resolved = await resolveManifestComponents(await loadBootManifest(dir), builtinComponents);
      expect(resolved.map((item) => item.component.name)).toEqual(['allowed']);
    });
  });
});

describe('kindling (subprocesses)', () => {
  describe('validate and plan with no app running', () => {
    let dir: string;
    let special: SpecialFiles;
    beforeAll(async () => {
      dir = await copyHello();
      special = await makeSpecialFiles(join(dir, 'special'), '.js', DEFAULT_MAX_MODULE_BYTES);
      await writeFile(join(dir, 'functions', 'marked.js'), MARKED);
    });
    afterAll(async () => {
      await special.close();
      await rm(dir, { recursive: true, force: true });
    });
    afterEach(async () => {
      await unlink(join(dir, 'registry', 'extra.yaml')).catch(() => undefined);
      await unlink(join(dir, 'registry', 'secret.yaml')).catch(() => undefined);
    });

    it('validate refuses module: /dev/zero (with /dev opted in) as a character device, in bounded memory', async () => {
      const app = await mkdtemp(join(tmpdir(), 'kindling-devzero-'));
      try {
        await writeFile(
          join(app, 'kindling.yaml'),
          'components:\n  - events\n  - module: /dev/zero\nallow:\n  paths: [/dev]\n',
        );
        const { code, err, maxRssBytes } = await measured(['validate', app]);
        expect(code).toBe(2);
        expect(err).toContain(
          `${join(app, 'kindling.yaml')}:3:13: component module /dev/zero is a character device, not a regular file`,
        );
        expect(maxRssBytes).toBeLessThan(MAX_RSS_BYTES);
      } finally {
        await rm(app, { recursive: true, force: true });
      }
    });

    it('validate refuses a FIFO given as the app at once, in bounded memory', async () => {
      const { code, err, maxRssBytes } = await measured(['validate', special.fifo.path]);
      expect(code).toBe(2);
      expect(err).toBe(`error: ${special.fifo.path}:1:1: the manifest is a FIFO (named pipe), not a regular file\n`);
      expect(maxRssBytes).toBeLessThan(MAX_RSS_BYTES);
    });

    it('validate refuses a function file that is a FIFO, at data.file, in bounded memory', async () => {
      await writeFile(
        join(dir, 'registry', 'extra.yaml'),
        `namespace: hello\n${functionYaml('../special/hostile-fifo.js')}`,
      );
      const { code, err, maxRssBytes } = await measured(['validate', dir, '--state-dir', join(dir, '.none')]);
      expect(code).toBe(2);
      expect(err).toContain(
        `${join(dir, 'registry', 'extra.yaml')}:5:11: function hello:hostile: module file ../special/hostile-fifo.js is a FIFO (named pipe), not a regular file`,
      );
      expect(maxRssBytes).toBeLessThan(MAX_RSS_BYTES);
    });

    it('validate and plan run no code of a function module (a local boot that starts nothing)', async () => {
      await writeFile(
        join(dir, 'registry', 'extra.yaml'),
        `namespace: hello\n${functionYaml('../functions/marked.js')}`,
      );
      const validate = await kindling(['validate', dir, '--state-dir', join(dir, '.none')]);
      expect(validate.code).toBe(0);
      const plan = await kindling(['plan', dir, '--state-dir', join(dir, '.none')]);
      expect(plan.code).toBe(1);
      expect(existsSync(join(dir, 'functions', 'marker'))).toBe(false);
    });

    it('validate reports a syntax error of a function module at its line and column and at data.file', async () => {
      await writeFile(
        join(dir, 'functions', 'broken.js'),
        'export const handler = () => 1;\nexport const worse = () => 2);\n',
      );
      await writeFile(
        join(dir, 'registry', 'extra.yaml'),
        `namespace: hello\n${functionYaml('../functions/broken.js')}`,
      );
      const { code, err } = await kindling(['validate', dir, '--state-dir', join(dir, '.none')]);
      expect(code).toBe(2);
      expect(err).toContain(
        `${join(dir, 'registry', 'extra.yaml')}:5:11: function hello:hostile: module ../functions/broken.js has a syntax error at ${join(dir, 'functions', 'broken.js')}:2:29 (found by reading the module, which did not run)`,
      );
    });

    it('validate never prints a line of a secret file that a registry file, a function or a module links to', async () => {
      await symlink(join(outside, 'secret.yaml'), join(dir, 'registry', 'secret.yaml'));
      const { code, out, err } = await kindling(['validate', dir, '--state-dir', join(dir, '.none')]);
      expect(code).toBe(2);
      expect(err).toContain(
        `${join(dir, 'registry', 'secret.yaml')}:1:1: file is outside the app root ${dir} (it resolves to ${join(outside, 'secret.yaml')})`,
      );
      expect(leaksSecret(out + err)).toBe(false);
    });
  });

  describe('against a running app', () => {
    let dir: string;
    let state: string;
    let app: RunningApp;
    let client: AdminClient;
    let special: SpecialFiles;
    let outsideFifo: SpecialFiles;
    beforeAll(async () => {
      dir = await copyHello();
      state = await stateDir();
      special = await makeSpecialFiles(join(dir, 'special'), '.yaml', DEFAULT_MAX_FILE_BYTES);
      outsideFifo = await makeSpecialFiles(join(outside, 'fifo'), '.yaml', 1);
      await writeFile(join(dir, 'functions', 'marked.js'), MARKED);
      app = await RunningApp.start(dir, state);
      client = new AdminClient(statePaths(dir, state));
    });
    afterAll(async () => {
      expect(await app.stop()).toBe(0);
      await special.close();
      await outsideFifo.close();
      await rm(dir, { recursive: true, force: true });
      await rm(state, { recursive: true, force: true });
    });
    afterEach(async () => {
      await unlink(join(dir, 'registry', 'extra.yaml')).catch(() => undefined);
    });

    it.each<[string, () => string]>([
      ['a FIFO', () => special.fifo.path],
      ['a unix socket', () => special.socket.path],
      ['a directory', () => special.directory.path],
      ['a file over maxFileBytes', () => special.oversized.path],
      ['a FIFO outside the app', () => outsideFifo.fifo.path],
      ['/dev/zero', () => '/dev/zero'],
      ['/dev/urandom', () => '/dev/urandom'],
    ])(
      'refuses an entry declared in %s (at.file) at its declaration, reading nothing from it',
      async (_label, file) => {
        const path = file();
        const revision = (await client.status()).revision;
        const at = { file: path, line: 3, column: 5 };
        const entry = {
          id: 'hello:hostile',
          kind: 'function.js',
          meta: {},
          data: { file: join(dir, 'functions', 'greet.js'), export: 'nope' },
          at,
        };
        const error: unknown = await client.apply({ ops: [{ op: 'create', entry }], source: 'hostile test' }).then(
          () => undefined,
          (thrown: unknown) => thrown,
        );
        expect((error as Error).message).toContain(
          `${path}:3:5: function hello:hostile: module ${join(dir, 'functions', 'greet.js')} has no export "nope"`,
        );
        expect((await client.status()).revision).toBe(revision);
        expect((await fetchOnce(`${app.url}/hello/Ada`)).status).toBe(200);
        expect(peakRssBytes(app.pid)).toBeLessThan(MAX_RSS_BYTES);
      },
    );

    it('locates a refusal under an entry whose at.file is a registry file of the app', async () => {
      await writeFile(
        join(dir, 'registry', 'extra.yaml'),
        `namespace: hello\n${functionYaml('../functions/greet.js', 'nope')}`,
      );
      const { code, err } = await kindling(['apply', dir, '--state-dir', state]);
      expect(code).toBe(2);
      expect(err).toContain(
        `${join(dir, 'registry', 'extra.yaml')}:6:13: function hello:hostile: module ../functions/greet.js has no export "nope"`,
      );
    });

    it('validate, plan and an admin dry run run no code of a function module; a real apply does', async () => {
      await writeFile(
        join(dir, 'registry', 'extra.yaml'),
        `namespace: hello\n${functionYaml('../functions/marked.js')}`,
      );
      expect((await kindling(['validate', dir, '--state-dir', state])).code).toBe(0);
      expect((await kindling(['plan', dir, '--state-dir', state])).code).toBe(1);
      const entry = {
        id: 'hello:dry',
        kind: 'function.js',
        meta: {},
        data: { file: join(dir, 'functions', 'marked.js'), export: 'handler' },
      };
      expect((await client.apply({ ops: [{ op: 'create', entry }], dryRun: true })).dryRun).toBe(true);
      expect(existsSync(join(dir, 'functions', 'marker'))).toBe(false);
      expect((await kindling(['apply', dir, '--state-dir', state])).code).toBe(0);
      expect(existsSync(join(dir, 'functions', 'marker'))).toBe(true);
    });
  });

  // Regression (issue 12): after four FIFO applies no valid function could load (each blocked open
  // held one of libuv's four threads) and SIGTERM no longer stopped the app.
  it('keeps serving, loads a valid function and stops on SIGTERM after many FIFO applies', async () => {
    const dir = await copyHello();
    const state = await stateDir();
    const special = await makeSpecialFiles(join(dir, 'special'), '.js', DEFAULT_MAX_MODULE_BYTES);
    const app = await RunningApp.start(dir, state);
    try {
      await writeFile(
        join(dir, 'registry', 'extra.yaml'),
        `namespace: hello\n${functionYaml('../special/hostile-fifo.js', 'greet')}`,
      );
      // One more than the four threads of libuv's pool.
      for (let i = 0; i < 5; i++) {
        const { code, err } = await kindling(['apply', dir, '--state-dir', state]);
        expect(code).toBe(2);
        expect(err).toContain('module file ../special/hostile-fifo.js is a FIFO (named pipe), not a regular file');
      }
      await writeFile(
        join(dir, 'registry', 'extra.yaml'),
        `namespace: hello\n${functionYaml('../functions/greet.js', 'greet')}`,
      );
      expect((await kindling(['apply', dir, '--state-dir', state])).code).toBe(0);
      expect((await fetchOnce(`${app.url}/hello/Ada`)).status).toBe(200);
      expect(peakRssBytes(app.pid)).toBeLessThan(MAX_RSS_BYTES);
      expect(await app.stop('SIGTERM')).toBe(0);
    } finally {
      await app.stop('SIGKILL');
      await special.close();
      await rm(dir, { recursive: true, force: true });
      await rm(state, { recursive: true, force: true });
    }
  });
});
