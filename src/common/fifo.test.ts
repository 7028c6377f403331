import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Fifo } from './fifo.js';

describe('Fifo', () => {
  it('gives items back in the order they were pushed, across compactions', () => {
    const queue = new Fifo<number>([0, 1]);
    for (let i = 2; i < 5000; i++) queue.push(i);
    const taken: number[] = [];
    for (let i = 0; i < 3000; i++) taken.push(queue.shift() as number);
    for (let i = 5000; i < 6000; i++) queue.push(i);
    expect(queue.size).toBe(3000);
    expect(queue.peek()).toBe(3000);
    while (queue.size > 0) taken.push(queue.shift() as number);
    expect(taken).toEqual(Array.from({ length: 6000 }, (_, i) => i));
    expect(queue.shift()).toBeUndefined();
  });

  it('behaves as an array used with push and shift, for any interleaving', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.integer({ min: 0, max: 3000 }), fc.constant(-1)), { maxLength: 60 }),
        (steps) => {
          const queue = new Fifo<number>();
          const model: number[] = [];
          let next = 0;
          for (const step of steps) {
            if (step === -1) {
              queue.clear();
              model.length = 0;
              continue;
            }
            // Push a run of `step` items, then take back half of what is queued.
            for (let i = 0; i < step; i++) {
              queue.push(next);
              model.push(next++);
            }
            const taken: (number | undefined)[] = [];
            for (let i = Math.ceil(model.length / 2); i > 0; i--) taken.push(queue.shift());
            expect(taken).toEqual(model.splice(0, taken.length));
            expect(queue.size).toBe(model.length);
          }
          expect([...queue]).toEqual(model);
        },
      ),
      { numRuns: 100 },
    );
  });

  it('behaves as an array used with push, shift, unshift and removal, for any interleaving', () => {
    const step = fc.oneof(
      fc.record({ op: fc.constant('push' as const), n: fc.integer({ min: 1, max: 1500 }) }),
      fc.record({ op: fc.constant('shift' as const), n: fc.integer({ min: 1, max: 1500 }) }),
      fc.record({ op: fc.constant('unshift' as const), n: fc.integer({ min: 1, max: 3 }) }),
      fc.record({ op: fc.constant('delete' as const), n: fc.nat() }),
    );
    fc.assert(
      fc.property(fc.array(step, { maxLength: 40 }), (steps) => {
        const queue = new Fifo<number>();
        const model: number[] = [];
        let next = 0;
        for (const { op, n } of steps) {
          if (op === 'push') {
            for (let i = 0; i < n; i++) {
              queue.push(next);
              model.push(next++);
            }
          } else if (op === 'shift') {
            for (let i = 0; i < n; i++) expect(queue.shift()).toBe(model.shift());
          } else if (op === 'unshift') {
            for (let i = 0; i < n; i++) {
              queue.unshift(next);
              model.unshift(next++);
            }
          } else {
            const victim = model.length === 0 ? -1 : (model[n % model.length] as number);
            const at = model.indexOf(victim);
            if (at >= 0) model.splice(at, 1);
            expect(queue.delete(victim)).toBe(at >= 0);
          }
          expect(queue.size).toBe(model.length);
          expect(queue.peek()).toBe(model[0]);
        }
        expect([...queue]).toEqual(model);
      }),
      { numRuns: 200 },
    );
  });
});
