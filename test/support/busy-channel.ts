// A channel for the inspector's channels view: `orders` with a `billing` group whose handlers hang
// until released (its messages pending) and an `audit` group that fails every message at once (its
// dead letters).
import type { Channels } from 'kindling/events';

/** Sends `count` orders through both groups; call the result to let billing's handlers finish. */
export async function busyOrders(channels: Channels, maxInFlight: number, count: number): Promise<() => void> {
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  await channels.subscribe('orders', { group: 'billing', maxInFlight, handler: () => gate });
  await channels.subscribe('orders', {
    group: 'audit',
    maxRetries: 0,
    handler: () => {
      throw new Error('no audit today');
    },
  });
  for (let i = 0; i < count; i++) await channels.send('orders', { i });
  return release;
}
