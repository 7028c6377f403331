import { stat } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  ConfigError,
  decodeEntryConfig,
  FileAccessError,
  FileBoundary,
  escapeInvisible,
  KindlingError,
  messageOf,
  quote,
  readBoundedFile,
} from 'kindling';
import { setEntrySource } from '../../src/entry/entry.js';
import {
  DEFAULT_MAX_ALIAS_NODES,
  DEFAULT_MAX_DEPTH,
  DEFAULT_MAX_EXPANDED_BYTES,
} from '../../src/yaml/registry-yaml.js';
import { DEFAULT_MAX_MODULE_BYTES } from '../../src/common/file-boundary.js';
import { checkBoundedFile } from '../../src/common/read-bounded-file.js';
import { findInvalidUtf8 } from '../../src/common/utf8.js';
import { readProblems, withoutByteOrderMark } from '../../src/yaml/text-problems.js';
import { YamlGuard } from '../../src/yaml/yaml-guard.js';
import { readYamlDetailed } from '../../src/yaml/yaml-reader.js';
import { MANIFEST_KEYS, ManifestConfig, YAML_LIMIT_KEYS } from './manifest-config.js';
import type { EntrySource, LogLevel, RegistryYamlLimits, YamlReadLimits } from 'kindling';
import { defineComponent, isComponent } from '../kernel/component.js';
import type { Component } from '../kernel/component.js';

/** The file a directory given to `kindling run` must contain. */
export const MANIFEST_FILE = 'kindling.yaml';

/** One problem of a boot manifest, at its position. */
export interface ManifestProblem {
  readonly file: string;
  readonly line: number;
  readonly column: number;
  readonly message: string;
}

/**
 * A boot manifest that cannot be used: every problem found, each at its file:line:col. Code
 * `INVALID`.
 */
export class ManifestError extends KindlingError {
  readonly problems: readonly ManifestProblem[];

  constructor(found: readonly ManifestProblem[], options: { cause?: unknown } = {}) {
    // A message never hides its cause: invisible and control characters are shown escaped.
    const problems = found.map((p) => ({ ...p, message: escapeInvisible(p.message) }));
    const lines = problems.map((p) => `${escapeInvisible(p.file)}:${p.line}:${p.column}: ${p.message}`);
    const message =
      problems.length === 1
        ? (lines[0] as string)
        : `boot manifest has ${problems.length} problems:\n  ${lines.join('\n  ')}`;
    super('INVALID', message, { cause: options.cause, details: { problems } });
    this.problems = problems;
  }
}

/** One component named by a manifest. */
export interface ManifestComponent {
  /** The component's name (for a module, the one given in the manifest, if any). */
  readonly name: string | undefined;
  /** The absolute path of the module that exports the component, for app components. */
  readonly module: string | undefined;
  /** The raw config (undefined when the manifest gave none). */
  readonly config: unknown;
  /** Where the item was written; `locate(['data', ...])` finds a path under its config. */
  readonly source: EntrySource;
}

/**
 * A parsed boot manifest.
 *
 * @example
 * # kindling.yaml
 * name: hello
 * log: info
 * components:
 *   - events
 *   - registry
 *   - function
 *   - http
 *   - module: ./changelog.js
 *     config: { prefix: "[change]" }
 * registry:
 *   - ./registry
 * allow:
 *   paths: [../common]    # directories outside the app that paths may lead into
 *   moduleBytes: 33554432 # the largest module file (default 16 MiB)
 *   yaml:                 # limits of the registry YAML (defaults: 16 MiB, 64, 1,000,000, 4 × maxFileBytes)
 *     maxFileBytes: 33554432
 *     maxDepth: 128
 */
export interface BootManifest {
  /** Absolute path of the manifest file. */
  readonly file: string;
  /** Its directory: relative paths resolve against it. */
  readonly dir: string;
  readonly name: string | undefined;
  readonly log: LogLevel | undefined;
  readonly components: readonly ManifestComponent[];
  /** Absolute paths of the registry sources (YAML files or directories). */
  readonly registry: readonly string[];
  /**
   * Where the files that the manifest, the registry YAML and admin clients name may be: {@link dir},
   * and the directories `allow.paths` opts in, after symbolic links; and how large a module may be
   * (`allow.moduleBytes`).
   */
  readonly boundary: FileBoundary;
  /**
   * The limits of the app's registry YAML that `allow.yaml` sets (the others keep their defaults),
   * for every read of it: at start, on reload, in validate, plan and apply, and of the files admin
   * clients name.
   */
  readonly yamlLimits: RegistryYamlLimits;
  /**
   * `cluster`: the registry is shared by every node of the cluster through NATS JetStream (see
   * docs/cluster.md); undefined without the key. Its `name` defaults to the manifest's `name`.
   */
  readonly cluster: ManifestCluster | undefined;
}

/** The `cluster` of a boot manifest, as written (`nats` is filled from `KINDLING_NATS_URL` when run). */
export interface ManifestCluster {
  readonly nats: string | undefined;
  readonly name: string | undefined;
  readonly prefix: string | undefined;
}

const MAX_MANIFEST_BYTES = 1_048_576;

/**
 * Limits on the YAML of a boot manifest; the defaults are those of registry YAML
 * (`RegistryYamlOptions`): 64 levels, 1,000,000 nodes added by aliases, 64 MiB of strings once
 * aliases are expanded.
 */
export interface BootManifestOptions {
  /** Deepest nesting of maps and lists (the root is level 1). Default 64. */
  readonly maxDepth?: number;
  /** Most nodes that aliases may add, counted with repetition. Default 1,000,000. */
  readonly maxAliasNodes?: number;
  /** Most characters of strings (keys and values) once aliases are expanded. Default 64 MiB. */
  readonly maxExpandedBytes?: number;
}

function manifestLimits(options: BootManifestOptions): YamlReadLimits {
  const positive = (value: number | undefined, fallback: number, name: string): number => {
    if (value === undefined) return fallback;
    if (!Number.isSafeInteger(value) || value < 1)
      throw new KindlingError('INVALID', `${name} must be a positive integer, got ${String(value)}`);
    return value;
  };
  return {
    maxDepth: positive(options.maxDepth, DEFAULT_MAX_DEPTH, 'maxDepth'),
    maxAliasNodes: positive(options.maxAliasNodes, DEFAULT_MAX_ALIAS_NODES, 'maxAliasNodes'),
    maxExpandedBytes: positive(options.maxExpandedBytes, DEFAULT_MAX_EXPANDED_BYTES, 'maxExpandedBytes'),
  };
}

type Path = readonly (string | number)[];

/**
 * Reads a boot manifest from a file, or from `kindling.yaml` in a directory. Throws a
 * {@link ManifestError} listing every problem with file:line:col, or `NOT_FOUND`.
 */
export async function loadBootManifest(target: string, options: BootManifestOptions = {}): Promise<BootManifest> {
  const absolute = resolve(target);
  let file = absolute;
  try {
    if ((await stat(absolute)).isDirectory()) file = resolve(absolute, MANIFEST_FILE);
  } catch {
    throw new KindlingError(
      'NOT_FOUND',
      `${target} does not exist (give an app directory with a ${MANIFEST_FILE}, or a manifest file)`,
      {
        details: { path: absolute },
      },
    );
  }
  const text = await readManifestText(file);
  const { manifest, locate } = readManifest(text, file, options);
  const problems: ManifestProblem[] = [];
  for (const [index, dir] of manifest.boundary.allowed.entries()) {
    const info = await stat(dir).catch(() => undefined);
    if (info?.isDirectory() !== true) {
      problems.push({
        file,
        ...locate(['allow', 'paths', index]),
        message: `allow.paths: ${dir} ${info === undefined ? 'does not exist' : 'is not a directory'}`,
      });
    }
  }
  if (problems.length > 0) throw new ManifestError(problems);
  for (const [index, source] of manifest.registry.entries()) {
    try {
      await manifest.boundary.resolve(source);
    } catch (error) {
      const message =
        error instanceof FileAccessError && error.reason !== 'not-found'
          ? `registry source ${error.message}`
          : `registry source ${source} does not exist`;
      problems.push({ file, ...locate(['registry', index]), message });
    }
  }
  if (problems.length > 0) throw new ManifestError(problems);
  return manifest;
}

/**
 * The manifest's text. The manifest is where the app's boundary starts, so it is not held to one,
 * but it is read only as a regular file of bounded size, and as UTF-8.
 */
async function readManifestText(file: string): Promise<string> {
  let bytes: Buffer;
  try {
    ({ bytes } = await readBoundedFile(file, { maxBytes: MAX_MANIFEST_BYTES }));
  } catch (error) {
    if (!(error instanceof FileAccessError) || error.reason === 'not-found') {
      throw new KindlingError('NOT_FOUND', `no boot manifest at ${file} (${messageOf(error)})`, {
        cause: error,
        details: { path: file },
      });
    }
    const message =
      error.reason === 'too-large'
        ? `the manifest is larger than ${MAX_MANIFEST_BYTES} bytes`
        : `the manifest ${error.problem}`;
    throw new ManifestError([{ file, line: 1, column: 1, message }], { cause: error });
  }
  const bad = findInvalidUtf8(bytes);
  if (bad !== undefined)
    throw new ManifestError([
      { file, line: bad.line, column: bad.column, message: 'the manifest is not valid UTF-8 here' },
    ]);
  return bytes.toString('utf8');
}

/**
 * Parses the text of a boot manifest written in `file`, under the same YAML limits as registry
 * YAML (see {@link BootManifestOptions}); throws a {@link ManifestError} with every problem.
 */
export function parseBootManifest(text: string, file: string, options: BootManifestOptions = {}): BootManifest {
  return readManifest(text, file, options).manifest;
}

/** Finds the position of a path in the manifest (the deepest part of it that was written). */
type Locate = (path: Path) => { line: number; column: number };

/**
 * Reads the text with the registry's YAML reader (its limits, alias and depth guards and positions),
 * then decodes it with `decodeEntryConfig` into a {@link ManifestConfig}: every problem of the text,
 * then every problem of its content, each at its position.
 */
function readManifest(
  rawText: string,
  file: string,
  options: BootManifestOptions,
): { manifest: BootManifest; locate: Locate } {
  const limits = manifestLimits(options);
  const { text, problems: marks } = withoutByteOrderMark(rawText);
  if (marks.length > 0) throw new ManifestError(marks.map((p) => ({ file, ...p })));
  const read = readYamlDetailed(text, limits);
  const { documents, sourceMap } = read;
  const at = (document: number, path: Path, target: 'key' | 'value' = 'value'): { line: number; column: number } => {
    const found = sourceMap.locate(document, path, target);
    return found === undefined ? { line: 1, column: 1 } : { line: found.line, column: found.column };
  };
  const problems: ManifestProblem[] = readProblems(read).map((p) => ({ file, ...p }));
  const guard = new YamlGuard(limits, read.expansion);
  documents.forEach((document, index) => {
    for (const found of guard.inspect(document))
      problems.push({ file, ...at(index, found.path, found.target), message: found.message });
  });
  if (documents.length > 1) {
    problems.push({
      file,
      ...at(1, []),
      message: `a boot manifest is one YAML document; this file has ${documents.length}`,
    });
  }
  if (problems.length > 0) throw new ManifestError(inOrder(problems));

  const locate: Locate = (path) => at(0, path, isUnknownKey(path) ? 'key' : 'value');
  const document = documents[0];
  if (!isPlainObject(document)) {
    throw new ManifestError([
      {
        file,
        ...locate([]),
        message: 'a boot manifest is a mapping with "components" (and optionally "name", "log", "registry", "allow")',
      },
    ]);
  }
  const config = decodeManifest(document, file, locate);
  const dir = dirname(file);
  const rawItems = document['components'] as unknown[];
  const components = config.components.map((item, index): ManifestComponent => {
    const itemAt: Path = ['components', index];
    const raw = rawItems[index];
    return {
      name: item.name,
      module: item.module === undefined ? undefined : resolve(dir, item.module),
      // The config as written: the component decodes it.
      config: isPlainObject(raw) ? (raw['config'] ?? undefined) : undefined,
      source: {
        file,
        ...locate(itemAt),
        locate: (path: readonly (string | number)[]) =>
          path[0] === 'data' ? locate([...itemAt, 'config', ...path.slice(1)]) : locate([...itemAt, ...path]),
      },
    };
  });
  const registry = (config.registry ?? []).map((source) => (isAbsolute(source) ? source : resolve(dir, source)));
  const yamlLimits: Record<string, number> = {};
  for (const key of YAML_LIMIT_KEYS) {
    const limit = config.allow?.yaml?.[key];
    if (limit !== undefined) yamlLimits[key] = limit;
  }
  const manifest: BootManifest = Object.freeze({
    file,
    dir,
    name: config.name,
    log: config.log,
    components: Object.freeze(components),
    registry: Object.freeze(registry),
    boundary: new FileBoundary(dir, {
      allow: [...(config.allow?.paths ?? [])],
      maxModuleBytes: config.allow?.moduleBytes ?? DEFAULT_MAX_MODULE_BYTES,
    }),
    yamlLimits: Object.freeze(yamlLimits as RegistryYamlLimits),
    cluster:
      config.cluster === undefined
        ? undefined
        : Object.freeze({ nats: config.cluster.nats, name: config.cluster.name, prefix: config.cluster.prefix }),
  });
  return { manifest, locate };
}

/** The manifest's content as a {@link ManifestConfig}, or a {@link ManifestError} with every problem, each at its path. */
function decodeManifest(document: Record<string, unknown>, file: string, locate: Locate): Readonly<ManifestConfig> {
  const root = locate([]);
  const entry = setEntrySource(
    { id: 'boot:manifest', kind: 'boot.manifest', meta: {}, data: document },
    { file, ...root, locate: (path) => locate(path.slice(1)) },
  );
  try {
    return decodeEntryConfig(ManifestConfig, entry);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    const written: ManifestProblem[] = [];
    const missing: ManifestProblem[] = [];
    for (const issue of error.issues) {
      const problem = {
        file,
        line: issue.line ?? root.line,
        column: issue.column ?? root.column,
        message: manifestMessage(issue.path, issue.message),
      };
      // A top-level field the manifest lacks concerns the whole file: said after what is written wrong.
      const field = /^data\.([A-Za-z_]\w*)$/.exec(issue.path)?.[1];
      (field !== undefined && !Object.hasOwn(document, field) ? missing : written).push(problem);
    }
    throw new ManifestError([...inOrder(written), ...inOrder(missing)], { cause: error });
  }
}

const UNKNOWN_KEY =
  /^(unknown key .*) \(\w+ (?:declares no decorator for it|has a method or read-only property by that name)\)$/s;

/**
 * A problem of the manifest's content in its words: `field.path: what is wrong`, and an unknown key
 * with the keys its place may hold.
 */
function manifestMessage(configPath: string, message: string): string {
  const path = configPath === 'data' ? '' : configPath.replace(/^data\.?/, '');
  const unknown = UNKNOWN_KEY.exec(message);
  if (unknown !== null) {
    const container = path.replace(/\.?(?:[^.[\]]+|\[[^\]]*\])$/, '');
    const where =
      container === '' ? '' : ` in ${/^components\[\d+\]$/.test(container) ? 'a component item' : container}`;
    const keys = MANIFEST_KEYS.get(keyTable(container));
    return keys === undefined ? `${path}: ${unknown[1]}` : `${unknown[1]}${where} (expected ${keys.join(', ')})`;
  }
  return path === '' ? message : `${path}: ${message}`;
}

/** The {@link MANIFEST_KEYS} name of a part of the manifest: `components[2]` is `components.*`. */
function keyTable(container: string): string {
  return container.replace(/^components\[\d+\]$/, 'components.*');
}

/** Whether `path` ends at a key its place in the manifest does not declare (reported where the key is written). */
function isUnknownKey(path: Path): boolean {
  const last = path[path.length - 1];
  if (typeof last !== 'string') return false;
  const container = path
    .slice(0, -1)
    .map((part, i) => (typeof part === 'number' ? (i === 1 && path[0] === 'components' ? '*' : String(part)) : part))
    .join('.');
  const keys = MANIFEST_KEYS.get(container);
  return keys !== undefined && !keys.includes(last);
}

/** Problems by position, each said once (one value can fail two rules with the same words). */
function inOrder(problems: readonly ManifestProblem[]): ManifestProblem[] {
  const seen = new Set<string>();
  return [...problems]
    .sort((a, b) => a.line - b.line || a.column - b.column)
    .filter((p) => {
      const key = `${p.line}:${p.column}:${p.message}`;
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    });
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A component of the manifest, ready to register, with its config and where it was written. */
export interface ResolvedComponent {
  readonly component: Component;
  readonly config: unknown;
  readonly source: EntrySource;
}

/**
 * Finds each component of `manifest`: a built-in by name, or the default (or `component`) export
 * of a module. Throws a {@link ManifestError} listing every component that cannot be found.
 */
export async function resolveManifestComponents(
  manifest: BootManifest,
  builtins: Readonly<Record<string, Component>>,
): Promise<ResolvedComponent[]> {
  const problems: ManifestProblem[] = [];
  const resolved: ResolvedComponent[] = [];
  const problem = (item: ManifestComponent, message: string, path: Path = []): void => {
    const at = path.length === 0 ? item.source : (item.source.locate?.(path) ?? item.source);
    problems.push({ file: manifest.file, line: at.line, column: at.column, message });
  };
  for (const item of manifest.components) {
    if (item.module === undefined) {
      const builtin = item.name === undefined ? undefined : builtins[item.name];
      if (builtin === undefined) {
        const names = Object.keys(builtins);
        const hint = nearest(item.name ?? '', names);
        problem(
          item,
          `unknown component ${quote(item.name ?? '')}${hint === undefined ? '' : ` (did you mean "${hint}"?)`}; built-in components: ${names.join(', ')}. An app component is a module path such as "./my-component.js"`,
        );
      } else {
        resolved.push({ component: builtin, config: item.config, source: item.source });
      }
      continue;
    }
    // A component module is the app's own code, like its dependencies, so even validate imports it to
    // register its listeners; but only a regular file of bounded size inside the boundary, checked
    // right before the import, and by its real path (what was checked, not where a link points now).
    let real: string;
    try {
      real = (
        await checkBoundedFile(item.module, {
          maxBytes: manifest.boundary.maxModuleBytes,
          limitName: 'allow.moduleBytes',
          boundary: manifest.boundary,
        })
      ).realPath;
    } catch (error) {
      problem(item, `component module ${messageOf(error)}`, ['module']);
      continue;
    }
    let namespace: Record<string, unknown>;
    try {
      namespace = (await import(/* @vite-ignore */ pathToFileURL(real).href)) as Record<string, unknown>;
    } catch (error) {
      problem(item, `cannot import component module ${item.module}: ${messageOf(error)}`, ['module']);
      continue;
    }
    const exported = namespace['default'] ?? namespace['component'];
    let component: Component;
    try {
      if (exported === undefined) throw new Error('it has no default export and no export named "component"');
      component = isComponent(exported) ? exported : defineComponent<unknown>(exported as Component);
    } catch (error) {
      problem(item, `module ${item.module} does not export a component: ${messageOf(error)}`, ['module']);
      continue;
    }
    if (item.name !== undefined && item.name !== component.name) {
      problem(
        item,
        `module ${escapeInvisible(item.module)} exports component ${quote(component.name)}, not ${quote(item.name)}`,
        ['name'],
      );
      continue;
    }
    resolved.push({ component, config: item.config, source: item.source });
  }
  if (problems.length > 0) throw new ManifestError(problems);
  return resolved;
}

function nearest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const candidate of candidates) {
    const distance = levenshtein(word, candidate);
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return bestDistance <= 2 ? best : undefined;
}

function levenshtein(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(
        (previous[j] as number) + 1,
        (current[j - 1] as number) + 1,
        (previous[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
    previous = current;
  }
  return previous[b.length] as number;
}
