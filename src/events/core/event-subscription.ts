import type { Disposable } from '../../common/disposable.js';
import { EventChannel, type ChannelOverflow, type OverflowPolicy, type ReceiveResult } from './event-channel.js';

/** Buffer settings of one buffered subscription; the bus options give the defaults. */
export interface BufferOptions {
  /** How many events may wait for the reader (default: the bus's `bufferSize`, 1 024). */
  readonly bufferSize?: number;
  /** What a full buffer does (default: the bus's `overflow`, `drop-oldest`). */
  readonly overflow?: OverflowPolicy;
}

/** @internal How a subscription reaches back to the bus that made it. */
export interface SubscriptionOwner {
  onOverflow(subscription: EventSubscription<unknown>, overflow: ChannelOverflow): void;
  onDrop(): void;
  onClose(subscription: EventSubscription<unknown>): void;
}

/**
 * A buffered subscription (Wippy `subscribe`, broker `consume`): events wait in a bounded
 * {@link EventChannel} until read with `channel().receive()` or `for await`. `close()` unsubscribes at
 * once and ends the channel; it is idempotent, and leaving a `for await` loop early closes too.
 *
 * @example
 * const sub = bus.events.subscribe('orders');
 * for await (const event of sub) {
 *   if (event.kind === 'order.cancelled') break; // closes the subscription
 * }
 */
export class EventSubscription<T> implements Disposable, AsyncIterable<T> {
  private readonly ch: EventChannel<T>;
  private readonly releases: (() => void)[] = [];
  private closed = false;

  /** @internal Made by the bus. */
  constructor(
    /** What the subscription listens to, for reports (`events.subscribe("orders")`). */
    readonly label: string,
    capacity: number,
    overflow: OverflowPolicy,
    private readonly owner: SubscriptionOwner,
  ) {
    this.ch = new EventChannel<T>(capacity, overflow, {
      onOverflow: (info) => owner.onOverflow(this as EventSubscription<unknown>, info),
      onDrop: () => owner.onDrop(),
      onReturn: () => this.close(),
    });
  }

  /** The channel the events arrive on (always the same one). */
  channel(): EventChannel<T> {
    return this.ch;
  }

  /** Shorthand for `channel().receive()`. */
  receive(): Promise<ReceiveResult<T>> {
    return this.ch.receive();
  }

  /** Whether {@link close} ran. */
  get isClosed(): boolean {
    return this.closed;
  }

  /** How many events the buffer dropped because it was full. */
  get dropped(): number {
    return this.ch.dropped;
  }

  /** Unsubscribes and ends the channel. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const release of this.releases.splice(0).reverse()) release();
    this.ch.end();
    this.owner.onClose(this as EventSubscription<unknown>);
  }

  dispose(): void {
    this.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }

  [Symbol.asyncIterator](): AsyncIterator<T> {
    return this.ch[Symbol.asyncIterator]();
  }

  /** @internal Hands an event to the channel; false when refused by the `error` overflow policy. */
  offer(value: T): boolean {
    return this.ch.offer(value);
  }

  /** @internal Registers clean-up to run on close (trie registrations, signal listeners). */
  onClose(release: () => void): void {
    if (this.closed) release();
    else this.releases.push(release);
  }
}
