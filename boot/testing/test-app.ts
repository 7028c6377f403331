// `kindling/testing`: boot a plugin with a registry and apply YAML snippets to it, in a few lines.

import { AssertionError } from 'node:assert';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import type { ContainerModule, ServiceIdentifier } from 'inversify';
import { KindlingError, createEntry, decodeEntryConfig, messageOf, parseRegistryYaml, silentLogger } from 'kindling';
import type {
  ApplyResult,
  ConfigClass,
  EntryListener,
  EntryObserver,
  HandlerRegistry,
  ListenerOptions,
  Logger,
  Registry,
  RegistryOp,
} from 'kindling';
import { builtinComponents } from 'kindling/components';
import type { Component, ComponentOptions } from '../kernel/component.js';
import { BootLoader } from '../kernel/loader.js';
import type { ShutdownReport } from '../kernel/loader.js';
import { EventsName, RegistryName, getHandlerRegistry, getRegistry } from '../kernel/well-known.js';

/** Options of {@link bootTestApp}. */
export interface TestAppOptions {
  /**
   * The components under test, besides `events` and `registry` (always booted). A built-in may be
   * given by name (`'http'`, `'function'`).
   */
  readonly components?: readonly (Component | ComponentOptions | string)[];
  /** Raw config of components, by component name (as a manifest would give it). */
  readonly config?: Readonly<Record<string, unknown>>;
  /** Listeners to register directly. */
  readonly listeners?: readonly { pattern: string; listener: EntryListener; options?: ListenerOptions }[];
  /** Observers to register directly. */
  readonly observers?: readonly { pattern: string; observer: EntryObserver }[];
  /** Container modules to load (e.g. ones binding `@entryListener` classes). */
  readonly modules?: readonly ContainerModule[];
  /** Kind patterns the registry accepts without a listener. */
  readonly acceptKinds?: readonly string[];
  /** Where YAML snippets (and files they name) are written; a fresh temp dir, removed at shutdown, by default. */
  readonly dir?: string;
  readonly logger?: Logger;
  /** Time limit of each listener call, in ms. */
  readonly listenerTimeoutMs?: number;
}

/** What a refusal is expected to look like. */
export type RefusalMatcher = string | RegExp | { readonly code?: string; readonly message?: string | RegExp };

/**
 * A booted test application (see {@link bootTestApp}). Dispose it (`await using`) or call
 * `shutdown` to stop every component and close every server.
 */
export class TestApp implements AsyncDisposable {
  private snippets = 0;

  constructor(
    readonly boot: BootLoader,
    /** Where snippets and files are written. */
    readonly dir: string,
    private readonly ownsDir: boolean,
  ) {}

  get registry(): Registry {
    return getRegistry(this.boot.context);
  }

  get handlers(): HandlerRegistry {
    return getHandlerRegistry(this.boot.context);
  }

  /** A service of the boot's container. */
  get<T>(token: ServiceIdentifier<T>): T {
    return this.boot.context.container.get<T>(token);
  }

  /** Writes a file under {@link dir} (a function module, a template...) and returns its absolute path. */
  async write(path: string, content: string): Promise<string> {
    const file = resolve(this.dir, path);
    await mkdir(dirname(file), { recursive: true });
    await writeFile(file, content);
    return file;
  }

  /**
   * Applies a YAML snippet as one batch: each entry is created, or updated when it exists. The
   * snippet is a registry file (`namespace: test` is assumed when it names none) written under
   * {@link dir}, so relative paths in it resolve there. Throws the registry's refusal.
   *
   * @example
   * await app.apply(`
   * entries:
   *   - { name: main, kind: http.service, addr: "127.0.0.1:0" }
   * `);
   */
  async apply(yaml: string, options: { dryRun?: boolean; file?: string } = {}): Promise<ApplyResult> {
    const ops = await this.opsOf(yaml, options.file);
    return this.registry.apply(ops, {
      source: 'kindling/testing',
      ...(options.dryRun === true ? { dryRun: true } : {}),
    });
  }

  /** Deletes entries by id, as one batch. */
  remove(...ids: string[]): Promise<ApplyResult> {
    return this.registry.apply(
      ids.map((id) => ({ op: 'delete', entry: { id } })),
      { source: 'kindling/testing' },
    );
  }

  /** Applies `yaml` and fails with the refusal's message when it is refused. */
  async expectAccepted(yaml: string, options: { dryRun?: boolean; file?: string } = {}): Promise<ApplyResult> {
    try {
      return await this.apply(yaml, options);
    } catch (error) {
      throw new AssertionError({
        message: `expected the batch to be accepted, but it was refused: ${messageOf(error)}`,
      });
    }
  }

  /**
   * Applies `yaml`, fails when it is accepted (or refused differently than `expected` says), and
   * returns the refusal. The registry's revision is checked to be unchanged.
   */
  async expectRefused(
    yaml: string,
    expected?: RefusalMatcher,
    options: { dryRun?: boolean; file?: string } = {},
  ): Promise<KindlingError> {
    const revision = this.registry.revision;
    let result: ApplyResult;
    try {
      result = await this.apply(yaml, options);
    } catch (error) {
      if (!KindlingError.is(error))
        throw new AssertionError({ message: `expected a KindlingError refusal, got ${messageOf(error)}` });
      const text = fullMessage(error);
      const want =
        typeof expected === 'string' || expected instanceof RegExp ? { message: expected } : (expected ?? {});
      if (want.code !== undefined && error.code !== want.code) {
        throw new AssertionError({ message: `expected a refusal with code ${want.code}, got ${error.code}: ${text}` });
      }
      if (
        want.message !== undefined &&
        !(typeof want.message === 'string' ? text.includes(want.message) : want.message.test(text))
      ) {
        throw new AssertionError({ message: `the refusal did not match ${String(want.message)}: ${text}` });
      }
      if (this.registry.revision !== revision)
        throw new AssertionError({
          message: `a refused batch moved the revision from ${revision} to ${this.registry.revision}`,
        });
      return error;
    }
    throw new AssertionError({
      message: `expected the batch to be refused, but it was accepted as revision ${result.revision}`,
    });
  }

  /** Stops every component (closing servers) and removes the temp dir it created. */
  async shutdown(): Promise<ShutdownReport> {
    const report = await this.boot.shutdown('test finished');
    if (this.ownsDir) await rm(this.dir, { recursive: true, force: true });
    if (report.failures.length > 0) {
      throw new AggregateError(
        report.failures.map((failure) => failure.error),
        `${report.failures.length} component(s) failed to stop: ${report.failures.map((f) => f.component).join(', ')}`,
      );
    }
    return report;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.shutdown();
  }

  private async opsOf(yaml: string, name: string | undefined): Promise<RegistryOp[]> {
    const text = /^namespace\s*:/m.test(yaml) ? yaml : `namespace: test\n${yaml}`;
    this.snippets += 1;
    const file = await this.write(name ?? `snippet-${this.snippets}.yaml`, text);
    const entries = parseRegistryYaml(text, file);
    return entries.map((entry) => ({ op: this.registry.has(entry.id) ? 'update' : 'create', entry }));
  }
}

/** The message of an error followed by its causes' messages (a refusal wraps the listener's error). */
function fullMessage(error: unknown): string {
  const parts: string[] = [];
  let current: unknown = error;
  for (let depth = 0; current !== undefined && depth < 5; depth++) {
    const message = messageOf(current);
    if (!parts.some((part) => part.includes(message))) parts.push(message);
    current = current instanceof Error ? current.cause : undefined;
  }
  return parts.join(' <- ');
}

/**
 * Boots the components under test with an event bus and a registry, ready for YAML snippets.
 *
 * @example
 * await using app = await bootTestApp({ components: ['function', 'http'] });
 * await app.write('hello.js', 'export const hello = () => ({ body: "hi" });');
 * await app.expectAccepted(`
 * entries:
 *   - { name: hello, kind: function.js, file: ./hello.js, export: hello }
 * `);
 * await app.expectRefused(`
 * entries:
 *   - { name: broken, kind: function.js, file: ./missing.js }
 * `, /does not exist/);
 */
export async function bootTestApp(options: TestAppOptions = {}): Promise<TestApp> {
  const ownsDir = options.dir === undefined;
  const dir = options.dir ?? (await mkdtemp(join(tmpdir(), 'kindling-test-')));
  const boot = new BootLoader({ logger: options.logger ?? silentLogger, baseDir: dir });
  const config = options.config ?? {};
  const registryConfig = {
    ...((config[RegistryName] as Record<string, unknown> | undefined) ?? {}),
    ...(options.acceptKinds === undefined ? {} : { acceptKinds: [...options.acceptKinds] }),
    ...(options.listenerTimeoutMs === undefined ? {} : { listenerTimeoutMs: options.listenerTimeoutMs }),
  };
  const builtins: Readonly<Record<string, Component | undefined>> = builtinComponents;
  boot.register(builtinComponents.events, config[EventsName]);
  boot.register(builtinComponents.registry, registryConfig);
  const names: string[] = [];
  for (const item of options.components ?? []) {
    const component = typeof item === 'string' ? builtins[item] : item;
    if (component === undefined) {
      throw new KindlingError(
        'NOT_FOUND',
        `no built-in component "${item as string}" (built-ins: ${Object.keys(builtinComponents).join(', ')})`,
      );
    }
    if (component.name === EventsName || component.name === RegistryName) continue;
    boot.register(component, config[component.name]);
    names.push(component.name);
  }
  if (options.listeners !== undefined || options.observers !== undefined || options.modules !== undefined) {
    boot.register({
      name: 'kindling-testing',
      dependsOn: [RegistryName, ...names],
      load: async (ctx) => {
        if (options.modules !== undefined) await ctx.container.loadAsync(...options.modules);
        const handlers = getHandlerRegistry(ctx);
        for (const { pattern, listener, options: listenerOptions } of options.listeners ?? [])
          handlers.registerListener(pattern, listener, listenerOptions);
        for (const { pattern, observer } of options.observers ?? []) handlers.registerObserver(pattern, observer);
      },
    });
  }
  try {
    await boot.start();
  } catch (error) {
    if (ownsDir) await rm(dir, { recursive: true, force: true });
    throw error;
  }
  return new TestApp(boot, dir, ownsDir);
}

/**
 * Decodes the data of the one entry in a YAML snippet into `ConfigClass` (as a listener would),
 * for testing a config class on its own. Throws the `ConfigError` (with snippet positions).
 *
 * @example
 * const config = decodeYamlConfig(HttpServiceConfig, 'entries:\n  - { name: s, kind: http.service, addr: ":8080" }');
 */
export function decodeYamlConfig<T extends object>(
  ConfigClass: ConfigClass<T>,
  yaml: string,
  file = 'snippet.yaml',
): Readonly<T> {
  const text = /^namespace\s*:/m.test(yaml) ? yaml : `namespace: test\n${yaml}`;
  const entries = parseRegistryYaml(text, file);
  if (entries.length !== 1)
    throw new KindlingError('INVALID', `decodeYamlConfig expects a snippet with one entry, got ${entries.length}`);
  return decodeEntryConfig(ConfigClass, createEntry(entries[0] as never));
}
