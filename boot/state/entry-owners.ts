/** One committed batch as {@link EntryOwners} takes it in. */
interface OwnedChange {
  readonly op: string;
  readonly entry: { readonly id: string };
}

/**
 * Which source last created or updated each entry (each source records the ids it
 * owns, so `--prune` removes only entries that this source once applied). A rollback gives each
 * entry it restores back to the owner it had at the revision rolled back to.
 */
export class EntryOwners {
  private readonly owners = new Map<string, string>();
  /** Per revision, the owner of each id it changed before the change: how a rollback finds them. */
  private readonly undo: { readonly revision: number; readonly before: ReadonlyMap<string, string | undefined> }[] = [];

  constructor(private readonly keep = 1_000) {}

  /** Takes in one committed batch: a create or update gives the entry to `source`, a delete frees it. */
  record(revision: number, source: string | undefined, changes: readonly OwnedChange[]): void {
    this.set(revision, this.ownersAfter(source, changes));
  }

  /**
   * The owner of each entry of a batch once it commits (undefined: none): `source`, or for a
   * rollback the owner the entry had at the revision rolled back to.
   */
  ownersAfter(source: string | undefined, changes: readonly OwnedChange[]): Map<string, string | undefined> {
    const rollback = /^rollback to (\d+)$/.exec(source ?? '');
    const target = rollback === null ? undefined : Number(rollback[1]);
    const next = new Map<string, string | undefined>();
    for (const change of changes) {
      const id = change.entry.id;
      next.set(id, change.op === 'delete' ? undefined : target === undefined ? source : this.ownerAt(target, id));
    }
    return next;
  }

  /** Sets owners directly (undefined: no owner) as the change of `revision`. */
  set(revision: number, owners: ReadonlyMap<string, string | undefined>): void {
    const before = new Map<string, string | undefined>();
    for (const [id, owner] of owners) {
      before.set(id, this.owners.get(id));
      if (owner === undefined) this.owners.delete(id);
      else this.owners.set(id, owner);
    }
    this.undo.push({ revision, before });
    if (this.undo.length > this.keep) this.undo.splice(0, this.undo.length - this.keep);
  }

  /** The source that owns `id`, if any. */
  ownerOf(id: string): string | undefined {
    return this.owners.get(id);
  }

  /** Every id and its owner. */
  toJSON(): Record<string, string> {
    return Object.fromEntries(this.owners);
  }

  /** The owner `id` had once `revision` was committed (as far as retained changes tell). */
  private ownerAt(revision: number, id: string): string | undefined {
    let owner = this.owners.get(id);
    for (let i = this.undo.length - 1; i >= 0; i--) {
      const step = this.undo[i] as (typeof this.undo)[number];
      if (step.revision <= revision) break;
      if (step.before.has(id)) owner = step.before.get(id);
    }
    return owner;
  }
}
