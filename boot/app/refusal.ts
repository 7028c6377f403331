// What a refused batch says, as problems at their positions: for the CLI's reports and for the
// log lines of a refused reload.

import { KindlingError, getEntrySource, messageOf } from 'kindling';
import type { RegistryOp } from 'kindling';
import { problemOf } from './problems.js';
import type { Problem } from './problems.js';

/**
 * The problems of one refusal, each at its `file:line:col` where known, and the ids of the entries
 * it refused. Positions come from the entries of `ops` when the message has none (a refusal that
 * came back from a running app).
 */
export function describeRefusal(error: unknown, ops: readonly RegistryOp[]): { problems: Problem[]; ids: string[] } {
  const items = refusalItems(error, ops);
  return { problems: items.map((item) => item.problem), ids: [...new Set(items.flatMap((item) => item.ids))] };
}

/** One problem of a refusal and the entries it refused. */
export interface RefusalItem {
  readonly problem: Problem;
  readonly ids: readonly string[];
}

export function refusalItems(error: unknown, ops: readonly RegistryOp[]): RefusalItem[] {
  const details = KindlingError.is(error) ? error.details : {};
  const code = KindlingError.is(error) ? error.code : 'INTERNAL';
  const byId = new Map(ops.map((op) => [op.entry.id, op.entry]));
  const item = (id: unknown, text: string, problemCode: string = code): RefusalItem => {
    const entryId = typeof id === 'string' ? id : undefined;
    const message = withoutSubject(text, details);
    const entry = entryId === undefined ? undefined : byId.get(entryId);
    // A message that starts with its own (finer) position keeps it; otherwise the entry's is used.
    const source = entry === undefined ? undefined : getEntrySource(entry);
    const at = source === undefined ? {} : { file: source.file, line: source.line, column: source.column };
    return {
      problem: problemOf(message, problemCode, { ...at, ...(entryId === undefined ? {} : { entryId }) }),
      ids: entryId === undefined ? [] : [entryId],
    };
  };
  // A registry YAML error: every problem at its position.
  const yamlProblems = details['problems'];
  if (Array.isArray(yamlProblems)) {
    return (yamlProblems as { file: string; line: number; column: number; message: string; entryId?: string }[]).map(
      (p) => ({
        problem: problemOf(p.message, code, p),
        ids: p.entryId === undefined ? [] : [p.entryId],
      }),
    );
  }
  // The registry's checks: every problem of the batch at once, by operation.
  const checks = details['errors'];
  if (Array.isArray(checks)) {
    return (checks as { index: number; entryId?: string; code?: string; message: string }[]).map((p) =>
      item(p.entryId ?? ops[p.index]?.entry.id, p.message, p.code ?? code),
    );
  }
  // Operations that kept failing with NOT_FOUND: each with its listener's own refusal.
  const unresolved = details['unresolved'];
  if (Array.isArray(unresolved)) {
    return (unresolved as { entryId?: string; listener?: string; message: string }[]).map((p) =>
      item(p.entryId, `${p.message} (${p.listener ?? 'a listener'} kept refusing it with NOT_FOUND)`),
    );
  }
  const cycle = details['cycle'];
  if (Array.isArray(cycle))
    return [{ problem: problemOf(messageOf(error), code), ids: [...new Set(cycle as string[])] }];
  return [item(details['entryId'], messageOf(error))];
}

/**
 * A listener's refusal as the registry words it — `create of entry app:a by http was refused:
 * <the listener's message>` — turned round so that the listener's own message (and the position it
 * starts with, finer than the entry's) leads: `<its message> (http refused the create)`.
 */
function withoutSubject(message: string, details: Readonly<Record<string, unknown>>): string {
  const { entryId, listener, op } = details;
  if (typeof entryId !== 'string' || typeof listener !== 'string' || typeof op !== 'string') return message;
  const subject = `${op} of entry ${entryId} by ${listener} was refused: `;
  return message.startsWith(subject) ? `${message.slice(subject.length)} (${listener} refused the ${op})` : message;
}
