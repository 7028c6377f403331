import { KindlingError, formatEntryLocation, matchKind } from 'kindling';
import type { Entry, ListenerContext } from 'kindling';

/** The namespace of an entry id (`app:orders` → `app`): where its relative references resolve. */
export function namespaceOf(id: string): string {
  return id.slice(0, id.indexOf(':'));
}

/** `file.yaml:3:5: event.listener app:orders`, or without the position when the entry has none. */
function where(entry: Entry, path: readonly (string | number)[]): string {
  const at = formatEntryLocation(entry, path);
  return `${at === undefined ? '' : `${at}: `}${entry.kind} ${entry.id}`;
}

/**
 * Refuses a reference to a function that is not there (NOT_FOUND naming it in `details.missing`:
 * the registry runs the entry again once an op of the batch creates it) or an entry that is not a
 * function.
 */
export function requireFunction(ctx: ListenerContext, entry: Entry, field: string, id: string): void {
  const target = ctx.get(id);
  if (target === undefined) {
    throw new KindlingError(
      'NOT_FOUND',
      `${where(entry, ['data', field])}: function ${id} does not exist (declare it as a function.js entry in this batch or an earlier one)`,
      { details: { entryId: entry.id, missing: id } },
    );
  }
  if (!matchKind('function.*', target.kind)) {
    throw new KindlingError(
      'INVALID',
      `${where(entry, ['data', field])}: ${id} is a ${target.kind}, not a function (its ${field} must name a function.js entry)`,
      { details: { entryId: entry.id } },
    );
  }
}

/** NOT_FOUND for deleting a function entries still call: retried after the rest of the batch, which may change them. */
export function stillCalled(entry: Entry, callers: readonly string[]): KindlingError {
  return new KindlingError(
    'NOT_FOUND',
    `${where(entry, [])} cannot be deleted: ${callers.join(', ')} still call it (delete or change them in the same batch)`,
    { details: { entryId: entry.id } },
  );
}
