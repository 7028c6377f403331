import { describe, expect, it } from 'vitest';
import { HandlerRegistry, KindlingError, Registry, createEntry, silentLogger } from 'kindling';
import { setEntrySource } from '../../src/entry/entry.js';
import type { Entry, RegistryOp } from 'kindling';
import { formatProblem } from './problems.js';
import { describeRefusal } from './refusal.js';

function registryRefusing(bad: (entry: Entry) => string | undefined): Registry {
  const handlers = new HandlerRegistry();
  const check = (_ctx: unknown, entry: Entry): void => {
    const reason = bad(entry);
    if (reason !== undefined) throw new KindlingError('INVALID', reason, { details: { entryId: entry.id } });
  };
  handlers.registerListener('app.*', { add: check, update: check, delete: () => undefined }, { name: 'checker' });
  return new Registry({ handlers, logger: silentLogger });
}

const declared = (id: string, line: number, data: unknown = {}): Entry =>
  createEntry(setEntrySource({ id, kind: 'app.thing', data }, { file: '/app/registry.yaml', line, column: 5 }));
const creates = (...entries: Entry[]): RegistryOp[] => entries.map((entry) => ({ op: 'create', entry }));

describe('describeRefusal', () => {
  it('puts each problem of the registry checks at the position of its entry', async () => {
    const registry = registryRefusing(() => undefined);
    const ops: RegistryOp[] = [
      { op: 'update', entry: declared('app:missing', 3) },
      { op: 'create', entry: createEntry(setEntrySource({ id: 'app:odd', kind: 'other.kind' }, { file: '/app/registry.yaml', line: 9, column: 5 })) },
    ];
    const error = await registry.apply(ops).catch((caught: unknown) => caught);
    expect(describeRefusal(error, ops)).toEqual({
      problems: [
        { file: '/app/registry.yaml', line: 3, column: 5, code: 'NOT_FOUND', entryId: 'app:missing', message: 'entry app:missing does not exist, so it cannot be updated' },
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
    const error = new KindlingError('REJECTED', 'create of entry app:a by http was refused: port in use', { details: { entryId: 'app:a' } });
    expect(describeRefusal(error, ops).problems.map(formatProblem)).toEqual(['/app/registry.yaml:3:5: create of entry app:a by http was refused: port in use']);
  });
});
