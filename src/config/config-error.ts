import { KindlingError } from '../common/errors.js';
import { escapeInvisible } from '../common/visible-text.js';

/** One problem found while decoding an entry's configuration. */
export interface ConfigIssue {
  /** Where the problem is, from the entry down: `data`, `data.port`, `data.routes[0].path`. */
  readonly path: string;
  /** What is wrong there, in words. */
  readonly message: string;
  /** The line of the value in its file (or of the entry when the value cannot be located). */
  readonly line?: number;
  /** The column of the value in its file (or of the entry when the value cannot be located). */
  readonly column?: number;
}

/** What {@link ConfigError} is built from. */
export interface ConfigErrorInit {
  readonly entryId: string;
  readonly kind: string;
  readonly issues: readonly ConfigIssue[];
  /** The file the entry was declared in, when it came from one. */
  readonly file?: string;
  readonly line?: number;
  readonly column?: number;
  readonly cause?: unknown;
}

/**
 * The one error `decodeEntryConfig` throws (code `INVALID`): every issue of one entry's
 * configuration, each with its path and, when the entry came from a file, its position.
 *
 * @example
 * try {
 *   decodeEntryConfig(HttpServiceConfig, entry);
 * } catch (error) {
 *   if (error instanceof ConfigError) for (const issue of error.issues) console.log(issue.path, issue.message);
 * }
 */
export class ConfigError extends KindlingError {
  /** The id of the entry whose configuration was refused. */
  readonly entryId: string;
  /** The kind of that entry. */
  readonly kind: string;
  /** Every problem found, in the order they were found; never empty. */
  readonly issues: readonly ConfigIssue[];
  /** The file the entry was declared in, when it came from one. */
  readonly file: string | undefined;
  /** The line of the entry in {@link ConfigError.file}. */
  readonly line: number | undefined;
  /** The column of the entry in {@link ConfigError.file}. */
  readonly column: number | undefined;

  constructor(init: ConfigErrorInit) {
    // A message never hides its cause: invisible and control characters (of a key, a value or a
    // config class's own words) are shown escaped.
    const issues = Object.freeze(
      init.issues.map((issue) =>
        Object.freeze({ ...issue, path: escapeInvisible(issue.path), message: escapeInvisible(issue.message) }),
      ),
    );
    super('INVALID', formatConfigErrorMessage({ ...init, issues }), {
      cause: init.cause,
      details: {
        entryId: init.entryId,
        kind: init.kind,
        issues,
        file: init.file,
        line: init.line,
        column: init.column,
      },
    });
    this.entryId = init.entryId;
    this.kind = init.kind;
    this.issues = issues;
    this.file = init.file;
    this.line = init.line;
    this.column = init.column;
  }
}

function formatConfigErrorMessage(init: ConfigErrorInit): string {
  const at = init.file === undefined ? '' : ` at ${formatPosition(init.file, init.line, init.column)}`;
  const count = init.issues.length === 1 ? '1 issue' : `${init.issues.length} issues`;
  const lines = [`invalid configuration of entry ${init.entryId} (kind ${init.kind})${at}: ${count}`];
  for (const issue of init.issues) {
    const where =
      init.file !== undefined && issue.line !== undefined
        ? ` (${formatPosition(init.file, issue.line, issue.column)})`
        : '';
    lines.push(`  ${issue.path}: ${issue.message}${where}`);
  }
  return lines.join('\n');
}

function formatPosition(file: string, line: number | undefined, column: number | undefined): string {
  const shown = escapeInvisible(file);
  if (line === undefined) return shown;
  return column === undefined ? `${shown}:${line}` : `${shown}:${line}:${column}`;
}
