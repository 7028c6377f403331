import 'reflect-metadata';
import { DisposableStore } from 'kindling';
import {
  ClusterNats,
  EventsName,
  FunctionName,
  RegistryName,
  defineComponent,
  getHandlerRegistry,
} from 'kindling/boot';
import { EventBus } from 'kindling/events';
import { BusNats } from '../events/index.js';
import { Functions } from '../function/index.js';
import { ReactiveKind, TIMER_KINDS } from './kinds.js';
import { ChannelConsumerConfig, EventListenerConfig, TimerCronConfig, TimerIntervalConfig } from './reactive-config.js';
import { ReactiveManager } from './reactive-manager.js';
import { KvTickClaims, localClaims } from './tick-claims.js';

export {
  EventListenerConfig,
  ChannelConsumerConfig,
  TimerIntervalConfig,
  TimerCronConfig,
  TimerCommonConfig,
  OVERLAP_POLICIES,
} from './reactive-config.js';
export type { OverlapPolicy } from './reactive-config.js';
export { ReactiveKind, claimBucketName } from './kinds.js';

/** Name of the reactive component in a boot manifest. */
export const ReactiveName = 'reactive';

const Manager: unique symbol = Symbol('kindling.reactive.manager');

/** The running state of the reactive component: the entries it runs, for tests and tools. */
export interface ReactiveEntries {
  /** Each running entry by id: its kind, and for a timer the ticks it ran, skipped, and lost to another node. */
  describe(): Record<string, { kind: string; ran?: number; skipped?: number; claimedElsewhere?: number }>;
}
/** The container token of {@link ReactiveEntries}. */
export const ReactiveEntries: unique symbol = Symbol.for('kindling.ReactiveEntries');

/**
 * The `reactive` component: functions that run when something happens rather than on a request —
 * `event.listener` (an event pattern, Moleculer semantics: balanced within a group across nodes),
 * `channel.consumer` (a durable channel consumer with retries and dead letters), `timer.interval`
 * and `timer.cron` (a schedule; over NATS each tick runs on one node). Each calls a `function.js`
 * entry. Batches take effect at commit, all or nothing.
 *
 * @example
 * entries:
 *   - { name: on-order, kind: event.listener, pattern: order.created, func: keep-view }
 *   - { name: payments, kind: channel.consumer, channel: payments, func: charge, maxRetries: 2 }
 *   - { name: totals, kind: timer.interval, every: 10s, func: report }
 */
export const reactiveComponent = defineComponent({
  name: ReactiveName,
  dependsOn: [RegistryName, EventsName, FunctionName],
  load: (ctx) => {
    const bus = ctx.container.get<EventBus>(EventBus);
    // Over NATS (the bus's, else the cluster's), each tick runs on the one node that claims it.
    const nats = ctx.container.isBound(BusNats)
      ? ctx.container.get<BusNats>(BusNats)
      : ctx.container.isBound(ClusterNats)
        ? ctx.container.get<ClusterNats>(ClusterNats)
        : undefined;
    const claims =
      nats === undefined ? localClaims : new KvTickClaims(() => nats.connection(), nats.prefix, ctx.logger);
    const manager = new ReactiveManager({
      logger: ctx.logger,
      functions: ctx.container.get<Functions>(Functions),
      bus,
      claims,
    });
    const registrations = new DisposableStore();
    const handlers = getHandlerRegistry(ctx);
    registrations.add(
      handlers.registerListener(ReactiveKind.eventListener, manager, {
        name: 'event.listener',
        configs: { [ReactiveKind.eventListener]: EventListenerConfig },
      }),
    );
    registrations.add(
      handlers.registerListener(ReactiveKind.channelConsumer, manager, {
        name: 'channel.consumer',
        configs: { [ReactiveKind.channelConsumer]: ChannelConsumerConfig },
      }),
    );
    registrations.add(
      handlers.registerListener('timer.*', manager, {
        name: 'timer',
        kinds: TIMER_KINDS,
        configs: { [ReactiveKind.timerInterval]: TimerIntervalConfig, [ReactiveKind.timerCron]: TimerCronConfig },
      }),
    );
    // Refuses deleting a function a listener, consumer or timer still calls.
    registrations.add(handlers.registerListener('function.*', manager, { name: 'reactive (function references)' }));
    ctx.container.bind<ReactiveEntries>(ReactiveEntries).toConstantValue(manager);
    ctx.container.bind(Manager).toConstantValue({ manager, registrations });
    return ctx;
  },
  start: async (ctx) => {
    await ctx.container.get<{ manager: ReactiveManager }>(Manager).manager.start();
  },
  stop: async (ctx) => {
    const { manager, registrations } = ctx.container.get<{
      manager: ReactiveManager;
      registrations: DisposableStore;
    }>(Manager);
    registrations.dispose();
    await manager.stop();
  },
});
