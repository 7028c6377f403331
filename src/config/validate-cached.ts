import {
  getMetadataStorage,
  Validator,
  type MetadataStorage,
  type ValidationError,
  type ValidatorOptions,
} from 'class-validator';

// Why this file exists: class-validator's `getTargetValidationMetadatas` scans every decorated class
// in the process (an `instanceof` test per class, to find inherited rules) for every object it
// validates, nested ones included. With a few hundred config classes that scan is most of the cost
// of a decode. The rules of one class only change when decorators are added, so we answer the lookup
// from a per-class cache, checked against the storage's counts on each use.
//
// class-validator reads its storage from a global when a validation starts; we point that global at
// a caching view of the real storage for the duration of one synchronous `validateSync` and restore
// it in `finally`. Everything but the two lookups below is inherited from the real storage, so rules
// added meanwhile land in the real one. When the storage does not look as expected (another
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

/** `validator.validateSync(object, options)`, with class-validator's per-class rule lookup cached. */
export function validateCached(object: object, options: ValidatorOptions): ValidationError[] {
  // Re-entry (a custom constraint that decodes another config) finds the view already in place.
  if (active) return validator.validateSync(object, options);
  const holder = globalThis as StorageHolder;
  const real = getMetadataStorage();
  if (installed?.real !== real) installed = { real, view: createCachingView(real, holder) };
  const view = installed.view;
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

  const compute = (target: { prototype: unknown }): CachedLookup => {
    const sources: unknown[][] = [];
    for (const [key, list] of rules) {
      if (key === target || (typeof key === 'function' && target.prototype instanceof key)) sources.push(list);
    }
    const metadatas = real.getTargetValidationMetadatas(target as new () => object, '', false, false, undefined);
    grouped.set(metadatas, real.groupByPropertyName(metadatas));
    return { metadatas, targets: rules.size, sources, lengths: sources.map((list) => list.length) };
  };

  const view = Object.create(real) as MetadataStorage;
  Object.defineProperties(view, {
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
        if (typeof target !== 'function' || always || strictGroups || (groups !== undefined && groups.length > 0)) {
          return real.getTargetValidationMetadatas(target as new () => object, schema, always, strictGroups, groups);
        }
        let lookup = lookups.get(target);
        if (lookup === undefined || !isCurrent(lookup)) {
          lookup = compute(target);
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
