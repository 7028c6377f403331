import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { silentLogger } from 'kindling';
import { Application, ManifestError } from 'kindling/boot';
import { builtinComponents } from 'kindling/components';
import { main } from '../boot/cli/main.js';
import { runCli } from './support/cli-harness.js';

const fixture = resolve(import.meta.dirname, 'fixtures/boot/notes-app');
/** The fixture's manifest, without allow. */
const MANIFEST =
  'name: notes\nlog: silent\ncomponents:\n  - events\n  - name: registry\n    config:\n      acceptKinds: [app.note]\nregistry:\n  - ./registry\n';

describe('Application', () => {
  let dir: string;
  let app: Application | undefined;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kindling-app-'));
    await cp(fixture, dir, { recursive: true });
  });
  afterEach(async () => {
    await app?.shutdown();
    app = undefined;
    await rm(dir, { recursive: true, force: true });
  });

  const load = async (): Promise<Application> => {
    app = await Application.load(dir, { builtins: builtinComponents, logger: silentLogger });
    return app;
  };

  describe('.start', () => {
    it('boots the components and applies every registry source as one batch', async () => {
      const started = await load();
      const outcome = await started.start();
      expect(outcome).toMatchObject({ status: 'applied', revision: 1, changes: ['+app:first', '+app:second'] });
      expect(started.registry.entries().map((entry) => entry.id)).toEqual(['app:first', 'app:second']);
    });

    it('throws the refusal of the sources and stops every component', async () => {
      await writeFile(join(dir, 'registry/bad.yaml'), 'namespace: app\nentries:\n  - name: odd\n    kind: app.other\n');
      const started = await load();
      await expect(started.start()).rejects.toThrow(/no listener handles kind "app\.other"/);
      expect(started.boot.state).toBe('stopped');
    });

    it('reads the registry YAML under the limits the manifest sets in allow.yaml', async () => {
      await writeFile(join(dir, 'kindling.yaml'), `${MANIFEST}allow:\n  yaml: { maxFileBytes: 16 }\n`);
      const started = await load();
      await expect(started.start()).rejects.toThrow(
        /notes\.yaml:1:1: file is \d+ bytes, more than the limit of 16 \(maxFileBytes\)/,
      );
    });

    it('refuses a component config that is not valid at the manifest file:line:col', async () => {
      await writeFile(
        join(dir, 'kindling.yaml'),
        'components:\n  - events\n  - name: registry\n    config:\n      acceptKinds: 7\n',
      );
      const started = await load();
      await expect(started.start()).rejects.toThrow(
        `data.acceptKinds: each value in acceptKinds must be a string (${join(dir, 'kindling.yaml')}:5:20)`,
      );
    });
  });

  describe('.reload', () => {
    it('applies the difference with what the sources applied before, as one batch', async () => {
      const started = await load();
      await started.start();
      await writeFile(
        join(dir, 'registry/notes.yaml'),
        'namespace: app\nentries:\n  - { name: first, kind: app.note, text: changed }\n  - { name: third, kind: app.note, text: three }\n',
      );
      const outcome = await started.reload();
      expect(outcome).toMatchObject({
        status: 'applied',
        revision: 2,
        changes: ['~app:first', '+app:third', '-app:second'],
      });
      expect(started.registry.historyRecords().at(-1)?.changes).toHaveLength(3);
    });

    it('reports unchanged when the sources did not change', async () => {
      const started = await load();
      await started.start();
      expect(await started.reload()).toEqual({ status: 'unchanged', revision: 1 });
    });

    it('refuses a bad edit with file:line:col and keeps the previous state', async () => {
      const started = await load();
      await started.start();
      await writeFile(
        join(dir, 'registry/notes.yaml'),
        'namespace: app\nentries:\n  - { name: first, kind: app.note, text: [oops }\n',
      );
      const outcome = await started.reload();
      expect(outcome.status).toBe('refused');
      expect(outcome.status === 'refused' && outcome.message).toContain(`${join(dir, 'registry/notes.yaml')}:3:`);
      expect(started.registry.revision).toBe(1);
      expect(started.registry.get('app:second')).toBeDefined();
    });

    it('reads the changed sources under the limits the manifest sets in allow.yaml', async () => {
      await writeFile(join(dir, 'kindling.yaml'), `${MANIFEST}allow:\n  yaml: { maxDepth: 4 }\n`);
      const started = await load();
      await started.start();
      await writeFile(
        join(dir, 'registry/notes.yaml'),
        'namespace: app\nentries:\n  - { name: first, kind: app.note, text: { a: { b: deep } } }\n',
      );
      const outcome = await started.reload();
      expect(outcome.status === 'refused' && outcome.message).toMatch(
        /notes\.yaml:3:\d+: the YAML is nested more than 4 levels deep/,
      );
      expect(started.registry.revision).toBe(1);
    });

    it('tells reload listeners what happened', async () => {
      const started = await load();
      await started.start();
      const statuses: string[] = [];
      started.onDidReload((outcome) => statuses.push(outcome.status));
      await started.reload();
      expect(statuses).toEqual(['unchanged']);
    });
  });

  describe('.load', () => {
    it('refuses a manifest that names an unknown component with a ManifestError at file:line:col', async () => {
      await writeFile(join(dir, 'kindling.yaml'), 'components:\n  - events\n  - registri\n');
      await expect(load()).rejects.toThrow(ManifestError);
      await expect(load()).rejects.toThrow(
        `${join(dir, 'kindling.yaml')}:3:5: unknown component "registri" (did you mean "registry"?)`,
      );
    });
  });
});

describe('kindling (CLI)', () => {
  it('exits 2 with the usage for an unknown command', async () => {
    const { code, err } = await runCli(['serve']);
    expect(code).toBe(2);
    expect(err).toContain("unknown command 'serve'");
  });

  it('exits 2 for a log level it does not know', async () => {
    const { code, err } = await runCli(['run', fixture, '--log-level', 'loud']);
    expect(code).toBe(2);
    expect(err).toContain('expected one of debug, info, warn, error, silent');
  });

  it('exits 2 and says why when the app does not exist, as every command does', async () => {
    const { code, err } = await runCli(['run', join(fixture, 'missing')]);
    expect(code).toBe(2);
    expect(err).toMatch(/^error: .*missing does not exist/);
  });

  it('validates and plans the registry YAML under the limits the manifest sets in allow.yaml', async () => {
    const app = await mkdtemp(join(tmpdir(), 'kindling-limits-'));
    try {
      await cp(fixture, app, { recursive: true });
      await writeFile(join(app, 'kindling.yaml'), `${MANIFEST}allow:\n  yaml: { maxFileBytes: 16 }\n`);
      for (const command of ['validate', 'plan']) {
        const { code, err } = await runCli([command, app, '--state-dir', join(app, '.none')]);
        expect([command, code]).toEqual([command, 2]);
        expect(err).toMatch(/notes\.yaml:1:1: file is \d+ bytes, more than the limit of 16 \(maxFileBytes\)/);
      }
    } finally {
      await rm(app, { recursive: true, force: true });
    }
  });

  it('runs an app until its signal aborts, then exits 0', async () => {
    const stop = new AbortController();
    let out = '';
    const code = await main(['run', fixture, '--no-state'], {
      stdout: (text) => void (out += text),
      handleSignals: false,
      logger: silentLogger,
      signal: stop.signal,
      onReady: () => stop.abort(),
    });
    expect(code).toBe(0);
    expect(out).toContain('notes is running (registry revision 1, 2 entries)');
  });
});

describe('builtinComponents', () => {
  it('boots the issue example: a component that registers a listener with the registry it depends on', async () => {
    const { BootLoader, RegistryName, defineComponent, getHandlerRegistry, getRegistry } =
      await import('kindling/boot');
    const added: string[] = [];
    const manager = {
      add: (_ctx: unknown, entry: { id: string }) => void added.push(entry.id),
      update: () => undefined,
      delete: () => undefined,
    };
    const myservice = defineComponent({
      name: 'myservice',
      dependsOn: [RegistryName],
      load: async (ctx) => {
        getHandlerRegistry(ctx).registerListener('myservice.*', manager);
        return ctx;
      },
      start: async (ctx) => {
        await getRegistry(ctx).apply([{ op: 'create', entry: { id: 'app:one', kind: 'myservice.thing', data: {} } }]);
      },
      stop: async () => {},
    });
    const builtins = builtinComponents;
    const boot = new BootLoader();
    boot.register(builtins.events);
    boot.register(builtins.registry);
    boot.register(myservice);
    await boot.load();
    await boot.start();
    await boot.shutdown();
    expect(added).toEqual(['app:one']);
  });
});
