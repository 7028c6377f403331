import { describe, expect, it } from 'vitest';
import { DisposableStore, toDisposable } from './disposable.js';

describe('toDisposable', () => {
  it('runs its clean-up once however often it is disposed', () => {
    let calls = 0;
    const disposable = toDisposable(() => calls++);
    disposable.dispose();
    disposable[Symbol.dispose]();
    expect(calls).toBe(1);
  });
});

describe('DisposableStore', () => {
  it('disposes newest first and keeps going past failures', () => {
    const order: number[] = [];
    const store = new DisposableStore();
    store.add(toDisposable(() => order.push(1)));
    store.add(
      toDisposable(() => {
        order.push(2);
        throw new Error('boom');
      }),
    );
    store.add(toDisposable(() => order.push(3)));
    expect(() => store.dispose()).toThrow(AggregateError);
    expect(order).toEqual([3, 2, 1]);
  });

  it('disposes at once what is added after it was disposed', () => {
    const store = new DisposableStore();
    store.dispose();
    let disposed = false;
    store.add(toDisposable(() => (disposed = true)));
    expect(disposed).toBe(true);
  });
});
