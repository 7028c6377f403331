import { describe, expect, it } from 'vitest';
import { KindlingError } from 'kindling';
import { dryRunEvery } from './dry-run.js';
import { creates, declared, registryRefusing } from '../../test/support/refusing-registry.js';

describe('dryRunEvery', () => {
  it('reports every entry the listeners refuse, not only the first', async () => {
    const registry = registryRefusing((entry) =>
      (entry.data as { bad?: boolean }).bad === true ? `${entry.id} is bad` : undefined,
    );
    const ops = creates(declared('app:a', 3, { bad: true }), declared('app:b', 5), declared('app:c', 7, { bad: true }));
    const report = await dryRunEvery(ops, (batch) => registry.apply(batch, { dryRun: true }));
    expect(report).toEqual({
      problems: [
        {
          file: '/app/registry.yaml',
          line: 3,
          column: 5,
          code: 'REJECTED',
          entryId: 'app:a',
          message: 'app:a is bad (checker refused the create)',
        },
        {
          file: '/app/registry.yaml',
          line: 7,
          column: 5,
          code: 'REJECTED',
          entryId: 'app:c',
          message: 'app:c is bad (checker refused the create)',
        },
      ],
      followOns: 0,
      incomplete: false,
    });
  });

  it('counts a refusal that names an entry refused before as a follow-on, not a problem', async () => {
    const registry = registryRefusing((entry) =>
      entry.id === 'app:a' ? 'a is bad' : entry.id === 'app:b' ? 'b calls app:a, which does not exist' : undefined,
    );
    const report = await dryRunEvery(creates(declared('app:a', 3), declared('app:b', 5)), (batch) =>
      registry.apply(batch, { dryRun: true }),
    );
    expect(report.problems).toHaveLength(1);
    expect(report.followOns).toBe(1);
  });

  it('reports nothing for a batch the listeners accept, and changes nothing', async () => {
    const registry = registryRefusing(() => undefined);
    expect(
      await dryRunEvery(creates(declared('app:a', 3)), (batch) => registry.apply(batch, { dryRun: true })),
    ).toEqual({ problems: [], followOns: 0, incomplete: false });
    expect(registry.revision).toBe(0);
  });

  it('throws an error that is not a refusal', async () => {
    const gone = new KindlingError('UNAVAILABLE', 'the app went away');
    await expect(dryRunEvery(creates(declared('app:a', 3)), () => Promise.reject(gone))).rejects.toBe(gone);
  });

  it('says it is incomplete when it gives up after its rounds', async () => {
    const registry = registryRefusing((entry) => `${entry.id} is bad`);
    const ops = creates(declared('app:a', 3), declared('app:b', 5), declared('app:c', 7));
    const report = await dryRunEvery(ops, (batch) => registry.apply(batch, { dryRun: true }), 2);
    expect(report).toMatchObject({ incomplete: true });
    expect(report.problems).toHaveLength(2);
  });
});
