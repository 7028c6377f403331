import { plainToInstance } from 'class-transformer';
import { validateSync, type ValidationError } from 'class-validator';
import fastestValidator, {
  type ValidationError as FastestError,
  type ValidationRule,
  type ValidationSchema,
} from 'fastest-validator';
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

/**
 * A Moleculer params schema: fastest-validator's, as Moleculer's default validator reads it
 * (`{ name: 'string|max:64', tags: { type: 'array', items: 'number' }, email: 'email|normalize:true' }`).
 * Every rule of fastest-validator works; a rule it does not know is refused when the service is created.
 */
export type ShorthandSchema = ValidationSchema;

/** One field's rule in a {@link ShorthandSchema}: `'string|max:64'`, `{ type: 'array', items: 'number' }`, ... */
export type ShorthandRule = ValidationRule;

/** What an event definition's `params` may be. */
export type ParamsSchema = ParamsClass | StandardSchemaV1 | ShorthandSchema;

/** @internal The outcome of validating one payload. */
export type ParamsCheck =
  | { readonly ok: true; readonly value: unknown }
  | {
      readonly ok: false;
      readonly issues: readonly ParamsIssue[];
      /** fastest-validator's own errors (Moleculer's `ValidationError.data`), for a shorthand schema. */
      readonly data?: readonly FastestError[];
    };

/** @internal A compiled validator; synchronous except for asynchronous Standard Schemas. */
export type ParamsValidator = (params: unknown) => ParamsCheck | Promise<ParamsCheck>;

type Validator = import('fastest-validator').default;
// A CommonJS class: its typings declare it as the default export, Node hands it over as the module itself.
const ValidatorClass = ((fastestValidator as unknown as { default?: unknown }).default ??
  fastestValidator) as unknown as new () => Validator;

/** One validator per process, as Moleculer keeps one per broker; it holds no per-schema state. */
let fastest: Validator | undefined;

/** A copy of a schema (plain objects and arrays; functions and other values kept): fastest-validator edits what it compiles. */
function cloneSchema(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(cloneSchema);
  if (typeof value !== 'object' || value === null || Object.getPrototypeOf(value) !== Object.prototype) return value;
  const copy: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(value)) copy[key] = cloneSchema(field);
  return copy;
}

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

/** fastest-validator's own field list becomes our issues; the list itself is kept for Moleculer's error data. */
function fromFastest(result: true | FastestError[], value: unknown): ParamsCheck {
  if (result === true) return { ok: true, value };
  return {
    ok: false,
    issues: result.map((error) => ({ path: error.field ?? '', message: error.message ?? error.type })),
    data: result,
  };
}

function compileShorthand(schema: ShorthandSchema, where: string): ParamsValidator {
  let check: ReturnType<Validator['compile']>;
  try {
    check = (fastest ??= new ValidatorClass()).compile(cloneSchema(schema) as ValidationSchema);
  } catch (error) {
    throw new KindlingError(
      'INVALID',
      `${where}: params schema is not a valid fastest-validator schema: ${messageOf(error)}`,
      {
        details: { params: Object.keys(schema) },
      },
    );
  }
  return (params) => {
    // Moleculer validates `{}` for an event sent without a payload.
    const value = params ?? {};
    const result = check(value);
    return result instanceof Promise
      ? result.then((settled: true | FastestError[]) => fromFastest(settled, value))
      : fromFastest(result, value);
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
