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

  const exportsOf = async (
    text: string,
    file = 'main.js',
  ): Promise<{ names: string[]; unknown: readonly string[] }> => {
    const result = await readModuleExports({ realPath: join(app, file), text }, new FileBoundary(app));
    return { names: [...result.names].sort(), unknown: result.unknown };
  };

  it('lists declared, renamed and default exports', async () => {
    const text =
      'export const a = 1;\nexport function b() {}\nconst c = 3;\nexport { c as see };\nexport default () => 1;\n';
    expect(await exportsOf(text)).toEqual({ names: ['a', 'b', 'default', 'see'], unknown: [] });
  });

  it('follows a relative export * inside the boundary, without its default', async () => {
    await writeFile(
      join(app, 'lib', 'impl.js'),
      'export const handler = () => 1;\nexport default 2;\nexport * from "./deeper.js";\n',
    );
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
    expect(unknown).toEqual([
      `${join(app, 'main.js')} re-exports everything from "some-package", which is not a relative path`,
    ]);
  });

  it('does not follow an export * out of the boundary', async () => {
    await writeFile(join(dir, 'outside.js'), 'export const stolen = 1;\n');
    const { names, unknown } = await exportsOf('export * from "../outside.js";\n');
    expect(names).toEqual([]);
    expect(unknown[0]).toContain(
      'which was not read: ../outside.js is outside the app root'.replace('../outside.js', join(dir, 'outside.js')),
    );
  });

  it('says the named exports of a file without module syntax (CommonJS) cannot be seen, but default can', async () => {
    const { names, unknown } = await exportsOf('module.exports = { handler() {} };\n');
    expect(names).toEqual(['default']);
    expect(unknown[0]).toContain('has no import or export statement, so Node loads it as CommonJS');
  });

  it('lists the names of destructuring declarations, functions, classes and string exports', async () => {
    const text =
      'const o = {};\nexport const { a, b: [c, , d = 1], ...e } = o;\nexport class K {}\nexport async function* g() {}\nexport { o as "a name" };\n';
    expect(await exportsOf(text)).toEqual({ names: ['K', 'a', 'a name', 'c', 'd', 'e', 'g'], unknown: [] });
  });

  it('lists the namespace of an export * as, and the names an export from passes on, without following them', async () => {
    expect(
      await exportsOf('export * as tools from "./missing.js";\nexport { x, y as zed } from "some-package";\n'),
    ).toEqual({ names: ['tools', 'x', 'zed'], unknown: [] });
  });

  it('reads an .mjs file without exports as a module that exports nothing', async () => {
    expect(await exportsOf('console.log(1);\n', 'main.mjs')).toEqual({ names: [], unknown: [] });
  });

  it('reads a file whose only module syntax is import.meta as a module', async () => {
    expect(await exportsOf('console.log(import.meta.url);\n')).toEqual({ names: [], unknown: [] });
  });

  it('reads a CommonJS file that is not valid in strict mode (with, octal literals) as CommonJS', async () => {
    const { names, unknown } = await exportsOf('with (Math) module.exports = { handler: () => max(010, 1) };\n');
    expect(names).toEqual(['default']);
    expect(unknown[0]).toContain('so Node loads it as CommonJS');
  });

  it('refuses a syntax error with the line and column of the module', async () => {
    await expect(exportsOf("export const ok = 1;\nexport const s = 'never closed\n")).rejects.toMatchObject({
      code: 'INVALID',
      message: `syntax error at ${join(app, 'main.js')}:2:18 (found by reading the module, which did not run)`,
      details: { line: 2, column: 18, reason: 'Unterminated string constant' },
    });
  });

  it.each([
    { what: 'an arrow function without a body', text: 'export const f = () => ;\n', at: '1:24' },
    { what: 'an operator without its operand', text: 'export const ok = 1;\nconst x = 1 +;\n', at: '2:14' },
    { what: 'a binding declared twice', text: 'let a = 1;\nlet a = 2;\nexport { a };\n', at: '2:5' },
    { what: 'an export declared twice', text: 'export const a = 1;\nexport const a = 2;\n', at: '2:14' },
    { what: 'an export of a name that is not declared', text: 'export const ok = 1;\nexport { nope };\n', at: '2:10' },
    { what: 'a legacy octal literal (not allowed in a module)', text: 'export const x = 08;\n', at: '1:18' },
    { what: 'await without an operand', text: 'export const x = await;\n', at: '1:23' },
  ])('refuses $what, which the lexer it replaces let pass, at its line and column', async ({ text, at }) => {
    await expect(exportsOf(text)).rejects.toMatchObject({
      code: 'INVALID',
      message: `syntax error at ${join(app, 'main.js')}:${at} (found by reading the module, which did not run)`,
    });
  });

  it('refuses a syntax error in a module an export * follows, at its own line and column', async () => {
    await writeFile(join(app, 'lib', 'impl.js'), 'export const handler = () => 1;\nexport const worse = () => ;\n');
    await expect(exportsOf('export * from "./lib/impl.js";\n')).rejects.toMatchObject({
      message: `syntax error at ${join(app, 'lib', 'impl.js')}:2:28 (found by reading the module, which did not run)`,
    });
  });
});

describe('findSyntaxError', () => {
  it('gives the line and column of what the parser cannot read', () => {
    expect(findSyntaxError('const a = 1;\nconst b = 2;;)\n')).toEqual({ line: 2, column: 14 });
  });

  it('finds nothing in a module it can read', () => {
    expect(findSyntaxError('export const a = 1;\n')).toBeUndefined();
  });

  it('finds nothing in a CommonJS file that is valid only as a script', () => {
    expect(findSyntaxError('with (Math) module.exports = max(1, 2);\nreturn;\n')).toBeUndefined();
  });

  it('gives the error of the way of reading that got further in the file', () => {
    // As a module it stops at line 1 (with is not allowed), as a script at line 3: a CommonJS file.
    expect(findSyntaxError('with (Math) {}\nconst a = 1;\nconst b = ;\n')).toEqual({ line: 3, column: 11 });
  });

  it('reads an .mjs file as a module only', () => {
    expect(findSyntaxError('with (Math) {}\n', 'module.mjs')).toEqual({ line: 1, column: 1 });
  });
});
