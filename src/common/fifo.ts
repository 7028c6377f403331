/** Below this many taken slots a queue never compacts: small queues stay one plain array. */
const COMPACT_AFTER = 1024;

/**
 * A first-in first-out queue with O(1) `push`, `shift` and `unshift` (amortized): taking moves a cursor instead
 * of shifting the array, and the taken prefix is cut off once it is at least half of the array, so
 * memory stays proportional to what is queued. `Array.prototype.shift` on a large array copies the
 * rest each time, which makes draining n items cost O(n²).
 */
export class Fifo<T> {
  private items: (T | undefined)[] = [];
  private head = 0;

  constructor(initial?: Iterable<T>) {
    if (initial !== undefined) for (const item of initial) this.items.push(item);
  }

  /** How many items are queued. */
  get size(): number {
    return this.items.length - this.head;
  }

  /** Puts `item` last. */
  push(item: T): void {
    this.items.push(item);
  }

  /** The oldest item, removed; undefined when the queue is empty. */
  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const item = this.items[this.head];
    // Drop the reference at once, so a taken item can be collected while the queue lives on.
    this.items[this.head] = undefined;
    this.head++;
    if (this.head === this.items.length) this.clear();
    else if (this.head >= COMPACT_AFTER && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }

  /** Puts `item` first: the next {@link shift} returns it (O(1) once something was taken). */
  unshift(item: T): void {
    if (this.head > 0) this.items[--this.head] = item;
    else this.items.unshift(item);
  }

  /** Takes `item` out wherever it is queued (O(n): for the rare removal from the middle). */
  delete(item: T): boolean {
    const at = this.items.indexOf(item, this.head);
    if (at < 0) return false;
    this.items.splice(at, 1);
    if (this.head === this.items.length) this.clear();
    return true;
  }

  /** The oldest item, left in place. */
  peek(): T | undefined {
    return this.head < this.items.length ? this.items[this.head] : undefined;
  }

  /** Empties the queue. */
  clear(): void {
    this.items = [];
    this.head = 0;
  }

  /** The queued items, oldest first. */
  *[Symbol.iterator](): IterableIterator<T> {
    for (let i = this.head; i < this.items.length; i++) yield this.items[i] as T;
  }
}
