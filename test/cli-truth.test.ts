// What the CLI prints is true and the same across commands: every problem once, in file order,
// relative to the current directory; --json problems with their parts; long plans counted; a
// confirmation before deleting many entries; one prefix and one set of exit codes.
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { silentLogger } from 'kindling';
import { Application } from 'kindling/boot';
import { builtinComponents } from 'kindling/components';
import { runCli } from './support/cli-harness.js';

const fixture = join(import.meta.dirname, 'fixtures', 'cli', 'app');

/** A path as the CLI shows it: relative below the current directory, absolute elsewhere. */
function shown(path: string): string {
  return path.startsWith(`${process.cwd()}/`) ? relative(process.cwd(), path) : path;
}

/** `count` notes in one registry file. */
function notes(count: number, namespace = 'bulk'): string {
  const entries = Array.from({ length: count }, (_, i) => `  - name: n${i}\n    kind: app.note\n    text: note ${i}\n`);
  return `namespace: ${namespace}\nentries:\n${entries.join('')}`;
}

describe('kindling --version', () => {
  it("prints the package's version and exits 0", async () => {
    const pkg = JSON.parse(await readFile(join(import.meta.dirname, '..', 'package.json'), 'utf8')) as {
      version: string;
    };
    for (const flag of ['--version', '-V']) {
      const { code, out } = await runCli([flag]);
      expect(code).toBe(0);
      expect(out.trim()).toBe(pkg.version);
    }
  });
});

describe('problems', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kindling-truth-'));
    await cp(fixture, dir, { recursive: true });
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('are printed once each, sorted by file and position, with paths relative to the current directory', async () => {
    // An app below the current directory, so that its paths are shown relative to it.
    await mkdir(join(process.cwd(), 'node_modules', '.cache'), { recursive: true });
    const below = await mkdtemp(join(process.cwd(), 'node_modules', '.cache', 'kindling-truth-'));
    await cp(fixture, below, { recursive: true });
    await rm(dir, { recursive: true, force: true });
    dir = below;
    // Found in another order: z.yaml's listener refusals come back before a.yaml's in the batch.
    await writeFile(
      join(dir, 'registry', 'z.yaml'),
      'namespace: z\nentries:\n  - name: one\n    kind: htp.endpoint\n  - name: two\n    kind: app.nope\n',
    );
    await writeFile(join(dir, 'registry', 'a.yaml'), 'namespace: a\nentries:\n  - name: one\n    kind: app.nope\n');
    const { code, err } = await runCli(['validate', dir]);
    expect(code).toBe(2);
    const lines = err.split('\n').filter((line) => /^ {2}\S/.test(line));
    const at = relative(process.cwd(), join(dir, 'registry'));
    expect(at.startsWith('node_modules/')).toBe(true);
    expect(lines.map((line) => line.slice(2, line.indexOf(': ')))).toEqual([
      `${at}/a.yaml:3:5`,
      `${at}/z.yaml:3:5`,
      `${at}/z.yaml:5:5`,
    ]);
    expect(err).not.toContain(`${process.cwd()}/`);
    expect(new Set(lines).size).toBe(lines.length);
    // A kind typo names the kind it most likely meant, not a pattern.
    expect(lines[1]).toContain('Did you mean "http.endpoint"?');
  });

  it('carry file, line, column, code and entry in plan --json', async () => {
    await writeFile(
      join(dir, 'registry', 'case.yaml'),
      'namespace: app\nentries:\n  - name: typo\n    kind: htp.endpoint\n',
    );
    const { code, out } = await runCli(['plan', dir, '--json']);
    expect(code).toBe(2);
    const plan = JSON.parse(out) as { valid: boolean; problems: unknown[] };
    expect(plan.valid).toBe(false);
    expect(plan.problems).toEqual([
      {
        file: shown(join(dir, 'registry', 'case.yaml')),
        line: 3,
        column: 5,
        code: 'INVALID',
        entryId: 'app:typo',
        message: expect.stringContaining('no listener handles kind "htp.endpoint"'),
      },
    ]);
  });

  it('of a YAML file carry their parts in plan --json too', async () => {
    await writeFile(join(dir, 'registry', 'case.yaml'), 'namespace: app\nentries:\n  - name: [x\n');
    const { code, out } = await runCli(['plan', dir, '--json']);
    expect(code).toBe(2);
    const plan = JSON.parse(out) as { problems: { file: string; line: number; column: number; code: string }[] };
    expect(plan.problems.length).toBeGreaterThan(0);
    for (const problem of plan.problems) {
      expect(problem).toMatchObject({ file: shown(join(dir, 'registry', 'case.yaml')), code: 'INVALID' });
      expect(problem.line).toBeGreaterThan(0);
      expect(problem.column).toBeGreaterThan(0);
    }
  });

  it('of a manifest stop `run` with exit 2 and the prefix every command uses', async () => {
    await writeFile(
      join(dir, 'kindling.yaml'),
      'name: broken\nlog: loud\ncomponents: [events]\nregistry: [./registry]\n',
    );
    const run = await runCli(['run', dir]);
    const validate = await runCli(['validate', dir]);
    expect(run.code).toBe(2);
    expect(validate.code).toBe(2);
    expect(run.err).toMatch(/^error: .*kindling\.yaml:2:6: log: must be one of/);
    expect(run.err).toBe(validate.err);
  });
});

describe('against a running app', () => {
  let dir: string;
  let state: string;
  let app: Application | undefined;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kindling-truth-'));
    state = await mkdtemp(join(tmpdir(), 'ks-'));
    await cp(fixture, dir, { recursive: true });
    await writeFile(join(dir, 'registry', 'bulk.yaml'), notes(120));
    app = await Application.load(dir, { builtins: builtinComponents, logger: silentLogger, stateDir: state });
    await app.start();
  });
  afterEach(async () => {
    await app?.shutdown();
    await rm(dir, { recursive: true, force: true });
    await rm(state, { recursive: true, force: true });
  });

  it('summarises a long plan by operation and kind, and --full lists every change', async () => {
    await writeFile(join(dir, 'registry', 'more.yaml'), notes(60, 'more'));
    const short = await runCli(['plan', dir, '--state-dir', state]);
    expect(short.code).toBe(1);
    expect(short.out).toContain('+ 60  app.note');
    expect(short.out).toContain('(60 changes, counted by kind; --full lists each one)');
    expect(short.out).not.toContain('more:n0');
    const full = await runCli(['plan', dir, '--state-dir', state, '--full']);
    expect(full.code).toBe(1);
    for (let i = 0; i < 60; i++) expect(full.out).toContain(`+ more:n${i} `);
  });

  it('refuses a rollback that deletes every entry without --yes, and changes nothing', async () => {
    const before = app?.registry.revision;
    const { code, err } = await runCli(['rollback', dir, '0', '--state-dir', state]);
    expect(code).toBe(2);
    expect(err).toContain('would delete every entry of the running app (121); nothing changed');
    expect(err).toContain('--yes');
    expect(app?.registry.revision).toBe(before);
    expect(app?.registry.entries()).toHaveLength(121);
  });

  it('asks before such a rollback when someone can answer, and keeps everything on "no"', async () => {
    const questions: string[] = [];
    const no = await runCli(['rollback', dir, '0', '--state-dir', state], {
      confirm: async (question) => (questions.push(question), false),
    });
    expect(no.code).toBe(2);
    expect(questions).toEqual(['the rollback to revision 0 deletes every entry of the running app (121). Go on?']);
    expect(no.err).toContain('was not confirmed; nothing changed');
    expect(app?.registry.entries()).toHaveLength(121);
    const yes = await runCli(['rollback', dir, '0', '--state-dir', state], { confirm: async () => true });
    expect(yes.code).toBe(0);
    expect(app?.registry.entries()).toHaveLength(0);
  });

  it('rolls back with --yes, and a rollback deleting a handful needs no confirmation', async () => {
    await writeFile(join(dir, 'registry', 'few.yaml'), notes(3, 'few'));
    expect((await runCli(['apply', dir, '--state-dir', state])).code).toBe(0);
    const revision = (app as Application).registry.revision;
    // Undoing the three notes: a handful.
    expect((await runCli(['rollback', dir, String(revision - 1), '--state-dir', state])).code).toBe(0);
    expect(app?.registry.get('few:n0')).toBeUndefined();
    const all = await runCli(['rollback', dir, '0', '--state-dir', state, '--yes']);
    expect(all.code).toBe(0);
    expect(all.out).toContain('(121 changes, counted by kind; --full lists each one)');
    expect(app?.registry.entries()).toHaveLength(0);
  });

  it('refuses an apply --prune that deletes many entries without --yes', async () => {
    await rm(join(dir, 'registry', 'bulk.yaml'));
    const refused = await runCli(['apply', dir, '--state-dir', state, '--prune']);
    expect(refused.code).toBe(2);
    expect(refused.err).toContain('this apply --prune would delete 120 entries of the running app; nothing changed');
    expect(app?.registry.entries()).toHaveLength(121);
    const done = await runCli(['apply', dir, '--state-dir', state, '--prune', '--yes']);
    expect(done.code).toBe(0);
    expect(app?.registry.entries()).toHaveLength(1);
  });

  it('names the kind a typo on an existing entry meant, once per entry', async () => {
    await writeFile(
      join(dir, 'registry', 'bulk.yaml'),
      notes(120).replace('kind: app.note\n    text: note 0\n', 'kind: app.nots\n    text: note 0\n'),
    );
    const { code, err } = await runCli(['apply', dir, '--state-dir', state]);
    expect(code).toBe(2);
    const mentions = err.split('\n').filter((line) => line.includes('bulk:n0'));
    expect(mentions).toHaveLength(1);
    expect(mentions[0]).toContain('no listener handles kind "app.nots" of entry bulk:n0. Did you mean "app.note"?');
  });
});
