import { KindlingError, formatEntryLocation, matchKind } from 'kindling';
import type { Entry, ListenerContext } from 'kindling';

/** The namespace of an entry id (`app:api` → `app`): where its relative references resolve. */
export function namespaceOf(id: string): string {
  return id.slice(0, id.indexOf(':'));
}

/** `file.yaml:3:5: http.endpoint app:hello`, or without the position when the entry has none. */
function where(entry: Entry, path: readonly (string | number)[]): string {
  const at = formatEntryLocation(entry, path);
  return `${at === undefined ? '' : `${at}: `}${entry.kind} ${entry.id}`;
}

/** Why an entry is refused, and with which code. */
export interface Refusal {
  readonly reason: string;
  readonly code: 'INVALID' | 'CONFLICT' | 'UNAVAILABLE';
  readonly cause?: unknown;
}

/** Refuses an entry, naming it and the field at `path`. */
export function refusal(
  entry: Entry,
  path: readonly (string | number)[],
  { reason, code, cause }: Refusal,
): KindlingError {
  return new KindlingError(code, `${where(entry, path)}: ${reason}`, { cause, details: { entryId: entry.id } });
}

/**
 * NOT_FOUND for a reference to an entry that is not there (yet): `details.missing` names the id, so the
 * registry runs the entry again once an op of the batch creates it.
 */
export function missing(entry: Entry, path: readonly (string | number)[], what: string, id: string): KindlingError {
  return new KindlingError('NOT_FOUND', `${where(entry, path)}: ${what} does not exist`, {
    details: { entryId: entry.id, missing: id },
  });
}

/** NOT_FOUND for deleting an entry others still use: retried after the rest of the batch, which may delete them. */
export function stillUsed(entry: Entry, reason: string): KindlingError {
  return new KindlingError(
    'NOT_FOUND',
    `${where(entry, [])} cannot be deleted: ${reason} (delete or change them in the same batch)`,
    {
      details: { entryId: entry.id },
    },
  );
}

/** A reference an entry makes: the field it is in, the id it names, the kind it must be. */
export interface Reference {
  readonly path: readonly (string | number)[];
  readonly id: string;
  readonly kind: string;
}

/** Refuses a reference to a missing entry (NOT_FOUND: retried later in the batch) or one of the wrong kind. */
export function requireReference(ctx: ListenerContext, entry: Entry, { path, id, kind }: Reference): void {
  const target = ctx.get(id);
  if (target === undefined) throw missing(entry, path, `${kind.replace('.*', '')} entry ${id}`, id);
  if (!matchKind(kind, target.kind)) {
    throw refusal(entry, path, { reason: `${id} is a ${target.kind}, not a ${kind}`, code: 'INVALID' });
  }
}
