import { spawn, spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  compilers,
  consumerTsconfig,
  createConsumerProject,
  repoRoot,
  userDependencies,
  userDevDependencies,
  type CompilerName,
  type ConsumerProject,
} from './support/consumer-project.js';
import { DIAGNOSTIC, codeBlocks, importPool, marker, moduleSource, type CodeBlock } from './support/readme-blocks.js';

/**
 * The README, executed. The package is packed and installed in a scratch project with what the
 * README's `npm install` lines name, and then:
 * - every ```ts block is compiled as its own module (one tsc run for all of them, with TypeScript
 *   5.9 and 7); a block without imports of its own gets the imports it needs from the README's own
 *   import lines, and nothing else; a `<!-- snippet: prelude: ... -->` marker gives a fragment the
 *   declarations it assumes. A compiler error names the README line.
 * - blocks marked `run` run with node (exit 0, and what they print when the marker says);
 *   blocks marked `vitest` run as a test file; ```js blocks are syntax-checked.
 * - every CLI example (```sh / ```console lines that run `kindling`) runs against a copy of
 *   examples/hello with the installed package's bin; its exit code is checked, and a ```console
 *   transcript's output must be what the README shows, numbers aside.
 */

const README = join(repoRoot, 'README.md');
const readme = readFileSync(README, 'utf8');
const blocks = codeBlocks(readme);
const where = (block: CodeBlock): string => `README.md:${block.line}`;

const tsBlocks = blocks.filter((block) => block.lang === 'ts' || block.lang === 'typescript');
const pool = importPool(tsBlocks);
const moduleFile = (block: CodeBlock): string => `readme/l${block.line}${marker(block, 'vitest') ? '.test' : ''}`;
const sources = new Map(tsBlocks.map((block) => [block, moduleSource(block, pool)]));

/** The packages of the README's `npm install` lines: dependencies and dev dependencies. */
function installLines(): { dependencies: string[]; devDependencies: string[] } {
  const dependencies: string[] = [];
  const devDependencies: string[] = [];
  for (const block of blocks.filter((b) => b.lang === 'sh' || b.lang === 'bash')) {
    for (const line of block.code.split('\n')) {
      const words = line.replace(/#.*/, '').trim().split(/\s+/);
      if (words[0] !== 'npm' || (words[1] !== 'install' && words[1] !== 'i')) continue;
      const names = words.slice(2).filter((word) => !word.startsWith('-'));
      const dev = words.includes('--save-dev') || words.includes('-D');
      (dev ? devDependencies : dependencies).push(...names);
    }
  }
  return { dependencies, devDependencies };
}

describe('the README, executed against the packed package', () => {
  let project: ConsumerProject;
  const install = installLines();
  /** Dev dependencies beyond the Install section's (a test runner the testing section names). */
  const extraDev = install.devDependencies.filter(
    (name) => name !== 'typescript' && !(userDevDependencies as readonly string[]).includes(name),
  );

  beforeAll(() => {
    project = createConsumerProject({ devDependencies: extraDev });
    for (const [block, source] of sources) project.write(`src/${moduleFile(block)}.ts`, source.text);
  }, 600_000);

  afterAll(() => project?.remove());

  it('installs what the README tells a user to install, and uses its tsconfig', () => {
    expect(install.dependencies.sort()).toEqual(['kindling', ...userDependencies].sort());
    expect(install.devDependencies).toEqual(expect.arrayContaining(['typescript', ...userDevDependencies]));
    const tsconfig = blocks.find((block) => block.lang === 'json' && block.code.includes('"experimentalDecorators"'));
    expect(tsconfig, 'the README shows a tsconfig.json').toBeDefined();
    const shown = JSON.parse(tsconfig!.code) as { compilerOptions: Record<string, unknown> };
    expect(consumerTsconfig.compilerOptions).toMatchObject(shown.compilerOptions);
  });

  it('finds the TypeScript blocks and an import pool', () => {
    expect(tsBlocks.length).toBeGreaterThan(10);
    expect([...pool.keys()]).toEqual(expect.arrayContaining(['decodeEntryConfig', 'DefaultEventBus', 'bootTestApp']));
  });

  /** Compiler diagnostics, each as `README.md:line:col: message` (or as tsc said it, outside a block). */
  function readmeDiagnostics(output: string): string[] {
    const byFile = new Map([...sources].map(([block, source]) => [`src/${moduleFile(block)}.ts`, { block, source }]));
    return output
      .split('\n')
      .filter((line) => line.trim() !== '' && !line.startsWith(' '))
      .map((line) => {
        const match = DIAGNOSTIC.exec(line);
        const found = match ? byFile.get(match.groups!['file']!) : undefined;
        if (!match || !found) return line;
        const at = Number(match.groups!['line']) - found.source.offset;
        const readmeLine =
          at >= 1 ? `${found.block.line + at - 1}` : `${found.block.line} (in the generated imports or prelude)`;
        return `README.md:${readmeLine}:${match.groups!['column']}: ${match.groups!['message']}`;
      });
  }

  const outDir = (compiler: CompilerName): string => `dist-${compiler.replace(/\W+/g, '-')}`;

  it.each(Object.keys(compilers) as CompilerName[])(
    'every TypeScript block typechecks with %s (skipLibCheck off)',
    (compiler) => {
      const compiled = project.compile(compiler, outDir(compiler));
      expect(readmeDiagnostics(compiled.output)).toEqual([]);
      expect(compiled.status).toBe(0);
    },
    300_000,
  );

  const runnable = tsBlocks.filter((block) => marker(block, 'run'));
  it.each(runnable.map((block) => [where(block), block] as const))(
    'the block at %s runs',
    (_, block) => {
      const ran = project.run(`${outDir('typescript 5.9')}/${moduleFile(block)}.js`);
      expect(ran.status, ran.output).toBe(0);
      const prints = marker(block, 'prints');
      if (prints) expect(ran.stdout.trim().split('\n')).toEqual(prints.value.split('|').map((line) => line.trim()));
    },
    60_000,
  );

  const tests = tsBlocks.filter((block) => marker(block, 'vitest'));
  it.each(tests.map((block) => [where(block), block] as const))(
    'the test at %s passes under vitest',
    (_, block) => {
      const vitest = join(project.dir, 'node_modules', 'vitest', 'vitest.mjs');
      const file = `${outDir('typescript 5.9')}/${moduleFile(block)}.js`;
      const ran = spawnSync(process.execPath, [vitest, 'run', '--reporter=json', file], {
        cwd: project.dir,
        encoding: 'utf8',
        timeout: 120_000,
        env: { ...process.env, CI: 'true' },
      });
      expect(ran.status, `${ran.stdout}${ran.stderr}`).toBe(0);
      const report = JSON.parse(ran.stdout) as { numTotalTests: number; numPassedTests: number };
      const declared = block.code.match(/^it\(/gm)?.length ?? 0;
      expect(report).toMatchObject({ numTotalTests: declared, numPassedTests: declared });
    },
    150_000,
  );

  const jsBlocks = blocks.filter((block) => block.lang === 'js' || block.lang === 'javascript');
  it.each(jsBlocks.map((block) => [where(block), block] as const))('the JavaScript block at %s parses', (_, block) => {
    const file = join(project.dir, `check-l${block.line}.mjs`);
    writeFileSync(file, block.code);
    const checked = spawnSync(process.execPath, ['--check', file], { encoding: 'utf8' });
    expect(checked.stderr).toBe('');
    expect(checked.status).toBe(0);
  });

  describe('CLI examples', () => {
    const cliBlocks = blocks.filter(
      (block) => ['sh', 'bash', 'console', 'shell'].includes(block.lang) && commandsOf(block).length > 0,
    );

    it('are found', () => {
      expect(cliBlocks.length).toBeGreaterThanOrEqual(4);
    });

    const skipped = cliBlocks.filter((block) => marker(block, 'skip'));
    it.skip.each(skipped.map((block) => [where(block), marker(block, 'skip')!.value] as const))(
      'the commands at %s (not run: %s)',
      () => {},
    );

    it.each(cliBlocks.filter((block) => !marker(block, 'skip')).map((block) => [where(block), block] as const))(
      'the commands at %s',
      async (_, block) => {
        const bin = join(project.dir, 'node_modules', 'kindling', 'dist', 'boot', 'cli', 'main.js');
        const work = join(project.dir, `cli-l${block.line}`);
        copyExample(work);
        const app = marker(block, 'app') ? await startApp(bin, work) : undefined;
        try {
          // The edits the transcript shows the result of, made once the app runs the example as it is.
          const files = marker(block, 'files');
          if (files) cpSync(join(repoRoot, files.value), work, { recursive: true });
          const expectedCode = Number(marker(block, 'exit')?.value ?? 0);
          for (const command of commandsOf(block)) {
            expect(
              codesOf(command.args[0]!),
              `${where(block)}: exit ${expectedCode} is not in the exit-code table for ${command.args[0]}`,
            ).toContain(expectedCode);
            const ran = spawnSync(process.execPath, [bin, ...command.args], {
              cwd: work,
              encoding: 'utf8',
              timeout: 60_000,
            });
            const output = `${ran.stdout}${ran.stderr}`;
            expect(ran.status, `README.md:${command.line}: kindling ${command.args.join(' ')}\n${output}`).toBe(
              expectedCode,
            );
            if (command.output !== undefined) {
              expect(shape(output), `README.md:${command.line}: kindling ${command.args.join(' ')}`).toEqual(
                shape(command.output),
              );
            } else {
              expect(
                output.trim(),
                `README.md:${command.line}: kindling ${command.args.join(' ')} printed nothing`,
              ).not.toBe('');
            }
          }
        } finally {
          if (app) expect(await app.stop(), 'kindling run exits 0 on SIGINT').toBe(0);
          rmSync(work, { recursive: true, force: true });
        }
      },
      120_000,
    );
  });
});

/** A command of a CLI block: its arguments after `kindling`, its README line, and the output shown. */
interface CliCommand {
  readonly args: readonly string[];
  readonly line: number;
  /** For a ```console transcript, what the README shows it printing. */
  readonly output?: string;
}

/** `kindling ...`, `npx kindling ...` or `node dist/boot/cli/main.js ...` (the bin in a clone). */
const KINDLING = /^(?:npx\s+kindling|kindling|node\s+dist\/boot\/cli\/main\.js)\s+(.*)$/;

function commandsOf(block: CodeBlock): CliCommand[] {
  const lines = block.code.replace(/\n$/, '').split('\n');
  const commands: CliCommand[] = [];
  if (block.lang === 'console') {
    for (let i = 0; i < lines.length; i++) {
      const match = /^\$\s+(.*)$/.exec(lines[i]!);
      if (!match) continue;
      const output: string[] = [];
      for (let j = i + 1; j < lines.length && !lines[j]!.startsWith('$ '); j++) output.push(lines[j]!);
      while (output.at(-1) === '') output.pop();
      const command = KINDLING.exec(match[1]!.trim());
      if (command) commands.push({ args: words(command[1]!), line: block.line + i, output: output.join('\n') });
    }
    return commands;
  }
  lines.forEach((line, i) => {
    const command = KINDLING.exec(line.replace(/\s#.*$/, '').trim());
    if (command) commands.push({ args: words(command[1]!), line: block.line + i });
  });
  return commands;
}

function words(text: string): string[] {
  return text.trim().split(/\s+/);
}

/**
 * Output as the README shows it, with what differs from run to run made equal: process ids, times,
 * durations and the free port the copy listens on; runs of spaces (column widths) count as one.
 * Every other number (counts, revisions, positions) must be what the README says.
 */
function shape(text: string): string[] {
  return text
    .trimEnd()
    .split('\n')
    .map((line) =>
      line
        .replace(/\bpid \d+/g, 'pid N')
        .replace(/\d{4}-\d\d-\d\dT[\d:.]+Z/g, 'TIME')
        .replace(/\b\d+(\.\d+)? ?(ms|s)\b/g, 'DURATION')
        .replace(/127\.0\.0\.1:\d+/g, '127.0.0.1:PORT')
        .replace(/\s+/g, ' ')
        .trim(),
    );
}

/** The exit codes the README's exit-code table allows for a command. */
function codesOf(command: string): number[] {
  const table = readme.slice(readme.indexOf('### Exit codes'));
  const rows = table.split('\n').filter((line) => line.startsWith('| `'));
  for (const row of rows) {
    const cells = row.split('|').map((cell) => cell.trim());
    const names = [...cells[1]!.matchAll(/`(\w+)`/g)].map((m) => m[1]);
    if (!names.includes(command)) continue;
    return [0, 1, 2].filter((code) => cells[code + 2] !== '—');
  }
  return [0, 2];
}

/** Copies examples/hello to `<work>/examples/hello`, its server on a free port. */
function copyExample(work: string): void {
  const app = join(work, 'examples', 'hello');
  mkdirSync(app, { recursive: true });
  cpSync(join(repoRoot, 'examples', 'hello'), app, { recursive: true, filter: (path) => !path.includes('.kindling') });
  const http = join(app, 'registry', 'http.yaml');
  writeFileSync(http, readFileSync(http, 'utf8').replace('"127.0.0.1:8080"', '"127.0.0.1:0"'));
}

/** `kindling run examples/hello` in `work`, once it printed its banner; `stop()` sends SIGINT and gives the exit code. */
async function startApp(bin: string, work: string): Promise<{ stop(): Promise<number | null> }> {
  const child = spawn(process.execPath, [bin, 'run', 'examples/hello'], {
    cwd: work,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      if (stdout.includes('press Ctrl-C to stop')) resolve();
    });
    void exited.then((code) =>
      reject(new Error(`kindling run exited with ${code} before it was ready:\n${stdout}${stderr}`)),
    );
  });
  const banner = readme.match(/^hello is running \(registry revision \d+, \d+ entries\)$/m)?.[0];
  expect(shape(stdout.split('\n')[0]!), 'the banner the README shows').toEqual(
    shape(banner ?? 'the README shows no banner'),
  );
  return {
    stop: async () => {
      child.kill('SIGINT');
      return exited;
    },
  };
}
