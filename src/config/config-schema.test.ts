import 'reflect-metadata';
import { Transform, Type } from 'class-transformer';
import {
  ArrayMinSize,
  IsBoolean,
  IsEnum,
  IsIn,
  IsInt,
  IsNotEmpty,
  IsNumber,
  IsOptional,
  IsString,
  Matches,
  Max,
  MaxLength,
  Min,
  ValidateNested,
} from 'class-validator';
import { describe, expect, it } from 'vitest';
import { Describe, configSchema } from './config-schema.js';

enum Mode {
  Fast = 'fast',
  Safe = 'safe',
}

class Route {
  @Describe('The path.')
  @IsString()
  @Matches(/^\//)
  path!: string;

  @IsIn(['GET', 'POST'])
  method = 'GET';
}

@Describe('A server.')
class ServerConfig {
  @IsString() id!: string;

  @Describe('Where to listen.')
  @IsString()
  @IsNotEmpty()
  @MaxLength(64)
  addr!: string;

  @IsInt() @Min(1) @Max(65535) port = 8080;
  @IsNumber() ratio = 0.5;
  @IsBoolean() verbose = false;
  @IsEnum(Mode) mode = Mode.Safe;
  @IsOptional() @IsString() host?: string;
  @ValidateNested({ each: true }) @Type(() => Route) @ArrayMinSize(1) routes: Route[] = [];
  @ValidateNested() @Type(() => Route) home!: Route;

  @Transform(({ value }: { value: unknown }) => (typeof value === 'string' ? value.toLowerCase() : value))
  @IsIn(['a', 'b'])
  letter = 'a';

  @Describe('Case as you like.', { type: 'string', pattern: '^[AaBb]$' })
  @Transform(({ value }: { value: unknown }) => (typeof value === 'string' ? value.toLowerCase() : value))
  @IsIn(['a', 'b'])
  other = 'a';

  @Matches(/^x$/i) caseless = 'x';
}

describe('configSchema', () => {
  const schema = configSchema(ServerConfig);
  const properties = schema['properties'] as Record<string, Record<string, unknown>>;

  it('describes the class and refuses other keys', () => {
    expect(schema).toMatchObject({ type: 'object', description: 'A server.', additionalProperties: false });
    expect(Object.keys(properties)).toEqual([
      'id',
      'addr',
      'port',
      'ratio',
      'verbose',
      'mode',
      'host',
      'routes',
      'home',
      'letter',
      'other',
      'caseless',
    ]);
  });

  it('requires the fields with neither a default nor @IsOptional (id is filled from the entry)', () => {
    expect(schema['required']).toEqual(['addr', 'home']);
  });

  it('turns decorators into types, bounds, enums and patterns, with defaults and descriptions', () => {
    expect(properties['addr']).toEqual({
      description: 'Where to listen.',
      type: 'string',
      minLength: 1,
      maxLength: 64,
    });
    expect(properties['port']).toEqual({ type: 'integer', minimum: 1, maximum: 65535, default: 8080 });
    expect(properties['ratio']).toEqual({ type: 'number', default: 0.5 });
    expect(properties['verbose']).toEqual({ type: 'boolean', default: false });
    expect(properties['mode']).toEqual({ enum: ['fast', 'safe'], default: 'safe' });
    expect(properties['host']).toEqual({ type: ['string', 'null'] });
  });

  it('describes nested classes, one or a list of them', () => {
    const route = {
      type: 'object',
      properties: {
        path: { description: 'The path.', type: 'string', pattern: '^\\/' },
        method: { enum: ['GET', 'POST'], default: 'GET' },
      },
      required: ['path'],
      additionalProperties: false,
    };
    expect(properties['routes']).toEqual({ type: 'array', minItems: 1, items: route, default: [] });
    expect(properties['home']).toEqual(route);
  });

  it('says nothing of a value a @Transform rewrites, unless Describe gives its schema', () => {
    expect(properties['letter']).toEqual({ default: 'a' });
    expect(properties['other']).toEqual({
      description: 'Case as you like.',
      type: 'string',
      pattern: '^[AaBb]$',
      default: 'a',
    });
  });

  it('leaves out a pattern whose flags JSON Schema cannot carry', () => {
    expect(properties['caseless']).toEqual({ default: 'x' });
  });

  it('stops at a class that contains itself', () => {
    class Tree {
      @ValidateNested({ each: true }) @Type(() => Tree) children: Tree[] = [];
    }
    const tree = configSchema(Tree);
    expect((tree['properties'] as Record<string, unknown>)['children']).toEqual({
      type: 'array',
      items: { type: 'object' },
      default: [],
    });
  });
});
