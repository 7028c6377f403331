import { plainToInstance, Type } from 'class-transformer';
import {
  Allow,
  ArrayMinSize,
  IsDefined,
  IsIn,
  IsInt,
  IsOptional,
  IsString,
  Max,
  Min,
  getMetadataStorage,
  registerDecorator,
  useContainer,
  Validate,
  ValidateIf,
  ValidateNested,
  validateSync,
  ValidatorConstraint,
  type ValidationArguments,
  type ValidatorConstraintInterface,
  type ValidatorOptions,
} from 'class-validator';
import { afterEach, describe, expect, it } from 'vitest';
import { passesCached, validateCached, validationMetadatasOf } from './validate-cached.js';

class Leaf {
  @IsString() path!: string;
  @IsIn(['GET', 'POST']) @IsOptional() method?: string;
}

class Tree {
  @IsString() @IsOptional() id?: string;
  @Allow() free?: unknown;
  @IsInt() @Min(1) @Max(10) count = 1;
  @IsString({ each: true }) @IsOptional() tags?: string[];
  @ValidateNested({ each: true }) @Type(() => Leaf) @ArrayMinSize(0) leaves: Leaf[] = [];
  @ValidateNested() @Type(() => Leaf) @IsOptional() main?: Leaf;
  @ValidateNested() @IsOptional() untyped?: object;
  @IsDefined() @ValidateIf((tree: Tree) => tree.count > 5) needed?: string;
}

function Eventually(): PropertyDecorator {
  return (target, propertyName) =>
    registerDecorator({
      name: 'eventually',
      target: target.constructor,
      propertyName: propertyName as string,
      async: true,
      validator: { validate: async () => Promise.resolve(false) },
    });
}

class Later {
  @Eventually() value = 1;
}

const STRICT: ValidatorOptions = { whitelist: true, forbidNonWhitelisted: true, forbidUnknownValues: false };
const LENIENT: ValidatorOptions = { forbidUnknownValues: false };

const cases: Record<string, unknown>[] = [
  {},
  { count: 3 },
  { count: 0 },
  { count: 11 },
  { count: '3' },
  { id: 7 },
  { free: { anything: [1, 2] } },
  { tags: ['a', 'b'] },
  { tags: ['a', 2] },
  { tags: 'a' },
  { leaves: [{ path: '/a' }, { path: '/b', method: 'POST' }] },
  { leaves: [{ path: '/a', method: 'PUT' }] },
  { leaves: [{ path: 1 }] },
  { leaves: ['not an object'] },
  { leaves: [{ path: '/a', extra: true }] },
  { leaves: [[{ path: '/a' }]] },
  { main: { path: '/m' } },
  { main: null },
  { main: 'text' },
  { untyped: {} },
  { untyped: { key: 1 } },
  { count: 6 },
  { count: 6, needed: 'yes' },
  { count: 6, needed: 5 },
  { unknown: 1 },
];

describe('passesCached', () => {
  for (const [name, options] of [
    ['strict', STRICT],
    ['lenient', LENIENT],
  ] as const) {
    it(`says yes exactly when class-validator finds nothing (${name})`, () => {
      for (const data of cases) {
        const instance = plainToInstance(Tree, data, { exposeDefaultValues: true });
        const expected = validateSync(instance, options).length === 0;
        expect({ data, passes: passesCached(instance, options) }).toEqual({ data, passes: expected });
        expect(validateCached(instance, options).length === 0).toBe(expected);
      }
    });
  }

  it('leaves asynchronous rules and options it does not model to class-validator', () => {
    expect(passesCached(new Later(), STRICT)).toBe(false);
    const instance = plainToInstance(Tree, { count: 2 });
    expect(passesCached(instance, STRICT)).toBe(true);
    expect(passesCached(instance, { ...STRICT, groups: ['a'] })).toBe(false);
    expect(passesCached(instance, { whitelist: true, forbidUnknownValues: false })).toBe(false);
    expect(passesCached(instance, { skipMissingProperties: true, forbidUnknownValues: false })).toBe(false);
  });

  it('sees a rule added to a class after its first check', () => {
    class Growing {
      @IsInt() count = 0;
      label = 'x';
    }
    const instance = new Growing();
    expect(passesCached(instance, LENIENT)).toBe(true);
    expect(passesCached(instance, STRICT)).toBe(false);
    IsString()(Growing.prototype, 'label');
    expect(passesCached(instance, STRICT)).toBe(true);
    Min(1)(Growing.prototype, 'count');
    expect(passesCached(instance, STRICT)).toBe(false);
    expect(validateSync(instance, STRICT).length).toBeGreaterThan(0);
    instance.count = 2;
    expect(passesCached(instance, STRICT)).toBe(true);
  });

  it('gives each constraint the arguments class-validator gives it', () => {
    const seen: string[] = [];
    function Recorded(): PropertyDecorator {
      return (target, propertyName) =>
        registerDecorator({
          name: 'recorded',
          target: target.constructor,
          propertyName: propertyName as string,
          constraints: [propertyName],
          options: { each: true },
          validator: {
            validate: (value: unknown, args?: ValidationArguments) => {
              const { targetName, property, object, constraints } = args as ValidationArguments;
              seen.push(JSON.stringify({ value, targetName, property, object, constraints }));
              return true;
            },
          },
        });
    }
    class Recording {
      @Recorded() first = 'a';
      @Recorded() second = ['b', 'c'];
      @IsInt() @Min(0) count = 1;
    }
    const instance = new Recording();
    validateSync(instance, STRICT);
    const expected = [...seen];
    seen.length = 0;
    expect(passesCached(instance, STRICT)).toBe(true);
    expect(seen).toEqual(expected);
    expect(seen).toHaveLength(3);
  });

  describe('with a container set by useContainer', () => {
    afterEach(() => useContainer(undefined as never));

    it('asks it for a constraint class a user wrote on every check, and never for a built-in rule', () => {
      let made = 0;
      @ValidatorConstraint({ name: 'even' })
      class Even implements ValidatorConstraintInterface {
        readonly serial = ++made;
        validate(value: unknown): boolean {
          return typeof value === 'number' && value % 2 === 0;
        }
      }
      class Counted {
        @Validate(Even) @IsInt() @Min(0) count = 2;
      }
      const asked: string[] = [];
      // A container that makes a fresh instance per call (inversify's transient scope does).
      useContainer({
        get: <T>(someClass: new () => T): T => {
          asked.push(someClass.name);
          return new someClass();
        },
      });
      const instance = new Counted();
      expect(passesCached(instance, STRICT)).toBe(true);
      expect(passesCached(instance, STRICT)).toBe(true);
      expect(made).toBe(2);
      expect(asked.filter((name) => name === 'Even')).toHaveLength(2);
      // IsInt and Min: class-validator's own wrapper classes, whose instances are all alike, made once.
      expect(asked.filter((name) => name !== 'Even')).toEqual([]);
      // class-validator's own walk, which reports the errors, goes through the same records.
      instance.count = 3;
      expect(passesCached(instance, STRICT)).toBe(false);
      asked.length = 0;
      expect(validateCached(instance, STRICT).map((error) => Object.keys(error.constraints ?? {}))).toEqual([['even']]);
      // (class-validator asks for Even's instance twice there: to validate, then for its message.)
      expect(new Set(asked)).toEqual(new Set(['Even']));
    });
  });
});

describe('validationMetadatasOf', () => {
  const classValidator = (target: new () => object, always = false): unknown[] =>
    getMetadataStorage().getTargetValidationMetadatas(target, '', always, false, undefined);

  it('finds the rules a class inherits, in the order class-validator gives them', () => {
    class Base {
      @IsString() name = '';
      @IsInt() size = 0;
    }
    class Unrelated {
      @IsString() name = '';
    }
    class Middle extends Base {
      @Min(1) override size = 1;
      @IsString({ always: true }) label = '';
    }
    class Leaf extends Middle {
      @IsString() override name = 'leaf';
      @IsOptional() @IsInt() extra?: number;
    }
    // A constructor that is not a class: its prototype may be replaced, so class-validator tests it as it does.
    function Legacy(): void {}
    registerDecorator({ name: 'legacy', target: Legacy, propertyName: 'old', validator: { validate: () => true } });
    class FromLegacy extends (Legacy as unknown as new () => object) {
      @IsString() fresh = '';
    }
    for (const target of [Base, Middle, Leaf, Unrelated, Legacy as unknown as new () => object, FromLegacy]) {
      for (const always of [false, true]) {
        expect(validationMetadatasOf(target, always)).toEqual(classValidator(target, always));
      }
    }
    expect(validationMetadatasOf(FromLegacy).map((rule) => rule.propertyName)).toEqual(['fresh', 'old']);
    expect(validationMetadatasOf(Leaf).map((rule) => `${rule.propertyName}:${rule.name ?? rule.type}`)).toEqual([
      'name:isString',
      'extra:isInt',
      'extra:isOptional',
      'size:isInt',
      'size:min',
      'label:isString',
    ]);
  });

  it('sees a class that extends one already looked up, and rules added to an ancestor', () => {
    class First {
      @IsString() a = '';
    }
    expect(validationMetadatasOf(First)).toEqual(classValidator(First));
    class Second extends First {
      @IsInt() b = 0;
    }
    expect(validationMetadatasOf(Second)).toEqual(classValidator(Second));
    IsInt()(First.prototype, 'c');
    expect(validationMetadatasOf(Second)).toEqual(classValidator(Second));
    expect(validationMetadatasOf(Second)).toHaveLength(3);
  });
});
