import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadRegistryYaml, type RegistryYamlProblem } from './registry-yaml.js';
import { asyncErrorOf, entry, ids, ONE_ENTRY, yaml } from '../../test/support/registry-yaml.js';

const FIXTURES = fileURLToPath(new URL('../../test/fixtures/registry/', import.meta.url));
const GOOD = join(FIXTURES, 'good');
const BAD = join(FIXTURES, 'bad');

/** `file:line:column message` with the file relative to the fixtures. */
function describeProblem(problem: RegistryYamlProblem): string {
  return `${problem.file.slice(FIXTURES.length)}:${problem.line}:${problem.column} ${problem.message}`;
}

describe('loadRegistryYaml', () => {
  let dir: string;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kindling-registry-yaml-'));
  });

  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('loads every .yaml and .yml file of a directory tree, ordered by path then document', async () => {
    const loaded = await loadRegistryYaml(GOOD);
    expect([loaded.files.map((f) => f.slice(GOOD.length + 1)), ids(loaded.entries)]).toEqual([
      ['app.yaml', 'http/nested/handlers.yaml', 'http/routes.yml', 'shared/defaults.yaml'],
      [
        'app:db',
        'app:api',
        'app.http:hello',
        'app.http:router',
        'app.http.admin:router',
        'app.workers:mailer',
        'app.workers:resizer',
        'app.workers:reporter',
      ],
    ]);
  });

  it('applies the format rules to the files it loads', async () => {
    const { entries } = await loadRegistryYaml(GOOD);
    expect([
      entry(entries, 'app:api').meta,
      entry(entries, 'app:api').data,
      entry(entries, 'app.workers:resizer').data,
    ]).toEqual([
      { owner: 'platform', groups: ['web'], depends_on: ['app:db', 'app.http:router', 'group:observability'] },
      { port: 8080, host: '0.0.0.0' },
      { replicas: 4, resources: { cpu: '500m', memory: '256Mi' }, queue: 'images' },
    ]);
  });

  it('reads a file named explicitly whatever its extension', async () => {
    const loaded = await loadRegistryYaml(join(GOOD, 'extra.registry'));
    expect(ids(loaded.entries)).toEqual(['extra:tool']);
  });

  it('takes several paths, sorts their files together and reads a file named twice once', async () => {
    const app = join(GOOD, 'app.yaml');
    const loaded = await loadRegistryYaml([join(GOOD, 'http'), join(GOOD, 'extra.registry'), app, app]);
    expect(loaded.files.map((f) => f.slice(GOOD.length + 1))).toEqual([
      'app.yaml',
      'extra.registry',
      'http/nested/handlers.yaml',
      'http/routes.yml',
    ]);
  });

  it('refuses a path that does not exist', async () => {
    const missing = join(dir, 'missing.yaml');
    const error = await asyncErrorOf(() => loadRegistryYaml([missing, join(GOOD, 'app.yaml')]));
    expect(error.problems).toEqual([{ file: missing, line: 1, column: 1, message: 'no such file or directory' }]);
  });

  it('reports every problem of every file at once, with file:line:col', async () => {
    const error = await asyncErrorOf(() => loadRegistryYaml(BAD));
    expect(error.problems.map(describeProblem)).toEqual([
      'bad/a-syntax.yaml:6:3 invalid YAML: missed comma between flow collection entries',
      'bad/b-format.yaml:1:1 namespace is required (dotted words such as "app.http")',
      'bad/b-format.yaml:7:5 entry bad.format:no-kind has no kind',
      'bad/b-format.yaml:8:5 entry has no name',
      'bad/b-format.yaml:12:5 entry bad.format:both has both data and inline fields (file); move them under data',
      'bad/c-hostile.yaml:6:7 key "__proto__" is not allowed (it could reach an object\'s prototype)',
      'bad/c-hostile.yaml:9:10 tag !!js/function is not allowed (plain YAML only: maps, lists, strings, numbers, booleans, null)',
      'bad/c-hostile.yaml:13:5 duplicate key "file" (first at line 12, column 5)',
      'bad/nested/d-duplicate.yaml:3:5 duplicate entry id "bad.format:both" (first declared at ' +
        join(BAD, 'b-format.yaml') +
        ':9:5)',
    ]);
  });

  it('names the entry concerned by a problem when its id is known', async () => {
    const error = await asyncErrorOf(() => loadRegistryYaml(BAD));
    expect(error.problems.filter((p) => p.entryId !== undefined).map((p) => p.entryId)).toEqual([
      'bad.format:no-kind',
      'bad.format:both',
      'bad.format:both',
    ]);
  });

  it('refuses a duplicate id across files, at the second, naming the first', async () => {
    await writeFile(join(dir, 'a.yaml'), yaml('namespace: app', 'entries:', '  - { name: x, kind: x.y }'));
    await writeFile(join(dir, 'b.yml'), yaml('namespace: app', 'entries:', '', '  - name: x', '    kind: x.z'));
    const error = await asyncErrorOf(() => loadRegistryYaml(dir));
    expect(error.problems).toEqual([
      {
        file: join(dir, 'b.yml'),
        line: 4,
        column: 5,
        entryId: 'app:x',
        message: `duplicate entry id "app:x" (first declared at ${join(dir, 'a.yaml')}:3:5)`,
      },
    ]);
  });

  it('refuses a file larger than maxFileBytes', async () => {
    const file = join(dir, 'big.yaml');
    await writeFile(file, ONE_ENTRY);
    const error = await asyncErrorOf(() => loadRegistryYaml(file, { maxFileBytes: 10 }));
    expect(error.problems).toEqual([
      {
        file,
        line: 1,
        column: 1,
        message: `file is ${ONE_ENTRY.length} bytes, more than the limit of 10 (maxFileBytes)`,
      },
    ]);
  });

  it('follows a symbolic link to a directory once, even one that loops back', async () => {
    await mkdir(join(dir, 'sub'));
    await writeFile(join(dir, 'sub', 'a.yaml'), ONE_ENTRY);
    await symlink(dir, join(dir, 'sub', 'loop'));
    const loaded = await loadRegistryYaml(dir);
    expect([loaded.files, ids(loaded.entries)]).toEqual([[join(dir, 'sub', 'a.yaml')], ['app:hello']]);
  });

  it('lists an empty file among the files read, with no entries', async () => {
    await writeFile(join(dir, 'empty.yaml'), '');
    const file = join(dir, 'empty.yaml');
    expect(await loadRegistryYaml(dir)).toEqual({ entries: [], files: [file], fileEntries: new Map([[file, []]]) });
  });

  it('returns no entries for an empty directory', async () => {
    expect(await loadRegistryYaml(dir)).toEqual({ entries: [], files: [], fileEntries: new Map() });
  });

  it('reads a file that starts with a byte order mark at the right positions', async () => {
    const file = join(dir, 'bom.yaml');
    await writeFile(file, `\uFEFF${yaml('namespace: app', 'entries:', '  - name: a')}`);
    const error = await asyncErrorOf(() => loadRegistryYaml(file));
    expect(error.problems.map((p) => `${p.line}:${p.column} ${p.message}`)).toEqual(['3:5 entry app:a has no kind']);
  });
});
