import { KindlingError, entryConfig, messageOf, resolveEntryRef } from 'kindling';
import type { Entry, EntryListener, ListenerContext, Logger } from 'kindling';
import type {
  ChannelContext,
  ChannelSubscription,
  EventBus,
  EventContext,
  Service,
  ServiceEventHandler,
} from 'kindling/events';
import type { Functions } from '../function/index.js';
import { Referrers, StagedMap } from '../staging/index.js';
import { ReactiveKind } from './kinds.js';
import { copySchema } from './params-schema.js';
import { ChannelConsumerConfig, EventListenerConfig, TimerCronConfig, TimerIntervalConfig } from './reactive-config.js';
import type { TimerCommonConfig } from './reactive-config.js';
import { namespaceOf, requireFunction, stillCalled } from './refusals.js';
import { cronSchedule, intervalSchedule } from './schedule.js';
import type { Schedule } from './schedule.js';
import type { TickClaims } from './tick-claims.js';
import { TimerRunner } from './timer-runner.js';

/** What one entry asks for, decoded and checked: what commit starts. */
type Spec =
  | {
      readonly kind: 'event.listener';
      readonly id: string;
      readonly func: string;
      readonly config: EventListenerConfig;
    }
  | {
      readonly kind: 'channel.consumer';
      readonly id: string;
      readonly func: string;
      readonly deadLetter: string | undefined;
      readonly config: ChannelConsumerConfig;
    }
  | {
      readonly kind: 'timer.interval' | 'timer.cron';
      readonly id: string;
      readonly func: string;
      readonly config: TimerCommonConfig;
      readonly schedule: Schedule;
    };

/** A started entry: its spec's fingerprint, and how to stop it. */
interface Running {
  readonly fingerprint: string;
  readonly spec: Spec;
  stop(): Promise<void>;
  /** A timer's runner (for its counts). */
  readonly timer?: TimerRunner;
}

interface Staging {
  readonly transactionId: string;
  /** The batch's changes over the committed specs. */
  readonly specs: StagedMap<Spec>;
}

/** Options of a {@link ReactiveManager}. */
export interface ReactiveManagerOptions {
  readonly logger: Logger;
  readonly functions: Functions;
  readonly bus: EventBus;
  /** Which node runs a timer tick: every tick here, or the first node to claim it on JetStream. */
  readonly claims: TickClaims;
}

/** The ids of the functions a spec calls. */
function calls(spec: Spec): string[] {
  return spec.kind === 'channel.consumer' && spec.deadLetter !== undefined ? [spec.func, spec.deadLetter] : [spec.func];
}

/** What makes two specs the same running thing: kind and decoded config. */
function fingerprintOf(spec: Spec): string {
  return `${spec.kind}\u0000${spec.func}\u0000${JSON.stringify(spec.config)}`;
}

/**
 * The listener of `event.listener`, `channel.consumer`, `timer.interval` and `timer.cron` (and a
 * guard on `function.*` deletes). Transactional, as the http component: `add` / `update` decode and
 * check an entry into a staged copy (a bad pattern, params schema, cron expression or a function
 * that does not exist refuse the batch); `commit` swaps the staged copy in and then starts and
 * stops what changed — Moleculer-style services on the bus, channel subscriptions, timers. A
 * refused or discarded batch never touches what runs.
 *
 * Before the component starts (the bus may not be connected yet), commits only record; `start`
 * starts what is committed.
 */
export class ReactiveManager implements EntryListener {
  private readonly committed = new Map<string, Spec>();
  /** The specs that call each function (and dead-letter function). */
  private readonly callers = new Referrers<Spec>(calls);
  private staging: Staging | undefined;
  private readonly running = new Map<string, Running>();
  /**
   * The ids whose committed spec may differ from what runs: those a commit changed, every id at
   * start and stop, and those that failed to start (tried again by the next reconcile).
   */
  private readonly dirty = new Set<string>();
  private started = false;
  /** Reconciles run one after the other. */
  private settling: Promise<void> = Promise.resolve();

  constructor(private readonly options: ReactiveManagerOptions) {}

  // ---- transaction -------------------------------------------------------------------------

  begin(ctx: ListenerContext): void {
    // Called once per registration (the kinds, and function deletes): stage once per batch.
    if (this.staging?.transactionId === ctx.transactionId) return;
    this.staging = { transactionId: ctx.transactionId, specs: new StagedMap(this.committed, [this.callers]) };
  }

  add(ctx: ListenerContext, entry: Entry): void {
    const spec = this.decode(ctx, entry);
    if (spec !== undefined) this.stage(ctx).specs.set(spec.id, spec);
  }

  update(ctx: ListenerContext, entry: Entry): void {
    this.add(ctx, entry);
  }

  delete(ctx: ListenerContext, entry: Entry): void {
    const staging = this.stage(ctx);
    if (entry.kind.startsWith('function.')) {
      if (!this.callers.has(entry.id, staging.specs)) return;
      // The callers in the order the specs are staged, as the refusal has always listed them.
      const callers = [...staging.specs.values()]
        .filter((spec) => calls(spec).includes(entry.id))
        .map((spec) => `${spec.kind} ${spec.id}`);
      if (callers.length > 0) throw stillCalled(entry, callers);
      return;
    }
    staging.specs.delete(entry.id);
  }

  async commit(ctx: ListenerContext): Promise<void> {
    const staging = this.staging;
    if (staging === undefined || staging.transactionId !== ctx.transactionId) return;
    this.staging = undefined;
    if (ctx.dryRun) return staging.specs.discard();
    for (const [id] of staging.specs.changed()) this.dirty.add(id);
    staging.specs.commit();
    if (this.started) await this.reconcile();
  }

  discard(ctx: ListenerContext): void {
    if (this.staging?.transactionId !== ctx.transactionId) return;
    this.staging.specs.discard();
    this.staging = undefined;
  }

  // ---- life --------------------------------------------------------------------------------

  /** Starts what is committed; later commits start and stop what they change. */
  async start(): Promise<void> {
    this.started = true;
    for (const id of this.committed.keys()) this.dirty.add(id);
    await this.reconcile();
  }

  /** Stops every timer, listener and consumer (consumers finish the messages in hand). */
  async stop(): Promise<void> {
    this.started = false;
    this.staging?.specs.discard();
    this.staging = undefined;
    for (const id of this.running.keys()) this.dirty.add(id);
    await this.reconcile();
  }

  /** The entries running now, by id, with a timer's counts: for tests and tools. */
  describe(): Record<string, { kind: string; ran?: number; skipped?: number; claimedElsewhere?: number }> {
    const out: Record<string, { kind: string; ran?: number; skipped?: number; claimedElsewhere?: number }> = {};
    for (const [id, running] of [...this.running].sort(([a], [b]) => a.localeCompare(b))) {
      out[id] = { kind: running.spec.kind, ...running.timer?.counts };
    }
    return out;
  }

  // ---- decoding ----------------------------------------------------------------------------

  private stage(ctx: ListenerContext): Staging {
    if (this.staging?.transactionId !== ctx.transactionId) this.begin(ctx);
    return this.staging as Staging;
  }

  /** The spec of `entry`, checked; undefined for a function (only its deletion concerns us). */
  private decode(ctx: ListenerContext, entry: Entry): Spec | undefined {
    const namespace = namespaceOf(entry.id);
    const func = (field: string, ref: string): string => {
      const id = resolveEntryRef(ref, namespace);
      requireFunction(ctx, entry, field, id);
      return id;
    };
    switch (entry.kind) {
      case ReactiveKind.eventListener: {
        const config = entryConfig(EventListenerConfig, entry);
        return { kind: 'event.listener', id: entry.id, func: func('func', config.func), config };
      }
      case ReactiveKind.channelConsumer: {
        const config = entryConfig(ChannelConsumerConfig, entry);
        return {
          kind: 'channel.consumer',
          id: entry.id,
          func: func('func', config.func),
          deadLetter: config.deadLetter === undefined ? undefined : func('deadLetter', config.deadLetter),
          config,
        };
      }
      case ReactiveKind.timerInterval: {
        const config = entryConfig(TimerIntervalConfig, entry);
        const schedule = intervalSchedule(config.everyMs());
        return { kind: 'timer.interval', id: entry.id, func: func('func', config.func), config, schedule };
      }
      case ReactiveKind.timerCron: {
        const config = entryConfig(TimerCronConfig, entry);
        const schedule = cronSchedule(config.cron, config.timezone);
        return { kind: 'timer.cron', id: entry.id, func: func('func', config.func), config, schedule };
      }
      default:
        return undefined;
    }
  }

  // ---- running -----------------------------------------------------------------------------

  /** Stops what is no longer committed (or changed), then starts what is committed and not running. */
  private reconcile(): Promise<void> {
    const next = this.settling.then(() => this.reconcileNow());
    this.settling = next.catch(() => undefined);
    return next;
  }

  /**
   * Brings what runs in line with what is committed, for the ids a commit, start or stop marked:
   * a batch of one entry starts or stops one thing, however many run. What changed is stopped
   * first, then what is wanted and not running is started, in the order the marks were made.
   */
  private async reconcileNow(): Promise<void> {
    const ids = [...this.dirty];
    this.dirty.clear();
    const failures: string[] = [];
    const stopping: Promise<void>[] = [];
    for (const id of ids) {
      const running = this.running.get(id);
      if (running === undefined) continue;
      const spec = this.wanted(id);
      if (spec !== undefined && fingerprintOf(spec) === running.fingerprint) continue;
      this.running.delete(id);
      stopping.push(
        running.stop().catch((error: unknown) => {
          failures.push(`${running.spec.kind} ${id} did not stop cleanly: ${messageOf(error)}`);
        }),
      );
    }
    await Promise.all(stopping);
    for (const id of ids) {
      const spec = this.wanted(id);
      if (spec === undefined || this.running.has(id)) continue;
      try {
        this.running.set(id, { fingerprint: fingerprintOf(spec), spec, ...(await this.run(spec)) });
      } catch (error) {
        // Tried again by the next reconcile, as long as it is committed.
        this.dirty.add(id);
        failures.push(`${spec.kind} ${id} could not start: ${messageOf(error)}`);
      }
    }
    if (failures.length > 0) {
      for (const failure of failures) this.options.logger.error(failure);
      throw new KindlingError('UNAVAILABLE', failures.join('; '));
    }
  }

  /** The spec that should run under `id` now (none once stopped). */
  private wanted(id: string): Spec | undefined {
    return this.started ? this.committed.get(id) : undefined;
  }

  private run(spec: Spec): Promise<Pick<Running, 'stop' | 'timer'>> {
    switch (spec.kind) {
      case 'event.listener':
        return Promise.resolve(this.listen(spec));
      case 'channel.consumer':
        return this.consume(spec);
      default:
        return Promise.resolve(this.schedule(spec));
    }
  }

  /** An event listener is a Moleculer-style service named after the entry, with one event handler. */
  private listen(spec: Extract<Spec, { kind: 'event.listener' }>): Pick<Running, 'stop'> {
    const { bus, functions, logger } = this.options;
    const { pattern, group, params } = spec.config;
    const handler = async (ctx: EventContext): Promise<void> => {
      try {
        await functions.call(spec.func, ctx.params, {
          meta: ctx.meta,
          caller: {
            kind: spec.kind,
            id: spec.id,
            event: ctx.eventName,
            eventID: ctx.id,
            nodeID: ctx.nodeID,
            requestID: ctx.requestID,
          },
          emit: ctx.emit.bind(ctx),
          broadcast: ctx.broadcast.bind(ctx),
          channels: {
            send: (channel: string, payload: unknown, options?: Record<string, unknown>) =>
              bus.channels.send(channel, payload, { ...options, parentCtx: ctx }),
          },
        });
      } catch (error) {
        logger.error(
          `${spec.kind} ${spec.id}: function ${spec.func} failed on event ${ctx.eventName}: ${messageOf(error)}`,
          {
            entryId: spec.id,
          },
        );
      }
    };
    const service: Service = bus.createService({
      name: spec.id,
      events: {
        [pattern]: {
          group: group ?? spec.id,
          context: true,
          handler: handler as unknown as ServiceEventHandler,
          ...(params === undefined ? {} : { params: copySchema(params) }),
        },
      },
    });
    return { stop: () => bus.destroyService(service) };
  }

  /** A channel consumer is a subscription of the bus's durable channels, in the entry's group. */
  private async consume(spec: Extract<Spec, { kind: 'channel.consumer' }>): Promise<Pick<Running, 'stop'>> {
    const { bus, functions, logger } = this.options;
    const { channel, group, maxInFlight, maxRetries, backoff } = spec.config;
    const handler = async (message: ChannelContext): Promise<void> => {
      const caller = {
        kind: spec.kind,
        id: spec.id,
        channel,
        messageID: message.id,
        attempt: message.attempt,
        nodeID: message.nodeID,
        requestID: message.requestID,
      };
      try {
        await functions.call(spec.func, message.data, {
          meta: message.meta,
          caller,
          emit: message.emit.bind(message),
          broadcast: message.broadcast.bind(message),
          channels: { send: message.send.bind(message) },
        });
      } catch (error) {
        if (message.attempt >= maxRetries + 1) {
          logger.warn(
            `${spec.kind} ${spec.id}: message ${message.id} of channel ${channel} dead-lettered after ${message.attempt} attempts: ${messageOf(error)}`,
            { entryId: spec.id },
          );
          if (spec.deadLetter !== undefined) await this.deadLettered(spec, message, error);
        }
        throw error;
      }
    };
    const subscription: ChannelSubscription = await bus.channels.subscribe(channel, {
      group: group ?? spec.id,
      handler,
      maxInFlight,
      maxRetries,
      backoffMs: backoff,
    });
    return { stop: () => subscription.close() };
  }

  private async deadLettered(
    spec: Extract<Spec, { kind: 'channel.consumer' }>,
    message: ChannelContext,
    error: unknown,
  ): Promise<void> {
    const { functions, logger } = this.options;
    const deadLetter = spec.deadLetter as string;
    try {
      await functions.call(
        deadLetter,
        {
          channel: message.channel,
          group: message.group,
          id: message.id,
          data: message.data,
          attempts: message.attempt,
          error: messageOf(error),
        },
        { meta: message.meta, caller: { kind: spec.kind, id: spec.id, channel: message.channel, deadLetter: true } },
      );
    } catch (failure) {
      logger.error(`${spec.kind} ${spec.id}: dead-letter function ${deadLetter} failed: ${messageOf(failure)}`, {
        entryId: spec.id,
      });
    }
  }

  /** A timer runs its function on its schedule; with NATS, each tick on the node that claims it. */
  private schedule(spec: Extract<Spec, { kind: 'timer.interval' | 'timer.cron' }>): Pick<Running, 'stop' | 'timer'> {
    const { functions, claims, logger } = this.options;
    const { input, overlap } = spec.config;
    const runner = new TimerRunner(
      {
        id: spec.id,
        kind: spec.kind,
        schedule: spec.schedule,
        overlap,
        run: (scheduledAt) => {
          const at = new Date(scheduledAt).toISOString();
          return functions.call(
            spec.func,
            { timer: spec.id, scheduledAt: at, input },
            { meta: {}, caller: { kind: spec.kind, id: spec.id, scheduledAt: at } },
          );
        },
      },
      claims,
      logger,
    );
    runner.start();
    return {
      stop: () => {
        runner.stop();
        return Promise.resolve();
      },
      timer: runner,
    };
  }
}
