import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { getEntrySource, type Entry } from '../entry/entry.js';
import { loadRegistryYaml } from './registry-yaml.js';
import { entry, parse, yaml } from '../../test/support/registry-yaml.js';

const FIXTURES = fileURLToPath(new URL('../../test/fixtures/registry/', import.meta.url));
const GOOD = join(FIXTURES, 'good');

describe('EntrySource.locate', () => {
  const TEXT = yaml(
    'namespace: app', //                              1
    'x-defaults: &defaults', //                       2
    '  replicas: 2', //                                3
    '  limits: &limits { cpu: 1 }', //                 4
    'meta:', //                                        5
    '  owner: platform', //                            6
    'entries:', //                                     7
    '  - name: api', //                                8
    '    kind: http.service', //                       9
    '    meta:', //                                   10
    '      depends_on: [db, cache]', //               11
    '    data:', //                                   12
    '      port: 8080', //                            13
    '      tls:', //                                  14
    '      routes:', //                               15
    '        - path: /hello', //                      16
    '          method: GET', //                       17
    '        - { path: /bye, method: POST }', //      18
    '  - name: worker', //                            19
    '    kind: worker.process', //                    20
    '    <<: *defaults', //                           21
    '    queue: mail', //                             22
    '    quota: *limits', //                          23
    '---', //                                         24
    'namespace: other', //                            25
    'entries:', //                                    26
    '  - { name: late, kind: x.y, data: { deep: { er: 1 } } }', // 27
  );

  function at(id: string, path: (string | number)[]): string {
    const source = getEntrySource(entry(parse(TEXT), id));
    const found = source?.locate?.(path);
    return found === undefined ? 'undefined' : `${found.line}:${found.column}`;
  }

  it('points a data path at the value under data:', () => {
    expect(at('app:api', ['data', 'routes', 0, 'path'])).toBe('16:17');
  });

  it('points into flow mappings and list items', () => {
    expect([at('app:api', ['data', 'routes', 1, 'method']), at('app:api', ['data', 'routes', 1])]).toEqual([
      '18:33',
      '18:11',
    ]);
  });

  it('points a null value at its key', () => {
    expect(at('app:api', ['data', 'tls'])).toBe('14:7');
  });

  it('points a path that is not there at the deepest node on it that is', () => {
    expect(at('app:api', ['data', 'routes', 0, 'handler'])).toBe('16:11');
  });

  it('points data itself at the data mapping, or at the entry when its fields are inline', () => {
    expect([at('app:api', ['data']), at('app:worker', ['data'])]).toEqual(['13:7', '19:5']);
  });

  it('points an inline field at the entry own key', () => {
    expect(at('app:worker', ['data', 'queue'])).toBe('22:12');
  });

  it('points a field merged with << at the anchored mapping where it was written', () => {
    expect(at('app:worker', ['data', 'replicas'])).toBe('3:13');
  });

  it('points a path through an alias at the anchored node', () => {
    expect(at('app:worker', ['data', 'quota', 'cpu'])).toBe('4:26');
  });

  it('points an own meta key at the entry meta and an inherited one at the file meta', () => {
    expect([at('app:api', ['meta', 'depends_on', 1]), at('app:api', ['meta', 'owner'])]).toEqual(['11:24', '6:10']);
  });

  it('points id and kind at the name and kind values', () => {
    expect([at('app:api', ['id']), at('app:api', ['kind'])]).toEqual(['8:11', '9:11']);
  });

  it('points the empty path at the entry', () => {
    expect(at('app:api', [])).toBe('8:5');
  });

  it('locates in a later document of the file', () => {
    expect(at('other:late', ['data', 'deep', 'er'])).toBe('27:50');
  });

  it('locates entries whose list is written in flow style on its own line', () => {
    const entries = parse(
      yaml(
        'namespace: app',
        'entries:',
        '  [ { name: a, kind: x.y, port: 1 },',
        '    { name: b, kind: x.y, port: 2 } ]',
      ),
    );
    const sources = entries.map((e) => getEntrySource(e));
    expect(sources.map((s) => `${s?.line}:${s?.column} ${JSON.stringify(s?.locate?.(['data', 'port']))}`)).toEqual([
      '3:5 {"line":3,"column":33}',
      '4:5 {"line":4,"column":33}',
    ]);
  });

  it('locates the one entry of a flow list written on its own line', () => {
    const [a] = parse(yaml('namespace: app', 'entries:', '  [ { name: a, kind: x.y } ]'));
    const source = getEntrySource(a as Entry);
    expect(`${source?.line}:${source?.column}`).toBe('3:5');
  });

  it('locates the entries of a loaded file', async () => {
    const { entries } = await loadRegistryYaml(GOOD);
    const router = getEntrySource(entry(entries, 'app.http:router'));
    expect([router?.file, router?.locate?.(['data', 'routes', 0, 'handler'])]).toEqual([
      join(GOOD, 'http', 'routes.yml'),
      { line: 10, column: 20 },
    ]);
  });
});
