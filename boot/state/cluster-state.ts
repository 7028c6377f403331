// What a cluster's registry log says the registry holds: the entries as the logged batches left
// them, folded without listeners. A node keeps it beside its registry, so that a node whose listener
// refused a committed batch (it is desynced) knows what it must reach, and can compute the one batch
// that takes its registry there when it retries.

import { createEntry, KindlingError } from 'kindling';
import type { Entry, RegistryOp } from 'kindling';
import { fromWireOps, toWireOps, type WireOp } from '../admin/admin-protocol.js';
import { EntryOwners } from './entry-owners.js';
import { fromWireEntry, toWireEntry, type WireEntry } from './wire-entry.js';

/** The whole state at a revision: what a snapshot stores. */
export interface ClusterSnapshot {
  readonly revision: number;
  readonly entries: readonly WireEntry[];
  /** The source that owns each entry (what `--prune` reads); absent in snapshots that predate owners. */
  readonly owners?: Readonly<Record<string, string>>;
}

/** The entries a cluster's log describes, at the revision of the last batch folded. */
export class ClusterState {
  private readonly entries = new Map<string, WireEntry>();
  /** Which source owns each entry, folded from the batches' sources the way one node's journal does. */
  readonly owners = new EntryOwners();
  private at = 0;

  /** The revision of the last batch folded (0 for none; a snapshot's revision after {@link fromSnapshot}). */
  get revision(): number {
    return this.at;
  }

  /** How many entries the state holds. */
  get size(): number {
    return this.entries.size;
  }

  /** The state a snapshot stored; its entries are decoded strictly (`INVALID` naming the field). */
  static fromSnapshot(snapshot: unknown): ClusterState {
    const state = new ClusterState();
    if (typeof snapshot !== 'object' || snapshot === null || Array.isArray(snapshot))
      throw new KindlingError('INVALID', 'a cluster snapshot must be an object { revision, entries }');
    const { revision, entries, owners } = snapshot as { revision?: unknown; entries?: unknown; owners?: unknown };
    if (typeof revision !== 'number' || !Number.isSafeInteger(revision) || revision < 0)
      throw new KindlingError('INVALID', 'a cluster snapshot needs a revision, a whole number from 0');
    if (!Array.isArray(entries)) throw new KindlingError('INVALID', 'a cluster snapshot needs entries, a list');
    entries.forEach((value: unknown, index) => {
      const entry = toWireEntry(fromWireEntry(value, `entries[${index}]`) as Entry);
      if (state.entries.has(entry.id))
        throw new KindlingError('INVALID', `entries[${index}]: ${entry.id} is in the snapshot twice`);
      state.entries.set(entry.id, entry);
    });
    if (owners !== undefined) {
      if (typeof owners !== 'object' || owners === null || Array.isArray(owners))
        throw new KindlingError('INVALID', "a cluster snapshot's owners must be a mapping of entry id to source");
      const read = new Map<string, string | undefined>();
      for (const [id, owner] of Object.entries(owners)) {
        if (typeof owner !== 'string' || owner === '')
          throw new KindlingError('INVALID', `owners.${id}: the owner must be a non-empty string`);
        if (state.entries.has(id)) read.set(id, owner);
      }
      state.owners.set(revision, read);
    }
    state.at = revision;
    return state;
  }

  /** The whole state, for a snapshot (entries in id order). */
  snapshot(): ClusterSnapshot {
    return {
      revision: this.at,
      entries: [...this.entries.values()].sort((a, b) => (a.id < b.id ? -1 : 1)),
      owners: this.owners.toJSON(),
    };
  }

  /**
   * Folds the batch logged at `revision` (the one after {@link revision}). The batch was checked by
   * the node that proposed it against this same state, so it fits; one that does not (a create of
   * an id that exists, an update or delete of one that does not, a revision out of order) is refused
   * with `INVALID` naming the operation, and the state is left as it was. Returns the batch's
   * operations, decoded, for the registry to apply. `source` (who applied the batch) becomes the
   * owner of what it creates or updates.
   */
  fold(revision: number, wireOps: unknown, source?: string): RegistryOp[] {
    if (revision !== this.at + 1)
      throw new KindlingError(
        'INVALID',
        `the batch of revision ${revision} does not follow revision ${this.at}: the log was read out of order`,
      );
    const decoded = fromWireOps(wireOps);
    const ops = toWireOps(decoded);
    const next = new Map<string, WireEntry | undefined>();
    const current = (id: string): WireEntry | undefined => (next.has(id) ? next.get(id) : this.entries.get(id));
    ops.forEach((op: WireOp, index) => {
      const id = op.entry.id;
      const exists = current(id) !== undefined;
      if (op.op === 'create' && exists)
        throw new KindlingError('INVALID', `revision ${revision}, ops[${index}]: create of ${id}, which exists`);
      if (op.op !== 'create' && !exists)
        throw new KindlingError(
          'INVALID',
          `revision ${revision}, ops[${index}]: ${op.op} of ${id}, which does not exist`,
        );
      next.set(id, op.op === 'delete' ? undefined : op.entry);
    });
    for (const [id, entry] of next) {
      if (entry === undefined) this.entries.delete(id);
      else this.entries.set(id, entry);
    }
    this.owners.record(revision, source, ops);
    this.at = revision;
    return decoded;
  }

  /** Every entry, as the log left them (wire form), in no particular order. */
  list(): IterableIterator<WireEntry> {
    return this.entries.values();
  }

  /**
   * What a registry that holds `currentIds` must hold to agree with this state, for every id either
   * names (an entry, or undefined for "absent"): the target `registry.opsToReach` turns into the one
   * batch that gets there.
   */
  targetFor(currentIds: Iterable<string>): Map<string, Entry | undefined> {
    const target = new Map<string, Entry | undefined>();
    for (const id of currentIds) if (!this.entries.has(id)) target.set(id, undefined);
    for (const [id, wire] of this.entries) target.set(id, createEntry(fromWireEntry(wire, id)));
    return target;
  }
}
