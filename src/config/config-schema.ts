import type { getMetadataStorage } from 'class-validator';
import type { ConfigClass } from './decode-entry-config.js';
import { propertyRules } from './plain-to-config.js';
import { validationMetadatasOf } from './validate-cached.js';

/** A JSON Schema (draft-07) object, as `configSchema` and `kindling schema` write it. */
export type JsonSchema = { [keyword: string]: unknown };

type ValidationMetadata = ReturnType<ReturnType<typeof getMetadataStorage>['getTargetValidationMetadatas']>[number];

interface Described {
  readonly description: string;
  readonly schema: JsonSchema | undefined;
}

/** The words (and schema overrides) of each class and property, by class, then property ('' for the class). */
const described = new WeakMap<object, Map<string, Described>>();

/**
 * Describes a config class or one of its fields, for the JSON Schema of `kindling schema` (what an
 * editor shows on hover). TSDoc comments do not exist at run time; this does. `schema` is merged
 * over what is derived from the class-validator decorators, for what they cannot say (a value a
 * `@Transform` rewrites before validation, such as an HTTP method in any case).
 *
 * @example
 * @Describe('One listening server.')
 * class ServerConfig {
 *   @Describe('Where to listen: host:port or :port.')
 *   @IsString()
 *   addr = ':0';
 * }
 */
export function Describe(description: string, schema?: JsonSchema): ClassDecorator & PropertyDecorator {
  return (target: object, property?: string | symbol): void => {
    // A class decorator receives the constructor; a property decorator its prototype.
    const owner = property === undefined ? target : (target as { constructor: object }).constructor;
    let map = described.get(owner);
    if (map === undefined) {
      map = new Map();
      described.set(owner, map);
    }
    map.set(typeof property === 'symbol' ? property.toString() : (property ?? ''), {
      description,
      schema: schema === undefined ? undefined : { ...schema },
    });
  };
}

function describedOf(ConfigClass: object, property: string): Described | undefined {
  for (let owner: unknown = ConfigClass; typeof owner === 'function'; owner = Object.getPrototypeOf(owner)) {
    const found = described.get(owner)?.get(property);
    if (found !== undefined) return found;
  }
  return undefined;
}

/** The description a class was given with {@link Describe}, if any. */
export function describedClass(ConfigClass: object): string | undefined {
  return describedOf(ConfigClass, '')?.description;
}

/** Keys a config class may declare that the registry fills from the entry when the data leaves them out. */
const FILLED = new Set(['id', 'meta']);

/**
 * The JSON Schema (draft-07) of the data a config class decodes (`decodeEntryConfig`): its fields,
 * from the class-validator decorators (types, bounds, `@IsIn` enums, `@Matches` patterns, nested
 * classes), `required` for fields with neither a default nor `@IsOptional`, each field's initialiser
 * as its `default`, {@link Describe} words as descriptions, and other keys refused. What only the
 * class's `validate()` hook checks, or a custom constraint, is not in it: the schema is what an
 * editor can check as you type, the registry has the last word.
 *
 * @example
 * const schema = configSchema(HttpServiceConfig); // { type: 'object', properties: { addr: ... }, ... }
 */
export function configSchema(ConfigClass: ConfigClass<object>): JsonSchema {
  return classSchema(ConfigClass, new Set());
}

function classSchema(ConfigClass: ConfigClass<object>, seen: Set<unknown>): JsonSchema {
  if (seen.has(ConfigClass)) return { type: 'object' };
  seen.add(ConfigClass);
  const byProperty = new Map<string, ValidationMetadata[]>();
  for (const metadata of validationMetadatasOf(ConfigClass, true)) {
    const list = byProperty.get(metadata.propertyName);
    if (list === undefined) byProperty.set(metadata.propertyName, [metadata]);
    else list.push(metadata);
  }
  let probe: Record<string, unknown> = {};
  try {
    probe = new ConfigClass() as Record<string, unknown>;
  } catch {
    // A class whose constructor throws has no defaults to show; decoding it fails anyway.
  }
  const properties: Record<string, JsonSchema> = {};
  const required: string[] = [];
  for (const [property, metadatas] of byProperty) {
    const defaultValue = jsonValue(probe[property]);
    // @IsOptional, or only @Allow (which takes any value, none included): not required.
    const optional =
      metadatas.some((m) => m.type === 'conditionalValidation') ||
      metadatas.every((m) => m.type === 'whitelistValidation');
    const field = propertySchema(ConfigClass, property, { metadatas, optional }, seen);
    if (defaultValue !== undefined) field['default'] = defaultValue;
    properties[property] = field;
    if (!optional && defaultValue === undefined && !FILLED.has(property)) required.push(property);
  }
  seen.delete(ConfigClass);
  const schema: JsonSchema = { type: 'object' };
  const description = describedClass(ConfigClass);
  if (description !== undefined) schema['description'] = description;
  schema['properties'] = properties;
  if (required.length > 0) schema['required'] = required;
  schema['additionalProperties'] = false;
  return schema;
}

function propertySchema(
  ConfigClass: ConfigClass<object>,
  property: string,
  { metadatas, optional }: { readonly metadatas: readonly ValidationMetadata[]; readonly optional: boolean },
  seen: Set<unknown>,
): JsonSchema {
  const own = describedOf(ConfigClass, property);
  const rules = propertyRules(ConfigClass, property);
  const field: JsonSchema = {};
  if (own !== undefined) field['description'] = own.description;
  // A value a @Transform rewrites is validated after the rewrite: what the file may hold is unknown,
  // unless the class says it with Describe's schema.
  if (!rules.transformed) {
    const value: JsonSchema = {};
    const items: JsonSchema = {};
    for (const metadata of metadatas) {
      if (metadata.type === 'nestedValidation') {
        const nested =
          typeof rules.type === 'function' && rules.type !== Object
            ? classSchema(rules.type as ConfigClass<object>, seen)
            : { type: 'object' };
        Object.assign(metadata.each === true ? items : value, nested);
      } else if (metadata.type === 'customValidation' && metadata.name !== undefined) {
        applyConstraint(metadata.each === true ? items : value, metadata.name, metadata.constraints as unknown[]);
      }
    }
    if (Object.keys(items).length > 0) {
      value['type'] ??= 'array';
      value['items'] = items;
    }
    if (optional && typeof value['type'] === 'string') value['type'] = [value['type'], 'null'];
    Object.assign(field, value);
  }
  if (own?.schema !== undefined) Object.assign(field, own.schema);
  return field;
}

/** Adds what one class-validator constraint says to a schema; constraints JSON Schema cannot say are left out. */
function applyConstraint(schema: JsonSchema, name: string, constraints: readonly unknown[] | undefined): void {
  const [first, second] = constraints ?? [];
  switch (name) {
    case 'isString':
      schema['type'] = 'string';
      return;
    case 'isInt':
      schema['type'] = 'integer';
      return;
    case 'isNumber':
      schema['type'] ??= 'number';
      return;
    case 'isBoolean':
      schema['type'] = 'boolean';
      return;
    case 'isArray':
      schema['type'] = 'array';
      return;
    case 'isObject':
      schema['type'] = 'object';
      return;
    case 'min':
      if (typeof first === 'number') schema['minimum'] = first;
      return;
    case 'max':
      if (typeof first === 'number') schema['maximum'] = first;
      return;
    case 'isPositive':
      schema['exclusiveMinimum'] = 0;
      return;
    case 'isNegative':
      schema['exclusiveMaximum'] = 0;
      return;
    case 'isIn':
      if (Array.isArray(first)) schema['enum'] = [...(first as unknown[])];
      return;
    case 'isEnum':
      if (typeof first === 'object' && first !== null) schema['enum'] = enumValues(first as Record<string, unknown>);
      return;
    case 'equals':
      schema['const'] = first;
      return;
    case 'isNotEmpty':
      // Refuses '', null and undefined; for a string that is a minimum length of 1.
      schema['minLength'] ??= 1;
      return;
    case 'minLength':
      if (typeof first === 'number') schema['minLength'] = first;
      return;
    case 'maxLength':
      if (typeof first === 'number') schema['maxLength'] = first;
      return;
    case 'length':
      if (typeof first === 'number') schema['minLength'] = first;
      if (typeof second === 'number') schema['maxLength'] = second;
      return;
    case 'matches': {
      const pattern = patternOf(first, second);
      if (pattern !== undefined) schema['pattern'] = pattern;
      return;
    }
    case 'arrayMinSize':
      if (typeof first === 'number') schema['minItems'] = first;
      return;
    case 'arrayMaxSize':
      if (typeof first === 'number') schema['maxItems'] = first;
      return;
    case 'arrayNotEmpty':
      schema['minItems'] = 1;
      return;
    case 'arrayUnique':
      schema['uniqueItems'] = true;
      return;
    default:
  }
}

/** A TypeScript enum's values (a numeric enum's reverse keys left out). */
function enumValues(values: Record<string, unknown>): unknown[] {
  return Object.keys(values)
    .filter((key) => !/^\d+$/.test(key))
    .map((key) => values[key]);
}

/** The source of a `@Matches` regex when JSON Schema (ECMA-262, unicode, no flags) reads it the same. */
function patternOf(pattern: unknown, modifiers: unknown): string | undefined {
  const regex = pattern instanceof RegExp ? pattern : typeof pattern === 'string' ? new RegExp(pattern) : undefined;
  const flags = typeof modifiers === 'string' ? modifiers : (regex?.flags ?? '');
  if (regex === undefined || flags.replace(/[gyu]/g, '') !== '') return undefined;
  try {
    // Validators (ajv among them) read patterns in unicode mode, which refuses some escapes.
    new RegExp(regex.source, 'u');
  } catch {
    return undefined;
  }
  return regex.source;
}

/** A default as JSON writes it, or undefined when it has none or it is not plain data. */
function jsonValue(value: unknown): unknown {
  if (value === undefined || typeof value === 'function' || typeof value === 'symbol') return undefined;
  if (typeof value !== 'object' || value === null) return typeof value === 'bigint' ? undefined : value;
  try {
    return JSON.parse(JSON.stringify(value)) as unknown;
  } catch {
    return undefined;
  }
}
