import { plainToInstance, Transform, Type } from 'class-transformer';
import {
  Allow,
  ArrayNotEmpty,
  IsArray,
  IsIn,
  IsInt,
  IsOptional,
  IsString,
  Matches,
  MinLength,
  Min,
  ValidateBy,
  ValidateNested,
  type ValidationOptions,
} from 'class-validator';
import { quote } from 'kindling';
import type { ConfigProblem, ConfigValidationResult, LogLevel } from 'kindling';

/** The log levels a manifest may name. */
export const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error', 'silent'];

/** The limits of the registry YAML that `allow.yaml` may set. */
export const YAML_LIMIT_KEYS = ['maxFileBytes', 'maxDepth', 'maxAliasNodes', 'maxExpandedBytes'] as const;

const NON_EMPTY = 'must be a non-empty string';
const POSITIVE = 'must be a positive integer';
const MODULE_PATH = 'must be a path that starts with "./", "../" or "/"';
const NEEDS_NAME = 'a component item needs a name (a built-in component) or a module (a path to an ES module)';

/**
 * A list of non-empty strings, refused with one message: `listMessage` when it is not a list,
 * `itemsMessage` (with the places of the bad items) when some item is not a non-empty string.
 */
function IsPathList(listMessage: string, itemsMessage: string, options?: ValidationOptions): PropertyDecorator {
  const bad = (value: unknown): number[] =>
    Array.isArray(value)
      ? value.flatMap((item: unknown, i) => (typeof item === 'string' && item.length > 0 ? [] : [i]))
      : [];
  return ValidateBy(
    {
      name: 'isPathList',
      validator: {
        validate: (value: unknown) => Array.isArray(value) && bad(value).length === 0,
        defaultMessage: (args) => {
          if (!Array.isArray(args?.value)) return listMessage;
          const items = bad(args.value).map((i) => `[${i}]`);
          return `${itemsMessage}: ${items.length === 1 ? 'item' : 'items'} ${items.join(', ')} ${items.length === 1 ? 'is' : 'are'} not a non-empty string`;
        },
      },
    },
    options,
  );
}

/** A component item's name: required unless the item names a module, and a non-empty string. */
function IsComponentName(): PropertyDecorator {
  return ValidateBy({
    name: 'isComponentName',
    validator: {
      validate: (value: unknown, args) =>
        (value === undefined && (args?.object as ComponentItemConfig | undefined)?.module !== undefined) ||
        (typeof value === 'string' && value.length > 0),
      defaultMessage: (args) => (args?.value === undefined ? NEEDS_NAME : NON_EMPTY),
    },
  });
}

/** Whether a component item names a module (a path) rather than a built-in component. */
export function isModulePath(value: string): boolean {
  return value.startsWith('./') || value.startsWith('../') || value.startsWith('/');
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `allow.yaml`: limits of the app's registry YAML; the others keep their defaults. */
export class YamlLimitsConfig {
  @IsOptional()
  @IsInt({ message: POSITIVE })
  @Min(1, { message: POSITIVE })
  maxFileBytes?: number;

  @IsOptional()
  @IsInt({ message: POSITIVE })
  @Min(1, { message: POSITIVE })
  maxDepth?: number;

  @IsOptional()
  @IsInt({ message: POSITIVE })
  @Min(1, { message: POSITIVE })
  maxAliasNodes?: number;

  @IsOptional()
  @IsInt({ message: POSITIVE })
  @Min(1, { message: POSITIVE })
  maxExpandedBytes?: number;
}

/** `allow`: what the app opts in beyond its own directory and the default sizes of the files it reads. */
export class AllowConfig {
  /** Directories outside the app that paths may lead into, relative to the manifest. */
  @IsOptional()
  @IsPathList('must be a list of directories, relative to the manifest', 'must list directory paths')
  paths?: string[];

  /** The largest module file, in bytes. */
  @IsOptional()
  @IsInt({ message: `${POSITIVE} (bytes)` })
  @Min(1, { message: `${POSITIVE} (bytes)` })
  moduleBytes?: number;

  @IsOptional()
  @ValidateNested({ message: `must be a mapping of limits of the registry YAML: { ${YAML_LIMIT_KEYS.join(', ')} }` })
  @Type(() => YamlLimitsConfig)
  yaml?: YamlLimitsConfig;
}

/**
 * `cluster`: the app's registry is one registry shared by every node of the cluster, kept as a log
 * on NATS JetStream (see docs/cluster.md).
 */
export class ClusterConfig {
  /** The NATS server, e.g. `nats://127.0.0.1:4222` (`KINDLING_NATS_URL` when omitted). */
  @IsOptional()
  @IsString({ message: NON_EMPTY })
  @MinLength(1, { message: NON_EMPTY })
  nats?: string;

  /** The cluster's name: nodes with the same name share one registry (default: the manifest's `name`). */
  @IsOptional()
  @IsString({ message: NON_EMPTY })
  @Matches(/^[A-Za-z0-9_-]{1,64}$/, { message: 'must be 1 to 64 letters, digits, "_" or "-"' })
  name?: string;

  /** The subject prefix of the cluster's NATS subjects (default `kindling`). */
  @IsOptional()
  @IsString({ message: NON_EMPTY })
  @Matches(/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/, { message: 'must be NATS subject tokens joined by "."' })
  prefix?: string;
}

/**
 * One item of `components`: a built-in by `name`, or an ES module by `module`, with its config. A
 * plain string item reads as one of the two: a path as a module, anything else as a name.
 */
export class ComponentItemConfig {
  @IsComponentName()
  name?: string;

  @IsOptional()
  @IsString({ message: MODULE_PATH })
  @Matches(/^\.{0,2}\//, { message: MODULE_PATH })
  module?: string;

  /** The component's own config, decoded by the component. */
  @Allow()
  config?: unknown;
}

const ITEM_SHAPE =
  'a component item is a name ("http"), a module path ("./my-component.js") or { name?, module?, config? }';
const COMPONENTS_SHAPE = 'must be a non-empty list of component names or { name?, module?, config? } items';

/** A string item becomes the item it stands for; a mapping a {@link ComponentItemConfig}; anything else stays, to be refused. */
function toComponentItems({ value }: { value: unknown }): unknown {
  if (!Array.isArray(value)) return value;
  return value.map((item: unknown) => {
    if (typeof item === 'string' && item.length > 0)
      return plainToInstance(ComponentItemConfig, isModulePath(item) ? { module: item } : { name: item });
    if (isPlainObject(item)) return plainToInstance(ComponentItemConfig, item, { exposeDefaultValues: true });
    return item;
  });
}

/** A boot manifest (`kindling.yaml`), as written. */
export class ManifestConfig {
  @IsOptional()
  @IsString({ message: NON_EMPTY })
  @MinLength(1, { message: NON_EMPTY })
  name?: string;

  @IsOptional()
  @IsIn(LOG_LEVELS, { message: `must be one of ${LOG_LEVELS.join(', ')}` })
  log?: LogLevel;

  @IsArray({ message: COMPONENTS_SHAPE })
  @ArrayNotEmpty({ message: COMPONENTS_SHAPE })
  @ValidateNested({ each: true, message: ITEM_SHAPE })
  @Transform(toComponentItems, { toClassOnly: true })
  components!: ComponentItemConfig[];

  @IsOptional()
  @IsPathList(
    'must be a list of YAML files or directories, relative to the manifest',
    'must list paths to YAML files or directories',
  )
  registry?: string[];

  @IsOptional()
  @ValidateNested({
    message:
      'must be a mapping: { paths: [directories outside the app], moduleBytes: <largest module in bytes>, yaml: { <registry YAML limits> } }',
  })
  @Type(() => AllowConfig)
  allow?: AllowConfig;

  @IsOptional()
  @ValidateNested({
    message: 'must be a mapping: { nats: <NATS URL>, name: <cluster name>, prefix: <subject prefix> }',
  })
  @Type(() => ClusterConfig)
  cluster?: ClusterConfig;

  /** What the declarative checks cannot say: a component listed twice. */
  validate(): ConfigValidationResult {
    const problems: ConfigProblem[] = [];
    if (Array.isArray(this.cluster))
      problems.push({
        path: ['cluster'],
        message: 'must be a mapping: { nats: <NATS URL>, name: <cluster name>, prefix: <subject prefix> }',
      });
    const seen = new Map<string, number>();
    this.components.forEach((item, index) => {
      if (item.name === undefined) return;
      const first = seen.get(item.name);
      if (first === undefined) seen.set(item.name, index);
      else
        problems.push({
          path: ['components', index],
          message: `component ${quote(item.name)} is listed twice (first at components[${first}])`,
        });
    });
    return problems;
  }
}

/** The keys each part of a manifest may hold, by the path of that part (`components[n]` as `components.*`). */
export const MANIFEST_KEYS: ReadonlyMap<string, readonly string[]> = new Map<string, readonly string[]>([
  ['', ['name', 'log', 'components', 'registry', 'allow', 'cluster']],
  ['components.*', ['name', 'module', 'config']],
  ['allow', ['paths', 'moduleBytes', 'yaml']],
  ['allow.yaml', YAML_LIMIT_KEYS],
  ['cluster', ['nats', 'name', 'prefix']],
]);
