import { KindlingError } from 'kindling';
import type { RegistryOp } from 'kindling';
import { refusalItems } from '../app/refusal.js';
import type { Problem } from '../app/problems.js';

/** Runs one batch as a dry run (locally, or through a running app); throws its refusal. */
export type DryRun = (ops: readonly RegistryOp[]) => Promise<unknown>;

/** What {@link dryRunEvery} found. */
export interface DryRunReport {
  /** Every problem, at its position when known. */
  readonly problems: readonly Problem[];
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
 * for (const problem of report.problems) console.error(formatProblem(problem));
 */
export async function dryRunEvery(ops: readonly RegistryOp[], run: DryRun, maxRounds = 25): Promise<DryRunReport> {
  let batch = [...ops];
  const refused = new Set<string>();
  const problems: Problem[] = [];
  let followOns = 0;
  for (let round = 0; round < maxRounds && batch.length > 0; round++) {
    try {
      await run(batch);
      return { problems, followOns, incomplete: false };
    } catch (error) {
      if (!KindlingError.is(error) || !REFUSALS.has(error.code)) throw error;
      const items = refusalItems(error, batch);
      const ids = items.flatMap((item) => item.ids);
      for (const item of items) {
        if (item.ids.length > 0 && [...refused].some((id) => mentions(item.problem.message, id)))
          followOns += item.ids.length;
        else problems.push(item.problem);
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

function mentions(message: string, id: string): boolean {
  return new RegExp(`(^|[^\\w.:-])${id.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}($|[^\\w.:-])`).test(message);
}
