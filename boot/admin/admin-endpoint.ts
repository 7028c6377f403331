import type { Logger, Registry } from 'kindling';
import type { Channels } from 'kindling/events';
import { KindlingError } from 'kindling';
import type { DurableState, JournalInfo } from '../state/durable-state.js';
import type { StatePaths } from '../state/state-dir.js';
import { toAdminEntries, toAdminHistory, toAdminResult } from './admin-protocol.js';
import type { AdminPhase, AdminStatus } from './admin-protocol.js';
import { AdminServer } from './admin-server.js';
import { channelHandlers } from './channel-handlers.js';
import type { AdminHandlers, AdminServerOptions } from './admin-server.js';

/** Options of {@link AdminEndpoint.listen}. */
export interface AdminEndpointOptions {
  readonly paths: StatePaths;
  /** The app's name, as `status` reports it. */
  readonly name: string;
  readonly appDir: string;
  readonly logger: Logger;
  /** Limits of the endpoint: request size, operations per batch, time, connections. */
  readonly limits?: AdminServerOptions;
}

/**
 * The admin endpoint of a running app: the socket that claims its state directory, and the commands
 * of `kindling plan | apply | history | rollback | compact` over its registry and its durable state.
 * Until {@link ready} it answers only `status` ("starting"); once shutdown begins, nothing.
 *
 * @example
 * const admin = await AdminEndpoint.listen({ paths, name, appDir, logger }); // refuses if the app already runs
 * admin.serve(await DurableState.open({ paths, appDir, logger }));
 * // boot, then:
 * admin.track(registry);
 * admin.ready();
 */
export class AdminEndpoint {
  private server: AdminServer | undefined;
  private state: DurableState | undefined;
  private registry: Registry | undefined;
  private channels: (() => Channels) | undefined;
  private phase: AdminPhase = 'starting';
  private readonly startedAt = new Date().toISOString();

  private constructor(private readonly options: AdminEndpointOptions) {}

  /**
   * Claims the state directory and listens on its admin socket (throws `CONFLICT` when an app
   * already runs with it), answering "starting" until {@link ready}.
   */
  static async listen(options: AdminEndpointOptions): Promise<AdminEndpoint> {
    const endpoint = new AdminEndpoint(options);
    endpoint.server = await AdminServer.listen(options.paths, endpoint.handlers(), options.logger, options.limits);
    return endpoint;
  }

  /** The durable state the commands read and change (its journal, its owners). */
  serve(state: DurableState): void {
    this.state = state;
  }

  /** The registry the commands apply to; `status` reports its revision from now on. */
  track(registry: Registry): void {
    this.registry = registry;
  }

  /** The durable channels whose dead letters `kindling dead-letters` and `kindling redrive` reach. */
  trackChannels(channels: () => Channels): void {
    this.channels = channels;
  }

  /** The endpoint serves every command from now on. */
  ready(): void {
    if (this.phase === 'starting') this.phase = 'ready';
  }

  /** Stops serving commands: the app is shutting down. Idempotent. */
  stopping(): Promise<void> {
    this.phase = 'stopping';
    return this.server?.close() ?? Promise.resolve();
  }

  private get journalInfo(): JournalInfo {
    return this.state?.journalInfo ?? { path: this.options.paths.journal, replayedBatches: 0, tornTail: false };
  }

  private requireReady(): { registry: Registry; state: DurableState } {
    if (this.phase === 'stopping')
      throw new KindlingError('UNAVAILABLE', `${this.options.name} is shutting down`, { retryable: true });
    if (this.phase === 'starting' || this.registry === undefined || this.state === undefined) {
      throw new KindlingError('UNAVAILABLE', `${this.options.name} is starting; try again once it is running`, {
        retryable: true,
      });
    }
    return { registry: this.registry, state: this.state };
  }

  private requireChannels(): Channels {
    this.requireReady();
    if (this.channels === undefined)
      throw new KindlingError(
        'NOT_FOUND',
        `${this.options.name} has no event bus, so no durable channels: load the events component`,
      );
    return this.channels();
  }

  private handlers(): AdminHandlers {
    return {
      status: (): AdminStatus => ({
        pid: process.pid,
        name: this.options.name,
        appDir: this.options.appDir,
        stateDir: this.options.paths.dir,
        phase: this.phase,
        startedAt: this.startedAt,
        revision: this.registry?.revision ?? 0,
        entries: this.registry?.size ?? 0,
        journal: this.journalInfo,
      }),
      entries: () => {
        const { registry, state } = this.requireReady();
        return toAdminEntries(registry, state.owners.toJSON());
      },
      history: () => {
        const { registry } = this.requireReady();
        return toAdminHistory(registry, this.journalInfo);
      },
      apply: async (request) => {
        const { registry, state } = this.requireReady();
        if (request.allNodes === true)
          throw new KindlingError(
            'INVALID',
            `${this.options.name} is not a cluster: --all-nodes needs the manifest's cluster: { nats } (see docs/cluster.md)`,
          );
        await state.readSources(request.ops);
        const result = await registry.apply(request.ops, {
          ...flags(request),
          source: request.source ?? 'kindling apply',
        });
        return toAdminResult(result);
      },
      rollback: async (request) => {
        const { registry } = this.requireReady();
        return toAdminResult(await registry.rollbackTo(request.revision, flags(request)));
      },
      compact: () => {
        const { state } = this.requireReady();
        return { path: state.paths.journal, ...state.compact() };
      },
      ...channelHandlers(() => this.requireChannels()),
    };
  }
}

function flags(request: { dryRun: boolean; expectRevision?: number }): { dryRun: boolean; expectRevision?: number } {
  return {
    dryRun: request.dryRun,
    ...(request.expectRevision === undefined ? {} : { expectRevision: request.expectRevision }),
  };
}
