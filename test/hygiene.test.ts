// The project speaks for itself: no tracked file cites notes that live outside the repository, and
// the one word reserved for fast-check's option appears nowhere else, in the sources or in the
// shipped type declarations (dist/, built by the global setup).
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..');

// The forbidden strings are assembled here so that this file does not contain them itself.
const WORD = ['se', 'ed'].join('');
const CITATIONS: readonly { name: string; pattern: RegExp }[] = [
  { name: 'a path into the team notes outside the repository', pattern: new RegExp(`\\.\\./${'sha' + 'red'}\\b`) },
  { name: 'the team design notes', pattern: new RegExp(`\\b${'DES' + 'IGN'}\\.md\\b`) },
  { name: 'the team style notes', pattern: new RegExp(`\\b${'STY' + 'LE'}\\.md\\b`) },
  { name: 'a section number of notes outside the repository', pattern: /\u00a7\s*\d/ },
  { name: `the word "${WORD}"`, pattern: new RegExp(WORD, 'i') },
];

/**
 * fast-check's option of that name, the one use allowed: in a `*.test.ts` file that imports
 * fast-check, as an object key (`{ <word>: 42 }`) or an object shorthand (`{ <word> }`, `, <word> }`).
 */
const FAST_CHECK_OPTION = new RegExp(`(?<![\\w$.])${WORD}(?=\\s*:)|(?<=[{,]\\s*)${WORD}(?=\\s*[,}])`, 'g');

function trackedFiles(): string[] {
  const out = execFileSync('git', ['ls-files', '-z'], { cwd: root, encoding: 'utf8' });
  return out
    .split('\0')
    .filter((file) => file !== '' && file !== 'package-lock.json' && !file.startsWith('node_modules/'))
    .filter((file) => existsSync(join(root, file)));
}

function readText(file: string): string | undefined {
  const bytes = readFileSync(file);
  return bytes.includes(0) ? undefined : bytes.toString('utf8');
}

/** Every forbidden use in one text, as `line:col: what`. */
function findings(file: string, text: string): string[] {
  const fastCheck = file.endsWith('.test.ts') && /from ['"]fast-check['"]/.test(text);
  const found: string[] = [];
  text.split('\n').forEach((line, index) => {
    const checked = fastCheck ? line.replace(FAST_CHECK_OPTION, '') : line;
    for (const { name, pattern } of CITATIONS) {
      const match = pattern.exec(checked);
      if (match !== null) found.push(`${file}:${index + 1}:${match.index + 1}: ${name}: ${line.trim()}`);
    }
  });
  return found;
}

describe('project hygiene', () => {
  const files = trackedFiles();

  it('sees the tracked files', () => {
    expect(files).toContain('README.md');
    expect(files).toContain('docs/README.md');
    expect(files).toContain('src/index.ts');
  });

  it('cites nothing outside the repository and keeps the reserved word to fast-check', () => {
    const hits = files.flatMap((file) => {
      const text = readText(join(root, file));
      return text === undefined ? [] : findings(file, text);
    });
    expect(hits).toEqual([]);
  });

  it('allows fast-check option keys, and nothing else, in property tests', () => {
    const test = `import fc from 'fast-check';\n`;
    expect(findings('x.test.ts', `${test}fc.assert(p, { ${WORD}: 42, numRuns: 10 });`)).toEqual([]);
    expect(findings('x.test.ts', `${test}fc.assert(p, { numRuns, ${WORD} });`)).toEqual([]);
    expect(findings('x.test.ts', `${test}const ${WORD}s = [];`)).toHaveLength(1);
    expect(findings('x.test.ts', `${test}// the ${WORD} table`)).toHaveLength(1);
    expect(findings('x.ts', `fc.assert(p, { ${WORD}: 42 });`)).toHaveLength(1);
    expect(findings('x.test.ts', `const o = { ${WORD}: 42 };`)).toHaveLength(1);
  });

  it('ships type declarations free of the reserved word', () => {
    // Only the declarations of tracked sources: dist/ may hold stale output of files since removed.
    const sources = files.filter((file) => /^(src|boot|components)\/.*\.ts$/.test(file) && !file.endsWith('.test.ts'));
    expect(sources.length).toBeGreaterThan(50);
    const hits = sources.flatMap((file) => {
      const declaration = join(root, 'dist', file.replace(/\.ts$/, '.d.ts'));
      expect(existsSync(declaration), `${declaration} was not built`).toBe(true);
      const text = readFileSync(declaration, 'utf8');
      return new RegExp(WORD, 'i').test(text) ? [`dist/${file.replace(/\.ts$/, '.d.ts')}`] : [];
    });
    expect(hits).toEqual([]);
  });
});
