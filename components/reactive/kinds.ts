/** The kinds the reactive component handles. */
export const ReactiveKind = {
  eventListener: 'event.listener',
  channelConsumer: 'channel.consumer',
  timerInterval: 'timer.interval',
  timerCron: 'timer.cron',
} as const;

/** The timer kinds, which the `timer.*` listener declares it knows. */
export const TIMER_KINDS: readonly string[] = [ReactiveKind.timerInterval, ReactiveKind.timerCron];

/** A JetStream name or KV key part: letters, digits, `_` and `-` kept, anything else as `_<hex>_`. */
export function natsToken(text: string): string {
  return text.replace(/[^A-Za-z0-9_-]/g, (ch) => `_${ch.codePointAt(0)?.toString(16) ?? ''}_`);
}

/** The KV bucket the timer ticks of a bus prefix are claimed in: `KINDLING_TIMERS` for the default prefix. */
export function claimBucketName(prefix: string): string {
  return `${natsToken(prefix).toUpperCase()}_TIMERS`;
}
