// Drives the CLI: in this process through main(), or compiled (dist/, built by the global setup) as
// subprocesses: `kindling run` on a copy of examples/hello, and one-shot commands against it.
import { spawn } from 'node:child_process';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { cp, mkdir, mkdtemp, readFile, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { silentLogger } from 'kindling';
import { main } from '../../boot/cli/main.js';
import type { CliOptions } from '../../boot/cli/main.js';

export const root = resolve(import.meta.dirname, '../..');
export const cliPath = join(root, 'dist/boot/cli/main.js');

/**
 * A copy of examples/hello in a temp dir, its server on a free port, able to import `kindling`
 * (its app component does) through a node_modules link to this package.
 */
export async function copyHello(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'kindling-hello-'));
  await cp(join(root, 'examples/hello'), dir, { recursive: true });
  const http = join(dir, 'registry/http.yaml');
  await writeFile(http, (await readFile(http, 'utf8')).replace('"127.0.0.1:8080"', '"127.0.0.1:0"'));
  await mkdir(join(dir, 'node_modules'));
  await symlink(root, join(dir, 'node_modules/kindling'), 'dir');
  return dir;
}

/** A state directory with a short path (unix socket paths are limited to ~107 bytes). */
export function stateDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'ks-'));
}

/** The outcome of one `kindling` command. */
export interface CommandResult {
  readonly code: number | null;
  readonly out: string;
  readonly err: string;
}

/**
 * Runs `kindling <argv>` in this process through main() and resolves with what it wrote; the app's
 * logger is silent and signals are left alone unless `options` says otherwise.
 */
export async function runCli(
  argv: readonly string[],
  options: Omit<CliOptions, 'stdout' | 'stderr'> = {},
): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(argv, {
    logger: silentLogger,
    handleSignals: false,
    ...options,
    stdout: (text) => void (out += text),
    stderr: (text) => void (err += text),
  });
  return { code, out, err };
}

/** Runs `kindling <args>` as a subprocess (with `env` added to this process's) and resolves once it has exited. */
export function kindling(
  args: readonly string[],
  options: { env?: Readonly<Record<string, string>> } = {},
): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cliPath, ...args], {
      cwd: root,
      env: { ...process.env, NO_COLOR: '1', ...options.env },
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, out, err }));
  });
}

/** `kindling run <dir> --state-dir <state>` as a subprocess, up and serving. */
export class RunningApp {
  private constructor(
    readonly child: ChildProcessWithoutNullStreams,
    readonly url: string,
    readonly output: { out: string; err: string },
    private readonly exited: Promise<number | null>,
  ) {}

  /**
   * Starts the app and resolves once it says it is running (rejects if it exits first). `state`
   * undefined: no --state-dir (a cluster's node has none); `options` adds arguments and environment.
   */
  static start(
    dir: string,
    state: string | undefined,
    options: { readonly args?: readonly string[]; readonly env?: Readonly<Record<string, string>> } = {},
  ): Promise<RunningApp> {
    const args = [cliPath, 'run', dir, ...(state === undefined ? [] : ['--state-dir', state]), ...(options.args ?? [])];
    const child = spawn(process.execPath, args, {
      cwd: root,
      ...(options.env === undefined ? {} : { env: { ...process.env, ...options.env } }),
    });
    const output = { out: '', err: '' };
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    return new Promise((resolve, reject) => {
      child.stderr.on('data', (chunk: Buffer) => (output.err += chunk.toString()));
      child.stdout.on('data', (chunk: Buffer) => {
        output.out += chunk.toString();
        const url = /http:\/\/127\.0\.0\.1:\d+/.exec(output.out)?.[0];
        if (url !== undefined && output.out.includes('press Ctrl-C to stop'))
          resolve(new RunningApp(child, url, output, exited));
      });
      void exited.then((code) =>
        reject(new Error(`kindling run exited with ${code} before it was up:\n${output.out}${output.err}`)),
      );
    });
  }

  get pid(): number {
    return this.child.pid as number;
  }

  /** Sends `signal` and resolves with the exit code once the process has exited. */
  async stop(signal: NodeJS.Signals = 'SIGINT'): Promise<number | null> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
    return this.exited;
  }
}
