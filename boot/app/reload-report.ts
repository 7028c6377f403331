import { escapeInvisible } from 'kindling';
import type { ApplyResult, LogLevel } from 'kindling';
import { displayPath } from './display-path.js';

/** What every {@link ReloadOutcome} tells. */
interface ReloadBasics {
  /** The registry's revision after the reload (the one still served after a refusal). */
  readonly revision: number;
  /** The changed files that led to the reload (absolute paths, sorted); absent for a direct `reload()` of nothing in particular. */
  readonly files?: readonly string[];
}

/** What one `Application.reload` did: applied, unchanged or refused. */
export type ReloadOutcome =
  | (ReloadBasics & {
      readonly status: 'applied';
      /** `+id`, `~id`, `-id` for each created, updated and deleted entry. */
      readonly changes: readonly string[];
      readonly result: ApplyResult;
      /** Set when the reload before this one was refused: the sources are good again. */
      readonly recovered?: true;
    })
  | (ReloadBasics & {
      readonly status: 'unchanged';
      /** Set when the reload before this one was refused: the sources are good again. */
      readonly recovered?: true;
    })
  | (ReloadBasics & {
      readonly status: 'refused';
      readonly error: unknown;
      /** The refusal, with file:line:col where known. */
      readonly message: string;
      /** Each problem of the refusal, starting with its file:line:col where known (relative to the working directory). */
      readonly problems: readonly string[];
    });

/** Ids listed in an "applied" line; more are counted. */
const MAX_IDS = 10;
/** Files named in a line; more are counted. */
const MAX_FILES = 5;

/**
 * The one log line of a reload (after the baseline): what it applied, that nothing changed, or the
 * refusal with each problem on its own line; prefixed with "recovered" when it follows a refusal.
 *
 * @example
 * const { level, message } = reloadLogLine(outcome);
 * logger[level](message);
 */
export function reloadLogLine(outcome: ReloadOutcome): {
  readonly level: Exclude<LogLevel, 'silent' | 'debug'>;
  readonly message: string;
} {
  const after = outcome.files === undefined ? '' : ` after changes to ${listFiles(outcome.files)}`;
  if (outcome.status === 'refused') {
    // Each problem starts with its file:line:col; the running version is what the app still serves.
    return {
      level: 'error',
      message: `change refused, still serving revision ${outcome.revision}:\n${outcome.problems.map((line) => `  ${line}`).join('\n')}`,
    };
  }
  const recovered = outcome.recovered === true ? 'recovered from the refused change: ' : '';
  if (outcome.status === 'unchanged') {
    return { level: 'info', message: `${recovered}no change to apply${after}, serving revision ${outcome.revision}` };
  }
  const count = (sign: string): number => outcome.changes.filter((change) => change.startsWith(sign)).length;
  const ids = outcome.changes
    .slice(0, MAX_IDS)
    .map((change) => escapeInvisible(change))
    .join(' ');
  const more = outcome.changes.length > MAX_IDS ? ` and ${outcome.changes.length - MAX_IDS} more` : '';
  return {
    level: 'info',
    message: `${recovered}applied revision ${outcome.revision}: ${count('+')} created, ${count('~')} updated, ${count('-')} deleted (${ids}${more})${after}`,
  };
}

function listFiles(files: readonly string[]): string {
  const shown = files.slice(0, MAX_FILES).map((file) => escapeInvisible(displayPath(file)));
  return files.length > MAX_FILES ? `${shown.join(', ')} and ${files.length - MAX_FILES} more files` : shown.join(', ');
}
