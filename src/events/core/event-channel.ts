import { Fifo } from '../../common/fifo.js';

/**
 * What a buffered subscriber does when its buffer is full and another event arrives. No policy drops
 * silently: every drop is counted on the subscription and reported as a `$broker.error` of type
 * `overflow` (plus the logger).
 * - `drop-oldest` (the default): the oldest buffered event is dropped to make room.
 * - `drop-newest`: the arriving event is dropped.
 * - `error`: the arriving event is refused and the sender gets `UNAVAILABLE` (retryable); a
 *   synchronous `emit` throws after every other subscriber has been served, `send` / `publish`
 *   reject, and `resilientPublish` retries with backoff.
 */
export type OverflowPolicy = 'drop-oldest' | 'drop-newest' | 'error';

/** The answer of {@link EventChannel.receive}, in Go's `value, ok` form: `ok` is false once the channel ended. */
export type ReceiveResult<T> =
  { readonly value: T; readonly ok: true } | { readonly value: undefined; readonly ok: false };

/** What a channel reports when it had to drop events. */
export interface ChannelOverflow {
  readonly policy: OverflowPolicy;
  readonly capacity: number;
  /** Drops in this overflow episode (an episode ends when the reader empties the buffer). */
  readonly episodeDrops: number;
  /** Drops over the channel's life. */
  readonly totalDrops: number;
  /** False for the first drop of an episode, true for the summary sent when the buffer drained. */
  readonly drained: boolean;
}

/** Hooks through which a channel talks to its owner. */
export interface ChannelHooks {
  onOverflow(overflow: ChannelOverflow): void;
  /** Called for every dropped event (for counters). */
  onDrop(): void;
  /** Called when a `for await` loop ends early (`break`, `return`, a throw): the owner closes. */
  onReturn(): void;
}

const ENDED: ReceiveResult<never> = Object.freeze({ value: undefined, ok: false });
const ITERATION_DONE: IteratorResult<never> = Object.freeze({ value: undefined, done: true });

/**
 * A bounded FIFO buffer between the synchronous delivery loop and one asynchronous reader: `receive()`
 * or `for await`. Sending never blocks; a full buffer applies the channel's {@link OverflowPolicy}.
 * Once ended, events already buffered can still be received (as with a closed Go channel), then
 * `receive()` answers `{ ok: false }`.
 *
 * @example
 * const ch = sub.channel();
 * for (;;) {
 *   const { value, ok } = await ch.receive();
 *   if (!ok) break;
 *   handle(value);
 * }
 */
export class EventChannel<T> implements AsyncIterable<T> {
  private readonly buffer = new Fifo<T>();
  private readonly waiters: ((result: ReceiveResult<T>) => void)[] = [];
  private ended = false;
  private totalDrops = 0;
  private episodeDrops = 0;

  /** @internal Created by the bus; readers get channels from subscriptions. */
  constructor(
    /** How many events the buffer holds before the overflow policy applies. */
    readonly capacity: number,
    readonly overflow: OverflowPolicy,
    private readonly hooks: ChannelHooks,
  ) {}

  /** How many events wait in the buffer. */
  get size(): number {
    return this.buffer.size;
  }

  /** How many events this channel dropped because its buffer was full. */
  get dropped(): number {
    return this.totalDrops;
  }

  /** Whether no event will arrive any more (buffered events may still be received). */
  get isEnded(): boolean {
    return this.ended;
  }

  /** The next event, waiting for one when the buffer is empty; `{ ok: false }` once ended and drained. */
  receive(): Promise<ReceiveResult<T>> {
    if (this.buffer.size > 0) return Promise.resolve({ value: this.take(), ok: true });
    if (this.ended) return Promise.resolve(ENDED);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** The next buffered event without waiting, or `{ ok: false }` when none is buffered. */
  tryReceive(): ReceiveResult<T> {
    return this.buffer.size > 0 ? { value: this.take(), ok: true } : ENDED;
  }

  [Symbol.asyncIterator](): AsyncIterator<T> {
    return {
      next: async (): Promise<IteratorResult<T>> => {
        const { value, ok } = await this.receive();
        return ok ? { value, done: false } : ITERATION_DONE;
      },
      return: (): Promise<IteratorResult<T>> => {
        this.hooks.onReturn();
        return Promise.resolve(ITERATION_DONE);
      },
    };
  }

  /**
   * @internal Hands one event to the channel; false only when the policy is `error` and the buffer
   * is full. Events offered after the end are ignored (the owner unsubscribes before ending).
   */
  offer(value: T): boolean {
    if (this.ended) return true;
    const waiter = this.waiters.shift();
    if (waiter !== undefined) {
      waiter({ value, ok: true });
      return true;
    }
    if (this.buffer.size < this.capacity) {
      this.buffer.push(value);
      return true;
    }
    if (this.overflow === 'error') return false;
    if (this.overflow === 'drop-oldest') {
      this.buffer.shift();
      this.buffer.push(value);
    }
    this.totalDrops++;
    this.episodeDrops++;
    this.hooks.onDrop();
    if (this.episodeDrops === 1) this.report(false);
    return true;
  }

  /** @internal Ends the channel: waiting readers get `{ ok: false }`, buffered events stay readable. */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    for (const waiter of this.waiters.splice(0)) waiter(ENDED);
  }

  /** The oldest buffered event (the caller checked there is one). */
  private take(): T {
    const value = this.buffer.shift() as T;
    if (this.episodeDrops > 0 && this.buffer.size === 0) {
      // The reader caught up: the overflow episode is over. Report its total when it grew past the
      // first (already reported) drop.
      if (this.episodeDrops > 1) this.report(true);
      this.episodeDrops = 0;
    }
    return value;
  }

  private report(drained: boolean): void {
    this.hooks.onOverflow({
      policy: this.overflow,
      capacity: this.capacity,
      episodeDrops: this.episodeDrops,
      totalDrops: this.totalDrops,
      drained,
    });
  }
}
