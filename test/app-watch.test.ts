// `kindling run --watch` against real files in a temp dir, with the real watcher: every way an
// editor or a tool saves a file reaches the registry, and the watch goes on working after each.
// Nothing sleeps to decide: each step waits for the log line it expects (with a deadline).
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Application } from 'kindling/boot';
import type { ReloadOutcome } from 'kindling/boot';
import { builtinComponents } from 'kindling/components';
import { main } from '../boot/cli/main.js';
import { LogCapture } from './support/log-capture.js';

const MANIFEST = `name: notes
components:
  - events
  - name: registry
    config:
      acceptKinds: [app.note]
  - function
registry:
  - ./registry
`;

/** A registry file of notes `name: text`. */
function notes(values: Readonly<Record<string, string>>, namespace = 'app'): string {
  const entries = Object.entries(values).map(
    ([name, text]) => `  - { name: ${name}, kind: app.note, text: ${JSON.stringify(text)} }`,
  );
  return `namespace: ${namespace}\nentries:\n${entries.join('\n')}\n`;
}

const FUNCTIONS =
  'namespace: app\nentries:\n  - { name: shout, kind: function.js, file: ../functions/shout.js, export: shout }\n';
const shoutModule = (suffix: string): string =>
  `export function shout(text) {\n  return text.toUpperCase() + '${suffix}';\n}\n`;

/** An app directory: the manifest, a notes file, a probe file (see stillWatching), a function module. */
async function makeApp(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'kindling-watch-'));
  await mkdir(join(dir, 'registry'));
  await mkdir(join(dir, 'functions'));
  await writeFile(join(dir, 'kindling.yaml'), MANIFEST);
  await writeFile(join(dir, 'registry/notes.yaml'), notes({ first: 'one', second: 'two' }));
  await writeFile(join(dir, 'registry/probe.yaml'), notes({ stamp: 'start' }, 'probe'));
  await writeFile(join(dir, 'registry/functions.yaml'), FUNCTIONS);
  await writeFile(join(dir, 'functions/shout.js'), shoutModule('!'));
  return dir;
}

const APPLIED = /^info (?:recovered from the refused change: )?applied revision \d+/;
const RELOADED =
  /^(?:info (?:recovered from the refused change: )?(?:applied revision|no change to apply)|error change refused)/;

describe('kindling run --watch', () => {
  let dir: string;
  let app: Application;
  let exited: Promise<number>;
  const stop = new AbortController();
  const log = new LogCapture();
  const stdout: string[] = [];

  const file = (path: string): string => join(dir, path);
  const text = (id: string): unknown => (app.registry.get(id)?.data as { text?: unknown } | undefined)?.text;

  /**
   * Runs `change` and resolves with the first reload line after it that matches `pattern` (and the
   * lines from the mark on, to look at what else was logged).
   */
  async function after(
    change: () => Promise<void> | void,
    pattern: RegExp = RELOADED,
  ): Promise<{ line: string; since: string[] }> {
    const mark = log.mark();
    await change();
    const line = await log.waitFor(pattern, mark);
    return { line, since: log.lines.slice(mark) };
  }

  /** Resolves once the applied lines after `mark` have brought the registry to `done`. */
  async function appliedUntil(mark: number, done: () => boolean): Promise<string[]> {
    let from = mark;
    while (!done()) {
      const line = await log.waitFor(APPLIED, from);
      from = log.lines.indexOf(line, from) + 1;
    }
    return log.lines.slice(mark).filter((line) => RELOADED.test(line));
  }

  /** A plain write in place still reaches the registry: the watch survived what came before. */
  async function stillWatching(): Promise<void> {
    const stamp = `still ${log.mark()}`;
    const { line } = await after(() => writeFile(file('registry/probe.yaml'), notes({ stamp }, 'probe')), APPLIED);
    // (A late event of the step before may join this burst: the probe's file is among those named.)
    expect(line).toMatch(
      /: 0 created, 1 updated, 0 deleted \(~probe:stamp\) after changes to .*registry\/probe\.yaml$/,
    );
    expect(text('probe:stamp')).toBe(stamp);
  }

  /**
   * Deletes what a test created, once the reload of the deletion is logged: the watcher then lets
   * go of what it watched there (the leak check counts what a test leaves open).
   */
  async function removeCreated(path: string): Promise<void> {
    await after(() => rm(file(path), { recursive: true }), APPLIED);
  }

  beforeAll(async () => {
    dir = await makeApp();
    const ready = new Promise<Application>((resolve, reject) => {
      exited = main(['run', dir, '--watch'], {
        stdout: (chunk) => void stdout.push(chunk),
        stderr: (chunk) => reject(new Error(chunk)),
        logger: log,
        handleSignals: false,
        signal: stop.signal,
        onReady: resolve,
      });
      exited.then((code) => reject(new Error(`kindling run exited early with ${code}`)), reject);
    });
    app = await ready;
  });

  afterAll(async () => {
    stop.abort();
    expect(await exited).toBe(0);
    await rm(dir, { recursive: true, force: true });
  });

  it('says what it watches once the watcher is ready', () => {
    expect(stdout.join('')).toContain(
      `watching ${dir} (the registry YAML in ${join(dir, 'registry')}, and the files its entries use); a refused change keeps the running version\n`,
    );
    expect(text('app:first')).toBe('one');
  });

  it('applies a write in place, one line with the revision, the counts, the ids and the file', async () => {
    const revision = app.registry.revision;
    const { line } = await after(() =>
      writeFile(file('registry/notes.yaml'), notes({ first: 'in place', second: 'two', third: 'three' })),
    );
    expect(line).toBe(
      `info applied revision ${revision + 1}: 1 created, 1 updated, 0 deleted (~app:first +app:third) after changes to ${file('registry/notes.yaml')}`,
    );
    expect(text('app:third')).toBe('three');
    await stillWatching();
  });

  it('applies a save by rename (a temporary file renamed over the file), and later writes in place', async () => {
    const { line } = await after(async () => {
      await writeFile(file('registry/notes.yaml.tmp-5e1f'), notes({ first: 'renamed over', second: 'two' }));
      await rename(file('registry/notes.yaml.tmp-5e1f'), file('registry/notes.yaml'));
    });
    expect(line).toMatch(
      /^info applied revision \d+: 0 created, 1 updated, 1 deleted \(~app:first -app:third\) after changes to [^,]*registry\/notes\.yaml$/,
    );
    expect(text('app:first')).toBe('renamed over');
    await stillWatching();
    await stillWatching();
  });

  it('applies an edit by sed -i, and later writes in place', async () => {
    await writeFile(file('registry/notes.yaml'), notes({ first: 'before sed', second: 'two' }));
    await appliedUntil(log.mark(), () => text('app:first') === 'before sed');
    const { line } = await after(
      () => void execFileSync('sed', ['-i', 's/before sed/after sed/', file('registry/notes.yaml')]),
    );
    expect(line).toMatch(
      /^info applied revision \d+: 0 created, 1 updated, 0 deleted \(~app:first\) after changes to [^,]*registry\/notes\.yaml$/,
    );
    expect(text('app:first')).toBe('after sed');
    await stillWatching();
  });

  it('applies a save that deletes the file and writes it anew (a backup by rename first, as Vim does)', async () => {
    const { line } = await after(async () => {
      await rename(file('registry/notes.yaml'), file('registry/notes.yaml~'));
      await writeFile(file('registry/notes.yaml'), notes({ first: 'vim', second: 'two' }));
      await rm(file('registry/notes.yaml~'));
    });
    expect(line).toMatch(/^info applied revision \d+: 0 created, 1 updated, 0 deleted \(~app:first\)/);
    await stillWatching();
  });

  it('applies a delete, then the file created again', async () => {
    await writeFile(file('registry/extra.yaml'), notes({ a: 'A', b: 'B' }, 'extra'));
    await appliedUntil(log.mark(), () => text('extra:b') === 'B');
    const deleted = await after(() => rm(file('registry/extra.yaml')));
    expect(deleted.line).toMatch(
      /^info applied revision \d+: 0 created, 0 updated, 2 deleted \(-extra:a -extra:b\) after changes to [^,]*registry\/extra\.yaml$/,
    );
    expect(app.registry.has('extra:a')).toBe(false);
    const created = await after(() => writeFile(file('registry/extra.yaml'), notes({ a: 'again' }, 'extra')));
    expect(created.line).toMatch(/^info applied revision \d+: 1 created, 0 updated, 0 deleted \(\+extra:a\)/);
    expect(text('extra:a')).toBe('again');
    await stillWatching();
    await removeCreated('registry/extra.yaml');
  });

  it('applies a delete only, and goes on watching', async () => {
    await writeFile(file('registry/gone.yaml'), notes({ soon: 'gone' }, 'gone'));
    await appliedUntil(log.mark(), () => text('gone:soon') === 'gone');
    const { line } = await after(() => rm(file('registry/gone.yaml')));
    expect(line).toMatch(/: 0 created, 0 updated, 1 deleted \(-gone:soon\)/);
    await stillWatching();
  });

  it('applies a new file in a new subdirectory, then its edits; and a directory deleted and made again', async () => {
    const nested = file('registry/more/deeper/nested.yaml');
    const created = await after(async () => {
      await mkdir(file('registry/more/deeper'), { recursive: true });
      await writeFile(nested, notes({ deep: 'one' }, 'nested'));
    });
    expect(created.line).toMatch(
      /: 1 created, 0 updated, 0 deleted \(\+nested:deep\) after changes to [^,]*registry\/more\/deeper\/nested\.yaml$/,
    );
    const edited = await after(() => writeFile(nested, notes({ deep: 'two' }, 'nested')));
    expect(edited.line).toMatch(/: 0 created, 1 updated, 0 deleted \(~nested:deep\)/);
    const removed = await after(() => rm(file('registry/more'), { recursive: true }));
    expect(removed.line).toMatch(/: 0 created, 0 updated, 1 deleted \(-nested:deep\)/);
    const again = await after(async () => {
      await mkdir(file('registry/more/deeper'), { recursive: true });
      await writeFile(nested, notes({ deep: 'three' }, 'nested'));
    });
    expect(again.line).toMatch(/: 1 created, 0 updated, 0 deleted \(\+nested:deep\)/);
    expect(text('nested:deep')).toBe('three');
    await stillWatching();
    await removeCreated('registry/more');
  });

  it('reloads a function module saved by rename', async () => {
    const { line } = await after(async () => {
      await writeFile(file('functions/.shout.js.swp'), 'swap');
      await writeFile(file('functions/shout.js.tmp'), shoutModule('!!'));
      await rename(file('functions/shout.js.tmp'), file('functions/shout.js'));
      await rm(file('functions/.shout.js.swp'));
    });
    expect(line).toMatch(
      /: 0 created, 1 updated, 0 deleted \(~app:shout\) after changes to [^,]*functions\/shout\.js$/,
    );
    await stillWatching();
  });

  it("never looks at editors' swap, backup, lock and temporary files", async () => {
    const litter = [
      '.notes.yaml.swp',
      '.notes.yaml.swx',
      'notes.yaml~',
      '4913',
      '#notes.yaml#',
      'notes.yaml.tmp',
      'notes.yaml.tmp.1234',
      'sedXy12Zq',
      'notes.yaml___jb_tmp___',
    ];
    const mark = log.mark();
    for (const name of litter) await writeFile(file(`registry/${name}`), 'entries: [oops\n');
    // Emacs's lock: a dangling link whose name ends in .yaml.
    await symlink('user@host.1234:1700000000', file('registry/.#notes.yaml'));
    // Litter written first, then one real edit: had any litter been looked at, it would be in this
    // burst or in one before it.
    await stillWatching();
    const lines = log.lines.slice(mark);
    expect(lines.filter((line) => RELOADED.test(line))).toHaveLength(1);
    const seen = lines.filter((line) => line.startsWith('debug watch: '));
    expect(seen.length).toBeGreaterThan(0);
    expect(seen.filter((line) => line !== `debug watch: change ${file('registry/probe.yaml')}`)).toEqual([]);
    for (const name of [...litter, '.#notes.yaml']) await rm(file(`registry/${name}`));
    await stillWatching();
  });

  it('applies a burst of 50 writes in a few batches, ending with the last', async () => {
    const mark = log.mark();
    for (let i = 1; i <= 50; i++)
      await writeFile(file('registry/notes.yaml'), notes({ first: `burst ${i}`, second: 'two' }));
    const reloads = await appliedUntil(mark, () => text('app:first') === 'burst 50');
    expect(reloads.length).toBeGreaterThanOrEqual(1);
    expect(reloads.length).toBeLessThanOrEqual(10);
    await stillWatching();
  });

  it('refuses a bad edit at file:line:col, keeps serving, and says so when a fix recovers', async () => {
    const revision = app.registry.revision;
    const refused = await after(() =>
      writeFile(
        file('registry/notes.yaml'),
        'namespace: app\nentries:\n  - { name: first, kind: app.note, text: [oops }\n',
      ),
    );
    expect(refused.line).toMatch(
      new RegExp(
        `^error change refused, still serving revision ${revision}:\\n  ${file('registry/notes.yaml')}:3:\\d+: `,
      ),
    );
    expect(app.registry.revision).toBe(revision);
    const fixed = await after(() => writeFile(file('registry/notes.yaml'), notes({ first: 'fixed', second: 'two' })));
    expect(fixed.line).toMatch(
      new RegExp(
        `^info recovered from the refused change: applied revision ${revision + 1}: 0 created, 1 updated, 0 deleted \\(~app:first\\) after changes to [^,]*registry/notes\\.yaml$`,
      ),
    );
    // Recovered once: the next good edit is an ordinary one.
    await stillWatching();
  });

  it('refuses a listener refusal at the entry, and recovers to no change when the edit is undone', async () => {
    const before = await readFile(file('registry/notes.yaml'), 'utf8');
    const refused = await after(() =>
      writeFile(file('registry/notes.yaml'), `${before}  - { name: odd, kind: app.other }\n`),
    );
    expect(refused.line).toMatch(
      new RegExp(
        `^error change refused, still serving revision \\d+:\\n  ${file('registry/notes.yaml')}:\\d+:\\d+: no listener handles kind "app\\.other" of entry app:odd`,
      ),
    );
    const undone = await after(() => writeFile(file('registry/notes.yaml'), before));
    expect(undone.line).toMatch(
      /^info recovered from the refused change: no change to apply after changes to [^,]*registry\/notes\.yaml, serving revision \d+$/,
    );
    await stillWatching();
  });

  it('logs a change to the boot manifest as needing a restart, and reloads nothing for it', async () => {
    const { line, since } = await after(
      () => writeFile(file('kindling.yaml'), `${MANIFEST}# edited\n`),
      /^warn .*kindling\.yaml changed: restart/,
    );
    expect(line).toBe(`warn ${file('kindling.yaml')} changed: restart to apply changes to the boot manifest`);
    expect(since.filter((entry) => RELOADED.test(entry))).toEqual([]);
    await stillWatching();
  });
});

describe('Application.watch before start', () => {
  it('applies an edit made after the baseline was read and before start returned', async () => {
    const dir = await makeApp();
    const log = new LogCapture();
    const app = await Application.load(dir, { builtins: builtinComponents, logger: log });
    const watching = app.watch();
    try {
      await watching.ready;
      const outcomes: ReloadOutcome[] = [];
      app.onDidReload((outcome) => {
        outcomes.push(outcome);
        // The baseline is applied and start has not returned: the gap an edit used to fall into.
        if (outcomes.length === 1)
          execFileSync('sed', ['-i', 's/text: "one"/text: "during start"/', join(dir, 'registry/notes.yaml')]);
      });
      await app.start();
      const line = await log.waitFor(
        APPLIED,
        log.lines.findIndex((entry) => entry.startsWith('info applied revision 1:')) + 1,
      );
      expect(line).toMatch(/^info applied revision 2: 0 created, 1 updated, 0 deleted \(~app:first\)/);
      expect((app.registry.get('app:first')?.data as { text: string }).text).toBe('during start');
    } finally {
      watching.dispose();
      await app.shutdown();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
