import { realpathSync } from 'node:fs';
import { basename, sep } from 'node:path';
import {
  FileBoundary,
  KindlingError,
  RegistryYamlCache,
  createConsoleLogger,
  loadRegistryYaml,
  messageOf,
  toDisposable,
} from 'kindling';
import type { ApplyResult, Disposable, Logger, LogLevel, Registry, RegistryOp } from 'kindling';
import { EventBus } from 'kindling/events';
import { AdminEndpoint } from '../admin/admin-endpoint.js';
import type { AdminServerOptions } from '../admin/admin-server.js';
import { BootEventName } from '../kernel/boot-events.js';
import type { Component } from '../kernel/component.js';
import { EntryFiles } from '../kernel/container.js';
import { BootLoader } from '../kernel/loader.js';
import type { ShutdownReport } from '../kernel/loader.js';
import { DurableState } from '../state/durable-state.js';
import type { JournalLimits } from '../state/durable-state.js';
import { statePaths } from '../state/state-dir.js';
import { AppliedSources } from './applied-sources.js';
import { describeRefusal } from './refusal.js';
import { formatProblem } from './problems.js';
import { watchApp } from './app-watch.js';
import type { AppWatch, WatchOptions } from './app-watch.js';
import { displayPath } from './display-path.js';
import { loadBootManifest, resolveManifestComponents } from './manifest.js';
import type { BootManifest } from './manifest.js';
import { ClusterNats, RegistryJournal, getRegistry } from '../kernel/well-known.js';
import { reloadLogLine } from './reload-report.js';
import { resolveCluster, type ResolvedCluster } from '../cluster/cluster-address.js';
import type { ClusterMember } from '../cluster/cluster-member.js';
import type { ClusterMembership } from '../cluster/cluster-types.js';
import type { ClusterNodeStatus } from '../state/cluster-node.js';
import type { ReloadOutcome } from './reload-report.js';

export type { ReloadOutcome } from './reload-report.js';

/** Options of {@link Application.load}. */
export interface ApplicationOptions {
  /**
   * The components a manifest may name without a module path: usually `builtinComponents` of
   * `kindling/components` (the `kindling` command passes them), plus any of the embedder's own.
   */
  readonly builtins: Readonly<Record<string, Component>>;
  /** The logger; by default a console logger at the manifest's `log` level (info). */
  readonly logger?: Logger;
  /** The level of the default logger, overriding the manifest's `log` (ignored with `logger`). */
  readonly logLevel?: LogLevel;
  /** Default time limit of each component's load, in ms (30 s). */
  readonly loadTimeoutMs?: number;
  /** Default time limit of each component's start, in ms (30 s). */
  readonly startTimeoutMs?: number;
  /**
   * The app's state directory (relative to the working directory), or `true` for the default
   * `<app dir>/.kindling`. With one, `start` claims it (refusing when an app already runs with
   * it), journals every committed batch after the YAML baseline, replays the journal over the
   * baseline, and serves `kindling plan | apply | history | rollback` on its admin socket. None by
   * default.
   */
  readonly stateDir?: string | true;
  /** Limits of the state directory's journal: its largest record, and when it is compacted. */
  readonly journal?: JournalLimits;
  /** Limits of the admin endpoint: request size, operations per batch, time, connections. */
  readonly admin?: AdminServerOptions;
  /** This node's name in a cluster (the manifest's `cluster:`; default `<host>-<pid>`). */
  readonly node?: string;
}

/**
 * The source label of an app's registry YAML (`yaml:<app dir>`, the directory's real path): the
 * baseline, `--watch` reloads and `kindling apply` all apply under it, so `--prune` knows which
 * entries the YAML applied.
 */
export function yamlSourceOf(manifest: BootManifest): string {
  // A cluster's files are the same app on every machine, wherever its directory is.
  if (manifest.cluster !== undefined)
    return `yaml:cluster/${manifest.cluster.name ?? manifest.name ?? basename(manifest.dir)}`;
  let dir = manifest.dir;
  try {
    dir = realpathSync(dir);
  } catch {
    // A directory that vanished keeps the path it was given.
  }
  return `yaml:${dir}`;
}

/**
 * An application assembled from a boot manifest: its components booted in order, then the
 * registry sources applied as one batch. `reload` (and `watch`) re-reads the sources and applies
 * the difference as one batch; a refused batch leaves the previous version running.
 *
 * @example
 * const app = await Application.load('examples/hello', { builtins: builtinComponents });
 * await app.start();
 * const stop = app.watch();
 * app.onDidReload((outcome) => console.log(outcome.status));
 */
export class Application {
  /** The entries of the sources as last applied. */
  private readonly applied = new AppliedSources();
  /** What each registry file read into: a reload after one file of many changed reads that one. */
  private readonly yamlCache = new RegistryYamlCache();
  private readonly reloadListeners = new Set<(outcome: ReloadOutcome) => void>();
  private reloading: Promise<ReloadOutcome> = Promise.resolve({ status: 'unchanged', revision: 0 });
  /** Whether the last reload was refused (the next good one says it recovered). */
  private refused = false;
  /** Whether `start` has applied the baseline: watched changes wait for it. */
  private started = false;
  /** Files the watcher reported that no reload has read yet. */
  private readonly changedFiles = new Set<string>();
  /** Whether a reload of {@link changedFiles} is queued and has not begun: later changes join it. */
  private changeReloadQueued = false;
  private durable: DurableState | undefined;
  private admin: AdminEndpoint | undefined;
  /** This app's membership of its cluster (the manifest's `cluster:`), once `start` connected. */
  private member: ClusterMember | undefined;
  /** The source label of this app's registry YAML (see {@link yamlSourceOf}). */
  readonly source: string;

  private constructor(
    readonly manifest: BootManifest,
    readonly boot: BootLoader,
    readonly logger: Logger,
    /** The state directory (none: `undefined`) and the limits of its journal and admin endpoint. */
    private readonly stateOptions: {
      readonly dir: string | true | undefined;
      readonly journal: JournalLimits | undefined;
      readonly admin: AdminServerOptions | undefined;
      readonly node: string | undefined;
    },
  ) {
    this.source = yamlSourceOf(manifest);
  }

  /**
   * Reads the manifest (an app directory or a manifest file), finds its components and registers
   * them. Throws a `ManifestError` (file:line:col) for a bad manifest.
   */
  static async load(target: string, options: ApplicationOptions): Promise<Application> {
    const manifest = await loadBootManifest(target);
    const logger =
      options.logger ?? createConsoleLogger(options.logLevel ?? manifest.log ?? 'info', manifest.name ?? 'kindling');
    const boot = new BootLoader({
      logger,
      baseDir: manifest.dir,
      ...(options.loadTimeoutMs === undefined ? {} : { loadTimeoutMs: options.loadTimeoutMs }),
      ...(options.startTimeoutMs === undefined ? {} : { startTimeoutMs: options.startTimeoutMs }),
    });
    // Components that read files the registry names (function modules) hold them to the app's boundary.
    boot.context.container.bind(FileBoundary).toConstantValue(manifest.boundary);
    for (const { component, config, source } of await resolveManifestComponents(manifest, options.builtins)) {
      boot.register(component, config, { source });
    }
    return new Application(manifest, boot, logger, {
      dir: options.stateDir,
      journal: options.journal,
      admin: options.admin,
      node: options.node,
    });
  }

  /** The registry (available once the boot has loaded). */
  get registry(): Registry {
    return getRegistry(this.boot.context);
  }

  /** The state directory's journal and admin endpoint, once `start` opened them. */
  get state(): DurableState | undefined {
    return this.durable;
  }

  /** This node's membership of the cluster (with the manifest's `cluster:`), once `start` joined it. */
  get cluster(): ClusterMembership | undefined {
    return this.member;
  }

  /**
   * Boots every component, then applies the registry sources as one batch (the baseline, not
   * journaled). With a state directory: claims it first, journals every later batch, and replays
   * the journal over the baseline as one more batch. When a batch is refused, shuts down and
   * throws the refusal.
   */
  async start(): Promise<ReloadOutcome> {
    const cluster = resolveCluster(this.manifest);
    if (cluster !== undefined) await this.connectCluster(cluster);
    else if (this.stateOptions.dir !== undefined) await this.openState(this.stateOptions.dir);
    try {
      await this.boot.start();
    } catch (error) {
      await this.closeState();
      throw error;
    }
    // The events component binds the bus under its token: its durable channels are reachable by the CLI.
    const container = this.boot.context.container;
    const bus = container.isBound(EventBus) ? container.get<EventBus>(EventBus) : undefined;
    if (this.member !== undefined) {
      if (bus !== undefined) this.member.trackChannels(() => bus.channels);
      return this.startClusterNode(this.member);
    }
    this.durable?.track(this.registry);
    this.admin?.track(this.registry);
    if (bus !== undefined) this.admin?.trackChannels(() => bus.channels);
    const run = (): Promise<ReloadOutcome> => this.runReload([], true);
    this.reloading = this.reloading.then(run, run);
    const outcome = await this.reloading;
    if (outcome.status === 'refused') {
      await this.shutdown('the registry sources were refused');
      throw outcome.error;
    }
    if (this.durable !== undefined) {
      try {
        await this.durable.replay(this.registry);
      } catch (error) {
        await this.shutdown('the registry journal could not be replayed');
        throw error;
      }
      this.admin?.ready();
    }
    this.started = true;
    // What the watcher saw while the app started may be newer than what the baseline read.
    this.reloadChangedFiles();
    return outcome;
  }

  /**
   * Re-reads the registry sources and applies the difference to what they last applied (creates,
   * updates, deletes) as one batch; entries that use one of `changedFiles` (see `EntryFiles`) are
   * updated even when their YAML did not change. Never throws: a refusal is an outcome.
   */
  reload(changedFiles: readonly string[] = []): Promise<ReloadOutcome> {
    const run = (): Promise<ReloadOutcome> => this.runReload(changedFiles);
    this.reloading = this.reloading.then(run, run);
    return this.reloading;
  }

  /** Calls `listener` after every reload with what it did. */
  onDidReload(listener: (outcome: ReloadOutcome) => void): Disposable {
    this.reloadListeners.add(listener);
    return toDisposable(() => this.reloadListeners.delete(listener));
  }

  /**
   * Watches the app directory and the registry sources; each burst of changes to a registry YAML
   * file or to a file an entry uses (a function module) becomes one {@link reload}, which logs one
   * line. Bursts that come while a reload runs join into the next one. Called before {@link start},
   * and awaited `ready`, it misses nothing: changes seen before the app is up are reloaded once it
   * is. Dispose to stop.
   */
  watch(options: WatchOptions = {}): AppWatch {
    return watchApp(
      this.manifest,
      this.logger,
      (files) => {
        for (const file of files) this.changedFiles.add(file);
        if (this.started) this.reloadChangedFiles();
      },
      options,
    );
  }

  /** Stops every component, in reverse order, and closes the state directory's admin socket and journal. */
  async shutdown(reason?: string): Promise<ShutdownReport> {
    const report = await this.boot.shutdown(reason);
    await this.closeState();
    return report;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.shutdown('dispose');
  }

  private async openState(stateDir: string | true): Promise<void> {
    const paths = statePaths(this.manifest.dir, stateDir === true ? undefined : stateDir);
    // The admin socket claims the state directory: no second app opens the journal while one runs.
    const admin = await AdminEndpoint.listen({
      paths,
      name: this.manifest.name ?? basename(this.manifest.dir),
      appDir: this.manifest.dir,
      logger: this.logger,
      ...(this.stateOptions.admin === undefined ? {} : { limits: this.stateOptions.admin }),
    });
    let durable: DurableState;
    try {
      durable = await DurableState.open({
        paths,
        appDir: this.manifest.dir,
        boundary: this.manifest.boundary,
        yamlLimits: this.manifest.yamlLimits,
        logger: this.logger,
        ...(this.stateOptions.journal === undefined ? {} : { journal: this.stateOptions.journal }),
      });
    } catch (error) {
      await admin.stopping();
      throw error;
    }
    admin.serve(durable);
    this.admin = admin;
    this.durable = durable;
    this.boot.context.container.bind(RegistryJournal).toConstantValue(durable.journal);
    // However shutdown begins (a signal, a failed boot), stop taking commands at once and close the
    // journal once every component has stopped.
    this.boot.onBootEvent((event) => {
      if (event.name === BootEventName.stopping) void admin.stopping();
      else if (event.name === BootEventName.stopped) void this.closeState();
    });
  }

  /** Closes the admin socket, then the journal, or leaves the cluster. Idempotent. */
  private async closeState(): Promise<void> {
    await this.admin?.stopping();
    this.durable?.close();
    await this.member?.close();
  }

  /**
   * Connects to the cluster's NATS and opens its log, before the components boot (an app that
   * cannot reach its cluster does not start). The cluster's log replaces the state directory.
   */
  private async connectCluster(cluster: ResolvedCluster): Promise<void> {
    if (this.stateOptions.dir !== undefined)
      this.logger.debug('the registry lives in the cluster log: no local journal or admin socket');
    const { ClusterMember } = await import('../cluster/cluster-member.js');
    const name = this.manifest.name ?? basename(this.manifest.dir);
    this.member = await ClusterMember.connect({
      ...cluster,
      ...(this.stateOptions.node === undefined ? {} : { node: this.stateOptions.node }),
      app: { name, dir: this.manifest.dir },
      logger: this.logger,
      onStatus: (status) => this.announce(status),
    });
    const member = this.member;
    this.boot.context.container
      .bind<ClusterNats>(ClusterNats)
      .toConstantValue({ prefix: cluster.prefix ?? 'kindling', connection: () => member.natsConnection });
    this.boot.onBootEvent((event) => {
      if (event.name === BootEventName.stopped) void this.closeState();
    });
  }

  /**
   * Joins the cluster once the components are up: catches up from its log (the node is ready then),
   * fills an empty cluster with the registry sources, and otherwise says how the sources differ
   * from the cluster's state without applying them.
   */
  private async startClusterNode(member: ClusterMember): Promise<ReloadOutcome> {
    let node;
    try {
      node = await member.join(this.registry);
    } catch (error) {
      await this.shutdown('the cluster could not be joined');
      throw error;
    }
    const info = node.info;
    this.logger.info(
      `node ${info.node} joined cluster ${member.log.stream.replace(/^KINDLING_REGISTRY_/, '')} at revision ${info.clusterRevision} (${info.state})`,
    );
    const run = (): Promise<ReloadOutcome> => this.runReload([], true);
    this.reloading = this.reloading.then(run, run);
    const outcome = await this.reloading;
    if (outcome.status === 'refused') {
      await this.shutdown('the registry sources were refused');
      throw outcome.error;
    }
    this.started = true;
    this.reloadChangedFiles();
    return outcome;
  }

  /** Tells of a change of the node's state: a log line, and a `$registry` event on the bus. */
  private announce(status: ClusterNodeStatus): void {
    const container = this.boot.context.container;
    if (status.state !== 'desynced')
      this.logger.info(`node ${status.node} is ${status.state} at revision ${status.revision}`);
    if (!container.isBound(EventBus)) return;
    container
      .get<EventBus>(EventBus)
      .send('$registry', `node_${status.state.replace('-', '_')}`, status.node, status)
      .catch((error: unknown) => this.logger.warn(`the node's status could not be sent: ${messageOf(error)}`));
  }

  /**
   * Commits a batch of the registry sources: through the cluster (proposed to its log) or to the
   * local registry. The baseline of a local app is not journaled (the YAML itself is on disk).
   */
  private commit(ops: readonly RegistryOp[], initial: boolean): Promise<ApplyResult> {
    if (this.member !== undefined)
      return this.member.propose(ops, { source: this.source, ...(initial ? { expectRevision: 0 } : {}) });
    return this.registry.apply(ops, { source: this.source, ...(initial ? { durable: false } : {}) });
  }

  /**
   * With a cluster whose log is not empty, the first read of the sources applies nothing: the
   * cluster's state wins, and the node says how its files differ (it does not fight over them).
   */
  private async clusterHasState(initial: boolean): Promise<boolean> {
    const node = this.member?.joined;
    if (!initial || node === undefined) return false;
    await node.catchUp();
    return node.info.clusterRevision > 0;
  }

  /** Queues one reload of the files the watcher reported, unless one is queued already (they join it). */
  private reloadChangedFiles(): void {
    if (this.changedFiles.size === 0 || this.changeReloadQueued) return;
    this.changeReloadQueued = true;
    const run = (): Promise<ReloadOutcome> => {
      this.changeReloadQueued = false;
      const files = [...this.changedFiles].sort();
      this.changedFiles.clear();
      const read = files.filter((file) => this.reads(file));
      if (read.length === 0) {
        this.logger.debug(
          `no registry source or entry file among the changed files (${files.map(displayPath).join(', ')})`,
        );
        // Nothing was reloaded: nothing to report, nor to tell reload listeners.
        return Promise.resolve({ status: 'unchanged', revision: this.registry.revision, files });
      }
      return this.runReload(read);
    };
    this.reloading = this.reloading.then(run, run);
  }

  /** Whether a reload reads `file`: a registry source, a YAML file under one, or a file an entry uses. */
  private reads(file: string): boolean {
    const yaml = /\.ya?ml$/i.test(file);
    if (this.manifest.registry.some((source) => file === source || (yaml && file.startsWith(source + sep))))
      return true;
    return (this.entryFiles()?.entriesUsing(file).length ?? 0) > 0;
  }

  private entryFiles(): EntryFiles | undefined {
    const container = this.boot.context.container;
    return container.isBound(EntryFiles) ? container.get<EntryFiles>(EntryFiles) : undefined;
  }

  private async runReload(changedFiles: readonly string[], initial = false): Promise<ReloadOutcome> {
    const registry = this.registry;
    let outcome: ReloadOutcome;
    const ops: RegistryOp[] = [];
    // Only what is there: a direct reload() keeps its outcome as plain as it always was.
    const extra = {
      ...(changedFiles.length === 0 ? {} : { files: [...changedFiles] }),
      ...(this.refused ? { recovered: true as const } : {}),
    };
    try {
      const { fileEntries } = await loadRegistryYaml(this.manifest.registry, {
        ...this.manifest.yamlLimits,
        root: this.manifest.boundary,
        cache: this.yamlCache,
        // After a save, the watch names what changed: the other files are not read again.
        ...(changedFiles.length === 0 ? {} : { changedFiles }),
      });
      const entryFiles = this.entryFiles();
      const touched = new Set(changedFiles.flatMap((file) => entryFiles?.entriesUsing(file) ?? []));
      const found = this.applied.compare(fileEntries, touched, registry);
      const { changes } = found;
      ops.push(...found.ops);
      if (await this.clusterHasState(initial)) {
        // Entries of these files' source that the cluster holds and the files no longer declare.
        const owners = this.member?.joined?.owners() ?? {};
        for (const [id, owner] of Object.entries(owners))
          if (owner === this.source && !found.declares(id) && registry.has(id)) changes.push(`-${id}`);
        this.applied.accept(found);
        if (changes.length > 0) this.reportDifference(changes);
        outcome = { status: 'unchanged', revision: registry.revision, ...extra };
      } else if (ops.length === 0) {
        this.applied.accept(found);
        outcome = { status: 'unchanged', revision: registry.revision, ...extra };
      } else {
        let result: ApplyResult;
        try {
          result = await this.commit(ops, initial);
        } catch (error) {
          // Another node filled the empty cluster first: its state wins, as for any later node.
          if (!(initial && this.member !== undefined && KindlingError.is(error) && error.code === 'CONFLICT'))
            throw error;
          return this.runReload(changedFiles, initial);
        }
        this.applied.accept(found);
        outcome = { status: 'applied', revision: result.revision, changes, result, ...extra };
      }
    } catch (error) {
      const problems = describeRefusal(error, ops).problems.map(formatProblem);
      outcome = {
        status: 'refused',
        revision: registry.revision,
        ...(changedFiles.length === 0 ? {} : { files: [...changedFiles] }),
        error,
        message: messageOf(error),
        problems,
      };
    }
    this.refused = outcome.status === 'refused';
    this.report(outcome, initial);
    return outcome;
  }

  /** How this node's registry sources differ from the cluster's state, which it does not change. */
  private reportDifference(changes: readonly string[]): void {
    const shown = changes.slice(0, 20).join(' ');
    const more = changes.length > 20 ? ` and ${changes.length - 20} more` : '';
    const dir = displayPath(this.manifest.dir);
    this.logger.warn(
      `the registry files of this node differ from the cluster's state at revision ${this.registry.revision}: ${shown}${more}; the cluster's state is served. \`kindling plan ${dir}\` shows the difference, \`kindling apply ${dir}\` applies the files to every node`,
    );
  }

  private report(outcome: ReloadOutcome, initial: boolean): void {
    if (initial) {
      // A refused first batch is thrown by start(): whoever started the app reports it.
      if (outcome.status === 'applied')
        this.logger.info(`applied revision ${outcome.revision}: ${outcome.changes.length} entries`);
    } else {
      const { level, message } = reloadLogLine(outcome);
      this.logger[level](message);
    }
    for (const listener of [...this.reloadListeners]) {
      try {
        listener(outcome);
      } catch (error) {
        this.logger.error(`a reload listener threw: ${messageOf(error)}`, { error });
      }
    }
  }
}
