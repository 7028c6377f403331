// `kindling plan | apply | history | rollback | validate`, driven in process through main(), against
// an app started in this process with a state directory (its admin socket is the one the CLI
// reaches). The subprocess tests (cli-subprocess.test.ts) do the same across processes.
import { appendFile, cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { crc32 } from 'node:zlib';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { silentLogger } from 'kindling';
import type { LogFields, Logger } from 'kindling';
import { AdminClient, Application, statePaths } from 'kindling/boot';
import { builtinComponents } from 'kindling/components';
import { main } from '../boot/cli/main.js';
import { runCli } from './support/cli-harness.js';

const fixture = join(import.meta.dirname, 'fixtures', 'cli', 'app');

function memoryLogger(lines: string[]): Logger {
  const write = (level: string) => (message: string, _fields?: LogFields) => void lines.push(`${level} ${message}`);
  return { debug: write('debug'), info: write('info'), warn: write('warn'), error: write('error') };
}

const NOTES = `namespace: app
entries:
  - name: first
    kind: app.note
    text: one
  - name: second
    kind: app.note
    text: two
`;

describe('kindling --help', () => {
  it.each(['run', 'validate', 'plan', 'apply', 'history', 'rollback', 'compact'])(
    'prints the usage of %s and exits 0',
    async (command) => {
      const { code, out } = await runCli([command, '--help']);
      expect(code).toBe(0);
      expect(out).toMatch(new RegExp(`^Usage: kindling ${command} \\[options\\] <app>`));
    },
  );
});

describe('kindling commands against a running app (in process)', () => {
  let dir: string;
  let state: string;
  let app: Application | undefined;
  let extra: string;

  const start = async (logger: Logger = silentLogger): Promise<Application> => {
    app = await Application.load(dir, { builtins: builtinComponents, logger, stateDir: state });
    await app.start();
    return app;
  };
  const stop = async (): Promise<void> => {
    await app?.shutdown();
    app = undefined;
  };
  const running = (): Application => app as Application;
  const ids = (): string[] =>
    running()
      .registry.entries()
      .map((entry) => entry.id);

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kindling-cmd-'));
    state = await mkdtemp(join(tmpdir(), 'ks-'));
    await cp(fixture, dir, { recursive: true });
    extra = join(dir, 'registry', 'extra.yaml');
    await writeFile(extra, NOTES);
  });
  afterEach(async () => {
    await stop();
    await rm(dir, { recursive: true, force: true });
    await rm(state, { recursive: true, force: true });
  });

  describe('plan', () => {
    it('exits 0 and says so when the YAML matches the running app', async () => {
      await start();
      const { code, out } = await runCli(['plan', dir, '--state-dir', state]);
      expect(code).toBe(0);
      expect(out).toMatch(
        /^no changes: the running app \(pid \d+, revision 1\) matches the registry YAML of cli-fixture\n$/,
      );
    });

    it('exits 1 and lists a create with where it is declared', async () => {
      await start();
      await appendFile(extra, '  - name: third\n    kind: app.note\n    text: three\n');
      const { code, out } = await runCli(['plan', dir, '--state-dir', state]);
      expect(code).toBe(1);
      expect(out).toContain(
        `  + app:third  app.note  ${join(dir, 'registry/extra.yaml')}:9:5`.replace(`${process.cwd()}/`, ''),
      );
      expect(out).toContain('1 to create, 0 to update, 0 to delete');
    });

    it('lists an update with the paths of the changed fields', async () => {
      await start();
      await writeFile(extra, NOTES.replace('text: two', 'text: deux\n    meta:\n      groups: [fr]'));
      const { code, out } = await runCli(['plan', dir, '--state-dir', state]);
      expect(code).toBe(1);
      expect(out).toContain('  ~ app:second  app.note  meta.groups, data.text');
    });

    it('lists no delete without --prune, and says what --prune would delete', async () => {
      await start();
      await writeFile(extra, NOTES.split('  - name: second')[0] as string);
      const { code, out } = await runCli(['plan', dir, '--state-dir', state]);
      expect(code).toBe(0);
      expect(out).toContain(
        '1 entry this YAML applied before is no longer declared and kept (app:second); --prune deletes it',
      );
    });

    it('with --prune, lists a delete for each entry this YAML applied and no longer declares, and none for other sources', async () => {
      await start();
      await new AdminClient(statePaths(dir, state)).apply({
        ops: [{ op: 'create', entry: { id: 'app:other', kind: 'app.note', meta: {}, data: {} } }],
        source: 'ci',
      });
      await writeFile(extra, NOTES.split('  - name: second')[0] as string);
      const { code, out } = await runCli(['plan', dir, '--state-dir', state, '--prune']);
      expect(code).toBe(1);
      expect(out).toContain('  - app:second  app.note');
      expect(out).not.toContain('app:other');
    });

    it('colours the signs of the changes on a terminal', async () => {
      await start();
      await appendFile(extra, '  - name: third\n    kind: app.note\n');
      const { out } = await runCli(['plan', dir, '--state-dir', state], { color: true });
      expect(out).toContain('\x1b[32m+ app:third\x1b[39m');
    });

    it('prints a machine-readable plan with --json', async () => {
      await start();
      await writeFile(extra, NOTES.replace('text: two', 'text: deux'));
      const { code, out } = await runCli(['plan', dir, '--state-dir', state, '--json']);
      expect(code).toBe(1);
      expect(JSON.parse(out)).toMatchObject({
        app: 'cli-fixture',
        against: { running: true, revision: 1 },
        changes: [{ op: 'update', id: 'app:second', kind: 'app.note', paths: ['data.text'] }],
        unpruned: [],
        valid: true,
        problems: [],
      });
    });

    it('exits 2 with the position when the dry run through the app is refused, and changes nothing', async () => {
      await start();
      await appendFile(
        extra,
        '  - name: fn\n    kind: function.js\n    file: ../functions/hello.js\n    export: nope\n',
      );
      const { code, out, err } = await runCli(['plan', dir, '--state-dir', state]);
      expect(code).toBe(2);
      expect(out).toContain('+ app:fn');
      // The function component points at the entry's `export` (found again in the YAML by the app).
      expect(err).toContain(
        `${join(dir, 'registry/extra.yaml')}:12:13: function app:fn: module ../functions/hello.js has no export "nope"`,
      );
      expect(running().registry.revision).toBe(1);
    });

    it('plans against an empty registry when no app is running', async () => {
      const { code, out } = await runCli(['plan', dir, '--state-dir', state]);
      expect(code).toBe(1);
      expect(out).toContain(`against an empty registry (no app is running at ${state})`);
      expect(out).toContain('3 to create, 0 to update, 0 to delete');
      expect(out).toContain(`(in a local boot that started nothing); \`kindling run ${dir}\` starts the app with it`);
    });
  });

  describe('apply', () => {
    it('applies the changes as one batch: the revision moves by one', async () => {
      await start();
      await writeFile(extra, `${NOTES.replace('text: two', 'text: deux')}  - name: third\n    kind: app.note\n`);
      const { code, out } = await runCli(['apply', dir, '--state-dir', state]);
      expect(code).toBe(0);
      expect(out).toContain('applied revision 2: 1 created, 1 updated, 0 deleted');
      expect(running().registry.revision).toBe(2);
      expect(
        running()
          .registry.historyRecords()
          .at(-1)
          ?.changes.map((change) => `${change.op} ${change.entry.id}`)
          .sort(),
      ).toEqual(['create app:third', 'update app:second']);
    });

    it('exits 0 without a new revision when there is nothing to change', async () => {
      await start();
      const { code, out } = await runCli(['apply', dir, '--state-dir', state]);
      expect(code).toBe(0);
      expect(out).toBe('no changes: the running app (revision 1) already matches the registry YAML\n');
      expect(running().registry.revision).toBe(1);
    });

    it('refuses with --expect-revision when the app is at another revision, and changes nothing', async () => {
      await start();
      await writeFile(extra, NOTES.replace('text: two', 'text: deux'));
      const { code, err } = await runCli(['apply', dir, '--state-dir', state, '--expect-revision', '7']);
      expect(code).toBe(2);
      expect(err).toBe('error: expected revision 7, but the registry is at 1; plan again\n');
      expect(running().registry.get('app:second')?.data).toEqual({ text: 'two' });
    });

    it('applies with --expect-revision at the current revision', async () => {
      await start();
      await writeFile(extra, NOTES.replace('text: two', 'text: deux'));
      expect((await runCli(['apply', dir, '--state-dir', state, '--expect-revision', '1'])).code).toBe(0);
      expect(running().registry.get('app:second')?.data).toEqual({ text: 'deux' });
    });

    it('with --prune, deletes only the entries this YAML applied and no longer declares', async () => {
      await start();
      await new AdminClient(statePaths(dir, state)).apply({
        ops: [{ op: 'create', entry: { id: 'app:other', kind: 'app.note', meta: {}, data: {} } }],
        source: 'ci',
      });
      await writeFile(extra, NOTES.split('  - name: second')[0] as string);
      const { code, out } = await runCli(['apply', dir, '--state-dir', state, '--prune']);
      expect(code).toBe(0);
      expect(out).toContain('0 created, 0 updated, 1 deleted');
      expect(ids()).toEqual(['app:first', 'app:other', 'base:welcome']);
    });

    it('deletes nothing without --prune', async () => {
      await start();
      await writeFile(extra, NOTES.split('  - name: second')[0] as string);
      expect((await runCli(['apply', dir, '--state-dir', state])).code).toBe(0);
      expect(ids()).toContain('app:second');
    });

    it('exits 2 with the position of a refused entry, leaving the revision', async () => {
      await start();
      await appendFile(
        extra,
        '  - name: fn\n    kind: function.js\n    file: ../functions/missing.js\n    export: hello\n',
      );
      const { code, err } = await runCli(['apply', dir, '--state-dir', state]);
      expect(code).toBe(2);
      expect(err).toContain(
        `${join(dir, 'registry/extra.yaml')}:11:11: function app:fn: module file ../functions/missing.js does not exist`,
      );
      expect(running().registry.revision).toBe(1);
    });

    it('exits 2 with the problems of a bad YAML, each at its position', async () => {
      await start();
      await writeFile(
        extra,
        'namespace: app\nentries:\n  - name: a\n  - name: b\n    kind: app.note\n    data: {}\n    text: both\n',
      );
      const { code, err } = await runCli(['apply', dir, '--state-dir', state]);
      expect(code).toBe(2);
      expect(err).toContain('error: invalid registry YAML (2 problems):\n');
      expect(err).toContain(`${join(dir, 'registry/extra.yaml')}:3:5: entry app:a has no kind`);
      expect(err).toContain(
        `${join(dir, 'registry/extra.yaml')}:7:5: entry app:b has both data and inline fields (text)`,
      );
    });

    it('exits 2 and says how to start the app when none is running', async () => {
      const { code, err } = await runCli(['apply', dir, '--state-dir', state]);
      expect(code).toBe(2);
      expect(err).toBe(
        `error: no running app at ${state}; start it with \`kindling run ${dir}\` (or give the --state-dir it runs with)\n`,
      );
    });

    it('shows the progress of a large batch', async () => {
      await start();
      const many = Array.from({ length: 1_200 }, (_, i) => `  - { name: n${i}, kind: app.note, text: "${i}" }`).join(
        '\n',
      );
      await writeFile(join(dir, 'registry', 'many.yaml'), `namespace: many\nentries:\n${many}\n`);
      const { code, err } = await runCli(['apply', dir, '--state-dir', state], { progress: 'plain' });
      expect(code).toBe(0);
      expect(err).toMatch(
        /^loading the registry YAML \(1 source\)\nloaded 1,203 entries from 3 files\nplanning 1,203 entries\napplying 1,200 changes\napplied 1,200 changes in [\d.]+ m?s\n$/,
      );
    });
  });

  describe('history', () => {
    it('lists the batches of this run with their source and changes', async () => {
      await start();
      await writeFile(extra, NOTES.replace('text: two', 'text: deux'));
      await runCli(['apply', dir, '--state-dir', state]);
      const { code, out } = await runCli(['history', dir, '--state-dir', state]);
      expect(code).toBe(0);
      const lines = out.split('\n');
      expect(lines[0]).toMatch(/^history of cli-fixture \(pid \d+, revision 2; this run's batches, oldest first\)$/);
      expect(lines[2]).toMatch(/^ {4}1 {2}\S+Z {2}yaml:\S+ +\+app:first \+app:second \+base:welcome$/);
      expect(lines[3]).toMatch(/^ {4}2 {2}\S+Z {2}yaml:\S+ +~app:second$/);
    });

    it('prints JSON with --json', async () => {
      await start();
      const { code, out } = await runCli(['history', dir, '--state-dir', state, '--json']);
      expect(code).toBe(0);
      expect(JSON.parse(out)).toMatchObject({
        revision: 1,
        records: [{ revision: 1, changes: [{ op: 'create', id: 'app:first' }, {}, { id: 'base:welcome' }] }],
      });
    });
  });

  describe('rollback', () => {
    it('returns the registry to an earlier revision as a new batch', async () => {
      await start();
      await writeFile(extra, NOTES.replace('text: two', 'text: deux'));
      await runCli(['apply', dir, '--state-dir', state]);
      const { code, out } = await runCli(['rollback', dir, '1', '--state-dir', state]);
      expect(code).toBe(0);
      expect(out).toContain('rolled back to revision 1 as revision 3: 0 created, 1 updated, 0 deleted');
      expect(running().registry.get('app:second')?.data).toEqual({ text: 'two' });
    });

    it('changes nothing with --dry-run', async () => {
      await start();
      await writeFile(extra, NOTES.replace('text: two', 'text: deux'));
      await runCli(['apply', dir, '--state-dir', state]);
      const { code, out } = await runCli(['rollback', dir, '1', '--state-dir', state, '--dry-run']);
      expect(code).toBe(0);
      expect(out).toContain('(dry run, nothing changed)');
      expect(running().registry.revision).toBe(2);
    });

    it('exits 2 for a revision the app has not reached', async () => {
      await start();
      const { code, err } = await runCli(['rollback', dir, '9', '--state-dir', state]);
      expect(code).toBe(2);
      expect(err).toBe('error: cannot roll back to revision 9: the registry is at 1\n');
    });

    it('refuses a revision that is not a number, as a usage error', async () => {
      const { code, err } = await runCli(['rollback', dir, 'latest', '--state-dir', state]);
      expect(code).toBe(2);
      expect(err).toContain('expected a revision number');
    });
  });

  describe('validate', () => {
    it('checks the changed entries through the running app', async () => {
      await start();
      await writeFile(extra, NOTES.replace('text: two', 'text: deux'));
      const { code, out } = await runCli(['validate', dir, '--state-dir', state]);
      expect(code).toBe(0);
      expect(out).toMatch(/^valid: 3 entries in 2 files, checked through the running app \(pid \d+, revision 1\)\n$/);
    });
  });

  describe('durable history', () => {
    it('keeps a change applied through the CLI across a restart, over the YAML', async () => {
      await start();
      await writeFile(extra, NOTES.replace('text: two', 'text: deux'));
      expect((await runCli(['apply', dir, '--state-dir', state])).code).toBe(0);
      await stop();
      await writeFile(extra, NOTES);
      const logs: string[] = [];
      await start(memoryLogger(logs));
      expect(running().registry.get('app:second')?.data).toEqual({ text: 'deux' });
      expect(logs).toContainEqual(
        expect.stringMatching(/^info replayed 1 batch from .*journal\.log \(1 change over the YAML\)$/),
      );
    });

    it('keeps every committed batch and drops a torn last record', async () => {
      await start();
      await writeFile(extra, `${NOTES}  - { name: third, kind: app.note }\n`);
      await runCli(['apply', dir, '--state-dir', state]);
      await writeFile(extra, `${NOTES}  - { name: third, kind: app.note }\n  - { name: fourth, kind: app.note }\n`);
      await runCli(['apply', dir, '--state-dir', state]);
      await stop();
      await appendFile(join(state, 'journal.log'), '0badc0de\t{"v":1,"revision":4,"chan');
      await writeFile(extra, NOTES);
      const logs: string[] = [];
      await start(memoryLogger(logs));
      expect(ids()).toEqual(['app:first', 'app:fourth', 'app:second', 'app:third', 'base:welcome']);
      expect(logs).toContainEqual(
        expect.stringMatching(/^info replayed 2 batches from .* \(2 changes over the YAML, torn tail dropped\)$/),
      );
    });

    it('remembers after a restart which entries the YAML applied, so --prune can delete them', async () => {
      await start();
      await writeFile(extra, `${NOTES}  - { name: third, kind: app.note }\n`);
      await runCli(['apply', dir, '--state-dir', state]);
      await stop();
      await writeFile(extra, NOTES);
      await start();
      expect(ids()).toContain('app:third');
      const { code, out } = await runCli(['apply', dir, '--state-dir', state, '--prune']);
      expect(code).toBe(0);
      expect(out).toContain('  - app:third  app.note\n');
      expect(ids()).not.toContain('app:third');
    });

    it('keeps, after a restart, the owner a rollback gave back to an entry', async () => {
      await start();
      await writeFile(extra, `${NOTES}  - { name: third, kind: app.note }\n`);
      await runCli(['apply', dir, '--state-dir', state]);
      await writeFile(extra, NOTES);
      await runCli(['apply', dir, '--state-dir', state, '--prune']);
      expect((await runCli(['rollback', dir, '2', '--state-dir', state])).code).toBe(0);
      await stop();
      await start();
      const { code, out } = await runCli(['plan', dir, '--state-dir', state, '--prune']);
      expect(code).toBe(1);
      expect(out).toContain('  - app:third  app.note\n');
    });

    it('journals a reload (kindling run --watch) like any other batch', async () => {
      await start();
      await writeFile(extra, NOTES.replace('text: two', 'text: watched'));
      expect(await running().reload()).toMatchObject({ status: 'applied', changes: ['~app:second'] });
      await stop();
      await writeFile(extra, NOTES);
      await start();
      expect(running().registry.get('app:second')?.data).toEqual({ text: 'watched' });
    });

    it('refuses to start when the journal no longer applies over the YAML, saying how to start from the YAML alone', async () => {
      await start();
      await appendFile(
        extra,
        '  - name: fn\n    kind: function.js\n    file: ../functions/hello.js\n    export: hello\n',
      );
      expect((await runCli(['apply', dir, '--state-dir', state])).code).toBe(0);
      await stop();
      await writeFile(extra, NOTES);
      await rm(join(dir, 'functions/hello.js'));
      const error = await start().catch((caught: unknown) => caught);
      app = undefined;
      expect(String(error)).toMatch(
        new RegExp(
          `the registry journal ${join(state, 'journal.log')} \\(1 batch\\) could not be replayed over the registry YAML: .*module file \\.\\./functions/hello\\.js does not exist[^]*\\nFix the cause, or move the journal aside to start from the YAML alone\\.$`,
        ),
      );
    });

    it('refuses to start on a forged journal, naming file and line (it used to say record.changes is not iterable)', async () => {
      const forged = (value: object): string => {
        const json = JSON.stringify(value);
        return `${crc32(json).toString(16).padStart(8, '0')}\t${json}\n`;
      };
      await writeFile(
        join(state, 'journal.log'),
        forged({ v: 1, revision: 1, transactionId: 't', time: '2025-01-01T00:00:00Z', changes: {} }),
      );
      const { code, err } = await runCli(['run', dir, '--state-dir', state]);
      expect(code).toBe(1);
      expect(err).toContain(
        `registry journal ${join(state, 'journal.log')}:1 is damaged: changes must be a list; refusing to drop committed batches`,
      );
    });

    it('refuses to start on a journal whose entry has a forged position, naming file, line and field', async () => {
      const json = JSON.stringify({
        v: 1,
        revision: 1,
        transactionId: 't',
        time: '2025-01-01T00:00:00Z',
        changes: [
          {
            op: 'create',
            entry: {
              id: 'app:x',
              kind: 'app.note',
              meta: {},
              data: {},
              at: { file: '/etc/shadow', line: -1, column: 1 },
            },
          },
        ],
      });
      await writeFile(join(state, 'journal.log'), `${crc32(json).toString(16).padStart(8, '0')}\t${json}\n`);
      await expect(start()).rejects.toThrow(
        `registry journal ${join(state, 'journal.log')}:1 is damaged: changes[0].entry: entry app:x: at.line must be a positive integer`,
      );
      app = undefined;
    });

    it('compacts the journal on request: after a restart the same state is replayed from the snapshot, and history says so', async () => {
      await start();
      await writeFile(extra, NOTES.replace('text: two', 'text: deux'));
      await runCli(['apply', dir, '--state-dir', state]);
      await writeFile(extra, `${NOTES.replace('text: two', 'text: deux')}  - { name: third, kind: app.note }\n`);
      await runCli(['apply', dir, '--state-dir', state]);
      const compacted = await runCli(['compact', dir, '--state-dir', state]);
      expect(compacted.code).toBe(0);
      expect(compacted.out).toMatch(
        new RegExp(
          `^compacted ${join(state, 'journal.log')}: \\d+ bytes → \\d+ bytes, a snapshot of 2 entries at revision 3\n$`,
        ),
      );
      await stop();
      await writeFile(extra, NOTES);
      await start();
      expect(running().registry.get('app:second')?.data).toEqual({ text: 'deux' });
      expect(ids()).toContain('app:third');
      const history = await runCli(['history', dir, '--state-dir', state]);
      expect(history.out).toMatch(
        /^ +5 {2}\S+Z {2}journal replay \(a snapshot of revision 3 and 0 batches\) +~app:second \+app:third$/m,
      );
    });

    it('kindling run passes its limits to the journal and the admin socket', async () => {
      const stop = new AbortController();
      let refused: unknown;
      const code = await main(
        ['run', dir, '--state-dir', state, '--admin-max-ops', '1', '--journal-compact-bytes', '1KiB'],
        {
          stdout: () => undefined,
          stderr: () => undefined,
          logger: silentLogger,
          handleSignals: false,
          signal: stop.signal,
          onReady: () =>
            void (async () => {
              const client = new AdminClient(statePaths(dir, state));
              const note = (i: number) => ({
                op: 'create' as const,
                entry: { id: `app:n${i}`, kind: 'app.note', meta: {}, data: { text: 'x'.repeat(300) } },
              });
              refused = await client.apply({ ops: [note(0), note(1)] }).catch((error: unknown) => error);
              for (let i = 0; i < 8; i++) await client.apply({ ops: [note(i)] });
              stop.abort();
            })(),
        },
      );
      expect(code).toBe(0);
      expect(refused).toMatchObject({
        code: 'INVALID',
        message: expect.stringContaining('more than the 1 one request may carry (maxOps)'),
      });
      // Compacted as it grew: the journal begins with a snapshot.
      expect((await readFile(join(state, 'journal.log'), 'utf8')).split('\n')[0]).toMatch(
        /^[0-9a-f]{8}\t\{"v":1,"type":"snapshot","revision":\d+,/,
      );
    });

    it('refuses a limit flag that is not a size, as a usage error', async () => {
      const { code, err } = await runCli(['run', dir, '--journal-compact-bytes', '12XB']);
      expect(code).toBe(2);
      expect(err).toContain('expected a size in bytes, such as 1048576, 512KiB, 64MiB or 1GiB');
    });

    it('refuses a second app on the same state directory, naming the pid of the first', async () => {
      await start();
      const second = await Application.load(dir, {
        builtins: builtinComponents,
        logger: silentLogger,
        stateDir: state,
      });
      await expect(second.start()).rejects.toThrow(
        `an app (pid ${process.pid}) is already running with the state directory ${state}`,
      );
      expect(await readFile(join(dir, 'registry', 'extra.yaml'), 'utf8')).toBe(NOTES);
      expect((await runCli(['plan', dir, '--state-dir', state])).code).toBe(0);
    });
  });
});
