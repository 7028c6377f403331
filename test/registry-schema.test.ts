// `kindling schema`: the JSON Schema of an app's registry files. The examples carry theirs (kept up to
// date here) and pass it; and a file the registry refuses for a field error is refused by the schema
// too, checked with a real validator (ajv) against a real `kindling validate`.
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ajv, type ValidateFunction } from 'ajv';
import { loadAll } from 'js-yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { root, runCli } from './support/cli-harness.js';

/** Every example app: a directory of examples/ with a kindling.yaml. */
const examples = readdirSync(join(root, 'examples')).filter((name) =>
  existsSync(join(root, 'examples', name, 'kindling.yaml')),
);

/** The YAML files of a registry directory (one level, as the examples have them). */
function yamlFiles(dir: string): string[] {
  return readdirSync(dir)
    .filter((name) => /\.ya?ml$/.test(name))
    .map((name) => join(dir, name));
}

/** What the schema refuses in a registry file, document by document (empty: accepted). */
function schemaRefusals(validate: ValidateFunction, text: string): string[] {
  const problems: string[] = [];
  for (const document of loadAll(text)) {
    if (validate(document ?? null)) continue;
    for (const error of validate.errors ?? []) problems.push(`${error.instancePath} ${error.message ?? ''}`);
  }
  return problems;
}

async function schemaOf(app: string): Promise<ValidateFunction> {
  const { code, out, err } = await runCli(['schema', app]);
  expect({ code, err }).toEqual({ code: 0, err: '' });
  return new Ajv({ allErrors: true }).compile(JSON.parse(out) as object);
}

describe.each(examples)('examples/%s', (name) => {
  const app = join(root, 'examples', name);

  it('commits the schema `kindling schema` writes for it, byte for byte', async () => {
    const { code, out, err } = await runCli(['schema', app]);
    expect({ code, err }).toEqual({ code: 0, err: '' });
    expect(out).toBe(readFileSync(join(app, 'registry.schema.json'), 'utf8'));
  });

  it('has registry files that name the schema and pass it', async () => {
    const validate = await schemaOf(app);
    const files = yamlFiles(join(app, 'registry'));
    expect(files.length).toBeGreaterThan(0);
    for (const file of files) {
      const text = readFileSync(file, 'utf8');
      expect(text.split('\n')[0], file).toBe('# yaml-language-server: $schema=../registry.schema.json');
      expect(schemaRefusals(validate, text), file).toEqual([]);
    }
  });
});

describe('kindling schema <app>', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kindling-schema-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('prints its usage with --help', async () => {
    const { code, out } = await runCli(['schema', '--help']);
    expect(code).toBe(0);
    expect(out).toMatch(/^Usage: kindling schema \[options\] <app>/);
    expect(out).toContain('-o, --out <file>');
  });

  it('writes the file --out names, and says how many kinds it describes', async () => {
    const out = join(dir, 'registry.schema.json');
    const result = await runCli(['schema', join(root, 'examples', 'hello'), '--out', out]);
    expect(result).toEqual({ code: 0, out: `wrote ${out}: 4 kinds, 4 with their fields\n`, err: '' });
    const schema = JSON.parse(await readFile(out, 'utf8')) as { definitions: Record<string, unknown> };
    expect(Object.keys(schema.definitions)).toEqual([
      'entry',
      'kind:function.js',
      'kind:http.endpoint',
      'kind:http.router',
      'kind:http.service',
    ]);
  });

  it('exits 2 with the problem for a bad manifest, and writes nothing', async () => {
    await writeFile(join(dir, 'kindling.yaml'), 'name: broken\ncomponents: [nonesuch]\n');
    const out = join(dir, 'never.json');
    const result = await runCli(['schema', dir, '--out', out]);
    expect(result.code).toBe(2);
    expect(result.err).toMatch(/^error: .*kindling\.yaml:2:\d+: .*nonesuch/);
    expect(existsSync(out)).toBe(false);
  });
});

describe('the schema refuses what the registry refuses for a field', () => {
  const fixtures = join(root, 'test', 'fixtures', 'cli');
  let dir: string;
  let validate: ValidateFunction;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kindling-schema-fields-'));
    await cp(join(fixtures, 'app'), dir, { recursive: true });
    validate = await schemaOf(dir);
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /** `kindling validate` of the fixture app with `text` as registry/case.yaml. */
  async function registryVerdict(text: string): Promise<{ code: number; err: string }> {
    await writeFile(join(dir, 'registry', 'case.yaml'), text);
    try {
      const { code, err } = await runCli(['validate', dir]);
      return { code, err };
    } finally {
      await rm(join(dir, 'registry', 'case.yaml'), { force: true });
    }
  }

  it('passes the files the registry accepts', async () => {
    for (const file of yamlFiles(join(fixtures, 'registries', 'good'))) {
      const text = await readFile(file, 'utf8');
      expect(await registryVerdict(text), file).toEqual({ code: 0, err: '' });
      expect(schemaRefusals(validate, text), file).toEqual([]);
    }
  });

  it('refuses the corpus files the registry refuses for their config', async () => {
    for (const file of yamlFiles(join(fixtures, 'registries', 'bad')).filter((f) => f.includes('config-'))) {
      const text = await readFile(file, 'utf8');
      expect((await registryVerdict(text)).code, file).toBe(2);
      expect(schemaRefusals(validate, text), file).not.toEqual([]);
    }
  });

  const base = [
    'namespace: app',
    'entries:',
    '  - { name: server, kind: http.service, addr: "127.0.0.1:0" }',
    '  - { name: site, kind: http.router, server: server }',
    '  - { name: hello, kind: function.js, file: ../functions/hello.js, export: hello }',
  ];
  const cases: readonly {
    readonly what: string;
    readonly entry: string;
    readonly registry: RegExp;
    readonly schema: string;
  }[] = [
    {
      what: 'a wrong type',
      entry: '{ name: get, kind: http.endpoint, router: site, path: /x, func: hello, timeoutMs: soon }',
      registry: /data\.timeoutMs: timeoutMs must be an integer number/,
      schema: '/entries/3/timeoutMs must be integer',
    },
    {
      what: 'an unknown key',
      entry: '{ name: get, kind: http.endpoint, router: site, path: /x, func: hello, verb: GET }',
      registry: /data\.verb: unknown key "verb"/,
      schema: '/entries/3 must NOT have additional properties',
    },
    {
      what: 'an unknown key under data',
      entry: '{ name: get, kind: http.endpoint, data: { router: site, path: /x, func: hello, verb: GET } }',
      registry: /data\.verb: unknown key "verb"/,
      schema: '/entries/3/data must NOT have additional properties',
    },
    {
      what: 'a missing required field',
      entry: '{ name: get, kind: http.endpoint, router: site, path: /x }',
      registry: /data\.func: func must be a string/,
      schema: "/entries/3 must have required property 'func'",
    },
    {
      what: 'a value outside an enum',
      entry: '{ name: get, kind: http.endpoint, router: site, path: /x, func: hello, method: FETCH }',
      registry: /data\.method: method must be one of GET, HEAD/,
      schema: '/entries/3/method must match a schema in anyOf',
    },
    {
      what: 'a number below its minimum',
      entry: '{ name: get, kind: http.endpoint, router: site, path: /x, func: hello, timeoutMs: 0 }',
      registry: /data\.timeoutMs: timeoutMs must not be less than 1/,
      schema: '/entries/3/timeoutMs must be >= 1',
    },
    {
      what: 'a string that misses its pattern',
      entry: '{ name: get, kind: http.endpoint, router: site, path: x, func: hello }',
      registry: /data\.path: path must start with "\/"/,
      schema: '/entries/3/path must match pattern "^\\/[^\\s?#]*$"',
    },
  ];

  it.each(cases)('$what', async ({ entry, registry, schema }) => {
    const text = [...base, `  - ${entry}`, ''].join('\n');
    const verdict = await registryVerdict(text);
    expect(verdict.code).toBe(2);
    expect(verdict.err).toMatch(registry);
    expect(schemaRefusals(validate, text)).toContain(schema);
  });

  it('passes the same file once the field is right', async () => {
    const entry = '{ name: get, kind: http.endpoint, router: site, path: /x, func: hello, method: get, timeoutMs: 5 }';
    const fixed = [...base, `  - ${entry}`, ''].join('\n');
    expect(await registryVerdict(fixed)).toEqual({ code: 0, err: '' });
    expect(schemaRefusals(validate, fixed)).toEqual([]);
  });
});
