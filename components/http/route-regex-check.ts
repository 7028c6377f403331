import Router from 'find-my-way';
import type { HTTPMethod } from 'find-my-way';
import { isSafePattern } from 'redos-detector';

/** Options of a {@link RouteRegexCheck}. */
export interface RouteRegexCheckOptions {
  /** find-my-way's maxParamLength: the longest parameter value a route matches. */
  readonly maxParamLength: number;
  /** Steps redos-detector may take to prove one regex safe; a regex it cannot prove safe within them is refused. */
  readonly steps: number;
}

/** The parts of find-my-way's routing tree this check reads (find-my-way 9). */
interface TreeNode {
  readonly isRegex?: boolean;
  readonly regex?: RegExp | null;
  readonly regexParamCount?: number;
  readonly staticChildrenNodes?: readonly TreeNode[];
  readonly parametricChildren?: readonly TreeNode[];
  readonly wildcardChild?: TreeNode | null;
}

const MAX_CACHED = 1_000;
/**
 * Two parameters in one path segment backtrack at most maxParamLength² steps, which is harmless;
 * from three on, the composed regex of the segment must be proven safe too.
 */
const COMPOSED_FROM = 3;

/**
 * Refuses route regexes open to catastrophic backtracking (ReDoS), such as `/:p(^(a|a)+$)`,
 * which find-my-way's own check (safe-regex2, star height only) lets through. Each regex written
 * in a route is checked with redos-detector, anchored as find-my-way runs it, and so is the regex
 * find-my-way composes for a segment with three parameters or more. Verdicts are cached by regex.
 */
export class RouteRegexCheck {
  private readonly verdicts = new Map<string, string | undefined>();

  constructor(private readonly options: RouteRegexCheckOptions) {}

  /**
   * Why the regexes of a route are unsafe, or undefined when they are safe (or it has none).
   * Throws what find-my-way throws for a route it cannot parse.
   */
  problemOf(method: string, path: string): string | undefined {
    for (const regex of writtenRegexes(path)) {
      const problem = this.verdict(`^${regex}$`, regex);
      if (problem !== undefined) return problem;
    }
    const probe = Router({
      maxParamLength: this.options.maxParamLength,
      ignoreTrailingSlash: true,
      ignoreDuplicateSlashes: true,
    });
    probe.on(method as HTTPMethod, path, () => undefined);
    const root = (probe as unknown as { trees?: Record<string, TreeNode> }).trees?.[method];
    for (const node of regexNodes(root)) {
      if ((node.regexParamCount ?? 0) < COMPOSED_FROM) continue;
      const source = (node.regex as RegExp).source;
      const problem = this.verdict(
        source,
        `the regex ${source} that find-my-way composes for a path segment with ${node.regexParamCount} parameters`,
      );
      if (problem !== undefined) return `${problem}; put fewer parameters in one segment`;
    }
    return undefined;
  }

  private verdict(pattern: string, shown: string): string | undefined {
    if (this.verdicts.has(pattern)) return this.verdicts.get(pattern);
    const result = isSafePattern(pattern, { maxSteps: this.options.steps, timeout: Number.POSITIVE_INFINITY });
    const problem = result.safe
      ? undefined
      : result.error === 'hitMaxSteps'
        ? `the regular expression ${shown} could not be proven safe from catastrophic backtracking (ReDoS) within ${this.options.steps} steps; simplify it`
        : `the regular expression ${shown} is open to catastrophic backtracking (ReDoS): one input can match it in many ways${firstTrail(result.trails)}; rewrite it so that each character can match one way only`;
    if (this.verdicts.size >= MAX_CACHED) this.verdicts.clear();
    this.verdicts.set(pattern, problem);
    return problem;
  }
}

function firstTrail(
  trails: readonly { trail: readonly { a: { node: { source: string } }; b: { node: { source: string } } }[] }[],
): string {
  const step = trails[0]?.trail[0];
  return step === undefined ? '' : ` (${step.a.node.source} and ${step.b.node.source} can take the same characters)`;
}

/**
 * The regexes written in a route path (`:name(regex)`), each with its parentheses and without a
 * leading `^` or trailing `$`, as find-my-way reads them.
 */
export function writtenRegexes(path: string): string[] {
  const found: string[] = [];
  for (let i = 0; i < path.length; i++) {
    if (path[i] !== ':') continue;
    if (path[i + 1] === ':') {
      i++; // "::" is a literal colon
      continue;
    }
    let j = i + 1;
    while (j < path.length && !'(/:-.'.includes(path[j] as string)) j++;
    if (path[j] !== '(') continue;
    const end = closingParenthesis(path, j);
    if (end === undefined) continue; // find-my-way refuses it when the route is added
    let regex = path.slice(j, end + 1);
    if (regex[1] === '^') regex = `(${regex.slice(2)}`;
    if (regex[regex.length - 2] === '$') regex = `${regex.slice(0, -2)})`;
    found.push(regex);
    i = end;
  }
  return found;
}

/** The index of the `)` closing the `(` at `open`, skipping escaped characters (as find-my-way does). */
function closingParenthesis(path: string, open: number): number | undefined {
  let depth = 1;
  for (let i = open + 1; i < path.length; i++) {
    const char = path[i];
    if (char === '\\') i++;
    else if (char === '(') depth++;
    else if (char === ')' && --depth === 0) return i;
  }
  return undefined;
}

function* regexNodes(node: TreeNode | undefined): Generator<TreeNode> {
  if (node === undefined || node === null) return;
  if (node.isRegex === true && node.regex instanceof RegExp) yield node;
  for (const child of node.staticChildrenNodes ?? []) yield* regexNodes(child);
  for (const child of node.parametricChildren ?? []) yield* regexNodes(child);
  if (node.wildcardChild !== undefined && node.wildcardChild !== null) yield* regexNodes(node.wildcardChild);
}
