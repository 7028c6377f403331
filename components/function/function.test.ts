import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { bootTestApp } from 'kindling/testing';
import type { TestApp } from 'kindling/testing';
import { EntryFiles } from 'kindling/boot';
import { silentLogger } from 'kindling';
import { Functions } from './index.js';

/** A module whose top level leaves a marker file next to it: proof that it ran. */
const MARKED =
  'import { writeFileSync } from "node:fs";\nwriteFileSync(new URL("../marker", import.meta.url), "ran");\nexport const handler = () => "marked";\n';

describe('function component', () => {
  let app: TestApp;
  beforeEach(async () => {
    app = await bootTestApp({ components: ['function'] });
    await app.write(
      'functions/greet.js',
      'export const greet = (input) => `hello ${input.name}`;\nexport default () => "default";\n',
    );
  });
  afterEach(async () => {
    await app.shutdown();
  });

  const functions = (): Functions => app.get<Functions>(Functions);

  describe('function.js', () => {
    it('loads an export of a module file relative to the YAML file and makes it callable at commit', async () => {
      await app.expectAccepted(
        'entries:\n  - { name: greet, kind: function.js, file: ./functions/greet.js, export: greet }\n',
      );
      expect(await functions().call('test:greet', { name: 'Ada' })).toBe('hello Ada');
    });

    it('calls the default export when no export is named', async () => {
      await app.expectAccepted('entries:\n  - { name: fallback, kind: function.js, file: ./functions/greet.js }\n');
      expect(await functions().call('test:fallback', {})).toBe('default');
    });

    it('resolves the file against the directory of the YAML file that declares it', async () => {
      await app.write('nested/impl.js', 'export const run = () => "nested";\n');
      await app.expectAccepted('entries:\n  - { name: nested, kind: function.js, file: ./impl.js, export: run }\n', {
        file: 'nested/app.yaml',
      });
      expect(await functions().call('test:nested', {})).toBe('nested');
    });

    it('refuses a module file that does not exist, at the file:line:col of its file field', async () => {
      const error = await app.expectRefused(
        'entries:\n  - name: lost\n    kind: function.js\n    file: ./nowhere.js\n',
        { code: 'REJECTED', message: 'does not exist' },
      );
      expect(String((error.cause as Error).message)).toMatch(
        /snippet-\d+\.yaml:5:11: function test:lost: module file \.\/nowhere\.js does not exist/,
      );
    });

    it('refuses an export that the module does not have, listing the ones it has', async () => {
      const error = await app.expectRefused(
        'entries:\n  - { name: typo, kind: function.js, file: ./functions/greet.js, export: gret }\n',
        /has no export "gret" \(its function exports: default, greet\)/,
      );
      // The position is that of the export's value (column 74), not of the file field.
      expect(String((error.cause as Error).message)).toMatch(/snippet-\d+\.yaml:3:74: function test:typo: module/);
    });

    it('refuses an export that is not a function', async () => {
      await app.write('functions/value.js', 'export const value = 42;\n');
      await app.expectRefused(
        'entries:\n  - { name: value, kind: function.js, file: ./functions/value.js, export: value }\n',
        /exports a number, not a function, as "value"/,
      );
    });

    it('refuses a module that fails to load, with the error', async () => {
      await app.write('functions/broken.js', 'export const broken = (;\n');
      await app.expectRefused(
        'entries:\n  - { name: broken, kind: function.js, file: ./functions/broken.js, export: broken }\n',
        /module \.\/functions\/broken\.js failed to load/,
      );
    });

    it('refuses data without a file, with the config issue', async () => {
      await app.expectRefused('entries:\n  - { name: nofile, kind: function.js, export: x }\n', {
        code: 'REJECTED',
        message: 'data.file',
      });
    });

    it('keeps the committed version when an update is refused', async () => {
      await app.expectAccepted(
        'entries:\n  - { name: greet, kind: function.js, file: ./functions/greet.js, export: greet }\n',
      );
      await app.expectRefused(
        'entries:\n  - { name: greet, kind: function.js, file: ./functions/greet.js, export: missing }\n',
      );
      expect(await functions().call('test:greet', { name: 'still' })).toBe('hello still');
    });

    it('does not expose a function of a dry run', async () => {
      await app.apply('entries:\n  - { name: greet, kind: function.js, file: ./functions/greet.js, export: greet }\n', {
        dryRun: true,
      });
      expect(functions().get('test:greet')).toBeUndefined();
    });

    it('reloads the module when an update follows a change of the file', async () => {
      const yaml = 'entries:\n  - { name: greet, kind: function.js, file: ./functions/greet.js, export: greet }\n';
      await app.expectAccepted(yaml);
      await writeFile(`${app.dir}/functions/greet.js`, 'export const greet = (input) => `hi ${input.name}`;\n');
      await app.expectAccepted(yaml);
      expect(await functions().call('test:greet', { name: 'Ada' })).toBe('hi Ada');
    });

    it('records the module file of each function for the watcher', async () => {
      await app.expectAccepted(
        'entries:\n  - { name: greet, kind: function.js, file: ./functions/greet.js, export: greet }\n',
      );
      expect(app.get<EntryFiles>(EntryFiles).entriesUsing(`${app.dir}/functions/greet.js`)).toEqual(['test:greet']);
      await app.remove('test:greet');
      expect(app.get<EntryFiles>(EntryFiles).entriesUsing(`${app.dir}/functions/greet.js`)).toEqual([]);
    });

    it('imports a module in a real batch, running its top level', async () => {
      await app.write('functions/marked.js', MARKED);
      await app.expectAccepted(
        'entries:\n  - { name: marked, kind: function.js, file: ./functions/marked.js, export: handler }\n',
      );
      expect(existsSync(join(app.dir, 'marker'))).toBe(true);
    });

    it('refuses a module that changed between the check and the import', async () => {
      // Its top level rewrites its own file: what the import ran is not what was read and hashed.
      await app.write(
        'functions/shifty.js',
        'import { writeFileSync } from "node:fs";\nwriteFileSync(new URL(import.meta.url).pathname, "export const handler = () => 2;\\n");\nexport const handler = () => 1;\n',
      );
      await app.expectRefused(
        'entries:\n  - { name: shifty, kind: function.js, file: ./functions/shifty.js, export: handler }\n',
        /module \.\/functions\/shifty\.js changed while it was loaded; apply again/,
      );
    });
  });

  describe('a dry run', () => {
    it('checks the export without importing the module: none of its code runs', async () => {
      await app.write('functions/marked.js', MARKED);
      await app.apply(
        'entries:\n  - { name: marked, kind: function.js, file: ./functions/marked.js, export: handler }\n',
        { dryRun: true },
      );
      expect(existsSync(join(app.dir, 'marker'))).toBe(false);
    });

    it('refuses an export the module does not have, listing those the lexer reads', async () => {
      await app.write('functions/marked.js', MARKED);
      await app.expectRefused(
        'entries:\n  - { name: marked, kind: function.js, file: ./functions/marked.js, export: nope }\n',
        /has no export "nope" \(its exports: handler\)/,
        { dryRun: true },
      );
      expect(existsSync(join(app.dir, 'marker'))).toBe(false);
    });

    it('refuses a syntax error at the line and column of the module and at data.file', async () => {
      await app.write('functions/broken.js', 'export const ok = 1;\nexport const bad = () => 1);\n');
      const error = await app.expectRefused(
        'entries:\n  - { name: broken, kind: function.js, file: ./functions/broken.js, export: ok }\n',
        undefined,
        { dryRun: true },
      );
      expect(String((error.cause as Error).message)).toMatch(
        new RegExp(
          `snippet-\\d+\\.yaml:3:46: function test:broken: module \\./functions/broken\\.js has a syntax error at ${app.dir}/functions/broken\\.js:2:27 \\(found by reading the module, which did not run\\)`,
        ),
      );
    });

    it('refuses a syntax error a lexer let pass (an arrow function without a body) at the line and column of the module', async () => {
      await app.write('functions/bodiless.js', 'export const ok = 1;\nexport const handler = () => ;\n');
      const error = await app.expectRefused(
        'entries:\n  - { name: bodiless, kind: function.js, file: ./functions/bodiless.js, export: handler }\n',
        undefined,
        { dryRun: true },
      );
      expect(String((error.cause as Error).message)).toContain(
        `has a syntax error at ${app.dir}/functions/bodiless.js:2:30 (found by reading the module, which did not run)`,
      );
    });

    it('finds an export passed on by a relative export *', async () => {
      await app.write('functions/index.js', 'export * from "./impl.js";\n');
      await app.write('functions/impl.js', MARKED);
      await app.expectAccepted(
        'entries:\n  - { name: indirect, kind: function.js, file: ./functions/index.js, export: handler }\n',
        { dryRun: true },
      );
      expect(existsSync(join(app.dir, 'marker'))).toBe(false);
    });

    it('accepts, with a warning, an export only a package re-export could provide', async () => {
      const warnings: string[] = [];
      await app.shutdown();
      app = await bootTestApp({
        components: ['function'],
        logger: { ...silentLogger, warn: (message) => void warnings.push(message) },
      });
      await app.write('functions/reexport.js', 'export * from "some-package";\n');
      await app.expectAccepted(
        'entries:\n  - { name: maybe, kind: function.js, file: ./functions/reexport.js, export: handler }\n',
        { dryRun: true },
      );
      expect(warnings).toEqual([
        expect.stringMatching(
          /export "handler" of module \.\/functions\/reexport\.js cannot be confirmed without running it \(.* re-exports everything from "some-package", which is not a relative path\); a real batch imports the module and checks it/,
        ),
      ]);
    });
  });

  describe('module files', () => {
    it('stops calling a deleted function', async () => {
      await app.expectAccepted(
        'entries:\n  - { name: greet, kind: function.js, file: ./functions/greet.js, export: greet }\n',
      );
      await app.remove('test:greet');
      await expect(functions().call('test:greet', {})).rejects.toMatchObject({ code: 'NOT_FOUND' });
    });
  });
});
