import { AsyncLocalStorage } from 'node:async_hooks';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { KindlingError, decodeEntryConfig, formatEntryLocation, getEntrySource, messageOf } from 'kindling';
import type { Entry, EntryListener, ListenerContext, Logger } from 'kindling';
import type { EntryFiles, FaultOrigin } from 'kindling/boot';
import { FunctionJsConfig } from './function-js-config.js';
import type { FunctionContext, Functions, LoadedFunction } from './functions.js';

/** The function a call runs, kept in the call's async context. */
interface CallScope {
  readonly functionId: string;
  readonly endpoint: string | undefined;
}

interface Staging {
  readonly transactionId: string;
  readonly functions: Map<string, LoadedFunction>;
}

/**
 * Loads `function.js` entries: resolves the module file against the declaring YAML file, imports
 * it (a new version whenever its content changes) and checks the export is a function, at `add` and
 * `update`, so a missing file or export refuses the entry. The loaded functions become callable at
 * `commit`; a refused or discarded batch leaves the committed ones untouched.
 */
export class FunctionManager implements EntryListener, Functions {
  private committed = new Map<string, LoadedFunction>();
  private staging: Staging | undefined;
  private readonly calls = new AsyncLocalStorage<CallScope>();

  constructor(
    private readonly logger: Logger,
    private readonly baseDir: string,
    private readonly files: EntryFiles | undefined,
  ) {}

  get(id: string): LoadedFunction | undefined {
    return this.committed.get(id);
  }

  ids(): string[] {
    return [...this.committed.keys()].sort();
  }

  async call(id: string, input: unknown, context: Record<string, unknown> = {}): Promise<unknown> {
    const loaded = this.committed.get(id);
    if (loaded === undefined) {
      throw new KindlingError('NOT_FOUND', `function ${id} is not loaded (no committed function.js entry with that id)`, { details: { functionId: id } });
    }
    const ctx: FunctionContext = { ...context, id, logger: this.logger };
    const endpoint = typeof context['endpoint'] === 'string' ? context['endpoint'] : undefined;
    // The call's async context names the function: a fault that escapes the call (a rejection
    // nobody handles, a throw in a timer it set) is traced back to it by originOf. Being inside an
    // async function, a synchronous throw becomes a rejection too.
    return this.calls.run({ functionId: id, endpoint }, () => loaded.fn(input, ctx));
  }

  originOf(fault: unknown): FaultOrigin | undefined {
    const scope = this.calls.getStore();
    if (scope !== undefined) {
      return { entryId: scope.functionId, description: `function ${scope.functionId}${scope.endpoint === undefined ? '' : ` (endpoint ${scope.endpoint})`}` };
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
      return { entryId: first, description: ids.length === 1 ? `function ${first}` : `functions ${ids.join(', ')} (their module ${file})` };
    }
    return undefined;
  }

  begin(ctx: ListenerContext): void {
    this.staging = { transactionId: ctx.transactionId, functions: new Map(this.committed) };
  }

  async add(ctx: ListenerContext, entry: Entry): Promise<void> {
    const loaded = await this.load(entry);
    this.staged(ctx).set(entry.id, loaded);
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
    const previous = this.committed;
    this.committed = staging.functions;
    this.staging = undefined;
    for (const [id, loaded] of this.committed) {
      if (previous.get(id) !== loaded) {
        this.files?.set(id, [loaded.file]);
        this.logger.debug(`function ${id} loaded from ${loaded.file} (export ${loaded.exportName}, version ${loaded.version})`);
      }
    }
    for (const id of previous.keys()) {
      if (!this.committed.has(id)) this.files?.delete(id);
    }
  }

  discard(ctx: ListenerContext): void {
    if (this.staging?.transactionId === ctx.transactionId) this.staging = undefined;
  }

  private staged(ctx: ListenerContext): Map<string, LoadedFunction> {
    // A registry that calls begin always gives us a staging; without one, stage from the committed state.
    if (this.staging === undefined || this.staging.transactionId !== ctx.transactionId) this.begin(ctx);
    return (this.staging as Staging).functions;
  }

  private async load(entry: Entry): Promise<LoadedFunction> {
    const config = decodeEntryConfig(FunctionJsConfig, entry);
    /** `file:line:col: function <id>`, at the field the message is about. */
    const whereAt = (field: 'file' | 'export'): string => {
      const at = formatEntryLocation(entry, ['data', field]);
      return `${at === undefined ? '' : `${at}: `}function ${entry.id}`;
    };
    const where = whereAt('file');
    const source = getEntrySource(entry);
    const base = source === undefined ? this.baseDir : dirname(source.file);
    const file = isAbsolute(config.file) ? config.file : resolve(base, config.file);
    let content: Buffer;
    try {
      content = await readFile(file);
    } catch (error) {
      const missing = (error as NodeJS.ErrnoException).code === 'ENOENT';
      throw new KindlingError('INVALID', `${where}: ${missing ? `module file ${config.file} does not exist (looked for ${file})` : `cannot read ${file}: ${messageOf(error)}`}`, {
        cause: error,
        details: { entryId: entry.id, file },
      });
    }
    const version = createHash('sha256').update(content).digest('hex').slice(0, 16);
    let namespace: Record<string, unknown>;
    try {
      // The content hash in the URL makes a changed file a new module; an unchanged one stays cached.
      namespace = (await import(/* @vite-ignore */ `${pathToFileURL(file).href}?v=${version}`)) as Record<string, unknown>;
    } catch (error) {
      throw new KindlingError('INVALID', `${where}: module ${config.file} failed to load: ${describeLoadError(error)}`, {
        cause: error,
        details: { entryId: entry.id, file },
      });
    }
    const fn = namespace[config.export];
    if (typeof fn !== 'function') {
      const exports = Object.keys(namespace).filter((key) => typeof namespace[key] === 'function').sort();
      const found = fn === undefined ? 'has no export' : `exports a ${typeof fn}, not a function, as`;
      throw new KindlingError(
        'INVALID',
        `${whereAt('export')}: module ${config.file} ${found} "${config.export}" (its function exports: ${exports.length === 0 ? 'none' : exports.join(', ')})`,
        { details: { entryId: entry.id, file, export: config.export } },
      );
    }
    return Object.freeze({ id: entry.id, file, exportName: config.export, version, fn: fn as LoadedFunction['fn'] });
  }
}

function stackOf(fault: unknown): string | undefined {
  try {
    const stack = (fault as { stack?: unknown } | null | undefined)?.stack;
    return typeof stack === 'string' ? stack : undefined;
  } catch {
    return undefined;
  }
}

function describeLoadError(error: unknown): string {
  const message = messageOf(error);
  // Node puts the file and line of a syntax error in the first line of the stack, not the message.
  const stack = error instanceof Error ? error.stack : undefined;
  const first = stack?.split('\n')[0];
  return first !== undefined && first.startsWith('file://') && !message.includes(first) ? `${message} (${first})` : message;
}
