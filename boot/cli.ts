#!/usr/bin/env node
// The `kindling` command line: `kindling run <app dir or manifest> [--watch]`.

import { realpathSync } from 'node:fs';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { createConsoleLogger, messageOf } from 'kindling';
import type { Logger, LogLevel } from 'kindling';
import { HttpServers, builtinComponents } from '../components/index.js';
import { Application } from './application.js';
import type { ReloadOutcome } from './application.js';
import { BootEventName } from './boot-events.js';
import type { Component } from './component.js';

/** Options of {@link main}, for tests and for embedding the CLI. */
export interface CliOptions {
  /** Where the summary and help go (default: process.stdout). */
  readonly stdout?: (text: string) => void;
  /** Where errors go (default: process.stderr). */
  readonly stderr?: (text: string) => void;
  /** The logger of the app (default: a console logger on stderr at the manifest's level). */
  readonly logger?: Logger;
  /** Stops a `run` when aborted, as a signal would. */
  readonly signal?: AbortSignal;
  /** Whether SIGINT/SIGTERM stop a `run` (default true). */
  readonly handleSignals?: boolean;
  /** Called once the app is up (and watching, with --watch). */
  readonly onReady?: (app: Application) => void;
  /** Called after each reload under --watch. */
  readonly onReload?: (outcome: ReloadOutcome) => void;
  /** The components a manifest can name (default: the built-ins). */
  readonly builtins?: Readonly<Record<string, Component>>;
}

const LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error', 'silent'];

/**
 * Runs the command line with `argv` (without `node` and the script) and resolves with the exit
 * code: for `run`, once the app has stopped (0 after a clean shutdown, 1 when it failed to boot or
 * to stop, 130 after a second signal); 2 for a usage error.
 *
 * @example
 * process.exitCode = await main(['run', 'examples/hello', '--watch']);
 */
export async function main(argv: readonly string[], options: CliOptions = {}): Promise<number> {
  const stdout = options.stdout ?? ((text: string) => void process.stdout.write(text));
  const stderr = options.stderr ?? ((text: string) => void process.stderr.write(text));
  let exitCode = 0;
  const program = new Command('kindling')
    .description('Run applications assembled from a boot manifest and registry YAML.')
    .exitOverride()
    .configureOutput({ writeOut: stdout, writeErr: stderr })
    .showHelpAfterError();
  program
    .command('run')
    .description('boot the app of a manifest (kindling.yaml) and apply its registry sources')
    .argument('<app>', 'an app directory with a kindling.yaml, or a manifest file')
    .option('-w, --watch', 'apply edits to the registry YAML and function files as they happen')
    .option('--log-level <level>', `one of ${LEVELS.join(', ')} (default: the manifest's, or info)`, (value: string) => {
      if (!LEVELS.includes(value as LogLevel)) throw new InvalidArgumentError(`expected one of ${LEVELS.join(', ')}`);
      return value as LogLevel;
    })
    .action(async (target: string, flags: { watch?: boolean; logLevel?: LogLevel }) => {
      exitCode = await run(target, flags, options, stdout, stderr);
    });
  try {
    await program.parseAsync([...argv], { from: 'user' });
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? 0 : 2;
    throw error;
  }
  if (argv.length === 0) {
    program.outputHelp();
    return 2;
  }
  return exitCode;
}

async function run(
  target: string,
  flags: { watch?: boolean; logLevel?: LogLevel },
  options: CliOptions,
  stdout: (text: string) => void,
  stderr: (text: string) => void,
): Promise<number> {
  let app: Application;
  try {
    app = await Application.load(target, {
      builtins: options.builtins ?? builtinComponents,
      ...(options.logger !== undefined ? { logger: options.logger } : flags.logLevel !== undefined ? { logger: createConsoleLogger(flags.logLevel, 'kindling') } : {}),
    });
  } catch (error) {
    stderr(`kindling: ${messageOf(error)}\n`);
    return 1;
  }
  const name = app.manifest.name ?? relative(process.cwd(), app.manifest.dir);
  let outcome: ReloadOutcome;
  try {
    outcome = await app.start();
  } catch (error) {
    stderr(`kindling: ${name} did not start: ${messageOf(error)}\n`);
    await app.shutdown('failed to start');
    return 1;
  }
  const lines = [`${name} is running (registry revision ${outcome.revision}, ${app.registry.entries().length} entries)`];
  const container = app.boot.context.container;
  if (container.isBound(HttpServers)) {
    for (const address of container.get<HttpServers>(HttpServers).addresses()) lines.push(`  ${address.id}  ${address.url}`);
  }
  const cleanup: { dispose(): void }[] = [];
  if (flags.watch === true) {
    cleanup.push(app.watch());
    if (options.onReload !== undefined) cleanup.push(app.onDidReload(options.onReload));
    lines.push(`watching ${relative(process.cwd(), app.manifest.dir) || '.'} for changes; a refused change keeps the running version`);
  }
  lines.push('press Ctrl-C to stop');
  stdout(`${lines.join('\n')}\n`);
  // Stop watching as soon as shutdown begins, whatever began it.
  cleanup.push(
    app.boot.onBootEvent((event) => {
      if (event.name === BootEventName.stopping) for (const item of cleanup.splice(0)) item.dispose();
    }),
  );
  options.onReady?.(app);
  let signals: { dispose(): void } | undefined;
  const code = await new Promise<number>((resolve) => {
    // Kept until the end (not disposed when shutdown begins): a second signal must still exit at once.
    if (options.handleSignals !== false) signals = app.boot.handleSignals({ exit: resolve });
    if (options.signal !== undefined) {
      const stop = (): void => {
        app.shutdown('aborted').then(
          (report) => resolve(report.failures.length > 0 ? 1 : 0),
          () => resolve(1),
        );
      };
      if (options.signal.aborted) stop();
      else options.signal.addEventListener('abort', stop, { once: true });
    }
  });
  for (const item of cleanup.splice(0)) item.dispose();
  signals?.dispose();
  return code;
}

function isEntryPoint(): boolean {
  const script = process.argv[1];
  if (script === undefined) return false;
  try {
    return realpathSync(script) === fileURLToPath(import.meta.url);
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error: unknown) => {
      process.stderr.write(`kindling: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      process.exit(1);
    },
  );
}
