// `npm run bench`: runs every case in bench/cases in its own process, one after another, prints a
// table with our figures beside the peers' and the ratios, and writes bench/results/*.json.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cpus } from 'node:os';
import { formatValue as format, type BenchReport, type BenchRow } from './harness.js';

const here = dirname(fileURLToPath(import.meta.url));
// Compiled to dist-bench/run.js: the repository is one level up.
const root = join(here, '..');
const only = process.argv.slice(2);
const cases = readdirSync(join(here, 'cases'))
  .filter((file) => file.endsWith('.js'))
  .filter((file) => only.length === 0 || only.some((name) => file.includes(name)))
  .sort();

const color = process.stdout.isTTY && process.env['NO_COLOR'] === undefined;
const paint = (code: number, text: string): string => (color ? `\u001b[${code}m${text}\u001b[0m` : text);

function printTable(result: BenchReport): void {
  console.log(`\n${paint(1, result.case)}`);
  const lines = result.rows.map((row: BenchRow) => [
    row.name,
    row.subject,
    format(row.value, row.unit),
    row.ratio === undefined ? '' : `${row.ratio.toFixed(2)}×`,
    row.target === undefined
      ? ''
      : `${row.target} ${row.met === true ? paint(32, 'met') : row.met === false ? paint(31, 'MISSED') : ''}`,
    row.detail ?? '',
  ]);
  const header = ['case', 'subject', 'median', 'kindling vs peer', 'target', 'detail'];
  const widths = header.map((h, i) =>
    Math.max(h.length, ...lines.map((l) => (l[i] as string).replace(/\u001b\[\d+m/g, '').length)),
  );
  const row = (cells: string[]): string =>
    cells.map((c, i) => c + ' '.repeat((widths[i] as number) - c.replace(/\u001b\[\d+m/g, '').length)).join('  ');
  console.log(paint(2, row(header)));
  for (const line of lines) console.log(row(line));
  for (const note of result.notes ?? []) console.log(paint(2, `  note: ${note}`));
}

const results: BenchReport[] = [];
const failures: string[] = [];
console.log(`Kindling benchmarks: node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}`);
for (const file of cases) {
  process.stdout.write(paint(2, `running ${file}...\n`));
  const run = spawnSync(process.execPath, ['--expose-gc', join(here, 'cases', file)], {
    cwd: root,
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const line = run.stdout.split('\n').find((l) => l.startsWith('@@bench '));
  if (run.status !== 0 || line === undefined) {
    failures.push(`${file} exited with ${run.status ?? run.signal}`);
    console.log(paint(31, `  ${file} failed (exit ${run.status ?? run.signal})`));
    continue;
  }
  const result = JSON.parse(line.slice('@@bench '.length)) as BenchReport;
  results.push(result);
  printTable(result);
}

const missed = results.flatMap((r) =>
  r.rows.filter((row) => row.met === false).map((row) => `${r.case}: ${row.name} (${row.subject}) ${row.target}`),
);
console.log(
  `\n${results.length} case(s) run, ${missed.length} target(s) missed${failures.length > 0 ? `, ${failures.length} case(s) failed` : ''}`,
);
for (const m of missed) console.log(paint(31, `  missed: ${m}`));

mkdirSync(join(root, 'bench', 'results'), { recursive: true });
const latest = join(root, 'bench', 'results', 'latest.json');
// A run of some cases (a filter was given) updates those cases in the latest results and keeps the rest.
let kept: (BenchReport & { time?: string | undefined })[] = [];
if (only.length > 0 && existsSync(latest)) {
  const previous = JSON.parse(readFileSync(latest, 'utf8')) as {
    results?: (BenchReport & { time?: string })[];
    time?: string;
  };
  kept = (previous.results ?? [])
    .filter((old) => !results.some((fresh) => fresh.case === old.case))
    .map((old) => ({ time: previous.time, ...old }));
}
const now = new Date().toISOString();
const document = {
  time: now,
  node: process.version,
  cpus: cpus().length,
  cpu: cpus()[0]?.model,
  results: [...kept, ...results.map((r) => ({ time: now, ...r }))],
  failures,
};
writeFileSync(latest, `${JSON.stringify(document, null, 2)}\n`);
// A missed target is a finding, not a failure of the benchmark: the exit code is non-zero only when a
// case could not run, unless BENCH_STRICT=1 asks for misses to fail too (e.g. in a gate after a fix).
if (failures.length > 0 || (process.env['BENCH_STRICT'] === '1' && missed.length > 0)) process.exitCode = 1;
