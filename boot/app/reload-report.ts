import { escapeInvisible } from 'kindling';
import type { LogLevel } from 'kindling';
import { displayPath } from './display-path.js';
import type { ReloadOutcome } from './application.js';

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
export function reloadLogLine(outcome: ReloadOutcome): { readonly level: Exclude<LogLevel, 'silent' | 'debug'>; readonly message: string } {
  const after = outcome.files === undefined ? '' : ` after changes to ${listFiles(outcome.files)}`;
  if (outcome.status === 'refused') {
    // Each problem starts with its file:line:col; the running version is what the app still serves.
    return { level: 'error', message: `change refused, still serving revision ${outcome.revision}:\n${outcome.problems.map((line) => `  ${line}`).join('\n')}` };
  }
  const recovered = outcome.recovered === true ? 'recovered from the refused change: ' : '';
  if (outcome.status === 'unchanged') {
    return { level: 'info', message: `${recovered}no change to apply${after}, serving revision ${outcome.revision}` };
  }
  const count = (sign: string): number => outcome.changes.filter((change) => change.startsWith(sign)).length;
  const ids = outcome.changes.slice(0, MAX_IDS).map((change) => escapeInvisible(change)).join(' ');
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
