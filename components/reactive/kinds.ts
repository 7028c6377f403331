/** The kinds the reactive component handles. */
export const ReactiveKind = {
  eventListener: 'event.listener',
  channelConsumer: 'channel.consumer',
  timerInterval: 'timer.interval',
  timerCron: 'timer.cron',
} as const;

/** The timer kinds, which the `timer.*` listener declares it knows. */
export const TIMER_KINDS: readonly string[] = [ReactiveKind.timerInterval, ReactiveKind.timerCron];
