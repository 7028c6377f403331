import { stat } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { LineCounter, isMap, isNode, isScalar, isSeq, parseDocument } from 'yaml';
import type { Document } from 'yaml';
import { FileAccessError, FileBoundary, escapeInvisible, KindlingError, messageOf, quote, readBoundedFile } from 'kindling';
import { DEFAULT_MAX_ALIAS_NODES, DEFAULT_MAX_DEPTH, DEFAULT_MAX_EXPANDED_BYTES } from '../../src/yaml/registry-yaml.js';
import { DEFAULT_MAX_MODULE_BYTES } from '../../src/common/file-boundary.js';
import { checkBoundedFile } from '../../src/common/read-bounded-file.js';
import { findInvalidUtf8 } from '../../src/common/utf8.js';
import { inspectYamlDocument } from '../../src/yaml/yaml-document-guard.js';
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
    const message = problems.length === 1 ? (lines[0] as string) : `boot manifest has ${problems.length} problems:\n  ${lines.join('\n  ')}`;
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
 *   paths: [../shared]    # directories outside the app that paths may lead into
 *   moduleBytes: 8388608  # the largest module file (default 4 MiB)
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
}

const TOP_LEVEL = new Set(['name', 'log', 'components', 'registry', 'allow']);
const ALLOW_KEYS = new Set(['paths', 'moduleBytes', 'yaml']);
const YAML_LIMIT_KEYS = ['maxFileBytes', 'maxDepth', 'maxAliasNodes', 'maxExpandedBytes'] as const;
const ITEM_KEYS = new Set(['name', 'module', 'config']);
const LEVELS = new Set(['debug', 'info', 'warn', 'error', 'silent']);
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
    if (!Number.isSafeInteger(value) || value < 1) throw new KindlingError('INVALID', `${name} must be a positive integer, got ${String(value)}`);
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
    throw new KindlingError('NOT_FOUND', `${target} does not exist (give an app directory with a ${MANIFEST_FILE}, or a manifest file)`, {
      details: { path: absolute },
    });
  }
  const text = await readManifestText(file);
  const manifest = parseBootManifest(text, file, options);
  const problems: ManifestProblem[] = [];
  for (const [index, dir] of manifest.boundary.allowed.entries()) {
    const info = await stat(dir).catch(() => undefined);
    if (info?.isDirectory() !== true) {
      problems.push({ file, ...manifestPosition(text, ['allow', 'paths', index]), message: `allow.paths: ${dir} ${info === undefined ? 'does not exist' : 'is not a directory'}` });
    }
  }
  if (problems.length > 0) throw new ManifestError(problems);
  for (const [index, source] of manifest.registry.entries()) {
    try {
      await manifest.boundary.resolve(source);
    } catch (error) {
      const message = error instanceof FileAccessError && error.reason !== 'not-found' ? `registry source ${error.message}` : `registry source ${source} does not exist`;
      problems.push({ file, ...manifestPosition(text, ['registry', index]), message });
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
      throw new KindlingError('NOT_FOUND', `no boot manifest at ${file} (${messageOf(error)})`, { cause: error, details: { path: file } });
    }
    const message = error.reason === 'too-large' ? `the manifest is larger than ${MAX_MANIFEST_BYTES} bytes` : `the manifest ${error.problem}`;
    throw new ManifestError([{ file, line: 1, column: 1, message }], { cause: error });
  }
  const bad = findInvalidUtf8(bytes);
  if (bad !== undefined) throw new ManifestError([{ file, line: bad.line, column: bad.column, message: 'the manifest is not valid UTF-8 here' }]);
  return bytes.toString('utf8');
}

/**
 * Parses the text of a boot manifest written in `file`, under the same YAML limits as registry
 * YAML (see {@link BootManifestOptions}); throws a {@link ManifestError}.
 */
export function parseBootManifest(text: string, file: string, options: BootManifestOptions = {}): BootManifest {
  const limits = manifestLimits(options);
  const bom = text.indexOf('\uFEFF', 1);
  if (bom > 0) {
    const line = text.slice(0, bom).split('\n').length;
    const col = bom - text.lastIndexOf('\n', bom - 1);
    throw new ManifestError([
      {
        file,
        line,
        column: col,
        message:
          'a byte order mark (U+FEFF) may only start the file; here it would become an invisible part of the text (files joined together?): remove it, or write "\\uFEFF" in a double-quoted string',
      },
    ]);
  }
  const lineCounter = new LineCounter();
  const doc = parseManifestDocument(text, file, lineCounter);
  const problems: ManifestProblem[] = [];
  const reported = new Set<string>();
  for (const error of [...doc.errors, ...doc.warnings]) {
    const message = error.message.split('\n')[0] ?? error.message;
    // Input nested thousands deep makes the parser repeat one error at every level: say it once.
    if (reported.has(message)) continue;
    reported.add(message);
    const at = lineCounter.linePos(error.pos[0]);
    problems.push({ file, line: at.line, column: at.col, message });
  }
  if (problems.length > 0) throw new ManifestError(problems);
  // Aliases, depth, tags, forbidden keys and numbers, checked on the parsed document before it is
  // converted: what a conversion would build is bounded before it is built.
  for (const { offset, message } of inspectYamlDocument(doc, limits)) {
    const at = lineCounter.linePos(offset);
    problems.push({ file, line: at.line, column: at.col, message });
  }
  if (problems.length > 0) throw new ManifestError(problems);

  const locate = (path: Path): { line: number; column: number } => positionOf(doc, lineCounter, path);
  const problem = (path: Path, message: string): void => {
    problems.push({ file, ...locate(path), message });
  };
  const keyProblem = (path: Path, message: string): void => {
    problems.push({ file, ...keyPositionOf(doc, lineCounter, path), message });
  };
  const dir = dirname(file);
  const root = doc.contents;
  if (!isMap(root)) {
    problem([], 'a boot manifest is a mapping with "components" (and optionally "name", "log", "registry")');
    throw new ManifestError(problems);
  }
  for (const pair of root.items) {
    const key = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
    if (!TOP_LEVEL.has(key)) keyProblem([key], `unknown key ${quote(key)} (expected ${[...TOP_LEVEL].join(', ')})`);
  }
  let value: Record<string, unknown>;
  try {
    // inspectYamlDocument bounded what aliases expand to; the package's own count would also refuse
    // an ordinary manifest that uses one anchor many times.
    value = doc.toJS({ maxAliasCount: -1 }) as Record<string, unknown>;
  } catch (error) {
    throw new ManifestError([{ file, line: 1, column: 1, message: `the manifest cannot be read: ${messageOf(error)}` }], { cause: error });
  }

  const name = value['name'];
  if (name !== undefined && (typeof name !== 'string' || name.length === 0)) problem(['name'], 'name must be a non-empty string');
  const log = value['log'];
  if (log !== undefined && (typeof log !== 'string' || !LEVELS.has(log))) problem(['log'], `log must be one of ${[...LEVELS].join(', ')}`);

  const components: ManifestComponent[] = [];
  const rawComponents = value['components'];
  if (!Array.isArray(rawComponents) || rawComponents.length === 0) {
    problem(rawComponents === undefined ? [] : ['components'], 'components must be a non-empty list of component names or { name?, module?, config? } items');
  } else {
    const seen = new Map<string, number>();
    rawComponents.forEach((item: unknown, index) => {
      const at: Path = ['components', index];
      const position = locate(at);
      const source: EntrySource = {
        file,
        ...position,
        locate: (path) => (path[0] === 'data' ? locate([...at, 'config', ...path.slice(1)]) : locate([...at, ...path])),
      };
      let parsed: ManifestComponent | undefined;
      if (typeof item === 'string' && item.length > 0) {
        parsed = isModulePath(item)
          ? { name: undefined, module: resolve(dir, item), config: undefined, source }
          : { name: item, module: undefined, config: undefined, source };
      } else if (typeof item === 'object' && item !== null && !Array.isArray(item)) {
        const fields = item as Record<string, unknown>;
        const unknown = Object.keys(fields).filter((key) => !ITEM_KEYS.has(key));
        for (const key of unknown) keyProblem([...at, key], `unknown key ${quote(key)} in a component item (expected name, module, config)`);
        const itemName = fields['name'];
        const module = fields['module'];
        if (itemName !== undefined && (typeof itemName !== 'string' || itemName.length === 0)) problem([...at, 'name'], 'name must be a non-empty string');
        else if (module !== undefined && (typeof module !== 'string' || !isModulePath(module))) problem([...at, 'module'], 'module must be a path that starts with "./", "../" or "/"');
        else if (itemName === undefined && module === undefined) problem(at, 'a component item needs a name (a built-in component) or a module (a path to an ES module)');
        else if (unknown.length === 0) {
          parsed = {
            name: itemName as string | undefined,
            module: module === undefined ? undefined : resolve(dir, module as string),
            config: fields['config'] ?? undefined,
            source,
          };
        }
      } else {
        problem(at, 'a component item is a name ("http"), a module path ("./my-component.js") or { name?, module?, config? }');
      }
      if (parsed === undefined) return;
      if (parsed.name !== undefined) {
        const first = seen.get(parsed.name);
        if (first !== undefined) {
          problem(at, `component ${quote(parsed.name)} is listed twice (first at components[${first}])`);
          return;
        }
        seen.set(parsed.name, index);
      }
      components.push(parsed);
    });
  }

  const registry: string[] = [];
  const rawRegistry = value['registry'];
  if (rawRegistry !== undefined) {
    if (!Array.isArray(rawRegistry)) {
      problem(['registry'], 'registry must be a list of YAML files or directories, relative to the manifest');
    } else {
      rawRegistry.forEach((source: unknown, index) => {
        if (typeof source !== 'string' || source.length === 0) problem(['registry', index], 'a registry source is a path to a YAML file or directory');
        else registry.push(isAbsolute(source) ? source : resolve(dir, source));
      });
    }
  }
  const { yamlLimits, ...allow } = parseAllow(value['allow'], problem, keyProblem);
  if (problems.length > 0) throw new ManifestError(problems);
  return Object.freeze({
    file,
    dir,
    name: name as string | undefined,
    log: log as LogLevel | undefined,
    components: Object.freeze(components),
    registry: Object.freeze(registry),
    boundary: new FileBoundary(dir, allow),
    yamlLimits: Object.freeze(yamlLimits),
  });
}

/**
 * `allow: { paths: [dir, ...], moduleBytes: n, yaml: { maxFileBytes, ... } }`: what the app opts in
 * beyond its own directory and the default sizes of the files it reads.
 */
function parseAllow(
  value: unknown,
  problem: (path: Path, message: string) => void,
  keyProblem: (path: Path, message: string) => void,
): { allow: string[]; maxModuleBytes: number; yamlLimits: RegistryYamlLimits } {
  const allow: string[] = [];
  let maxModuleBytes = DEFAULT_MAX_MODULE_BYTES;
  if (value === undefined || value === null) return { allow, maxModuleBytes, yamlLimits: {} };
  if (typeof value !== 'object' || Array.isArray(value)) {
    problem(['allow'], 'allow must be a mapping: { paths: [directories outside the app], moduleBytes: <largest module in bytes>, yaml: { <registry YAML limits> } }');
    return { allow, maxModuleBytes, yamlLimits: {} };
  }
  const fields = value as Record<string, unknown>;
  for (const key of Object.keys(fields)) {
    if (!ALLOW_KEYS.has(key)) keyProblem(['allow', key], `unknown key ${quote(key)} in allow (expected ${[...ALLOW_KEYS].join(', ')})`);
  }
  const paths = fields['paths'];
  if (paths !== undefined && paths !== null && !Array.isArray(paths)) problem(['allow', 'paths'], 'allow.paths must be a list of directories, relative to the manifest');
  else {
    (paths ?? []).forEach((path: unknown, index: number) => {
      if (typeof path !== 'string' || path.length === 0) problem(['allow', 'paths', index], 'an allow.paths item is a directory path');
      else allow.push(path);
    });
  }
  const bytes = fields['moduleBytes'];
  if (bytes !== undefined) {
    if (typeof bytes !== 'number' || !Number.isSafeInteger(bytes) || bytes < 1) problem(['allow', 'moduleBytes'], 'allow.moduleBytes must be a positive integer (bytes)');
    else maxModuleBytes = bytes;
  }
  return { allow, maxModuleBytes, yamlLimits: parseYamlLimits(fields['yaml'], problem, keyProblem) };
}

/** `allow.yaml: { maxFileBytes, maxDepth, maxAliasNodes, maxExpandedBytes }`: the limits of the registry YAML. */
function parseYamlLimits(
  value: unknown,
  problem: (path: Path, message: string) => void,
  keyProblem: (path: Path, message: string) => void,
): RegistryYamlLimits {
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value)) {
    problem(['allow', 'yaml'], `allow.yaml must be a mapping of limits of the registry YAML: { ${YAML_LIMIT_KEYS.join(', ')} }`);
    return {};
  }
  const fields = value as Record<string, unknown>;
  const limits: Record<string, number> = {};
  for (const key of Object.keys(fields)) {
    if (!(YAML_LIMIT_KEYS as readonly string[]).includes(key)) {
      keyProblem(['allow', 'yaml', key], `unknown key ${quote(key)} in allow.yaml (expected ${YAML_LIMIT_KEYS.join(', ')})`);
      continue;
    }
    const limit = fields[key];
    if (typeof limit !== 'number' || !Number.isSafeInteger(limit) || limit < 1) problem(['allow', 'yaml', key], `allow.yaml.${key} must be a positive integer`);
    else limits[key] = limit;
  }
  return limits as RegistryYamlLimits;
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
      real = (await checkBoundedFile(item.module, { maxBytes: manifest.boundary.maxModuleBytes, limitName: 'allow.moduleBytes', boundary: manifest.boundary })).realPath;
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
      component = isComponent(exported) ? exported : (defineComponent(exported as Component) as Component);
    } catch (error) {
      problem(item, `module ${item.module} does not export a component: ${messageOf(error)}`, ['module']);
      continue;
    }
    if (item.name !== undefined && item.name !== component.name) {
      problem(item, `module ${escapeInvisible(item.module)} exports component ${quote(component.name)}, not ${quote(item.name)}`, ['name']);
      continue;
    }
    resolved.push({ component, config: item.config, source: item.source });
  }
  if (problems.length > 0) throw new ManifestError(problems);
  return resolved;
}

function isModulePath(value: string): boolean {
  return value.startsWith('./') || value.startsWith('../') || value.startsWith('/');
}

function positionOf(doc: Document.Parsed, lineCounter: LineCounter, path: Path): { line: number; column: number } {
  // Walk down as far as the path exists: a missing key is reported where its parent is.
  for (let depth = path.length; depth >= 0; depth--) {
    const node: unknown = depth === 0 ? doc.contents : doc.getIn(path.slice(0, depth), true);
    if (isNode(node) && node.range !== undefined && node.range !== null) {
      const at = lineCounter.linePos(node.range[0]);
      return { line: at.line, column: at.col };
    }
  }
  return { line: 1, column: 1 };
}

/** The position of the key of the pair at `path` (where an unknown key is reported). */
function keyPositionOf(doc: Document.Parsed, lineCounter: LineCounter, path: Path): { line: number; column: number } {
  const parent: unknown = path.length === 1 ? doc.contents : doc.getIn(path.slice(0, -1), true);
  const last = path[path.length - 1];
  if (isMap(parent)) {
    for (const pair of parent.items) {
      if (isScalar(pair.key) && pair.key.value === last && pair.key.range !== undefined && pair.key.range !== null) {
        const at = lineCounter.linePos(pair.key.range[0]);
        return { line: at.line, column: at.col };
      }
    }
  }
  return positionOf(doc, lineCounter, path);
}

function manifestPosition(text: string, path: Path): { line: number; column: number } {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter });
  return positionOf(doc, lineCounter, path);
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
      current[j] = Math.min((previous[j] as number) + 1, (current[j - 1] as number) + 1, (previous[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length] as number;
}

function parseManifestDocument(text: string, file: string, lineCounter: LineCounter) {
  try {
    return parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: false });
  } catch (error) {
    throw new ManifestError([{ file, line: 1, column: 1, message: `the manifest cannot be parsed: ${messageOf(error)}` }], { cause: error });
  }
}
