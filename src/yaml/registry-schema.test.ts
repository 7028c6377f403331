import 'reflect-metadata';
import { Ajv } from 'ajv';
import { IsIn, IsInt, IsString, Min } from 'class-validator';
import { load } from 'js-yaml';
import { describe, expect, it } from 'vitest';
import { Describe } from '../config/config-schema.js';
import { registryFileSchema } from './registry-schema.js';

@Describe('A note.')
class NoteConfig {
  @Describe('What it says.') @IsString() text!: string;
  @IsInt() @Min(0) stars = 0;
  @IsIn(['red', 'blue']) colour = 'red';
  @IsString() name = 'same as the entry key';
}

const schema = registryFileSchema({ kinds: [{ kind: 'app.note', configClass: NoteConfig }, { kind: 'app.free' }] });
const validate = new Ajv({ allErrors: true }).compile(schema);

/** The instance paths ajv refuses in a YAML document (none: accepted). */
function refusals(yaml: string): string[] {
  if (validate(load(yaml) ?? null)) return [];
  return [...new Set((validate.errors ?? []).map((error) => `${error.instancePath} ${error.message ?? ''}`))];
}

describe('registryFileSchema', () => {
  it('is a draft-07 schema naming the kinds it knows', () => {
    expect(schema['$schema']).toBe('http://json-schema.org/draft-07/schema#');
    const entry = (schema['definitions'] as Record<string, Record<string, unknown>>)['entry'];
    expect(entry?.['properties']).toMatchObject({ kind: { examples: ['app.free', 'app.note'] } });
  });

  it('accepts a file with inline fields, fields under data, meta, x-* keys, and kinds without a config class', () => {
    const good = [
      'namespace: app',
      'meta: { groups: [docs] }',
      'x-defaults: &note { kind: app.note }',
      'entries:',
      '  - { name: a, <<: *note, text: hi, stars: 3 }',
      '  - { name: b, kind: app.note, meta: { depends_on: a }, data: { text: there, colour: blue, name: n } }',
      '  - { name: c, kind: app.free, anything: [1, 2] }',
      '  - { name: d, kind: app.other, data: 5 }',
    ].join('\n');
    expect(refusals(good)).toEqual([]);
    expect(refusals('')).toEqual([]);
    expect(refusals('namespace: app\nentries:\n')).toEqual([]);
  });

  it('refuses what the registry refuses for a field of a known kind', () => {
    const entry = (fields: string): string => `namespace: app\nentries:\n  - { name: a, kind: app.note, ${fields} }\n`;
    expect(refusals(entry('text: 5'))).toContain('/entries/0/text must be string');
    expect(refusals(entry('text: hi, stars: -1'))).toContain('/entries/0/stars must be >= 0');
    expect(refusals(entry('text: hi, colour: green'))).toContain(
      '/entries/0/colour must be equal to one of the allowed values',
    );
    expect(refusals(entry('text: hi, colur: red'))).toContain('/entries/0 must NOT have additional properties');
    expect(refusals(entry('stars: 1'))).toContain("/entries/0 must have required property 'text'");
    expect(refusals(entry('data: { text: hi, shade: 1 }'))).toContain(
      '/entries/0/data must NOT have additional properties',
    );
    expect(refusals(entry('data: { text: 1 }'))).toContain('/entries/0/data/text must be string');
    // No data at all: decoding has nothing to decode.
    expect(refusals(entry('meta: {}'))).toContain('/entries/0 must NOT be valid');
  });

  it('refuses what the file format refuses', () => {
    expect(refusals('entries: []\n')).toContain(" must have required property 'namespace'");
    expect(refusals('namespace: ns\n')).toContain('/namespace must NOT be valid');
    expect(refusals('namespace: 9lives\n')).toContain(
      '/namespace must match pattern "^[A-Za-z_][A-Za-z0-9_-]*(?:\\.[A-Za-z_][A-Za-z0-9_-]*)*$"',
    );
    expect(refusals('namespace: app\nentrys: []\n')).toContain(' must NOT have additional properties');
    expect(refusals('namespace: app\nentries:\n  - { name: a }\n')).toContain(
      "/entries/0 must have required property 'kind'",
    );
    expect(refusals('namespace: app\nentries:\n  - { name: a, kind: Bad.Kind, x: 1 }\n')).toContain(
      '/entries/0/kind must match pattern "^[a-z][a-z0-9_-]*(?:\\.[a-z][a-z0-9_-]*)*$"',
    );
    expect(refusals('namespace: app\nentries:\n  - { name: a, kind: app.free, data: {}, extra: 1 }\n')).toContain(
      '/entries/0 property name must be valid',
    );
  });

  it('carries descriptions and defaults for editors', () => {
    const note = (schema['definitions'] as Record<string, Record<string, unknown>>)['kind:app.note'];
    expect(note).toMatchObject({
      description: 'A note.',
      properties: { text: { description: 'What it says.', type: 'string' }, stars: { default: 0 } },
      required: ['text'],
    });
  });
});
