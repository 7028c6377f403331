// Which entries name which: an index the built-in components keep in their staging.

/**
 * Which entries name each entry through one reference field (endpoints by the function they call,
 * listeners by their function...): a component asks whether anything still uses an entry it is
 * asked to delete without scanning every entry that could.
 *
 * @example
 * const callers = new References();
 * callers.add('app:hello', 'app:hello-endpoint');
 * callers.has('app:hello'); // true
 */
export class References {
  private readonly by = new Map<string, Set<string>>();

  /** `user` names `used`. */
  add(used: string, user: string): void {
    let users = this.by.get(used);
    if (users === undefined) this.by.set(used, (users = new Set()));
    users.add(user);
  }

  /** `user` no longer names `used`. */
  remove(used: string, user: string): void {
    const users = this.by.get(used);
    if (users === undefined) return;
    users.delete(user);
    if (users.size === 0) this.by.delete(used);
  }

  /** Whether any entry names `used`. */
  has(used: string): boolean {
    return this.by.has(used);
  }
}
