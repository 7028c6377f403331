import { plainToInstance, type ClassTransformOptions } from 'class-transformer';
import type { ValidationError, ValidatorOptions } from 'class-validator';
import { deepFreeze, FORBIDDEN_KEYS } from '../common/deep-freeze.js';
import { messageOf } from '../common/errors.js';
import { quote } from '../common/visible-text.js';
import { getEntrySource, isCanonicalEntry, type Entry } from '../entry/entry.js';
import { ConfigError, type ConfigIssue } from './config-error.js';
import { plainToConfig } from './plain-to-config.js';
import { passesCached, validateCached, validationMetadatasOf } from './validate-cached.js';

/** Options of {@link decodeEntryConfig}. */
export interface DecodeEntryConfigOptions {
  /**
   * Keep keys the config class declares no decorator for, instead of refusing them (the default).
   * Kept keys are copied onto the instance unvalidated.
   */
  readonly allowUnknownKeys?: boolean;
}

/**
 * One problem a config class's `validate()` hook reports: a message (about the whole config), an
 * `Error`, or a message with a path relative to the config (`'routes[0].path'` or
 * `['routes', 0, 'path']`).
 */
export type ConfigProblem =
  string | Error | { readonly path?: string | readonly (string | number)[]; readonly message: string };

/**
 * What a config class's `validate()` hook returns: nothing (or `true`, or an empty array) when the
 * config is valid; `false`, a {@link ConfigProblem} or an array of them when it is not. The hook may
 * also throw; the thrown error becomes one issue and the cause of the {@link ConfigError}.
 */
export type ConfigValidationResult = void | undefined | boolean | ConfigProblem | readonly ConfigProblem[];

/** A class `decodeEntryConfig` can build: constructible without arguments. */
export type ConfigClass<T extends object> = new () => T;

type Segments = readonly (string | number)[];

interface Problem {
  readonly segments: Segments;
  readonly message: string;
}

/** What is known about a config class once; never recomputed per decode. */
interface ClassPlan {
  readonly hasInitDefaults: boolean;
  readonly hasValidate: boolean;
  readonly declaresId: boolean;
  readonly declaresMeta: boolean;
  /** Methods and read-only accessors: keys class-transformer will not assign. */
  readonly unassignable: ReadonlySet<string>;
}

const MAX_DEPTH = 64;
const DATA: Segments = ['data'];
const WHITELIST_CONSTRAINT = 'whitelistValidation';

// A key absent from the data keeps the field initialiser's value because class-transformer only
// assigns the keys it finds; `exposeDefaultValues` extends that to keys present but `undefined`.
const TRANSFORM_OPTIONS: ClassTransformOptions = Object.freeze({ exposeDefaultValues: true });

// `forbidUnknownValues: false`: a class with no decorators is not an error in itself; with the
// whitelist on, it simply accepts no keys. `target` stays on because it tells array indices from keys.
const STRICT_OPTIONS: ValidatorOptions = Object.freeze({
  whitelist: true,
  forbidNonWhitelisted: true,
  forbidUnknownValues: false,
  validationError: Object.freeze({ target: true, value: false }),
});
const LENIENT_OPTIONS: ValidatorOptions = Object.freeze({
  forbidUnknownValues: false,
  validationError: Object.freeze({ target: true, value: false }),
});

const plans = new WeakMap<ConfigClass<object>, ClassPlan>();

/**
 * Decodes an entry's `data` into a validated, deep-frozen instance of a config class (Wippy's
 * `entry.DecodeEntryConfig[T]`).
 *
 * Steps: refuse missing data and `__proto__` / `constructor` / `prototype` keys; build the instance
 * with class-transformer (field initialisers are the defaults); fill `id` and `meta` from the entry
 * when the class declares them (a decorator or an initialiser) and the data does not set them; call
 * `initDefaults()`; validate with class-validator (keys without a decorator are refused unless
 * `allowUnknownKeys`; nested objects need `@ValidateNested()` and `@Type(() => Class)`); when that
 * passes, call `validate()` (see {@link ConfigValidationResult}); freeze and return the instance.
 * Every failure is one {@link ConfigError} listing all issues found.
 *
 * @example
 * class Route {
 *   @IsString() path!: string;
 * }
 * class HttpServiceConfig {
 *   @IsString() id!: string;
 *   @IsInt() @Min(1) port = 8080;
 *   @ValidateNested({ each: true }) @Type(() => Route) routes: Route[] = [];
 *   validate(): ConfigValidationResult {
 *     if (this.routes.length === 0) return { path: 'routes', message: 'declare at least one route' };
 *   }
 * }
 *
 * const config = decodeEntryConfig(HttpServiceConfig, entry); // Readonly<HttpServiceConfig>, frozen
 */
export function decodeEntryConfig<T extends object>(
  ConfigClass: ConfigClass<T>,
  entry: Entry,
  options?: DecodeEntryConfigOptions,
): Readonly<T> {
  const data = entry.data;
  if (data === undefined || data === null) {
    throw configError(entry, [{ segments: DATA, message: 'configuration data is required' }]);
  }
  if (typeof data !== 'object' || Array.isArray(data)) {
    const got = Array.isArray(data) ? 'an array' : `a ${typeof data}`;
    throw configError(entry, [{ segments: DATA, message: `configuration data must be an object, not ${got}` }]);
  }

  const problems: Problem[] = [];
  // class-transformer skips `__proto__` and `constructor` silently and would copy `prototype`: refuse
  // all three up front. Own-key enumeration sees a `__proto__` key that JSON.parse created. An entry
  // createEntry made was refused these keys and deeper nesting already.
  const checked = isCanonicalEntry(entry);
  if (!checked) findForbiddenKeys(data, ['data'], 0, problems);

  let plan: ClassPlan;
  try {
    plan = planOf(ConfigClass);
  } catch (error) {
    throw configError(entry, [{ segments: DATA, message: `could not be decoded: ${messageOf(error)}` }], error);
  }
  let input = data as Record<string, unknown>;
  const fillId = plan.declaresId && input['id'] === undefined;
  const fillMeta = plan.declaresMeta && input['meta'] === undefined;
  if (fillId || fillMeta) {
    input = shallowCopy(input);
    if (fillId) input['id'] = entry.id;
    if (fillMeta) {
      if (!checked && typeof entry.meta === 'object' && entry.meta !== null)
        findForbiddenKeys(entry.meta, ['meta'], 0, problems);
      input['meta'] = entry.meta;
    }
  }
  if (problems.length > 0) throw configError(entry, problems);

  let instance: T;
  try {
    instance = plainToConfig(ConfigClass, input, checked) ?? plainToInstance(ConfigClass, input, TRANSFORM_OPTIONS);
  } catch (error) {
    throw configError(entry, [{ segments: DATA, message: `could not be decoded: ${messageOf(error)}` }], error);
  }

  if (plan.hasInitDefaults) {
    try {
      (instance as { initDefaults(): void }).initDefaults();
    } catch (error) {
      throw configError(entry, [{ segments: DATA, message: `initDefaults() failed: ${messageOf(error)}` }], error);
    }
  }

  if (plan.unassignable.size > 0 && options?.allowUnknownKeys !== true) {
    // class-transformer skips a key that names a method or a read-only accessor without a word, so
    // the whitelist never sees it: refuse it here.
    for (const key of Object.keys(data)) {
      if (plan.unassignable.has(key)) {
        problems.push({
          segments: [...DATA, key],
          message: `unknown key ${quote(key)} (${ConfigClass.name} has a method or read-only property by that name)`,
        });
      }
    }
  }

  const validatorOptions = options?.allowUnknownKeys === true ? LENIENT_OPTIONS : STRICT_OPTIONS;
  let errors: ValidationError[] = [];
  try {
    // Most configs are valid: a yes/no walk first; class-validator's error tree only when it says no.
    if (!passes(instance, validatorOptions)) errors = validateCached(instance, validatorOptions);
  } catch (error) {
    throw configError(entry, [{ segments: DATA, message: `a validation rule failed: ${messageOf(error)}` }], error);
  }
  if (errors.length > 0) collectValidationErrors(errors, DATA, data, problems);
  if (problems.length > 0) throw configError(entry, problems);

  // The hook runs only on a config that passed the declarative checks, so it may rely on them.
  if (plan.hasValidate) {
    let result: unknown;
    try {
      result = (instance as { validate(): unknown }).validate();
    } catch (error) {
      throw configError(entry, [{ segments: DATA, message: messageOf(error) }], error);
    }
    collectHookProblems(result, problems);
    if (problems.length > 0) throw configError(entry, problems);
  }

  return deepFreeze(instance);
}

/**
 * `{ ...value }` for the string keys that the transform reads (object spread costs microseconds per
 * decode); a `__proto__` key stays an own key, as spread makes it.
 */
function shallowCopy(value: Record<string, unknown>): Record<string, unknown> {
  const copy: Record<string, unknown> = {};
  const keys = Object.keys(value);
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i] as string;
    if (key === '__proto__') {
      Object.defineProperty(copy, key, { value: value[key], writable: true, enumerable: true, configurable: true });
    } else {
      copy[key] = value[key];
    }
  }
  return copy;
}

/** {@link passesCached}, with a throw read as "maybe not": class-validator then runs and reports it. */
function passes(instance: object, validatorOptions: ValidatorOptions): boolean {
  try {
    return passesCached(instance, validatorOptions);
  } catch {
    return false;
  }
}

function planOf(ConfigClass: ConfigClass<object>): ClassPlan {
  let plan = plans.get(ConfigClass);
  if (plan === undefined) {
    const prototype = ConfigClass.prototype as Record<string, unknown>;
    const decorated = new Set(validationMetadatasOf(ConfigClass).map((metadata) => metadata.propertyName));
    // A field with an initialiser is an own property of a fresh instance (whatever
    // `useDefineForClassFields` says); a field without one is visible only through its decorators.
    const probe = new ConfigClass();
    const unassignable = new Set<string>();
    let proto: object | null = prototype;
    for (; proto !== null && proto !== Object.prototype; proto = Object.getPrototypeOf(proto) as object | null) {
      for (const key of Object.getOwnPropertyNames(proto)) {
        const descriptor = Object.getOwnPropertyDescriptor(proto, key);
        if (key === 'constructor' || descriptor === undefined) continue;
        if (typeof descriptor.value === 'function' || (descriptor.get !== undefined && descriptor.set === undefined)) {
          unassignable.add(key);
        }
      }
    }
    plan = Object.freeze({
      unassignable,
      hasInitDefaults: typeof prototype['initDefaults'] === 'function',
      hasValidate: typeof prototype['validate'] === 'function',
      declaresId: decorated.has('id') || Object.hasOwn(probe, 'id'),
      declaresMeta: decorated.has('meta') || Object.hasOwn(probe, 'meta'),
    });
    plans.set(ConfigClass, plan);
  }
  return plan;
}

/** Pushes a problem for every forbidden key under `value`; `path` is a scratch stack, restored on return. */
function findForbiddenKeys(value: object, path: (string | number)[], depth: number, problems: Problem[]): void {
  if (depth > MAX_DEPTH) {
    problems.push({ segments: [...path], message: `is nested more than ${MAX_DEPTH} levels deep` });
    return;
  }
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const item: unknown = value[i];
      if (typeof item === 'object' && item !== null) {
        path.push(i);
        findForbiddenKeys(item, path, depth + 1, problems);
        path.pop();
      }
    }
    return;
  }
  for (const key of Object.keys(value)) {
    if (FORBIDDEN_KEYS.has(key)) {
      problems.push({ segments: [...path, key], message: `forbidden key ${quote(key)}` });
      continue;
    }
    const item = (value as Record<string, unknown>)[key];
    if (typeof item === 'object' && item !== null) {
      path.push(key);
      findForbiddenKeys(item, path, depth + 1, problems);
      path.pop();
    }
  }
}

/**
 * Flattens class-validator's error tree into problems. `raw` is the data node the errors' owner was
 * built from, walked alongside so that "unknown key" means a key of the data: an undecorated field
 * that an initialiser, `initDefaults()` or the `id` / `meta` fill set is the class's own business.
 */
function collectValidationErrors(
  errors: readonly ValidationError[],
  parent: Segments,
  raw: unknown,
  problems: Problem[],
): void {
  const node = typeof raw === 'object' && raw !== null ? (raw as Record<string, unknown>) : undefined;
  for (const error of errors) {
    const target = error.target;
    const indexed = Array.isArray(target) || target instanceof Set;
    const segments = [...parent, indexed ? Number(error.property) : error.property];
    const constraints = error.constraints;
    if (constraints !== undefined) {
      for (const type of Object.keys(constraints)) {
        if (type !== WHITELIST_CONSTRAINT) {
          problems.push({ segments, message: constraints[type] ?? type });
        } else if (node !== undefined && Object.hasOwn(node, error.property)) {
          const owner = target?.constructor?.name ?? 'the config class';
          const message = `unknown key ${quote(error.property)} (${owner} declares no decorator for it)`;
          problems.push({ segments, message });
        }
      }
    }
    if (error.children !== undefined && error.children.length > 0) {
      collectValidationErrors(error.children, segments, node?.[error.property], problems);
    }
  }
}

function collectHookProblems(result: unknown, problems: Problem[]): void {
  if (result === undefined || result === null || result === true) return;
  if (result === false) {
    problems.push({ segments: DATA, message: 'validate() refused the configuration' });
    return;
  }
  if (Array.isArray(result)) {
    for (const item of result) collectHookProblem(item, problems);
    return;
  }
  collectHookProblem(result, problems);
}

function collectHookProblem(problem: unknown, problems: Problem[]): void {
  if (typeof problem === 'string') {
    problems.push({ segments: DATA, message: problem });
  } else if (problem instanceof Error) {
    problems.push({ segments: DATA, message: problem.message });
  } else if (
    typeof problem === 'object' &&
    problem !== null &&
    typeof (problem as { message?: unknown }).message === 'string'
  ) {
    const { path, message } = problem as { path?: unknown; message: string };
    problems.push({ segments: [...DATA, ...toSegments(path)], message });
  } else {
    problems.push({ segments: DATA, message: `validate() returned an unexpected value: ${messageOf(problem)}` });
  }
}

const PATH_PART = /\[(\d+)\]|\["((?:[^"\\]|\\.)*)"\]|([^.[\]]+)/g;

/** `'routes[0].path'` or `['routes', 0, 'path']` → segments; anything else → none. */
function toSegments(path: unknown): Segments {
  if (Array.isArray(path)) {
    return path.filter((part): part is string | number => typeof part === 'string' || typeof part === 'number');
  }
  if (typeof path !== 'string') return [];
  const segments: (string | number)[] = [];
  for (const match of path.matchAll(PATH_PART)) {
    if (match[1] !== undefined) segments.push(Number(match[1]));
    else if (match[2] !== undefined) segments.push(JSON.parse(`"${match[2]}"`) as string);
    else if (match[3] !== undefined) segments.push(match[3]);
  }
  return segments;
}

const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;

/** `['data', 'routes', 0, 'path']` → `data.routes[0].path`; odd keys are quoted (`quote`): `data.headers["x-id"]`. */
function formatPath(segments: Segments): string {
  let path = '';
  for (const segment of segments) {
    if (typeof segment === 'number') path += `[${segment}]`;
    else if (!IDENTIFIER.test(segment)) path += `[${quote(segment)}]`;
    else path += path === '' ? segment : `.${segment}`;
  }
  return path;
}

function configError(entry: Entry, problems: readonly Problem[], cause?: unknown): ConfigError {
  const source = getEntrySource(entry);
  const issues = problems.map((problem): ConfigIssue => {
    const path = formatPath(problem.segments);
    if (source === undefined) return { path, message: problem.message };
    const at = source.locate?.(problem.segments);
    return {
      path,
      message: problem.message,
      line: at?.line ?? source.line,
      column: at?.column ?? source.column,
    };
  });
  return new ConfigError({
    entryId: entry.id,
    kind: entry.kind,
    issues,
    ...(source === undefined ? {} : { file: source.file, line: source.line, column: source.column }),
    ...(cause === undefined ? {} : { cause }),
  });
}
