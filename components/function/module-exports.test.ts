import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FileBoundary } from 'kindling';
import { findSyntaxError, readModuleExports } from './module-exports.js';

describe('readModuleExports', () => {
  let dir: string;
  let app: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kindling-exports-'));
    app = join(dir, 'app');
    await mkdir(join(app, 'lib'), { recursive: true });
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const exportsOf = async (text: string, file = 'main.js'): Promise<{ names: string[]; unknown: readonly string[] }> => {
    const result = await readModuleExports({ realPath: join(app, file), text }, new FileBoundary(app));
    return { names: [...result.names].sort(), unknown: result.unknown };
  };

  it('lists declared, renamed and default exports', async () => {
    const text = 'export const a = 1;\nexport function b() {}\nconst c = 3;\nexport { c as see };\nexport default () => 1;\n';
    expect(await exportsOf(text)).toEqual({ names: ['a', 'b', 'default', 'see'], unknown: [] });
  });

  it('follows a relative export * inside the boundary, without its default', async () => {
    await writeFile(join(app, 'lib', 'impl.js'), 'export const handler = () => 1;\nexport default 2;\nexport * from "./deeper.js";\n');
    await writeFile(join(app, 'lib', 'deeper.js'), 'export const deep = 1;\n');
    expect(await exportsOf('export * from "./lib/impl.js";\n')).toEqual({ names: ['deep', 'handler'], unknown: [] });
  });

  it('follows a cycle of export * once', async () => {
    await writeFile(join(app, 'a.js'), 'export * from "./b.js";\nexport const a = 1;\n');
    await writeFile(join(app, 'b.js'), 'export * from "./a.js";\nexport const b = 1;\n');
    expect(await exportsOf('export * from "./a.js";\n')).toEqual({ names: ['a', 'b'], unknown: [] });
  });

  it('says an export * from a package cannot be followed', async () => {
    const { unknown } = await exportsOf('export * from "some-package";\n');
    expect(unknown).toEqual([`${join(app, 'main.js')} re-exports everything from "some-package", which is not a relative path`]);
  });

  it('does not follow an export * out of the boundary', async () => {
    await writeFile(join(dir, 'outside.js'), 'export const stolen = 1;\n');
    const { names, unknown } = await exportsOf('export * from "../outside.js";\n');
    expect(names).toEqual([]);
    expect(unknown[0]).toContain('which was not read: ../outside.js is outside the app root'.replace('../outside.js', join(dir, 'outside.js')));
  });

  it('says the named exports of a file without module syntax (CommonJS) cannot be seen, but default can', async () => {
    const { names, unknown } = await exportsOf('module.exports = { handler() {} };\n');
    expect(names).toEqual(['default']);
    expect(unknown[0]).toContain('has no import or export statement, so Node loads it as CommonJS');
  });

  it('refuses a syntax error with the line and column of the module', async () => {
    await expect(exportsOf("export const ok = 1;\nexport const s = 'never closed\n")).rejects.toMatchObject({
      code: 'INVALID',
      message: `syntax error at ${join(app, 'main.js')}:2:31 (found by reading the module, which did not run)`,
    });
  });
});

describe('findSyntaxError', () => {
  it('gives the line and column of what the lexer cannot read', async () => {
    expect(await findSyntaxError('const a = 1;\nconst b = 2;;)\n')).toEqual({ line: 2, column: 14 });
  });

  it('finds nothing in a module it can read', async () => {
    expect(await findSyntaxError('export const a = 1;\n')).toBeUndefined();
  });
});
