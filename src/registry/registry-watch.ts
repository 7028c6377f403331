import type { Disposable } from '../common/disposable.js';
import { KindlingError } from '../common/errors.js';
import { Fifo } from '../common/fifo.js';
import type { HistoryRecord, RegistryChange } from './history.js';

type Waiter = { resolve: (result: IteratorResult<RegistryChange>) => void; reject: (error: unknown) => void };

/**
 * The iterator behind `Registry.watch`: replays retained history, then follows new commits. Its
 * buffer is bounded: a reader that falls too far behind gets `GONE` instead of silent gaps. Taking a
 * change from the buffer costs O(1) however many are queued.
 */
export class RegistryWatch implements AsyncIterableIterator<RegistryChange> {
  private readonly buffer: Fifo<RegistryChange>;
  private readonly subscription: Disposable;
  private waiter: Waiter | undefined;
  private failure: Error | undefined;
  private done = false;
  private lastRevision: number;

  constructor(
    replay: readonly RegistryChange[],
    subscribe: (listener: (record: HistoryRecord) => void) => Disposable,
    private readonly maxBuffered: number,
    signal: AbortSignal | undefined,
  ) {
    this.buffer = new Fifo(replay);
    this.lastRevision = replay.at(-1)?.revision ?? 0;
    this.subscription = subscribe((record) => this.push(record));
    signal?.addEventListener('abort', () => void this.return(), { once: true });
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  next(): Promise<IteratorResult<RegistryChange>> {
    const change = this.buffer.shift();
    if (change !== undefined) return Promise.resolve({ value: change, done: false });
    if (this.failure !== undefined) {
      const failure = this.failure;
      this.finish();
      return Promise.reject(failure);
    }
    if (this.done) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
    });
  }

  return(): Promise<IteratorResult<RegistryChange>> {
    this.finish();
    this.buffer.clear();
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.resolve({ value: undefined, done: true });
    return Promise.resolve({ value: undefined, done: true });
  }

  private push(record: HistoryRecord): void {
    if (this.done) return;
    for (const change of record.changes) {
      const waiter = this.waiter;
      if (waiter !== undefined) {
        this.waiter = undefined;
        waiter.resolve({ value: change, done: false });
        continue;
      }
      if (this.buffer.size >= this.maxBuffered) {
        this.failure = new KindlingError(
          'GONE',
          `watch fell more than ${this.maxBuffered} changes behind after revision ${this.lastRevision}; watch again from that revision`,
          { details: { lastRevision: this.lastRevision } },
        );
        this.subscription.dispose();
        return;
      }
      this.buffer.push(change);
    }
    this.lastRevision = record.revision;
  }

  private finish(): void {
    this.done = true;
    this.subscription.dispose();
  }
}
