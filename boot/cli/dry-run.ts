import { KindlingError, formatEntryLocation, getEntrySource, messageOf } from 'kindling';
import type { RegistryOp } from 'kindling';

/** Runs one batch as a dry run (locally, or through a running app); throws its refusal. */
export type DryRun = (ops: readonly RegistryOp[]) => Promise<unknown>;

/** What {@link dryRunEvery} found. */
export interface DryRunReport {
  /** Every problem, each a line that starts with `file:line:col` when the position is known. */
  readonly problems: readonly string[];
  /** Refusals left out because they only followed from an entry refused before (a missing reference). */
  readonly followOns: number;
  /** Whether it gave up before every entry had been tried (too many refusals). */
  readonly incomplete: boolean;
}

/** Codes that say something about the batch; any other error is about getting it run at all. */
const REFUSALS = new Set(['INVALID', 'REJECTED', 'CONFLICT', 'NOT_FOUND', 'UNRESOLVED', 'TIMEOUT']);

/**
 * Dry-runs `ops`, and after each refusal dry-runs the batch again without the refused entries, so
 * that one run reports every entry the listeners refuse, not only the first (a batch stops at its
 * first refusal). A refusal that names an entry refused earlier (an endpoint whose function was
 * refused) only follows from it and is counted, not repeated. Errors that are not refusals (the app
 * went away) are thrown.
 *
 * @example
 * const report = await dryRunEvery(ops, (batch) => registry.apply(batch, { dryRun: true }));
 * for (const line of report.problems) console.error(line);
 */
export async function dryRunEvery(ops: readonly RegistryOp[], run: DryRun, maxRounds = 25): Promise<DryRunReport> {
  let batch = [...ops];
  const refused = new Set<string>();
  const problems: string[] = [];
  let followOns = 0;
  for (let round = 0; round < maxRounds && batch.length > 0; round++) {
    try {
      await run(batch);
      return { problems, followOns, incomplete: false };
    } catch (error) {
      if (!(error instanceof KindlingError) || !REFUSALS.has(error.code)) throw error;
      const items = refusalItems(error, batch);
      const ids = items.flatMap((item) => item.ids);
      for (const item of items) {
        if (item.ids.length > 0 && [...refused].some((id) => mentions(item.line, id))) followOns += item.ids.length;
        else problems.push(item.line);
      }
      if (ids.length === 0) return { problems, followOns, incomplete: false };
      for (const id of ids) refused.add(id);
      const left = batch.filter((op) => !refused.has(op.entry.id));
      if (left.length === batch.length) return { problems, followOns, incomplete: false };
      batch = left;
    }
  }
  return { problems, followOns, incomplete: batch.length > 0 };
}

/**
 * The lines of one refusal, each at its `file:line:col` where known, and the ids of the entries it
 * refused. Positions come from the entries of `ops` when the message has none (a refusal that came
 * back from a running app).
 */
export function describeRefusal(error: unknown, ops: readonly RegistryOp[]): { lines: string[]; ids: string[] } {
  const items = refusalItems(error, ops);
  return { lines: items.map((item) => item.line), ids: [...new Set(items.flatMap((item) => item.ids))] };
}

/** One line of a refusal and the entries it refused. */
interface RefusalItem {
  readonly line: string;
  readonly ids: readonly string[];
}

function refusalItems(error: unknown, ops: readonly RegistryOp[]): RefusalItem[] {
  const details = error instanceof KindlingError ? error.details : {};
  const byId = new Map(ops.map((op) => [op.entry.id, op.entry]));
  const item = (id: unknown, message: string): RefusalItem => {
    const entry = typeof id === 'string' ? byId.get(id) : undefined;
    const at = entry === undefined ? undefined : formatEntryLocation(entry);
    const file = entry === undefined ? undefined : getEntrySource(entry)?.file;
    const line = at === undefined || (file !== undefined && message.includes(file)) ? message : `${at}: ${message}`;
    return { line, ids: typeof id === 'string' ? [id] : [] };
  };
  // A registry YAML error: every problem at its position.
  const yamlProblems = details['problems'];
  if (Array.isArray(yamlProblems)) {
    return (yamlProblems as { file: string; line: number; column: number; message: string; entryId?: string }[]).map((p) => ({
      line: `${p.file}:${p.line}:${p.column}: ${p.message}`,
      ids: p.entryId === undefined ? [] : [p.entryId],
    }));
  }
  // The registry's checks: every problem of the batch at once, by operation.
  const checks = details['errors'];
  if (Array.isArray(checks)) {
    return (checks as { index: number; entryId?: string; message: string }[]).map((p) => item(p.entryId ?? ops[p.index]?.entry.id, p.message));
  }
  // Operations that kept failing with NOT_FOUND: each with its listener's own refusal.
  const unresolved = details['unresolved'];
  if (Array.isArray(unresolved)) {
    return (unresolved as { entryId?: string; listener?: string; message: string }[]).map((p) =>
      item(p.entryId, `${p.message} (${p.listener ?? 'a listener'} kept refusing it with NOT_FOUND)`),
    );
  }
  const cycle = details['cycle'];
  if (Array.isArray(cycle)) return [{ line: messageOf(error), ids: [...new Set(cycle as string[])] }];
  return [item(details['entryId'], messageOf(error))];
}

function mentions(message: string, id: string): boolean {
  return new RegExp(`(^|[^\\w.:-])${id.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}($|[^\\w.:-])`).test(message);
}
