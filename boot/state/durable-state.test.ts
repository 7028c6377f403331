import { describe, expect, it } from 'vitest';
import { describeHeld } from './durable-state.js';
import { EntryOwners } from './entry-owners.js';

const create = (id: string) => ({ op: 'create', entry: { id } });
const update = (id: string) => ({ op: 'update', entry: { id } });
const remove = (id: string) => ({ op: 'delete', entry: { id } });

describe('EntryOwners', () => {
  describe('.record', () => {
    it('gives a created or updated entry to the source of its batch', () => {
      const owners = new EntryOwners();
      owners.record(1, 'yaml:/app', [create('app:a'), create('app:b')]);
      owners.record(2, 'kindling apply', [update('app:b')]);
      expect(owners.toJSON()).toEqual({ 'app:a': 'yaml:/app', 'app:b': 'kindling apply' });
    });

    it('frees a deleted entry', () => {
      const owners = new EntryOwners();
      owners.record(1, 'yaml:/app', [create('app:a')]);
      owners.record(2, 'yaml:/app', [remove('app:a')]);
      expect(owners.ownerOf('app:a')).toBeUndefined();
    });

    it('gives the entries a rollback restores back to the owners they had at that revision', () => {
      const owners = new EntryOwners();
      owners.record(1, 'yaml:/app', [create('app:a'), create('app:b')]);
      owners.record(2, 'other', [update('app:a'), remove('app:b')]);
      owners.record(3, 'rollback to 1', [update('app:a'), create('app:b')]);
      expect(owners.toJSON()).toEqual({ 'app:a': 'yaml:/app', 'app:b': 'yaml:/app' });
    });

    it('leaves an entry a rollback deletes without an owner', () => {
      const owners = new EntryOwners();
      owners.record(1, 'yaml:/app', [create('app:a')]);
      owners.record(2, 'yaml:/app', [create('app:new')]);
      owners.record(3, 'rollback to 1', [remove('app:new')]);
      expect(owners.toJSON()).toEqual({ 'app:a': 'yaml:/app' });
    });
  });
});

describe('describeHeld', () => {
  it('counts the batches of a journal that was never compacted', () => {
    expect(describeHeld({ replayedBatches: 1 })).toBe('1 batch');
  });

  it('names the snapshot a compacted journal begins with', () => {
    expect(describeHeld({ replayedBatches: 2, snapshotRevision: 40 })).toBe('a snapshot of revision 40 and 2 batches');
  });
});
