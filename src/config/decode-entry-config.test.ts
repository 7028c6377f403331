import { Type } from 'class-transformer';
import {
  Allow,
  getMetadataStorage,
  IsInt,
  IsObject,
  IsOptional,
  IsString,
  Min,
  ValidateIf,
  ValidateNested,
} from 'class-validator';
import { describe, expect, it } from 'vitest';
import { KindlingError } from '../common/errors.js';
import { createEntry, setEntrySource, type Entry, type EntryMeta, type EntrySource } from '../entry/entry.js';
import { ConfigError } from './config-error.js';
import { decodeEntryConfig, type ConfigValidationResult } from './decode-entry-config.js';

class Route {
  @IsString() path!: string;
  @IsString() @IsOptional() method?: string;
}

class ServiceConfig {
  @IsString() name!: string;
  @IsInt() @Min(1) port = 8080;
  @ValidateNested({ each: true }) @Type(() => Route) routes: Route[] = [];
}

class IdentifiedConfig {
  @IsString() id!: string;
  @IsObject() meta!: EntryMeta;
  @IsString() name!: string;
}

function entryOf(data: unknown, meta: EntryMeta = {}): Entry {
  return { id: 'app:api', kind: 'http.service', meta, data };
}

function decodeError(run: () => unknown): ConfigError {
  try {
    run();
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected a ConfigError, but decoding succeeded');
}

describe(decodeEntryConfig, () => {
  describe('defaults', () => {
    it('keeps field initialisers for keys the data leaves out', () => {
      const config = decodeEntryConfig(ServiceConfig, entryOf({ name: 'api' }));
      expect(config).toEqual(Object.assign(new ServiceConfig(), { name: 'api', port: 8080, routes: [] }));
    });

    it('keeps a field initialiser when the data sets the key to undefined', () => {
      const config = decodeEntryConfig(ServiceConfig, entryOf({ name: 'api', port: undefined }));
      expect(config.port).toBe(8080);
    });

    it('calls initDefaults() before validating', () => {
      class TimeoutConfig {
        @IsInt() @Min(1) timeout!: number;
        initDefaults(): void {
          if (this.timeout === undefined) this.timeout = 30;
        }
      }
      expect(decodeEntryConfig(TimeoutConfig, entryOf({})).timeout).toBe(30);
    });

    it('builds nested values as instances of their @Type class', () => {
      const config = decodeEntryConfig(ServiceConfig, entryOf({ name: 'api', routes: [{ path: '/a' }] }));
      expect(config.routes[0]).toBeInstanceOf(Route);
    });
  });

  describe('id and meta', () => {
    it('fills id and meta from the entry when the data leaves them out', () => {
      const config = decodeEntryConfig(IdentifiedConfig, entryOf({ name: 'api' }, { groups: ['web'] }));
      expect({ id: config.id, meta: config.meta }).toEqual({ id: 'app:api', meta: { groups: ['web'] } });
    });

    it('keeps the id and meta the data sets', () => {
      const config = decodeEntryConfig(IdentifiedConfig, entryOf({ id: 'own', meta: { a: 1 }, name: 'api' }));
      expect({ id: config.id, meta: config.meta }).toEqual({ id: 'own', meta: { a: 1 } });
    });

    it('adds no id or meta to a class that declares neither', () => {
      const config = decodeEntryConfig(ServiceConfig, entryOf({ name: 'api' }, { groups: ['web'] }));
      expect(Object.keys(config).sort()).toEqual(['name', 'port', 'routes']);
    });

    it('fills an id declared only by an initialiser without calling it an unknown key', () => {
      class InitialisedIdConfig {
        id = '';
        @IsString() name!: string;
      }
      expect(decodeEntryConfig(InitialisedIdConfig, entryOf({ name: 'api' })).id).toBe('app:api');
    });
  });

  describe('refusals', () => {
    it.each([undefined, null])('refuses missing data (%s)', (data) => {
      const error = decodeError(() => decodeEntryConfig(ServiceConfig, entryOf(data)));
      expect(error.issues).toEqual([{ path: 'data', message: 'configuration data is required' }]);
    });

    it('refuses data that is not an object', () => {
      const error = decodeError(() => decodeEntryConfig(ServiceConfig, entryOf(['api'])));
      expect(error.issues).toEqual([{ path: 'data', message: 'configuration data must be an object, not an array' }]);
    });

    it('refuses a nested value at its path', () => {
      const data = { name: 'api', routes: [{ path: 7 }] };
      const error = decodeError(() => decodeEntryConfig(ServiceConfig, entryOf(data)));
      expect(error.issues).toEqual([{ path: 'data.routes[0].path', message: 'path must be a string' }]);
    });

    it('reports every issue at once', () => {
      const data = { port: 0, routes: [{ path: '/' }, { path: 1 }], extra: true };
      const error = decodeError(() => decodeEntryConfig(ServiceConfig, entryOf(data)));
      expect(error.issues.map((issue) => issue.path).sort()).toEqual([
        'data.extra',
        'data.name',
        'data.port',
        'data.routes[1].path',
      ]);
    });

    it('refuses keys the class declares no decorator for, nested ones included', () => {
      const data = { name: 'api', colour: 'red', routes: [{ path: '/', verb: 'GET' }] };
      const error = decodeError(() => decodeEntryConfig(ServiceConfig, entryOf(data)));
      expect(error.issues).toEqual([
        { path: 'data.colour', message: 'unknown key "colour" (ServiceConfig declares no decorator for it)' },
        { path: 'data.routes[0].verb', message: 'unknown key "verb" (Route declares no decorator for it)' },
      ]);
    });

    it('shows the invisible characters of an unknown key escaped, in its message and its path (was: printed raw)', () => {
      const data = { name: 'api', 'po\u200brt': 80, routes: [] };
      const error = decodeError(() => decodeEntryConfig(ServiceConfig, entryOf(data)));
      expect(error.issues).toEqual([
        {
          path: 'data["po\\u200brt"]',
          message: 'unknown key "po\\u200brt" (ServiceConfig declares no decorator for it)',
        },
      ]);
      expect(error.message).toContain('data["po\\u200brt"]: unknown key "po\\u200brt"');
    });

    it('escapes the control characters of a message a config class gives', () => {
      class Noisy {
        validate(): string {
          return 'bad\u001b[2J value\nforged line';
        }
      }
      const error = decodeError(() => decodeEntryConfig(Noisy, entryOf({})));
      expect(error.issues).toEqual([{ path: 'data', message: 'bad\\u001b[2J value\\nforged line' }]);
    });

    it('does not count an undecorated field the data leaves out as an unknown key', () => {
      class CountedConfig {
        @IsString() name!: string;
        calls = 0;
      }
      expect(decodeEntryConfig(CountedConfig, entryOf({ name: 'api' })).calls).toBe(0);
    });

    it('refuses a key that names a method of the class', () => {
      class MethodConfig {
        @IsString() name!: string;
        initDefaults(): void {}
      }
      const error = decodeError(() => decodeEntryConfig(MethodConfig, entryOf({ name: 'api', initDefaults: 1 })));
      expect(error.issues).toEqual([
        {
          path: 'data.initDefaults',
          message: 'unknown key "initDefaults" (MethodConfig has a method or read-only property by that name)',
        },
      ]);
    });

    it('keeps unknown keys with allowUnknownKeys', () => {
      const config = decodeEntryConfig(ServiceConfig, entryOf({ name: 'api', colour: 'red' }), {
        allowUnknownKeys: true,
      });
      expect((config as ServiceConfig & { colour?: string }).colour).toBe('red');
    });

    it.each(['__proto__', 'constructor', 'prototype'])('refuses a "%s" key anywhere in the data', (key) => {
      const json = `{ "name": "api", "routes": [{ "path": "/", "${key}": { "polluted": true } }] }`;
      const data: unknown = JSON.parse(json);
      const error = decodeError(() => decodeEntryConfig(ServiceConfig, entryOf(data)));
      expect(error.issues).toEqual([{ path: `data.routes[0].${key}`, message: `forbidden key "${key}"` }]);
    });

    it('refuses with code INVALID, naming the entry and kind', () => {
      const error = decodeError(() => decodeEntryConfig(ServiceConfig, entryOf({})));
      expect(error).toBeInstanceOf(KindlingError);
      expect({ code: error.code, entryId: error.entryId, kind: error.kind }).toEqual({
        code: 'INVALID',
        entryId: 'app:api',
        kind: 'http.service',
      });
    });
  });

  describe('validation rules', () => {
    it('applies rules inherited from a base class', () => {
      class ExtendedConfig extends ServiceConfig {
        @IsString() region = 'eu';
      }
      const error = decodeError(() => decodeEntryConfig(ExtendedConfig, entryOf({ name: 1, region: 2 })));
      expect(error.issues.map((issue) => issue.path)).toEqual(['data.region', 'data.name']);
    });

    it('applies a rule added to a class after the class was first decoded', () => {
      class GrowingConfig {
        @IsString() name!: string;
        @Allow() size: unknown;
      }
      decodeEntryConfig(GrowingConfig, entryOf({ name: 'a', size: 'big' }));
      IsInt()(GrowingConfig.prototype, 'size');
      const error = decodeError(() => decodeEntryConfig(GrowingConfig, entryOf({ name: 'a', size: 'big' })));
      expect(error.issues).toEqual([{ path: 'data.size', message: 'size must be an integer number' }]);
    });

    it('refuses when a rule throws, keeping the error as the cause', () => {
      const fault = new Error('rule crashed');
      class FaultyConfig {
        @ValidateIf(() => {
          throw fault;
        })
        @IsString()
        name!: string;
      }
      const error = decodeError(() => decodeEntryConfig(FaultyConfig, entryOf({ name: 'a' })));
      expect({ issues: error.issues, cause: error.cause }).toEqual({
        issues: [{ path: 'data', message: 'a validation rule failed: rule crashed' }],
        cause: fault,
      });
    });

    it("leaves class-validator's metadata storage in place, also after a rule throws", () => {
      const storage = getMetadataStorage();
      class FaultyConfig {
        @ValidateIf(() => {
          throw new Error('rule crashed');
        })
        @IsString()
        name!: string;
      }
      decodeError(() => decodeEntryConfig(FaultyConfig, entryOf({ name: 'a' })));
      expect(getMetadataStorage()).toBe(storage);
    });
  });

  describe('validate() hook', () => {
    class HookConfig {
      @IsString() name!: string;
      @Allow() result: unknown;
      validate(): ConfigValidationResult {
        if (this.name === 'throw') throw new KindlingError('INVALID', 'name "throw" is reserved');
        return this.result as ConfigValidationResult;
      }
    }

    it('refuses with the message of an error the hook throws, kept as the cause', () => {
      const error = decodeError(() => decodeEntryConfig(HookConfig, entryOf({ name: 'throw' })));
      expect({ issues: error.issues, cause: (error.cause as Error).message }).toEqual({
        issues: [{ path: 'data', message: 'name "throw" is reserved' }],
        cause: 'name "throw" is reserved',
      });
    });

    it('refuses with a message the hook returns', () => {
      const error = decodeError(() => decodeEntryConfig(HookConfig, entryOf({ name: 'a', result: 'too small' })));
      expect(error.issues).toEqual([{ path: 'data', message: 'too small' }]);
    });

    it('refuses with every issue the hook returns, at the paths it names', () => {
      const result = [
        { path: 'routes[1].path', message: 'duplicate path' },
        { path: ['headers', 'x-id'], message: 'reserved header' },
      ];
      const error = decodeError(() => decodeEntryConfig(HookConfig, entryOf({ name: 'a', result })));
      expect(error.issues).toEqual([
        { path: 'data.routes[1].path', message: 'duplicate path' },
        { path: 'data.headers["x-id"]', message: 'reserved header' },
      ]);
    });

    it('accepts the config when the hook returns nothing', () => {
      expect(decodeEntryConfig(HookConfig, entryOf({ name: 'a' })).name).toBe('a');
    });

    it('is not called when the declarative validation fails', () => {
      const error = decodeError(() => decodeEntryConfig(HookConfig, entryOf({ name: 1, result: 'hook ran' })));
      expect(error.issues).toEqual([{ path: 'data.name', message: 'name must be a string' }]);
    });
  });

  describe('result', () => {
    it('is an instance of the class, frozen all the way down', () => {
      const config = decodeEntryConfig(ServiceConfig, entryOf({ name: 'api', routes: [{ path: '/' }] }));
      expect([
        config instanceof ServiceConfig,
        Object.isFrozen(config),
        Object.isFrozen(config.routes),
        Object.isFrozen(config.routes[0]),
      ]).toEqual([true, true, true, true]);
    });

    it('decodes a frozen entry made by createEntry', () => {
      const data = { name: 'api', routes: [{ path: '/' }] };
      const entry = createEntry({ id: 'app:api', kind: 'http.service', data });
      expect(decodeEntryConfig(ServiceConfig, entry).routes[0]?.path).toBe('/');
    });
  });

  describe('error location', () => {
    const source: EntrySource = {
      file: 'app/registry.yaml',
      line: 4,
      column: 5,
      locate: (path) => (path.join('.') === 'data.routes.0.path' ? { line: 9, column: 13 } : undefined),
    };

    function sourcedEntry(data: unknown): Entry {
      return setEntrySource(entryOf(data), source);
    }

    it('names the entry id, kind and file:line:col on the first line, then one line per issue', () => {
      const entry = sourcedEntry({ port: 0, routes: [{ path: 1 }] });
      const error = decodeError(() => decodeEntryConfig(ServiceConfig, entry));
      expect(error.message.split('\n')).toEqual([
        'invalid configuration of entry app:api (kind http.service) at app/registry.yaml:4:5: 3 issues',
        '  data.name: name must be a string (app/registry.yaml:4:5)',
        '  data.port: port must not be less than 1 (app/registry.yaml:4:5)',
        '  data.routes[0].path: path must be a string (app/registry.yaml:9:13)',
      ]);
    });

    it('carries the file and the position of each issue', () => {
      const entry = sourcedEntry({ name: 'api', routes: [{ path: 1 }] });
      const error = decodeError(() => decodeEntryConfig(ServiceConfig, entry));
      expect({ file: error.file, line: error.line, column: error.column, issues: error.issues }).toEqual({
        file: 'app/registry.yaml',
        line: 4,
        column: 5,
        issues: [{ path: 'data.routes[0].path', message: 'path must be a string', line: 9, column: 13 }],
      });
    });

    it('keeps the source of an entry that createEntry copied', () => {
      const input = setEntrySource({ id: 'app:api', kind: 'http.service', data: {} }, source);
      const error = decodeError(() => decodeEntryConfig(ServiceConfig, createEntry(input)));
      expect(error.message.split('\n')[0]).toContain('at app/registry.yaml:4:5');
    });
  });
});
