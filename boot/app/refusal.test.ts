import { describe, expect, it } from 'vitest';
import { KindlingError, createEntry } from 'kindling';
import type { RegistryOp } from 'kindling';
import { setEntrySource } from '../../src/entry/entry.js';
import { formatProblem } from './problems.js';
import { describeRefusal } from './refusal.js';
import { creates, declared, registryRefusing } from '../../test/support/refusing-registry.js';

describe('describeRefusal', () => {
  it('puts each problem of the registry checks at the position of its entry', async () => {
    const registry = registryRefusing(() => undefined);
    const ops: RegistryOp[] = [
      { op: 'update', entry: declared('app:missing', 3) },
      {
        op: 'create',
        entry: createEntry(
          setEntrySource({ id: 'app:odd', kind: 'other.kind' }, { file: '/app/registry.yaml', line: 9, column: 5 }),
        ),
      },
    ];
    const error = await registry.apply(ops).catch((caught: unknown) => caught);
    expect(describeRefusal(error, ops)).toEqual({
      problems: [
        {
          file: '/app/registry.yaml',
          line: 3,
          column: 5,
          code: 'NOT_FOUND',
          entryId: 'app:missing',
          message: 'entry app:missing does not exist, so it cannot be updated',
        },
        {
          file: '/app/registry.yaml',
          line: 9,
          column: 5,
          code: 'INVALID',
          entryId: 'app:odd',
          message: expect.stringMatching(/^no listener handles kind "other\.kind" of entry app:odd/),
        },
      ],
      ids: ['app:missing', 'app:odd'],
    });
  });

  it('adds the position of the entry to a refusal that came back without one', () => {
    const ops = creates(declared('app:a', 3));
    const error = new KindlingError('REJECTED', 'create of entry app:a by http was refused: port in use', {
      details: { entryId: 'app:a' },
    });
    expect(describeRefusal(error, ops).problems.map(formatProblem)).toEqual([
      '/app/registry.yaml:3:5: create of entry app:a by http was refused: port in use',
    ]);
  });
});
