import { createRequire } from 'node:module';
import { Type } from 'class-transformer';

// Why this file exists: class-transformer's plainToInstance looks up expose, exclude, type and
// transform rules (each walking the class's ancestors) for every key of every object it builds. Most
// config classes use none of them but `@Type(() => Class)`. For those, `plainToConfig` builds the same
// instance as `plainToInstance(Class, data, { exposeDefaultValues: true })` by following the same
// steps with the lookups answered once per class. Anything else (expose, exclude or transform rules,
// discriminators, Map / Set / Date / Buffer targets, values that are not JSON-like) makes it answer
// `undefined`, and the caller runs class-transformer itself.

interface TypeRule {
  readonly typeFunction?: (options: { newObject: unknown; object: unknown; property: string }) => unknown;
  readonly reflectedType?: unknown;
  readonly options?: { readonly discriminator?: unknown };
}

interface TransformerStorage {
  readonly _typeMetadatas: Map<unknown, Map<string, TypeRule>>;
  readonly _transformMetadatas: Map<unknown, Map<string, unknown[]>>;
  readonly _exposeMetadatas: Map<unknown, Map<string | undefined, unknown>>;
  readonly _excludeMetadatas: Map<unknown, Map<string | undefined, unknown>>;
}

type Constructor = new () => object;

/** What is known about a class: its type rules (own and inherited), or `null` when it is not plain. */
interface ClassRules {
  readonly chain: readonly Constructor[];
  readonly version: number;
  readonly types: Map<string, TypeRule> | null;
}

/** A value or a class this walk does not model: class-transformer builds the instance instead. */
const BAIL = new Error('not modelled: class-transformer builds this one');

let storage: TransformerStorage | null | undefined;
const rules = new WeakMap<object, ClassRules>();

/** class-transformer's storage, when it is the one its public `@Type` writes to; `null` otherwise. */
function transformerStorage(): TransformerStorage | null {
  if (storage !== undefined) return storage;
  storage = null;
  try {
    const loaded = (
      createRequire(import.meta.url)('class-transformer/cjs/storage.js') as { defaultMetadataStorage?: unknown }
    ).defaultMetadataStorage as TransformerStorage | undefined;
    const maps = [
      loaded?._typeMetadatas,
      loaded?._transformMetadatas,
      loaded?._exposeMetadatas,
      loaded?._excludeMetadatas,
    ];
    if (loaded === undefined || !maps.every((map) => map instanceof Map)) return storage;
    class Probe {}
    Type(() => Probe)(Probe.prototype, 'probe');
    if (loaded._typeMetadatas.get(Probe)?.get('probe') === undefined) return storage;
    loaded._typeMetadatas.delete(Probe);
    storage = loaded;
  } catch {
    storage = null;
  }
  return storage;
}

function ancestorsOf(target: Constructor): Constructor[] {
  const chain: Constructor[] = [target];
  for (
    let base = Object.getPrototypeOf((target.prototype as { constructor: unknown }).constructor) as {
      prototype?: unknown;
    };
    typeof base.prototype !== 'undefined';
    base = Object.getPrototypeOf((base.prototype as { constructor: unknown }).constructor) as { prototype?: unknown }
  ) {
    chain.push(base as Constructor);
  }
  return chain;
}

/** Changes whenever a rule is added for a class (or a new class gets rules). */
function versionOf(store: TransformerStorage, chain: readonly Constructor[]): number {
  let version =
    store._typeMetadatas.size +
    store._transformMetadatas.size +
    store._exposeMetadatas.size +
    store._excludeMetadatas.size;
  for (const target of chain) version += store._typeMetadatas.get(target)?.size ?? 0;
  return version;
}

function rulesOf(store: TransformerStorage, target: Constructor): Map<string, TypeRule> | null {
  const known = rules.get(target);
  const chain = known?.chain ?? ancestorsOf(target);
  const version = versionOf(store, chain);
  if (known !== undefined && known.version === version) return known.types;
  let types: Map<string, TypeRule> | null = new Map();
  for (const type of chain) {
    if (store._transformMetadatas.has(type) || store._exposeMetadatas.has(type) || store._excludeMetadatas.has(type)) {
      types = null;
      break;
    }
    // class-transformer prefers the class's own rule to an inherited one.
    for (const [property, rule] of store._typeMetadatas.get(type) ?? []) {
      if (rule.options?.discriminator !== undefined) types = null;
      else if (!types?.has(property)) types?.set(property, rule);
      if (types === null) break;
    }
    if (types === null) break;
  }
  rules.set(target, { chain, version, types });
  return types;
}

/**
 * `plainToInstance(ConfigClass, data, { exposeDefaultValues: true })` for a plain class and JSON-like
 * data, or `undefined` when class-transformer must do it.
 *
 * With `frozenJson` (the data of an entry createEntry made: deep-frozen plain objects, lists and JSON
 * scalars only), a frozen part that no type rule applies to is taken as it is instead of copied: the
 * copy would hold the same values, and the caller freezes the instance anyway.
 */
export function plainToConfig<T extends object>(
  ConfigClass: new () => T,
  data: object,
  frozenJson = false,
): T | undefined {
  const store = transformerStorage();
  if (store === null) return undefined;
  try {
    return transform(store, data, ConfigClass, undefined, frozenJson) as T;
  } catch {
    // BAIL, or a constructor or type function that threw: class-transformer runs it again and its
    // error is the one reported.
    return undefined;
  }
}

function isPlainObject(value: object): boolean {
  const prototype: unknown = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}

/** class-transformer's `transform` (plain to class, default options but exposeDefaultValues) on JSON-like values. */
// eslint-disable-next-line @typescript-eslint/max-params -- class-transformer's transform, plus what the data is
function transform(
  store: TransformerStorage,
  value: unknown,
  targetType: unknown,
  arrayType: unknown,
  frozenJson: boolean,
): unknown {
  if (
    frozenJson &&
    targetType === undefined &&
    arrayType === undefined &&
    typeof value === 'object' &&
    value !== null &&
    Object.isFrozen(value)
  ) {
    return value;
  }
  if (Array.isArray(value)) {
    // class-transformer builds a list of the reflected type (a Set for a Set field): only plain lists here.
    if (Object.getPrototypeOf(value) !== Array.prototype) throw BAIL;
    if (arrayType !== undefined && arrayType !== Array && arrayType !== Object) throw BAIL;
    const out: unknown[] = [];
    for (let i = 0; i < value.length; i++) out.push(transform(store, value[i], targetType, undefined, frozenJson));
    return out;
  }
  // eslint-disable-next-line @typescript-eslint/no-base-to-string -- class-transformer's own conversion
  if (targetType === String) return value === null || value === undefined ? value : String(value);
  if (targetType === Number) return value === null || value === undefined ? value : Number(value);
  if (targetType === Boolean) return value === null || value === undefined ? value : Boolean(value);
  if (typeof value === 'object' && value !== null) {
    if (!isPlainObject(value)) throw BAIL;
    if (targetType !== undefined && (typeof targetType !== 'function' || targetType === Date || targetType === Map)) {
      throw BAIL;
    }
    if (typeof (value as { then?: unknown }).then === 'function') throw BAIL;
    return transformObject(store, value as Record<string, unknown>, targetType as Constructor | undefined, frozenJson);
  }
  if (typeof value === 'function' || typeof value === 'symbol' || typeof value === 'bigint') throw BAIL;
  // Most fields have no type rule: nothing below can refuse them.
  if (targetType === undefined) return value;
  if (targetType === Date || targetType === Map || targetType === Set) throw BAIL;
  if (typeof Buffer !== 'undefined' && targetType === Buffer) throw BAIL;
  return value;
}

function transformObject(
  store: TransformerStorage,
  value: Record<string, unknown>,
  targetType: Constructor | undefined,
  frozenJson: boolean,
): object {
  let types: Map<string, TypeRule> | null | undefined;
  if (targetType !== undefined) {
    if (typeof Buffer !== 'undefined' && (targetType as unknown) === Buffer) throw BAIL;
    types = rulesOf(store, targetType);
    if (types === null) throw BAIL;
  }
  // A null-prototype object has no constructor: class-transformer then builds a plain object too.
  const newValue: Record<string, unknown> = (targetType !== undefined ? new targetType() : {}) as Record<
    string,
    unknown
  >;
  const prototype = (newValue.constructor as { prototype?: object } | undefined)?.prototype;
  const keys = Object.keys(value);
  for (const key of keys) {
    if (key === '__proto__' || key === 'constructor') continue;
    const subValue = value[key];
    let type: unknown;
    let rule: TypeRule | undefined;
    if (types !== undefined && types !== null) {
      rule = types.get(key);
      if (rule !== undefined) {
        if (rule.reflectedType === Map) throw BAIL;
        type = rule.typeFunction
          ? rule.typeFunction({ newObject: newValue, object: value, property: key })
          : rule.reflectedType;
      }
    }
    const arrayType = Array.isArray(subValue) && rule !== undefined ? rule.reflectedType : undefined;
    if (prototype) {
      const descriptor = Object.getOwnPropertyDescriptor(prototype, key);
      if ((descriptor && !descriptor.set) || newValue[key] instanceof Function) continue;
    }
    newValue[key] = subValue === undefined ? newValue[key] : transform(store, subValue, type, arrayType, frozenJson);
  }
  return newValue;
}

/**
 * What class-transformer knows of one property of a config class, for `configSchema`: the class of
 * its `@Type(() => Class)` rule, and whether a `@Transform` rewrites its value (then the value a file
 * holds is not the one validated).
 */
export function propertyRules(target: Constructor, property: string): { type: unknown; transformed: boolean } {
  const store = transformerStorage();
  if (store === null) return { type: undefined, transformed: false };
  let type: unknown;
  let transformed = false;
  for (const owner of ancestorsOf(target)) {
    const rule = store._typeMetadatas.get(owner)?.get(property);
    if (type === undefined && rule !== undefined) {
      try {
        type = rule.typeFunction ? rule.typeFunction({ newObject: {}, object: {}, property }) : rule.reflectedType;
      } catch {
        type = undefined;
      }
    }
    if ((store._transformMetadatas.get(owner)?.get(property)?.length ?? 0) > 0) transformed = true;
  }
  return { type, transformed };
}
