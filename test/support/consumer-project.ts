import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository: what `npm pack` packs (its dist/ is built by the integration project's setup). */
export const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

/**
 * The TypeScript compilers a consumer project is checked with: our pinned 5.9 (the repository's own),
 * and the newest TypeScript, which the consumer installs itself as a user would (`npm install -D
 * typescript`), kept to the 7.0 line so that a new major shows up as a deliberate change here.
 */
export const NEWEST_TYPESCRIPT = 'typescript@~7.0.2';
export const compilers = {
  'typescript 5.9': (): string => join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc'),
  'typescript 7': (project: string): string => join(project, 'node_modules', 'typescript', 'bin', 'tsc'),
} as const;
export type CompilerName = keyof typeof compilers;

/**
 * What the README's Install section tells a user to install beside the package, and the tsconfig it
 * gives a plugin author. The README and these must say the same thing.
 */
export const userDependencies = ['inversify', 'class-validator', 'class-transformer'] as const;
export const userDevDependencies = ['@types/node'] as const;
export const consumerTsconfig = {
  compilerOptions: {
    target: 'ES2022',
    module: 'nodenext',
    moduleResolution: 'nodenext',
    strict: true,
    experimentalDecorators: true,
    emitDecoratorMetadata: true,
    skipLibCheck: false,
    outDir: 'dist',
    rootDir: 'src',
    types: ['node'],
  },
  include: ['src'],
};

/** The outcome of a command run in the consumer project. */
export interface CommandResult {
  readonly status: number | null;
  /** stdout and stderr together, for an assertion message. */
  readonly output: string;
  readonly stdout: string;
}

/** A scratch project outside the repository that depends on the packed `kindling` tarball. */
export interface ConsumerProject {
  readonly dir: string;
  /** The tarball `npm pack` made. */
  readonly tarball: string;
  /** Writes a file, relative to the project, making its directory. */
  write(path: string, text: string): void;
  /** Compiles the project with one of {@link compilers}, into `outDir` (relative), with its tsconfig (or `project`). */
  compile(compiler: CompilerName, outDir?: string, project?: string): CommandResult;
  /** Runs a compiled module with node, in the project. */
  run(file: string): CommandResult;
  /** The files in the tarball (`package/...`). */
  list(): string[];
  /** Removes the project and the tarball. */
  remove(): void;
}

function run(command: string, args: readonly string[], cwd: string, timeoutMs = 300_000): CommandResult {
  const result: SpawnSyncReturns<string> = spawnSync(command, args, {
    cwd,
    encoding: 'utf8',
    timeout: timeoutMs,
    env: { ...process.env, npm_config_update_notifier: 'false' },
  });
  if (result.error) throw new Error(`${command} ${args.join(' ')} failed to run: ${result.error.message}`);
  return { status: result.status, stdout: result.stdout, output: `${result.stdout}${result.stderr}` };
}

function must(result: CommandResult, what: string): CommandResult {
  if (result.status !== 0) throw new Error(`${what} failed (exit ${result.status}):\n${result.output}`);
  return result;
}

/**
 * Packs the repository once (`npm pack`, the built dist/ as it is), creates a scratch project in a
 * temp directory and installs the tarball there with only what the README tells a user to install,
 * from npm's cache when it can (`--prefer-offline`), plus `devDependencies` (what another section
 * of the README tells a user to add, such as a test runner). Pack and install take a while: create
 * one project per test file and reuse it.
 */
export function createConsumerProject(options: { readonly devDependencies?: readonly string[] } = {}): ConsumerProject {
  const dir = mkdtempSync(join(tmpdir(), 'kindling-consumer-'));
  const packDir = join(dir, '.pack');
  mkdirSync(packDir);
  must(run('npm', ['pack', '--silent', '--ignore-scripts', '--pack-destination', packDir], repoRoot), 'npm pack');
  const packed = readdirSync(packDir).filter((name) => name.endsWith('.tgz'));
  if (packed.length !== 1) throw new Error(`npm pack left ${packed.length} tarballs in ${packDir}`);
  const tarball = join(packDir, packed[0]!);

  writeFileSync(
    join(dir, 'package.json'),
    `${JSON.stringify({ name: 'kindling-consumer', private: true, type: 'module' }, null, 2)}\n`,
  );
  writeFileSync(join(dir, 'tsconfig.json'), `${JSON.stringify(consumerTsconfig, null, 2)}\n`);
  const npmInstall = ['install', '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts', '--loglevel=error'];
  must(run('npm', [...npmInstall, tarball, ...userDependencies], dir), 'npm install of the tarball');
  const devDependencies = [...userDevDependencies, NEWEST_TYPESCRIPT, ...(options.devDependencies ?? [])];
  must(run('npm', [...npmInstall, '--save-dev', ...devDependencies], dir), 'npm install of the dev dependencies');

  return {
    dir,
    tarball,
    write(path, text) {
      const file = join(dir, path);
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(file, text);
    },
    compile(compiler, outDir = 'dist', project = 'tsconfig.json') {
      return run(
        process.execPath,
        [compilers[compiler](dir), '-p', project, '--outDir', outDir, '--pretty', 'false'],
        dir,
      );
    },
    run(file) {
      return run(process.execPath, [file], dir, 60_000);
    },
    list() {
      return must(run('tar', ['-tzf', tarball], dir), 'tar -t')
        .stdout.split('\n')
        .filter((line) => line !== '');
    },
    remove() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
