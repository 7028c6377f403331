import {
  getMetadataStorage,
  registerDecorator,
  ValidationTypes,
  Validator,
  type MetadataStorage,
  type ValidationError,
  type ValidatorOptions,
} from 'class-validator';

// Why this file exists: class-validator's `getTargetValidationMetadatas` scans every decorated class
// in the process (an `instanceof` test per class, to find inherited rules) for every object it
// validates, nested ones included. With a few hundred config classes that scan is most of the cost
// of a decode. The rules of one class only change when decorators are added, so we answer the lookup
// from a per-class cache, checked against the storage's counts on each use; and when a class is
// looked up for the first time, its ancestors are found by walking its prototype chain
// (`ancestryOf`), not by testing every class, so that the first decodes of an app's classes do not
// together cost the square of their number.
//
// class-validator reads its storage from a global when a validation starts; we point that global at
// a caching view of the real storage for the duration of one synchronous `validateSync` and restore
// it in `finally`. Everything but the lookups below (a class's rules, and a rule's constraint
// records, see `createCachingView`) is inherited from the real storage, so rules added meanwhile land
// in the real one. When the storage does not look as expected (another
// class-validator release), we fall back to plain `validateSync`: slower, never wrong.

type Metadatas = ReturnType<MetadataStorage['getTargetValidationMetadatas']>;
type Grouped = ReturnType<MetadataStorage['groupByPropertyName']>;

interface CachedLookup {
  readonly metadatas: Metadatas;
  /** How many classes had rules when the lookup was computed: a new class may be a new ancestor. */
  readonly targets: number;
  /** The rule lists (own and inherited) the answer came from, and their lengths then. */
  readonly sources: readonly (readonly unknown[])[];
  readonly lengths: readonly number[];
}

interface StorageHolder {
  classValidatorMetadataStorage?: MetadataStorage;
}

const validator = new Validator();
let installed: { readonly real: MetadataStorage; readonly view: MetadataStorage | undefined } | undefined;
let active = false;

/** The caching view of `real` (made on first use), or undefined when the storage is not as expected. */
function viewOf(real: MetadataStorage, holder: StorageHolder): MetadataStorage | undefined {
  if (installed?.real !== real) installed = { real, view: createCachingView(real, holder) };
  return installed.view;
}

/**
 * class-validator's rules of `target` (its own and those it inherits) for a validation without groups,
 * `always` as given: what `getMetadataStorage().getTargetValidationMetadatas(target, '', always, false)`
 * answers, found without testing every decorated class of the process (and, without `always`, kept).
 */
export function validationMetadatasOf(target: new () => object, always = false): Metadatas {
  // During a validation the global storage is the view already.
  const storage = active ? installed?.view : viewOf(getMetadataStorage(), globalThis as StorageHolder);
  return (storage ?? getMetadataStorage()).getTargetValidationMetadatas(target, '', always, false, undefined);
}

/** `validator.validateSync(object, options)`, with class-validator's per-class rule lookup cached. */
export function validateCached(object: object, options: ValidatorOptions): ValidationError[] {
  // Re-entry (a custom constraint that decodes another config) finds the view already in place.
  if (active) return validator.validateSync(object, options);
  const holder = globalThis as StorageHolder;
  const real = getMetadataStorage();
  const view = viewOf(real, holder);
  if (view === undefined) return validator.validateSync(object, options);
  holder.classValidatorMetadataStorage = view;
  active = true;
  try {
    return validator.validateSync(object, options);
  } finally {
    active = false;
    holder.classValidatorMetadataStorage = real;
  }
}

/**
 * Whether `validator.validateSync(object, options)` would find nothing wrong, answered without building
 * class-validator's error tree: `true` only when every rule passes. `false` means "maybe not" (a rule
 * failed, a rule is asynchronous, an option or a rule kind this walk does not model): the caller then
 * runs {@link validateCached} for the errors. It follows class-validator's own walk (whitelist,
 * conditions, `isDefined`, custom constraints with `each`, nested objects and lists) on the same rules
 * and constraint functions, so a `true` here is a `[]` there.
 */
export function passesCached(object: object, options: ValidatorOptions): boolean {
  if (active || !plainOptions(options)) return false;
  const holder = globalThis as StorageHolder;
  const real = getMetadataStorage();
  const view = viewOf(real, holder);
  if (view === undefined) return false;
  // Custom constraints see the same storage as in validateCached (one may decode another config).
  holder.classValidatorMetadataStorage = view;
  active = true;
  try {
    return passesObject(view, object, options.whitelist === true);
  } finally {
    // Nothing validated stays reachable from the shared arguments.
    ARGS.object = undefined;
    ARGS.value = undefined;
    ARGS.constraints = NO_CONSTRAINTS;
    active = false;
    holder.classValidatorMetadataStorage = real;
  }
}

/** Frozen option objects already read by {@link plainOptions} (decodes pass the same few each time). */
const plainAnswers = new WeakMap<ValidatorOptions, boolean>();

/** The options {@link passesCached} models: whitelisting (refusing or not), no groups, no skipping. */
function plainOptions(options: ValidatorOptions): boolean {
  // A frozen options object (its nested values included, read below only at the top level) cannot change.
  if (!Object.isFrozen(options)) return readPlainOptions(options);
  let answer = plainAnswers.get(options);
  if (answer === undefined) {
    answer = readPlainOptions(options);
    plainAnswers.set(options, answer);
  }
  return answer;
}

function readPlainOptions(options: ValidatorOptions): boolean {
  for (const key of Object.keys(options)) {
    const value = (options as Record<string, unknown>)[key];
    if (key === 'whitelist' || key === 'validationError') continue;
    if (key === 'forbidUnknownValues' && value === false) continue;
    // Stripping (whitelist without forbidNonWhitelisted) changes the object: leave it to class-validator.
    if (key === 'forbidNonWhitelisted' && value === true) continue;
    return false;
  }
  return options.forbidUnknownValues === false && (options.whitelist !== true || options.forbidNonWhitelisted === true);
}

type Metadata = Metadatas[number];
type Constraints = ReturnType<MetadataStorage['getTargetValidatorConstraints']>;

/**
 * One rule of a property with its constraints: class-validator keeps a constraint class's list in
 * place once registered (later ones are pushed onto it), so a non-empty list is kept; an empty one
 * is looked up again on each use.
 */
interface Rule {
  readonly metadata: Metadata;
  constraints: Constraints | undefined;
}

/** One property's rules, as the yes/no walk uses them. */
interface PropertyRules {
  readonly name: string;
  /** `@ValidateIf` / `@IsOptional` conditions: when one says no, the property is not checked. */
  readonly conditional: readonly Metadata[];
  /** `@IsDefined` rules, then custom constraints: class-validator runs them in that order. */
  readonly checks: readonly Rule[];
  /** Whether `@ValidateNested` is declared: the value (each item of a list, set or map) is walked. */
  readonly nested: boolean;
}

/** A class's rules as one lookup answered them, split per property; `properties` null when not modelled. */
interface ClassRules {
  readonly metadatas: Metadatas;
  readonly grouped: Grouped;
  readonly properties: readonly PropertyRules[] | null;
}

const classRules = new WeakMap<object, ClassRules>();

/** The rules of a grouped lookup, split per property; `null` when one is of a kind not modelled here. */
function splitRules(grouped: Grouped): readonly PropertyRules[] | null {
  const properties: PropertyRules[] = [];
  for (const name of Object.keys(grouped)) {
    const all = grouped[name] ?? [];
    const defined: Rule[] = [];
    const custom: Rule[] = [];
    const conditional: Metadata[] = [];
    let nested = false;
    for (const metadata of all) {
      if (metadata.type === ValidationTypes.IS_DEFINED) defined.push({ metadata, constraints: undefined });
      else if (metadata.type === ValidationTypes.CUSTOM_VALIDATION) custom.push({ metadata, constraints: undefined });
      else if (metadata.type === ValidationTypes.NESTED_VALIDATION) nested = true;
      else if (metadata.type === ValidationTypes.CONDITIONAL_VALIDATION) conditional.push(metadata);
      else if (metadata.type !== ValidationTypes.WHITELIST) return null;
    }
    properties.push({ name, conditional, checks: [...defined, ...custom], nested });
  }
  return properties;
}

/** The split rules of `target` for the lookup `metadatas` (the view answers the same array until rules change). */
function rulesOf(view: MetadataStorage, target: (new () => object) | undefined): ClassRules {
  const metadatas = view.getTargetValidationMetadatas(target as new () => object, '', false, false, undefined);
  const known = typeof target === 'function' ? classRules.get(target) : undefined;
  if (known !== undefined && known.metadatas === metadatas) return known;
  const grouped = view.groupByPropertyName(metadatas);
  const rules: ClassRules = { metadatas, grouped, properties: splitRules(grouped) };
  if (typeof target === 'function') classRules.set(target, rules);
  return rules;
}

/** class-validator's `execute` on one object, as a yes/no. */
function passesObject(view: MetadataStorage, object: object, whitelist: boolean): boolean {
  const { grouped, properties } = rulesOf(view, object.constructor as (new () => object) | undefined);
  if (properties === null) return false;
  if (whitelist) {
    // for-in also visits enumerable keys the object inherits: one without rules is a "maybe not",
    // never a wrong yes. It reads the keys without making a list of them.
    for (const key in object) {
      const rules = grouped[key];
      if (!rules || rules.length === 0) return false;
    }
  }
  // The name constraints see as `targetName`, read once per object and only when a constraint runs.
  let targetName: string | undefined;
  for (let i = 0; i < properties.length; i++) {
    const rules = properties[i] as PropertyRules;
    const value: unknown = (object as Record<string, unknown>)[rules.name];
    if (value instanceof Promise) return false;
    if (!applies(object, value, rules.conditional)) continue;
    if (rules.checks.length > 0) {
      targetName ??= (object.constructor as { name?: string } | undefined)?.name as string;
      if (!passesChecks(view, object, value, rules.checks, targetName)) return false;
    }
    if (rules.nested && !passesNested(view, value, whitelist)) return false;
  }
  return true;
}

/** Whether every condition of a property holds (class-validator skips the property otherwise). */
function applies(object: object, value: unknown, conditional: readonly Metadata[]): boolean {
  for (let i = 0; i < conditional.length; i++) {
    const metadata = conditional[i] as Metadata;
    if (!(metadata.constraints[0] as (object: object, value: unknown) => boolean)(object, value)) return false;
  }
  return true;
}

/** class-validator's `nestedValidations` on one value, as a yes/no: lists, sets and maps item by item. */
function passesNested(view: MetadataStorage, value: unknown, whitelist: boolean): boolean {
  if (value === undefined) return true;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) if (!passesNested(view, value[i], whitelist)) return false;
    return true;
  }
  if (value instanceof Set || value instanceof Map) {
    for (const item of value.values()) if (!passesNested(view, item, whitelist)) return false;
    return true;
  }
  return value instanceof Object && passesObject(view, value, whitelist);
}

/**
 * The arguments a constraint's `validate` gets, filled in before each call: one object for the whole
 * walk, not one per rule (a decode checks a few dozen). A constraint has it for the duration of its
 * call, as class-validator gives one object to every item of an `each` rule; the walk is synchronous
 * and not re-entered (see `active`), and {@link passesCached} empties it when done.
 */
const ARGS: { targetName: string; property: string; object: unknown; value: unknown; constraints: unknown[] } = {
  targetName: '',
  property: '',
  object: undefined,
  value: undefined,
  constraints: [],
};
const NO_CONSTRAINTS: unknown[] = [];

// eslint-disable-next-line @typescript-eslint/max-params -- class-validator's customValidations, plus the name it passes
function passesChecks(
  view: MetadataStorage,
  object: object,
  value: unknown,
  rules: readonly Rule[],
  targetName: string,
): boolean {
  for (let r = 0; r < rules.length; r++) {
    const rule = rules[r] as Rule;
    const metadata = rule.metadata;
    if (metadata.validateIf !== undefined && !metadata.validateIf(object, value)) continue;
    let constraints = rule.constraints;
    if (constraints === undefined) {
      constraints = view.getTargetValidatorConstraints(metadata.constraintCls);
      if (constraints.length > 0) rule.constraints = constraints;
    }
    for (let c = 0; c < constraints.length; c++) {
      const constraint = constraints[c] as Constraints[number];
      // An asynchronous rule is skipped by validateSync; leave such a class to it.
      if (constraint.async) return false;
      const args = ARGS;
      args.targetName = targetName;
      args.property = metadata.propertyName;
      args.object = object;
      args.value = value;
      args.constraints = metadata.constraints;
      const instance = constraint.instance as { validate(value: unknown, args: unknown): unknown };
      if (!metadata.each || !(Array.isArray(value) || value instanceof Set || value instanceof Map)) {
        const valid = instance.validate(value, args);
        if (valid instanceof Promise || !valid) return false;
        continue;
      }
      const items: unknown[] = value instanceof Map ? [...value.values()] : Array.isArray(value) ? value : [...value];
      for (const item of items) {
        const valid = instance.validate(item, args);
        if (valid instanceof Promise || !valid) return false;
      }
    }
  }
  return true;
}

const HAS_INSTANCE = Function.prototype[Symbol.hasInstance];

/**
 * Whether `x instanceof key` is decided by `key.prototype` alone and that can never change: a class
 * (its `prototype` neither writable nor configurable) that does not define `Symbol.hasInstance`.
 */
function plainClass(key: unknown): key is { readonly prototype: object } {
  if (typeof key !== 'function') return false;
  const descriptor = Object.getOwnPropertyDescriptor(key, 'prototype');
  return (
    descriptor !== undefined &&
    descriptor.writable === false &&
    descriptor.configurable === false &&
    typeof descriptor.value === 'object' &&
    descriptor.value !== null &&
    (key as { [Symbol.hasInstance]?: unknown })[Symbol.hasInstance] === HAS_INSTANCE
  );
}

/**
 * For a class, the part of class-validator's rule map (decorated class → rules) that its lookup
 * would use: the class's own rules and those of every key `target.prototype instanceof key` holds
 * for, in the map's order. class-validator finds them by testing every decorated class of the
 * process, so each class's first lookup cost as much as there are classes; here the plain classes
 * are indexed by their prototype, and a class's chain is walked instead. Keys that are not plain
 * classes are passed along for class-validator to test as it does. `undefined` when `target` is not
 * a plain class itself (then the whole map is used).
 */
function ancestryOf(rules: Map<unknown, unknown[]>): (target: unknown) => Map<unknown, unknown[]> | undefined {
  const byPrototype = new Map<object, number>();
  /** The map's keys indexed so far, in its order. */
  const keys: unknown[] = [];
  /** Positions (in `keys`) of the keys that are not plain classes. */
  const unusual: number[] = [];
  // class-validator only adds to the map. A map iterator that has not reported its end goes on to
  // entries added later, so each new key is read once: a process that defines and decodes classes
  // one after another does not index the ones before again each time.
  let reading = rules.keys();
  const reset = (): void => {
    byPrototype.clear();
    keys.length = 0;
    unusual.length = 0;
    reading = rules.keys();
  };
  const index = (): void => {
    // Fewer keys than read, or an iterator at its end too soon: something was deleted, so index anew.
    if (rules.size < keys.length) reset();
    while (keys.length < rules.size) {
      const next = reading.next();
      if (next.done === true) {
        reset();
        continue;
      }
      const key = next.value;
      if (plainClass(key)) byPrototype.set(key.prototype, keys.length);
      else unusual.push(keys.length);
      keys.push(key);
    }
  };
  return (target) => {
    if (!plainClass(target)) return undefined;
    index();
    const positions = [...unusual];
    const own = byPrototype.get(target.prototype);
    if (own !== undefined) positions.push(own);
    for (
      let p = Object.getPrototypeOf(target.prototype) as object | null;
      p !== null;
      p = Object.getPrototypeOf(p) as object | null
    ) {
      const position = byPrototype.get(p);
      if (position !== undefined) positions.push(position);
    }
    positions.sort((a, b) => a - b);
    const narrowed = new Map<unknown, unknown[]>();
    for (const position of positions) {
      const key = keys[position];
      narrowed.set(key, rules.get(key) ?? []);
    }
    return narrowed;
  };
}

/** The fields of class-validator's constraint record, besides `instance` (a getter on its prototype). */
const KNOWN_FIELDS = /^target,name,async$/;

/** A constraint record with an instance of its own, made once: the same fields, in one shape for all. */
class KeptConstraint {
  readonly target: Constraints[number]['target'];
  readonly name: string;
  readonly async: boolean;
  readonly instance: Constraints[number]['instance'];

  constructor(real: Constraints[number]) {
    this.target = real.target;
    this.name = real.name;
    this.async = real.async;
    // Made here, not asked of the container: class-validator's default container finds an instance
    // by searching all it has made, so asking cost as much as there are decorators in the process.
    this.instance = new (real.target as new () => Constraints[number]['instance'])();
  }
}

/**
 * The source text of the class class-validator wraps a validator object in (`registerDecorator` with
 * `validator: { validate }`, which every built-in decorator uses), read off one it makes for a probe
 * that is then forgotten; null when it cannot be found.
 */
function readWrapperSource(real: MetadataStorage): string | null {
  try {
    class Probe {}
    registerDecorator({
      name: 'kindlingProbe',
      target: Probe,
      propertyName: 'probe',
      validator: { validate: () => true },
    });
    const [metadata] = real.getTargetValidationMetadatas(Probe, '', false, false, undefined);
    const wrapper = metadata?.constraintCls;
    const maps = real as unknown as { validationMetadatas?: unknown; constraintMetadatas?: unknown };
    if (maps.validationMetadatas instanceof Map) maps.validationMetadatas.delete(Probe);
    if (maps.constraintMetadatas instanceof Map) maps.constraintMetadatas.delete(wrapper);
    return typeof wrapper === 'function' ? Function.prototype.toString.call(wrapper) : null;
  } catch {
    return null;
  }
}

function createCachingView(real: MetadataStorage, holder: StorageHolder): MetadataStorage | undefined {
  const byTarget = (real as unknown as { validationMetadatas?: unknown }).validationMetadatas;
  if (!(byTarget instanceof Map) || holder.classValidatorMetadataStorage !== real) return undefined;
  const rules = byTarget as Map<unknown, unknown[]>;
  const lookups = new WeakMap<object, CachedLookup>();
  const grouped = new WeakMap<Metadatas, Grouped>();

  const isCurrent = (lookup: CachedLookup): boolean => {
    if (rules.size !== lookup.targets) return false;
    for (let i = 0; i < lookup.sources.length; i++) {
      if (lookup.sources[i]?.length !== lookup.lengths[i]) return false;
    }
    return true;
  };

  const ancestry = ancestryOf(rules);

  /** class-validator's own lookup, asked of a storage that holds only the rules in `narrowed` (when given). */
  const lookUp = (
    narrowed: Map<unknown, unknown[]> | undefined,
    ...args: Parameters<MetadataStorage['getTargetValidationMetadatas']>
  ): Metadatas => {
    const storage =
      narrowed === undefined
        ? real
        : (Object.create(real, { validationMetadatas: { value: narrowed } }) as MetadataStorage);
    return real.getTargetValidationMetadatas.apply(storage, args);
  };

  const compute = (target: new () => object): CachedLookup => {
    const narrowed = ancestry(target);
    const sources: unknown[][] = [];
    for (const [key, list] of narrowed ?? rules) {
      if (key === target || (typeof key === 'function' && target.prototype instanceof key)) sources.push(list);
    }
    const metadatas = lookUp(narrowed, target, '', false, false, undefined);
    grouped.set(metadatas, real.groupByPropertyName(metadatas));
    return { metadatas, targets: rules.size, sources, lengths: sources.map((list) => list.length) };
  };

  // class-validator asks its container for a constraint's instance on every check, and the default
  // container finds it by a linear search through every instance made so far (one per decorator
  // used): a decode would cost more the more config classes the process has. A wrapper class holds
  // nothing but the decorator's validator, so any instance of it does the same: one is made once
  // and kept, in a copy of the constraint record.
  // Constraint classes a user writes (`@ValidatorConstraint`) are asked for on each check, as
  // class-validator asks, since a container set with `useContainer` may make one per call.
  const wrapperSource = readWrapperSource(real);
  const wrappers = new WeakMap<object, boolean>();
  const isWrapper = (target: unknown): boolean => {
    if (typeof target !== 'function' || wrapperSource === null) return false;
    let answer = wrappers.get(target);
    if (answer === undefined) {
      answer = Function.prototype.toString.call(target) === wrapperSource;
      wrappers.set(target, answer);
    }
    return answer;
  };
  const kept = new WeakMap<Constraints, Constraints>();

  const view = Object.create(real) as MetadataStorage;
  Object.defineProperties(view, {
    getTargetValidatorConstraints: {
      value(target: object): Constraints {
        const list = real.getTargetValidatorConstraints(target as never);
        // A wrapper class is made by one registerDecorator call and has exactly one constraint.
        if (list.length !== 1 || !isWrapper(target)) return list;
        let keeping = kept.get(list);
        if (keeping === undefined) {
          const constraint = list[0] as Constraints[number];
          keeping = KNOWN_FIELDS.test(Object.keys(constraint).join()) ? [new KeptConstraint(constraint)] : list;
          kept.set(list, keeping);
        }
        return keeping;
      },
    },
    getTargetValidationMetadatas: {
      // eslint-disable-next-line @typescript-eslint/max-params -- class-validator's own signature, overridden
      value(
        target: (new (...args: never[]) => unknown) | undefined,
        schema: string,
        always: boolean,
        strictGroups: boolean,
        groups?: string[],
      ): Metadatas {
        // Only the plain case is cached: a class target, no groups. The schema name does not matter
        // for a class target (its rules are stored under the class itself).
        if (typeof target !== 'function') {
          return real.getTargetValidationMetadatas(target as never, schema, always, strictGroups, groups);
        }
        const type = target as new () => object;
        if (always || strictGroups || (groups !== undefined && groups.length > 0)) {
          return lookUp(ancestry(type), type, schema, always, strictGroups, groups);
        }
        let lookup = lookups.get(target);
        if (lookup === undefined || !isCurrent(lookup)) {
          lookup = compute(type);
          lookups.set(target, lookup);
        }
        return lookup.metadatas;
      },
    },
    groupByPropertyName: {
      value(metadatas: Metadatas): Grouped {
        return grouped.get(metadatas) ?? real.groupByPropertyName(metadatas);
      },
    },
  });
  return view;
}
