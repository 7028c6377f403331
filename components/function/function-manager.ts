import { AsyncLocalStorage } from 'node:async_hooks';
import { createHash } from 'node:crypto';
import { dirname, isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  FileAccessError,
  KindlingError,
  entryConfig,
  escapeInvisible,
  formatEntryLocation,
  getEntrySource,
  messageOf,
  quote,
  readBoundedFile,
  activeTraceIds,
} from 'kindling';
import type { BoundedFile, Entry, EntryListener, FileBoundary, ListenerContext, Logger } from 'kindling';
import { stackOf } from 'kindling/boot';
import type { EventBus } from 'kindling/events';
import type { EntryFiles, FaultOrigin } from 'kindling/boot';
import { FunctionJsConfig } from './function-js-config.js';
import type { FunctionContext, FunctionEmitOptions, Functions, LoadedFunction } from './functions.js';
import { findSyntaxError, readModuleExports } from './module-exports.js';
import type { ModuleExports } from './module-exports.js';
import { StagedMap } from '../staging/index.js';

/** The function a call runs, kept in the call's async context. */
interface CallScope {
  readonly functionId: string;
  readonly endpoint: string | undefined;
}

interface Staging {
  readonly transactionId: string;
  /** The batch's changes over the committed functions. */
  readonly functions: StagedMap<LoadedFunction>;
}

/**
 * Loads `function.js` entries: resolves the module file against the declaring YAML file, imports
 * it (a new version whenever its content changes) and checks the export is a function, at `add` and
 * `update`, so a missing file or export refuses the entry. The loaded functions become callable at
 * `commit`; a refused or discarded batch leaves the committed ones untouched.
 *
 * The module file must be a regular file of bounded size inside the app's {@link FileBoundary}. A
 * dry run (validate, plan) never imports it: it reads the module's exports with a parser, so no code
 * of the module runs before a real batch.
 */
export class FunctionManager implements EntryListener, Functions {
  private readonly committed = new Map<string, LoadedFunction>();
  private staging: Staging | undefined;
  private readonly calls = new AsyncLocalStorage<CallScope>();

  constructor(
    private readonly logger: Logger,
    private readonly baseDir: string,
    private readonly files: EntryFiles | undefined,
    private readonly boundary: FileBoundary,
  ) {}

  /** The app's event bus, when it has one: what a function's `emit`, `send` and `channels` use. */
  private bus: () => EventBus | undefined = () => undefined;

  /** Gives calls their way to the bus (looked up at each call). */
  useBus(bus: () => EventBus | undefined): void {
    this.bus = bus;
  }

  get(id: string): LoadedFunction | undefined {
    return this.committed.get(id);
  }

  ids(): string[] {
    return [...this.committed.keys()].sort();
  }

  // eslint-disable-next-line @typescript-eslint/require-await -- async on purpose: a synchronous throw becomes a rejection
  async call(id: string, input: unknown, context: Record<string, unknown> = {}): Promise<unknown> {
    const loaded = this.committed.get(id);
    if (loaded === undefined) {
      throw new KindlingError(
        'NOT_FOUND',
        `function ${id} is not loaded (no committed function.js entry with that id)`,
        { details: { functionId: id } },
      );
    }
    const meta = isRecord(context['meta']) ? context['meta'] : {};
    // The caller's own emit / channels (an event's, carrying its lineage) win over the plain ones.
    const trace = activeTraceIds();
    const ctx: FunctionContext = {
      ...this.busFacing(meta),
      meta,
      ...context,
      ...(trace === undefined ? {} : { trace }),
      id,
      logger: this.logger,
    };
    const endpoint = typeof context['endpoint'] === 'string' ? context['endpoint'] : undefined;
    // The call's async context names the function: a fault that escapes the call (a rejection
    // nobody handles, a throw in a timer it set) is traced back to it by originOf. Being inside an
    // async function, a synchronous throw becomes a rejection too.
    return this.calls.run({ functionId: id, endpoint }, () => loaded.fn(input, ctx));
  }

  /** A function's way to the bus: emit, broadcast, send and channels.send, carrying `meta`. */
  private busFacing(
    meta: Readonly<Record<string, unknown>>,
  ): Pick<FunctionContext, 'emit' | 'broadcast' | 'send' | 'channels'> {
    const bus = (): EventBus => {
      const found = this.bus();
      if (found === undefined) {
        throw new KindlingError('UNAVAILABLE', 'this app has no event bus: add the "events" component to its manifest');
      }
      return found;
    };
    const withMeta = (options: FunctionEmitOptions | undefined): FunctionEmitOptions => ({
      ...options,
      meta: { ...meta, ...options?.meta },
    });
    return {
      emit: (name, payload, options) => bus().emit(name, payload, withMeta(options)),
      broadcast: (name, payload, options) => bus().broadcast(name, payload, withMeta(options)),
      send: (system, kind, path, data) => bus().send(system, kind, path, data),
      channels: {
        send: (channel, payload, options) =>
          bus().channels.send(channel, payload, { ...options, meta: { ...meta, ...options?.meta } }),
      },
    };
  }

  originOf(fault: unknown): FaultOrigin | undefined {
    const scope = this.calls.getStore();
    if (scope !== undefined) {
      return {
        entryId: scope.functionId,
        description: `function ${scope.functionId}${scope.endpoint === undefined ? '' : ` (endpoint ${scope.endpoint})`}`,
      };
    }
    const stack = stackOf(fault);
    if (stack === undefined) return undefined;
    const loaded = [...this.committed.values(), ...(this.staging?.functions.values() ?? [])];
    const urls = new Map(loaded.map((fn) => [fn.file, pathToFileURL(fn.file).href]));
    // The top-most frame in a function module names it; functions sharing the module are all named.
    for (const line of stack.split('\n')) {
      const file = [...urls].find(([, url]) => line.includes(`${url}?`) || line.includes(`${url}:`))?.[0];
      if (file === undefined) continue;
      const ids = [...new Set(loaded.filter((fn) => fn.file === file).map((fn) => fn.id))].sort();
      const first = ids[0] as string;
      return {
        entryId: first,
        description: ids.length === 1 ? `function ${first}` : `functions ${ids.join(', ')} (their module ${file})`,
      };
    }
    return undefined;
  }

  begin(ctx: ListenerContext): void {
    this.staging = { transactionId: ctx.transactionId, functions: new StagedMap(this.committed) };
  }

  async add(ctx: ListenerContext, entry: Entry): Promise<void> {
    const loaded = await this.load(ctx, entry);
    // A dry run checked the entry without importing anything: there is nothing to stage.
    if (loaded !== undefined) this.staged(ctx).set(entry.id, loaded);
  }

  async update(ctx: ListenerContext, entry: Entry): Promise<void> {
    await this.add(ctx, entry);
  }

  delete(ctx: ListenerContext, entry: Entry): void {
    this.staged(ctx).delete(entry.id);
  }

  commit(ctx: ListenerContext): void {
    const staging = this.staging;
    if (staging === undefined || staging.transactionId !== ctx.transactionId) return;
    this.staging = undefined;
    // Only what the batch changed: a batch costs what it changes, however many functions are loaded.
    for (const [id, , loaded] of staging.functions.changed()) {
      if (loaded === undefined) {
        this.files?.delete(id);
        continue;
      }
      this.files?.set(id, [loaded.file]);
      this.logger.debug(
        `function ${id} loaded from ${loaded.file} (export ${loaded.exportName}, version ${loaded.version})`,
      );
    }
    staging.functions.commit();
  }

  discard(ctx: ListenerContext): void {
    if (this.staging?.transactionId !== ctx.transactionId) return;
    this.staging.functions.discard();
    this.staging = undefined;
  }

  private staged(ctx: ListenerContext): StagedMap<LoadedFunction> {
    // A registry that calls begin always gives us a staging; without one, stage from the committed state.
    if (this.staging === undefined || this.staging.transactionId !== ctx.transactionId) this.begin(ctx);
    return (this.staging as Staging).functions;
  }

  /** The loaded function of `entry`; in a dry run, only checked (undefined). */
  private async load(ctx: ListenerContext, entry: Entry): Promise<LoadedFunction | undefined> {
    const config = entryConfig(FunctionJsConfig, entry);
    /**
     * `file:line:col: function <id>`, at the field the message is about: only for a message, since
     * finding a field's position reads the entry's file again.
     */
    const whereAt = (field: 'file' | 'export'): string => {
      const at = formatEntryLocation(entry, ['data', field]);
      return `${at === undefined ? '' : `${at}: `}function ${entry.id}`;
    };
    const where = (): string => whereAt('file');
    const source = getEntrySource(entry);
    const base = source === undefined ? this.baseDir : dirname(source.file);
    const file = isAbsolute(config.file) ? config.file : resolve(base, config.file);
    const details = { entryId: entry.id, file };
    const module = await this.readModule(file, config.file, where, details);
    if (ctx.dryRun) {
      await this.checkExports(module, config, whereAt, details);
      return undefined;
    }
    const version = versionOf(module.bytes);
    let namespace: Record<string, unknown>;
    try {
      // Imported by its real path (the file that was checked, not where a link points now); the
      // content hash in the URL makes a changed file a new module, and an unchanged one stays cached.
      namespace = (await import(/* @vite-ignore */ `${pathToFileURL(module.realPath).href}?v=${version}`)) as Record<
        string,
        unknown
      >;
    } catch (error) {
      throw new KindlingError(
        'INVALID',
        `${where()}: module ${escapeInvisible(config.file)} failed to load: ${describeLoadError(error, module)}`,
        { cause: error, details },
      );
    }
    // import() read the file again itself: should it have changed in between, what ran is not what was checked.
    const after = await this.readModule(file, config.file, where, details);
    if (versionOf(after.bytes) !== version) {
      throw new KindlingError(
        'CONFLICT',
        `${where()}: module ${escapeInvisible(config.file)} changed while it was loaded; apply again`,
        { details, retryable: true },
      );
    }
    const fn = namespace[config.export];
    if (typeof fn !== 'function') {
      const exports = Object.keys(namespace)
        .filter((key) => typeof namespace[key] === 'function')
        .sort();
      const found = fn === undefined ? 'has no export' : `exports a ${typeof fn}, not a function, as`;
      throw new KindlingError(
        'INVALID',
        `${whereAt('export')}: module ${escapeInvisible(config.file)} ${found} ${quote(config.export)} (its function exports: ${exports.length === 0 ? 'none' : exports.map((name) => escapeInvisible(name)).join(', ')})`,
        { details: { ...details, export: config.export } },
      );
    }
    return Object.freeze({ id: entry.id, file, exportName: config.export, version, fn: fn as LoadedFunction['fn'] });
  }

  /** The module file, read only when it is a regular file of bounded size inside the boundary. */
  private async readModule(
    file: string,
    written: string,
    where: () => string,
    details: Record<string, unknown>,
  ): Promise<BoundedFile> {
    try {
      return await readBoundedFile(file, {
        maxBytes: this.boundary.maxModuleBytes,
        limitName: 'allow.moduleBytes',
        boundary: this.boundary,
      });
    } catch (error) {
      const problem =
        error instanceof FileAccessError
          ? error.reason === 'not-found'
            ? `does not exist (looked for ${escapeInvisible(file)})`
            : error.problem
          : `cannot be read: ${messageOf(error)}`;
      throw new KindlingError('INVALID', `${where()}: module file ${escapeInvisible(written)} ${problem}`, {
        cause: error,
        details,
      });
    }
  }

  /** A dry run's check: the export is there, as a parser reads the module (which does not run). */
  private async checkExports(
    module: BoundedFile,
    config: FunctionJsConfig,
    whereAt: (field: 'file' | 'export') => string,
    details: Record<string, unknown>,
  ): Promise<void> {
    let exports: ModuleExports;
    try {
      exports = await readModuleExports(
        { realPath: module.realPath, text: module.bytes.toString('utf8') },
        this.boundary,
      );
    } catch (error) {
      throw new KindlingError(
        'INVALID',
        `${whereAt('file')}: module ${escapeInvisible(config.file)} has a ${messageOf(error)}`,
        { cause: error, details },
      );
    }
    if (exports.names.has(config.export)) return;
    if (exports.unknown.length > 0) {
      this.logger.warn(
        `${whereAt('export')}: export ${quote(config.export)} of module ${escapeInvisible(config.file)} cannot be confirmed without running it (${exports.unknown.join('; ')}); a real batch imports the module and checks it`,
      );
      return;
    }
    const names = [...exports.names].sort();
    throw new KindlingError(
      'INVALID',
      `${whereAt('export')}: module ${escapeInvisible(config.file)} has no export ${quote(config.export)} (its exports: ${names.length === 0 ? 'none' : names.map((name) => escapeInvisible(name)).join(', ')})`,
      { details: { ...details, export: config.export } },
    );
  }
}

function isRecord(value: unknown): value is Readonly<Record<string, unknown>> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function versionOf(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex').slice(0, 16);
}

/** Why an import failed; for a syntax error, where the parser finds it in the module. */
function describeLoadError(error: unknown, module: BoundedFile): string {
  const message = messageOf(error);
  if (!(error instanceof SyntaxError)) return message;
  const at = findSyntaxError(module.bytes.toString('utf8'), module.realPath);
  return at === undefined ? message : `${message} (at ${module.realPath}:${at.line}:${at.column})`;
}
