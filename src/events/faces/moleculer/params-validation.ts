import { plainToInstance } from 'class-transformer';
import { validateSync, type ValidationError } from 'class-validator';
import { KindlingError, messageOf } from '../../../common/errors.js';

/** One problem with an event's parameters. */
export interface ParamsIssue {
  /** Where, as `user.email` or `items[0]`; `''` for the whole payload. */
  readonly path: string;
  readonly message: string;
}

/** A class whose class-validator decorators describe the parameters. */
export type ParamsClass = new () => object;

/** The Standard Schema v1 interface (zod, valibot, arktype... implement it). */
export interface StandardSchemaV1 {
  readonly '~standard': {
    readonly version: 1;
    readonly vendor: string;
    validate(value: unknown): StandardResult | Promise<StandardResult>;
  };
}

type StandardResult =
  | { readonly value: unknown; readonly issues?: undefined }
  | {
      readonly issues: readonly {
        readonly message: string;
        readonly path?: readonly (PropertyKey | { readonly key: PropertyKey })[];
      }[];
    };

/** A field of a Moleculer-style shorthand schema: `'string'`, `'email|optional'` or `{ type, optional }`. */
export type ShorthandRule = string | { readonly type: string; readonly optional?: boolean };

/**
 * Moleculer-style shorthand (a subset of fastest-validator): each field names a type among `any`,
 * `string`, `number`, `boolean`, `object`, `array`, `email`, `date`, optionally `|optional`. Another
 * rule is refused when the service is created, never silently ignored.
 */
export type ShorthandSchema = Readonly<Record<string, ShorthandRule>>;

/** What an event definition's `params` may be. */
export type ParamsSchema = ParamsClass | StandardSchemaV1 | ShorthandSchema;

/** @internal The outcome of validating one payload. */
export type ParamsCheck =
  { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly issues: readonly ParamsIssue[] };

/** @internal A compiled validator; synchronous except for asynchronous Standard Schemas. */
export type ParamsValidator = (params: unknown) => ParamsCheck | Promise<ParamsCheck>;

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const SHORTHAND_TYPES: Readonly<Record<string, (value: unknown) => boolean>> = {
  any: () => true,
  string: (value) => typeof value === 'string',
  number: (value) => typeof value === 'number' && Number.isFinite(value),
  boolean: (value) => typeof value === 'boolean',
  object: (value) => typeof value === 'object' && value !== null && !Array.isArray(value),
  array: (value) => Array.isArray(value),
  email: (value) => typeof value === 'string' && EMAIL.test(value),
  date: (value) => value instanceof Date && !Number.isNaN(value.getTime()),
};

function isStandardSchema(schema: unknown): schema is StandardSchemaV1 {
  return typeof schema === 'object' && schema !== null && '~standard' in schema;
}

function flattenClassErrors(errors: readonly ValidationError[], parent: string, out: ParamsIssue[]): void {
  for (const error of errors) {
    const path = /^\d+$/.test(error.property)
      ? `${parent}[${error.property}]`
      : parent === ''
        ? error.property
        : `${parent}.${error.property}`;
    for (const message of Object.values(error.constraints ?? {})) out.push({ path, message });
    if (error.children !== undefined && error.children.length > 0) flattenClassErrors(error.children, path, out);
  }
}

function compileClass(cls: ParamsClass): ParamsValidator {
  return (params) => {
    if (typeof params !== 'object' || params === null || Array.isArray(params)) {
      return { ok: false, issues: [{ path: '', message: `expected an object for ${cls.name}` }] };
    }
    const instance = params instanceof cls ? params : plainToInstance(cls, params);
    const errors = validateSync(instance, { forbidUnknownValues: false });
    if (errors.length === 0) return { ok: true, value: instance };
    const issues: ParamsIssue[] = [];
    flattenClassErrors(errors, '', issues);
    return { ok: false, issues };
  };
}

function compileStandard(schema: StandardSchemaV1): ParamsValidator {
  const fromResult = (result: StandardResult): ParamsCheck =>
    result.issues === undefined
      ? { ok: true, value: result.value }
      : {
          ok: false,
          issues: result.issues.map((issue) => ({
            path: (issue.path ?? []).map((part) => String(typeof part === 'object' ? part.key : part)).join('.'),
            message: issue.message,
          })),
        };
  return (params) => {
    const result = schema['~standard'].validate(params);
    return result instanceof Promise ? result.then(fromResult) : fromResult(result);
  };
}

function compileShorthand(schema: ShorthandSchema, where: string): ParamsValidator {
  const fields = Object.entries(schema).map(([field, rule]) => {
    const [type, ...flags] =
      typeof rule === 'string' ? rule.split('|') : [rule.type, ...(rule.optional === true ? ['optional'] : [])];
    const test = type === undefined ? undefined : SHORTHAND_TYPES[type];
    if (test === undefined || flags.some((flag) => flag !== 'optional')) {
      throw new KindlingError(
        'INVALID',
        `${where}: params rule "${field}: ${typeof rule === 'string' ? rule : JSON.stringify(rule)}" is not supported; ` +
          `use one of ${Object.keys(SHORTHAND_TYPES).join(', ')} with an optional "|optional", a class-validator class or a Standard Schema`,
        { details: { field } },
      );
    }
    return { field, type, test, optional: flags.includes('optional') };
  });
  return (params) => {
    if (typeof params !== 'object' || params === null || Array.isArray(params)) {
      return { ok: false, issues: [{ path: '', message: 'expected an object' }] };
    }
    const issues: ParamsIssue[] = [];
    for (const { field, type, test, optional } of fields) {
      const value = (params as Record<string, unknown>)[field];
      if (value === undefined) {
        if (!optional) issues.push({ path: field, message: `${field} is required` });
      } else if (!test(value)) {
        issues.push({
          path: field,
          message: `${field} must be ${type === 'email' ? 'an email address' : `a ${type}`}`,
        });
      }
    }
    return issues.length === 0 ? { ok: true, value: params } : { ok: false, issues };
  };
}

/**
 * @internal Compiles an event definition's `params` once, when the service is created. Throws
 * `INVALID` for a schema it cannot use.
 */
export function compileParamsValidator(schema: ParamsSchema, where: string): ParamsValidator {
  if (typeof schema === 'function') return compileClass(schema);
  if (isStandardSchema(schema)) return compileStandard(schema);
  if (typeof schema === 'object' && schema !== null) return compileShorthand(schema, where);
  throw new KindlingError('INVALID', `${where}: params must be a class, a Standard Schema or a shorthand schema`, {
    details: { params: messageOf(schema) },
  });
}
