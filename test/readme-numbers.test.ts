// The README's benchmark tables are generated from bench/results/latest.json by `npm run
// bench:readme`: a README edited by hand, or left behind by a newer run, fails here.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  END,
  START,
  regeneratedReadme,
  renderBenchSection,
  replaceBenchSection,
  type BenchDocument,
} from '../bench/readme.js';

const root = fileURLToPath(new URL('..', import.meta.url));

describe('README benchmark tables', () => {
  it('equal what npm run bench:readme writes from the committed latest.json', () => {
    const readme = readFileSync(`${root}README.md`, 'utf8');
    const between = (text: string): string => text.slice(text.indexOf(START), text.indexOf(END));
    expect(between(readme), 'README.md is stale: run npm run bench:readme').toBe(between(regeneratedReadme(root)));
  });

  const document: BenchDocument = {
    time: '2030-01-02T03:04:05.000Z',
    node: 'v20.0.0',
    cpus: 2,
    cpu: 'Test CPU',
    results: [
      {
        case: 'Bus',
        rows: [
          { name: 'publish', subject: 'kindling', value: 2e6, unit: 'events/s', better: 'higher' },
          {
            name: 'publish',
            subject: 'EventEmitter',
            value: 4e6,
            unit: 'events/s',
            better: 'higher',
            ratio: 0.5,
            target: '≥ 0.9×',
            met: false,
          },
          { name: 'publish', subject: 'mitt', value: 1e6, unit: 'events/s', better: 'higher', ratio: 2 },
          { name: 'info only', subject: 'kindling', value: 3, unit: 'ms', better: 'lower' },
        ],
      },
      {
        case: 'Curves',
        rows: [
          {
            name: 'watch: 10 → 100 changes',
            subject: 'kindling',
            value: 1.1,
            unit: '×',
            better: 'lower',
            target: '≤ 1.5×',
            met: true,
            detail: '1.00 µs → 1.10 µs per change',
          },
          // A curve stopped at its time limit: NaN in the run, null once written as JSON.
          {
            name: 'plan: 10 → 100 components',
            subject: 'kindling',
            value: null as unknown as number,
            unit: '×',
            better: 'lower',
            target: '≤ 2×',
            met: false,
            detail: 'stopped after 60 s',
          },
        ],
      },
    ],
  };

  it('puts each figure beside its peer with the ratio and the target, and names the misses', () => {
    const section = renderBenchSection(document);
    expect(section).toContain('Latest run: 2030-01-02, Node v20.0.0, 2 × Test CPU. 3 targets: 1 met, 2 missed.');
    expect(section).toContain(
      '| publish | 2.00M events/s | EventEmitter: 4.00M events/s | 0.50× | ≥ 0.9× **MISSED** |',
    );
    expect(section).toContain('| publish | 2.00M events/s | mitt: 1.00M events/s | 2.00× |  |');
    expect(section).toContain('| watch: 10 → 100 changes | 1.10× (1.00 µs → 1.10 µs per change) | | | ≤ 1.5× met |');
    expect(section).toContain('| plan: 10 → 100 components | — (stopped after 60 s) | | | ≤ 2× **MISSED** |');
    expect(section).not.toContain('info only');
    expect(section).toContain('- Bus: publish vs EventEmitter: 0.50×, target ≥ 0.9×');
    expect(section).toContain('- Curves: plan: 10 → 100 components: —, target ≤ 2×');
  });

  it('replaces only the text between the markers, and refuses a README without them', () => {
    const readme = `# Title\n\nprose\n${START}\nold table\n${END}\n\nmore prose\n`;
    expect(replaceBenchSection(readme, 'new table')).toBe(
      `# Title\n\nprose\n${START}\nnew table\n${END}\n\nmore prose\n`,
    );
    expect(() => replaceBenchSection('# no markers\n', 'x')).toThrow(/bench:start/);
  });
});
