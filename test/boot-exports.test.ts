import { describe, expectTypeOf, it } from 'vitest';
import type { AdminClient, AdminClientOptions, AdminCompaction } from 'kindling/boot';

// Checked by the typechecker: a type used in a public signature can be named by its users.
describe('kindling/boot', () => {
  describe('.admin types', () => {
    it('exports what AdminClient.compact resolves with, and the options of its constructor', () => {
      expectTypeOf<ReturnType<AdminClient['compact']>>().resolves.toEqualTypeOf<AdminCompaction>();
      expectTypeOf<ConstructorParameters<typeof AdminClient>[1]>().toEqualTypeOf<AdminClientOptions | undefined>();
    });
  });
});
