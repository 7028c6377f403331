/** The mark of a committed entry the open batch deleted. */
const GONE: unique symbol = Symbol('gone');

/**
 * Which entries name each id through one reference field (endpoints by the function they call,
 * listeners by theirs), for the entries of a {@link StagedMap}: a component asks whether anything
 * still uses an entry it is asked to delete without scanning every entry that could.
 *
 * It keeps the references of the committed entries, and beside them those of the entries the open
 * batch changed, as staged; a committed entry the batch changed counts only through the latter.
 * Both are kept up to date change by change, so that a batch costs what it changes.
 *
 * @example
 * const callers = new Referrers<EndpointSpec>((endpoint) => [endpoint.func]);
 * const endpoints = new StagedMap(committedEndpoints, [callers]);
 * endpoints.set('app:hello-endpoint', { ..., func: 'app:hello' });
 * callers.has('app:hello', endpoints); // true
 */
export class Referrers<V> {
  /** Named id → the committed entries that name it. */
  private readonly committed = new Map<string, Set<string>>();
  /** Named id → the entries changed in the open batch that name it, as staged. */
  private readonly staged = new Map<string, Set<string>>();

  /** @param namesOf the ids an entry names through this field. */
  constructor(private readonly namesOf: (value: V) => readonly string[]) {}

  /** Whether an entry of `map`, as staged, names `id`. */
  has(id: string, map: StagedMap<V>): boolean {
    if (this.staged.has(id)) return true;
    const users = this.committed.get(id);
    if (users === undefined) return false;
    // A committed user the batch changed counts through `staged`, if it still names `id`.
    for (const user of users) if (!map.isChanged(user)) return true;
    return false;
  }

  /** @internal The staged value of `user` went from `before` to `after` (undefined: none). */
  stage(user: string, before: V | undefined, after: V | undefined): void {
    // `before` may be the committed value, which `staged` never held: removing it is then a no-op.
    if (before !== undefined) for (const id of this.namesOf(before)) remove(this.staged, id, user);
    if (after !== undefined) for (const id of this.namesOf(after)) add(this.staged, id, user);
  }

  /** @internal The batch is over: committed (with `before` → `after` per changed user) or not. */
  settle(changes: Iterable<readonly [string, V | undefined, V | undefined]> | undefined): void {
    this.staged.clear();
    if (changes === undefined) return;
    for (const [user, before, after] of changes) {
      if (before !== undefined) for (const id of this.namesOf(before)) remove(this.committed, id, user);
      if (after !== undefined) for (const id of this.namesOf(after)) add(this.committed, id, user);
    }
  }
}

function add(index: Map<string, Set<string>>, id: string, user: string): void {
  let users = index.get(id);
  if (users === undefined) index.set(id, (users = new Set()));
  users.add(user);
}

function remove(index: Map<string, Set<string>>, id: string, user: string): void {
  const users = index.get(id);
  if (users === undefined) return;
  users.delete(user);
  if (users.size === 0) index.delete(id);
}

/**
 * One batch's changes to a component's committed entries, held beside them: reads see the changes,
 * the committed map is written only by {@link commit}, and a refused batch is simply dropped. A
 * batch costs what it changes, however many entries are committed (a copy of the committed map per
 * batch made a run of one-entry batches quadratic).
 *
 * Iteration ({@link values}, {@link entries}) visits the entries in the order a copy of the
 * committed map with the same changes applied would hold them; it walks every entry, and is meant
 * for the rare answers that list entries (a refusal naming every user of an entry).
 *
 * @example
 * const staged = new StagedMap(committed);
 * staged.set('app:a', specA);
 * staged.delete('app:b');
 * staged.get('app:b'); // undefined, while committed still holds it
 * staged.commit(); // now committed has app:a and not app:b
 */
export class StagedMap<V> {
  private readonly changes = new Map<string, V | typeof GONE>();
  /** Committed ids deleted and then set again: they move to the end, as in a copy. */
  private readonly moved = new Set<string>();

  constructor(
    private readonly committed: Map<string, V>,
    private readonly indexes: readonly Referrers<V>[] = [],
  ) {
    // A batch that was neither committed nor discarded left nothing behind for this one.
    for (const index of indexes) index.settle(undefined);
  }

  get(id: string): V | undefined {
    const change = this.changes.get(id);
    if (change === undefined) return this.committed.get(id);
    return change === GONE ? undefined : change;
  }

  has(id: string): boolean {
    return this.get(id) !== undefined;
  }

  /** Whether the batch set or deleted `id`. */
  isChanged(id: string): boolean {
    return this.changes.has(id);
  }

  set(id: string, value: V): void {
    const before = this.get(id);
    if (this.changes.get(id) === GONE) {
      // Set again after a delete: it comes after what the batch set in between.
      this.moved.add(id);
      this.changes.delete(id);
    }
    this.changes.set(id, value);
    for (const index of this.indexes) index.stage(id, before, value);
  }

  delete(id: string): void {
    const before = this.get(id);
    if (before === undefined) return;
    if (this.committed.has(id)) this.changes.set(id, GONE);
    else this.changes.delete(id);
    this.moved.delete(id);
    for (const index of this.indexes) index.stage(id, before, undefined);
  }

  /** What the batch changed: id, value before the batch, staged value (undefined: deleted). */
  *changed(): IterableIterator<readonly [string, V | undefined, V | undefined]> {
    for (const [id, change] of this.changes) {
      const before = this.committed.get(id);
      const after = change === GONE ? undefined : change;
      if (before !== after) yield [id, before, after];
    }
  }

  /** Every staged entry (walks them all). */
  *entries(): IterableIterator<[string, V]> {
    for (const [id, value] of this.committed) {
      if (this.moved.has(id)) continue;
      const change = this.changes.get(id);
      if (change === undefined) yield [id, value];
      else if (change !== GONE) yield [id, change];
    }
    for (const [id, change] of this.changes) {
      if (change !== GONE && (!this.committed.has(id) || this.moved.has(id))) yield [id, change];
    }
  }

  /** Every staged value (walks them all). */
  *values(): IterableIterator<V> {
    for (const [, value] of this.entries()) yield value;
  }

  /** Writes the changes into the committed map (and its indexes); the staged map is spent. */
  commit(): void {
    const changes = [...this.changed()];
    for (const [id, change] of this.changes) {
      if (change === GONE || this.moved.has(id)) this.committed.delete(id);
      if (change !== GONE) this.committed.set(id, change);
    }
    this.changes.clear();
    this.moved.clear();
    for (const index of this.indexes) index.settle(changes);
  }

  /** Drops the changes; the committed map and its indexes are as before the batch. */
  discard(): void {
    this.changes.clear();
    this.moved.clear();
    for (const index of this.indexes) index.settle(undefined);
  }
}
