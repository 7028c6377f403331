// The CLI's registry corpus: every file in test/fixtures/cli/registries/ is added to a copy of the
// fixture app and checked with `kindling validate` (no app running: a local boot that starts
// nothing). Good files exit 0; bad ones exit 2 with every problem that expected.json records, each
// on a line that carries its file:line:col.
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCli } from './support/cli-harness.js';

interface Expectation {
  readonly exit: number;
  readonly entries?: number;
  readonly problems?: readonly { readonly line: number; readonly column: number; readonly message: string }[];
  readonly followOns?: number;
}

const fixtures = join(import.meta.dirname, 'fixtures', 'cli');
const expected = JSON.parse(readFileSync(join(fixtures, 'registries', 'expected.json'), 'utf8')) as Record<
  string,
  Expectation
>;
const cases = Object.keys(expected).sort();

describe('kindling validate (fixture corpus, no app running)', () => {
  let dir: string;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kindling-cli-'));
    await cp(join(fixtures, 'app'), dir, { recursive: true });
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('has good and bad cases, each with an expectation', () => {
    expect(cases.filter((name) => name.startsWith('good/')).length).toBeGreaterThanOrEqual(3);
    expect(cases.filter((name) => name.startsWith('bad/')).length).toBeGreaterThanOrEqual(12);
  });

  it.each(cases)('checks %s with the exit code, messages and positions of expected.json', async (name) => {
    const want = expected[name] as Expectation;
    await cp(join(fixtures, 'registries', name), join(dir, 'registry', 'case.yaml'));
    const { code, out, err } = await runCli(['validate', dir]);
    expect({ code, err: code === 0 ? err : '' }).toEqual({ code: want.exit, err: '' });
    if (want.exit === 0) {
      expect(out).toMatch(
        new RegExp(
          `^valid: ${want.entries ?? 0} entries in 2 files, checked in a local boot of events, registry, function, http \\(nothing started\\)\\n$`,
        ),
      );
      return;
    }
    const file = join(dir, 'registry', 'case.yaml');
    const lines = err.split('\n');
    for (const problem of want.problems ?? []) {
      const at = `${file}:${problem.line}:${problem.column}`;
      expect(
        lines.some((line) => line.includes(at) && line.includes(problem.message)),
        `a line with ${at} and "${problem.message}" in:\n${err}`,
      ).toBe(true);
    }
    if (want.followOns !== undefined)
      expect(err).toContain(
        `(${want.followOns} more ${want.followOns === 1 ? 'entry' : 'entries'} refused only because of the problems above)`,
      );
  });
});
