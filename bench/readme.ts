// `npm run bench:readme`: rewrites the benchmark tables of README.md (between the markers
// `<!-- bench:start -->` and `<!-- bench:end -->`) from bench/results/latest.json, so that the README
// shows the figures of the latest run and nothing else: each of our figures beside its peer's, the
// ratio, the target and whether this run met it, and the misses named.
// test/readme-numbers.test.ts checks that the README equals what this script would write.
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatValue, type BenchReport, type BenchRow } from './harness.js';

export const START = '<!-- bench:start -->';
export const END = '<!-- bench:end -->';

/** bench/results/latest.json as bench/run.ts writes it. */
export interface BenchDocument {
  readonly time: string;
  readonly node: string;
  readonly cpus: number;
  readonly cpu?: string;
  readonly results: readonly (BenchReport & { readonly time?: string })[];
  readonly failures?: readonly string[];
}

/** Table cells may not hold a pipe or a line break. */
const cell = (text: string): string => text.replace(/\|/g, '\\|').replace(/\s*\n\s*/g, ' ');
const figure = (row: BenchRow): string => formatValue(row.value, row.unit);
const verdict = (row: BenchRow): string =>
  row.target === undefined
    ? ''
    : `${row.target} ${row.met === true ? 'met' : row.met === false ? '**MISSED**' : ''}`.trim();
const ratio = (row: BenchRow): string =>
  row.ratio === undefined ? '' : `${row.ratio >= 100 ? row.ratio.toFixed(0) : row.ratio.toFixed(2)}×`;

/**
 * The lines of one case: every peer beside our figure of the same measure, and every row of ours
 * that has a target of its own (curves, bounds). Figures that are neither stay in latest.json.
 */
function caseTable(result: BenchReport): string[] {
  const lines = ['| measure | kindling | peer | kindling vs peer | target |', '|---|---|---|---|---|'];
  for (const row of result.rows) {
    if (row.subject === 'kindling') {
      if (row.target === undefined) continue;
      const ours = row.detail === undefined ? figure(row) : `${figure(row)} (${row.detail})`;
      lines.push(`| ${cell(row.name)} | ${cell(ours)} | | | ${cell(verdict(row))} |`);
      continue;
    }
    if (row.ratio === undefined && row.target === undefined) continue;
    const ours = result.rows.find((r) => r.name === row.name && r.subject === 'kindling');
    lines.push(
      `| ${cell(row.name)} | ${cell(ours === undefined ? '' : figure(ours))} | ${cell(`${row.subject}: ${figure(row)}`)} | ${ratio(row)} | ${cell(verdict(row))} |`,
    );
  }
  return lines.length > 2 ? lines : [];
}

/** The generated part of the README, markers excluded. */
export function renderBenchSection(document: BenchDocument): string {
  const out: string[] = [];
  const targets = document.results.flatMap((r) =>
    r.rows.filter((row) => row.target !== undefined && row.met !== undefined).map((row) => ({ result: r, row })),
  );
  const missed = targets.filter(({ row }) => row.met === false);
  out.push(
    `Latest run: ${document.time.slice(0, 10)}, Node ${document.node}, ${document.cpus} × ${document.cpu ?? 'unknown CPU'}. ` +
      `${targets.length} targets: ${targets.length - missed.length} met, ${missed.length} missed.`,
  );
  for (const result of document.results) {
    const table = caseTable(result);
    if (table.length === 0) continue;
    const when =
      result.time !== undefined && result.time.slice(0, 10) !== document.time.slice(0, 10)
        ? ` (run ${result.time.slice(0, 10)})`
        : '';
    out.push('', `**${cell(result.case)}**${when}`, '', ...table);
  }
  if (missed.length > 0) {
    out.push('', 'Missed in this run:', '');
    for (const { result, row } of missed) {
      const who = row.subject === 'kindling' ? '' : ` vs ${row.subject}`;
      out.push(
        `- ${result.case}: ${row.name}${who}: ${row.ratio === undefined ? figure(row) : ratio(row)}, target ${row.target}`,
      );
    }
  }
  for (const failure of document.failures ?? []) out.push('', `Failed to run: ${failure}`);
  return out.join('\n');
}

/** `readme` with the text between the markers replaced by `section`. */
export function replaceBenchSection(readme: string, section: string): string {
  const start = readme.indexOf(START);
  const end = readme.indexOf(END);
  if (start < 0 || end < start) throw new Error(`README.md has no ${START} … ${END} block to rewrite`);
  return `${readme.slice(0, start + START.length)}\n${section}\n${readme.slice(end)}`;
}

/** The README as `npm run bench:readme` would write it, from the repository at `root`. */
export function regeneratedReadme(root: string): string {
  const document = JSON.parse(readFileSync(join(root, 'bench', 'results', 'latest.json'), 'utf8')) as BenchDocument;
  return replaceBenchSection(readFileSync(join(root, 'README.md'), 'utf8'), renderBenchSection(document));
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  // Compiled to dist-bench/readme.js: the repository is one level up.
  const root = join(dirname(fileURLToPath(import.meta.url)), '..');
  writeFileSync(join(root, 'README.md'), regeneratedReadme(root));
  console.log('README.md: benchmark tables rewritten from bench/results/latest.json');
}
