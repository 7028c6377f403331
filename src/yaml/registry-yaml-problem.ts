import { KindlingError } from '../common/errors.js';
import { escapeInvisible } from '../common/visible-text.js';

/** One problem of a registry file, with the 1-based line and column it concerns. */
export interface RegistryYamlProblem {
  readonly file: string;
  readonly line: number;
  readonly column: number;
  readonly message: string;
  /** The id of the entry concerned, when it is known. */
  readonly entryId?: string;
}

/**
 * Every problem of a registry load at once (code `INVALID`); the message lists each as
 * `file:line:col: message`.
 */
export class RegistryYamlError extends KindlingError {
  readonly problems: RegistryYamlProblem[];

  constructor(problems: readonly RegistryYamlProblem[]) {
    // A message never hides its cause: invisible and control characters (from keys, values, the
    // parser's own words or a file name) are shown escaped.
    const visible = problems.map((p) => ({ ...p, message: escapeInvisible(p.message) }));
    super('INVALID', formatProblems(visible), { details: { problems: visible } });
    this.problems = visible;
  }
}

function formatProblems(problems: readonly RegistryYamlProblem[]): string {
  const count = problems.length === 1 ? '1 problem' : `${problems.length} problems`;
  const lines = problems.map((p) => `  ${escapeInvisible(p.file)}:${p.line}:${p.column}: ${p.message}`);
  return `invalid registry YAML (${count}):\n${lines.join('\n')}`;
}
