#!/usr/bin/env node
// The `kindling` command line: `kindling run <app> [--watch]`, and `validate | plan | apply |
// history | rollback` to check and change a running app through its admin socket.

import { readFileSync, realpathSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { createInterface } from 'node:readline/promises';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { escapeInvisible } from 'kindling';
import type { Logger, LogLevel } from 'kindling';
import { Functions, HttpServers, builtinComponents } from 'kindling/components';
import { Application } from '../app/application.js';
import type { ReloadOutcome } from '../app/application.js';
import { BootEventName } from '../kernel/boot-events.js';
import {
  CONFIRMED_DELETES,
  LISTED_CHANGES,
  applyCommand,
  compactCommand,
  deadLettersCommand,
  historyCommand,
  planCommand,
  problemsOf,
  redriveCommand,
  rollbackCommand,
  statusCommand,
  validateCommand,
} from './commands.js';
import { schemaCommand } from './schema.js';
import { formatProblem, relativeInText } from '../app/problems.js';
import { ManifestError } from '../app/manifest.js';
import { describeHeld } from '../state/durable-state.js';
import type { ApplyFlags, CommandIO, RollbackFlags, StatusFlags } from './commands.js';
import { colourFor, createStyle, describeError, terminalSafe } from './output.js';
import type { ProgressMode } from './output.js';
import type { Component } from '../kernel/component.js';
import { ProcessGuard } from '../app/process-guard.js';
import { displayPath } from '../app/display-path.js';
import { inspectApplication } from '../inspector/inspect-app.js';
import type { Inspector } from '../inspector/inspector-server.js';

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
  /**
   * Asks the user to confirm a rollback or prune that deletes many entries (default: a prompt on
   * the terminal when stdin and stderr are both terminals; otherwise nobody can answer, and such a
   * command needs `--yes`).
   */
  readonly confirm?: (question: string) => Promise<boolean>;
  /** Whether to colour stdout (default: when it is a terminal and NO_COLOR is unset). */
  readonly color?: boolean;
  /** How to show the progress of large batches on stderr (default: one updating line on a terminal, plain lines otherwise). */
  readonly progress?: ProgressMode;
  /**
   * Whether `run` installs the {@link ProcessGuard} (process-wide `uncaughtException` and
   * `unhandledRejection` handlers that log a fault with its entry id and keep serving). True for the
   * `kindling` command; false by default when embedding, where the process is not Kindling's.
   */
  readonly processGuard?: boolean;
}

/** Flags of `kindling run`. */
interface RunFlags {
  readonly watch?: boolean;
  readonly logLevel?: LogLevel;
  readonly stateDir?: string;
  /** False with --no-state. */
  readonly state?: boolean;
  readonly journalMaxRecordBytes?: number;
  readonly journalCompactBytes?: number;
  readonly adminMaxRequestBytes?: number;
  readonly adminMaxOps?: number;
  readonly adminTimeout?: number;
  readonly adminMaxConnections?: number;
  /** This node's name in a cluster. */
  readonly node?: string;
  /** --inspect [port]: true without a port. */
  readonly inspect?: boolean | number;
}

const LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error', 'silent'];
const BYTE_UNITS = { '': 1, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3 } as const;

/**
 * Runs the command line with `argv` (without `node` and the script) and resolves with the exit
 * code: for `run`, once the app has stopped (0 after a clean shutdown, 1 when it failed to boot or
 * to stop, 130 after a second signal); 2 for a usage error.
 *
 * @example
 * process.exitCode = await main(['run', 'examples/hello', '--watch']);
 */
export async function main(argv: readonly string[], options: CliOptions = {}): Promise<number> {
  // Every line the CLI prints goes through the terminal escape, whatever it carries.
  const stdout = terminalSafe(options.stdout ?? ((text: string) => void process.stdout.write(text)));
  const stderr = terminalSafe(options.stderr ?? ((text: string) => void process.stderr.write(text)));
  let exitCode = 0;
  const io: CommandIO = {
    stdout,
    stderr,
    style: createStyle(options.color ?? (options.stdout === undefined && colourFor(process.stdout))),
    errStyle: createStyle(options.color ?? (options.stderr === undefined && colourFor(process.stderr))),
    progress: options.progress ?? (options.stderr === undefined && process.stderr.isTTY === true ? 'tty' : 'plain'),
    builtins: options.builtins ?? builtinComponents,
    logger: options.logger,
    confirm: options.confirm ?? (options.stderr === undefined ? terminalConfirm() : undefined),
    closers: [],
  };
  const program = new Command('kindling')
    .description(
      'Run applications assembled from a boot manifest and registry YAML, and check and change them while they run.',
    )
    .version(packageVersion(), '-V, --version', 'print the version of kindling')
    .exitOverride()
    .configureOutput({ writeOut: stdout, writeErr: stderr })
    .showHelpAfterError()
    .addHelpText(
      'after',
      `
Exit codes: 0 ok; 1 plan: there are changes, run: the app failed to boot or to stop; 2 an error
(bad usage, a bad manifest or registry YAML, a refusal, no running app); 130 run: cut short by a second Ctrl-C.
An app's state directory (default <app>/.kindling, or --state-dir) holds its journal and its admin socket.`,
    );
  const logLevel = (value: string): LogLevel => {
    if (!LEVELS.includes(value as LogLevel)) throw new InvalidArgumentError(`expected one of ${LEVELS.join(', ')}`);
    return value as LogLevel;
  };
  const revisionNumber = (value: string): number => {
    if (!/^\d+$/.test(value)) throw new InvalidArgumentError('expected a revision number (0, 1, 2, ...)');
    return Number(value);
  };
  const duration = (value: string): number => {
    const m = /^(\d+)(ms|s|m|h|d)$/.exec(value);
    if (m === null) throw new InvalidArgumentError('expected a duration: a whole number and ms, s, m, h or d (15m)');
    const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 'ms' | 's' | 'm' | 'h' | 'd'];
    return Number(m[1]) * unit;
  };
  const count = (value: string): number => {
    if (!/^[1-9]\d*$/.test(value) || !Number.isSafeInteger(Number(value)))
      throw new InvalidArgumentError('expected a whole number, 1 or more');
    return Number(value);
  };
  const bytes = (value: string): number => {
    const match = /^([1-9]\d*)(KiB|MiB|GiB)?$/.exec(value);
    const size =
      match === null ? Number.NaN : Number(match[1]) * BYTE_UNITS[(match[2] ?? '') as keyof typeof BYTE_UNITS];
    if (!Number.isSafeInteger(size))
      throw new InvalidArgumentError('expected a size in bytes, such as 1048576, 512KiB, 64MiB or 1GiB');
    return size;
  };
  const port = (value: string): number => {
    if (!/^\d{1,5}$/.test(value) || Number(value) > 65_535)
      throw new InvalidArgumentError('expected a port number from 0 to 65535 (0: any free port)');
    return Number(value);
  };
  const APP = 'an app directory with a kindling.yaml, or a manifest file';
  const STATE_DIR = 'the state directory of the app (default: <app dir>/.kindling)';
  const NATS =
    "reach the app's cluster through this NATS server (default: the manifest's cluster.nats, or KINDLING_NATS_URL)";
  program
    .command('run')
    .description('boot the app of a manifest (kindling.yaml), apply its registry sources and serve until Ctrl-C')
    .argument('<app>', APP)
    .option('-w, --watch', 'apply edits to the registry YAML and function files as they happen')
    .option('--log-level <level>', `one of ${LEVELS.join(', ')} (default: the manifest's, or info)`, logLevel)
    .option(
      '--state-dir <dir>',
      `where the journal of applied changes and the admin socket live (default: <app dir>/.kindling)`,
    )
    .option(
      '--no-state',
      'run without a state directory: no journal, no admin socket (plan, apply, history and rollback cannot reach the app)',
    )
    .option(
      '--journal-max-record-bytes <size>',
      'the largest batch the journal records, and reads back (default 128MiB)',
      bytes,
    )
    .option(
      '--journal-compact-bytes <size>',
      'compact the journal once the batches after its last snapshot exceed this and the snapshot (default 64MiB)',
      bytes,
    )
    .option('--admin-max-request-bytes <size>', 'the largest request the admin socket accepts (default 64MiB)', bytes)
    .option('--admin-max-ops <n>', 'the most operations one admin apply may carry (default 100000)', count)
    .option(
      '--admin-timeout <ms>',
      'time an admin client has to send a request, and to take its answer (default 30000)',
      count,
    )
    .option('--admin-max-connections <n>', 'the most admin connections open at once (default 16)', count)
    .option('--node <name>', "this node's name in the manifest's cluster (default: <host>-<pid>)")
    .option(
      '--inspect [port]',
      'serve the live inspector page on 127.0.0.1 (a free port unless given), behind a random token printed at start',
      port,
    )
    .action(async (target: string, flags: RunFlags) => {
      exitCode = await run(target, flags, options, io);
    });
  program
    .command('validate')
    .description(
      "load the registry YAML and dry-run every entry through the app's listeners (through the running app, or a local boot that starts nothing); exit 0 or 2",
    )
    .argument('<app>', APP)
    .option('--state-dir <dir>', STATE_DIR)
    .option('--nats <url>', NATS)
    .action(async (target: string, flags: { stateDir?: string; nats?: string }) => {
      exitCode = await validateCommand(target, flags, io);
    });
  program
    .command('schema')
    .description(
      "write the JSON Schema of the app's registry files (every kind its components register, with their fields) for editors; exit 0 or 2",
    )
    .argument('<app>', APP)
    .option('-o, --out <file>', 'write it to this file (default: stdout)')
    .action(async (target: string, flags: { out?: string }) => {
      exitCode = await schemaCommand(target, flags, io);
    });
  program
    .command('plan')
    .description(
      'show what apply would change in the running app (+ create, ~ update with the changed fields, - delete), dry-run through its listeners; exit 0 no change, 1 changes, 2 error',
    )
    .argument('<app>', APP)
    .option('--prune', 'also plan to delete the entries this YAML applied before and no longer declares')
    .option('--json', 'print the plan as JSON (every change, and each problem with file, line, column and code)')
    .option('--full', `list every change (a plan of more than ${LISTED_CHANGES} is counted by kind)`)
    .option('--state-dir <dir>', STATE_DIR)
    .option('--nats <url>', NATS)
    .action(
      async (
        target: string,
        flags: { stateDir?: string; nats?: string; prune?: boolean; json?: boolean; full?: boolean },
      ) => {
        exitCode = await planCommand(target, flags, io);
      },
    );
  program
    .command('apply')
    .description('apply the registry YAML to the running app as one atomic batch; exit 0 or 2')
    .argument('<app>', APP)
    .option(
      '--prune',
      'also delete the entries this YAML applied before and no longer declares (never entries of other sources)',
    )
    .option(
      '--expect-revision <n>',
      'refuse unless the app is at exactly this revision (the one a reviewed plan was made against)',
      revisionNumber,
    )
    .option(
      '--all-nodes',
      'in a cluster: every live node dry-runs the batch first, and it is appended only when all accept',
    )
    .option('--full', `list every change (more than ${LISTED_CHANGES} are counted by kind)`)
    .option(
      '-y, --yes',
      `prune without asking, even when that deletes more than ${CONFIRMED_DELETES} entries or every entry`,
    )
    .option('--state-dir <dir>', STATE_DIR)
    .option('--nats <url>', NATS)
    .action(async (target: string, flags: ApplyFlags) => {
      exitCode = await applyCommand(target, flags, io);
    });
  program
    .command('status')
    .description(
      'show the running app, or every live node of its cluster with its revision and state (in-sync, catching-up, desynced and why); exit 0 all in sync, 1 a node is not, 2 none answers',
    )
    .argument('<app>', APP)
    .option('--retry', 'in a cluster: ask every desynced node to try again to reach the cluster state first')
    .option('--json', 'print the status as JSON')
    .option('--state-dir <dir>', STATE_DIR)
    .option('--nats <url>', NATS)
    .action(async (target: string, flags: StatusFlags) => {
      exitCode = await statusCommand(target, flags, io);
    });
  program
    .command('history')
    .description(
      'list the batches the running app committed since it started (with the journal replayed at start); exit 0 or 2',
    )
    .argument('<app>', APP)
    .option('--json', 'print the history as JSON')
    .option('--state-dir <dir>', STATE_DIR)
    .option('--nats <url>', NATS)
    .action(async (target: string, flags: { stateDir?: string; nats?: string; json?: boolean }) => {
      exitCode = await historyCommand(target, flags, io);
    });
  program
    .command('compact')
    .description(
      "compact the running app's journal now: a snapshot of its state replaces the batches (it also compacts itself as it grows); exit 0 or 2",
    )
    .argument('<app>', APP)
    .option('--state-dir <dir>', STATE_DIR)
    .action(async (target: string, flags: { stateDir?: string }) => {
      exitCode = await compactCommand(target, flags, io);
    });
  program
    .command('dead-letters')
    .description(
      "count the dead letters of the running app's durable channels and the messages each group has pending, or list the dead letters of one channel with their error; exit 0 or 2",
    )
    .argument('<app>', APP)
    .argument('[channel]', 'the channel whose dead letters to list')
    .option('--max <n>', 'list at most this many (default 100)', count)
    .option('--json', 'print them as JSON')
    .option('--state-dir <dir>', STATE_DIR)
    .action(
      async (
        target: string,
        channel: string | undefined,
        flags: { stateDir?: string; json?: boolean; max?: number },
      ) => {
        exitCode = await deadLettersCommand(target, channel, flags, io);
      },
    );
  program
    .command('redrive')
    .description(
      'send dead letters of a durable channel of the running app again, each to the group that gave up on it; exit 0 or 2',
    )
    .argument('<app>', APP)
    .argument('<channel>', 'the channel')
    .option('--all', 'every dead letter of the channel')
    .option('--id <id>', 'the dead letters of this message id (repeatable)', (value: string, list: string[] = []) => [
      ...list,
      value,
    ])
    .option('--older-than <duration>', 'only those dead-lettered longer ago than this (90s, 15m, 2h, 7d)', duration)
    .option('--group <group>', 'only those of this consumer group')
    .option('--json', 'print the result as JSON')
    .option('--state-dir <dir>', STATE_DIR)
    .action(
      async (
        target: string,
        channel: string,
        flags: { stateDir?: string; all?: boolean; id?: string[]; olderThan?: number; group?: string; json?: boolean },
      ) => {
        exitCode = await redriveCommand(target, channel, flags, io);
      },
    );
  program
    .command('rollback')
    .description("return the running app's registry to the state it had at <revision>, as one new batch; exit 0 or 2")
    .argument('<app>', APP)
    .argument('<revision>', 'the revision to return to (see kindling history)', revisionNumber)
    .option('--dry-run', 'check the rollback through the listeners without changing anything')
    .option('--expect-revision <n>', 'refuse unless the app is at exactly this revision', revisionNumber)
    .option('--full', `list every change (more than ${LISTED_CHANGES} are counted by kind)`)
    .option(
      '-y, --yes',
      `roll back without asking, even when that deletes more than ${CONFIRMED_DELETES} entries or every entry`,
    )
    .option('--state-dir <dir>', STATE_DIR)
    .option('--nats <url>', NATS)
    .action(async (target: string, revision: number, flags: RollbackFlags) => {
      exitCode = await rollbackCommand(target, revision, flags, io);
    });
  try {
    await program.parseAsync([...argv], { from: 'user' });
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? 0 : 2;
    throw error;
  } finally {
    for (const close of io.closers?.splice(0) ?? []) await close();
  }
  if (argv.length === 0) {
    program.outputHelp();
    return 2;
  }
  return exitCode;
}

async function run(
  target: string,
  flags: RunFlags,
  options: CliOptions,
  { stdout, stderr }: Pick<CommandIO, 'stdout' | 'stderr'>,
): Promise<number> {
  let app: Application;
  try {
    app = await Application.load(target, {
      builtins: options.builtins ?? builtinComponents,
      ...(flags.state === false ? {} : { stateDir: flags.stateDir ?? true }),
      journal: {
        ...(flags.journalMaxRecordBytes === undefined ? {} : { maxRecordBytes: flags.journalMaxRecordBytes }),
        ...(flags.journalCompactBytes === undefined ? {} : { compactBytes: flags.journalCompactBytes }),
      },
      admin: {
        ...(flags.adminMaxRequestBytes === undefined ? {} : { maxRequestBytes: flags.adminMaxRequestBytes }),
        ...(flags.adminMaxOps === undefined ? {} : { maxOps: flags.adminMaxOps }),
        ...(flags.adminTimeout === undefined ? {} : { timeoutMs: flags.adminTimeout }),
        ...(flags.adminMaxConnections === undefined ? {} : { maxConnections: flags.adminMaxConnections }),
      },
      ...(options.logger !== undefined ? { logger: options.logger } : {}),
      ...(flags.logLevel === undefined ? {} : { logLevel: flags.logLevel }),
      ...(flags.node === undefined ? {} : { node: flags.node }),
    });
  } catch (error) {
    // Nothing was booted: the manifest or its path is wrong, as validate would say (and with its exit code).
    printError(stderr, error);
    return 2;
  }
  const name = escapeInvisible(app.manifest.name ?? relative(process.cwd(), app.manifest.dir));
  const guard = options.processGuard === true ? guardProcess(app) : undefined;
  // Watching from before the baseline is read: an edit made while the app starts is applied once it is up.
  const watching = flags.watch === true ? app.watch() : undefined;
  try {
    await watching?.ready;
    await app.start();
    // A fault no function explains, during boot, leaves a half-booted app that cannot be trusted.
    const internal = guard?.counts().unattributed ?? 0;
    if (internal > 0)
      throw new Error(`${internal} internal fault${internal === 1 ? '' : 's'} while starting (logged above)`);
  } catch (error) {
    stderr(`error: ${name} did not start: ${relativeInText(describeError(error))}\n`);
    watching?.dispose();
    await app.shutdown('failed to start');
    guard?.dispose();
    return 1;
  }
  let inspector: Inspector | undefined;
  if (flags.inspect !== undefined && flags.inspect !== false) {
    try {
      inspector = await inspectApplication(app, flags.inspect === true ? {} : { port: flags.inspect });
    } catch (error) {
      stderr(`error: ${name} did not start: ${describeError(error)}\n`);
      watching?.dispose();
      await app.shutdown('failed to start');
      guard?.dispose();
      return 1;
    }
  }
  const held = app.state?.journalInfo;
  const journal =
    held === undefined || (held.replayedBatches === 0 && held.snapshotRevision === undefined)
      ? ''
      : held.snapshotRevision === undefined
        ? `; ${held.replayedBatches} journaled batch${held.replayedBatches === 1 ? '' : 'es'} replayed`
        : `; journal replayed (${describeHeld(held)})`;
  const lines = [
    `${name} is running (registry revision ${app.registry.revision}, ${app.registry.size} entries${journal})`,
  ];
  const container = app.boot.context.container;
  if (container.isBound(HttpServers)) {
    for (const address of container.get<HttpServers>(HttpServers).addresses())
      lines.push(`  ${escapeInvisible(address.id)}  ${escapeInvisible(address.url)}`);
  }
  const member = app.cluster;
  if (member !== undefined) {
    const status = member.status();
    lines.push(
      escapeInvisible(
        `  cluster  ${status.cluster}, node ${status.node}: ${status.state} at revision ${status.revision}  (kindling status | plan | apply | history | rollback ${target})`,
      ),
    );
  }
  if (app.state !== undefined) {
    const socket = relative(process.cwd(), app.state.paths.socket);
    const stateFlag = flags.stateDir === undefined ? '' : ` --state-dir ${flags.stateDir}`;
    lines.push(
      escapeInvisible(
        `  admin  ${socket.startsWith('..') ? app.state.paths.socket : socket}  (kindling plan | apply | history | rollback | compact ${target}${stateFlag})`,
      ),
    );
  }
  if (inspector !== undefined)
    lines.push(`  inspector  ${inspector.url}  (open it in a browser; the token in the address guards it)`);
  const cleanup: { dispose(): void }[] = [];
  if (inspector !== undefined) {
    const open = inspector;
    cleanup.push({ dispose: () => void open.close() });
  }
  if (watching !== undefined) {
    cleanup.push(watching);
    // In time for the reload of what changed while starting: that reload reads files before it reports.
    if (options.onReload !== undefined) cleanup.push(app.onDidReload(options.onReload));
    const roots = watching.roots.map(displayPath).join(', ');
    const sources = app.manifest.registry.map(displayPath).join(', ');
    lines.push(
      escapeInvisible(
        `watching ${roots} (the registry YAML in ${sources}, and the files its entries use); a refused change keeps the running version`,
      ),
    );
  }
  lines.push('press Ctrl-C to stop');
  // Stop watching as soon as shutdown begins, whatever began it.
  cleanup.push(
    app.boot.onBootEvent((event) => {
      if (event.name === BootEventName.stopping) for (const item of cleanup.splice(0)) item.dispose();
    }),
  );
  let signals: { dispose(): void } | undefined;
  // An app with nothing listening (no socket, no timer) would leave Node nothing to wait on: it
  // would exit at once, without a signal and without calling any stop hook. It runs until told.
  const keepAlive = setInterval(() => undefined, 2 ** 31 - 1);
  // Listening for signals before saying "press Ctrl-C": one sent as soon as it is read stops the app gracefully.
  const stopped = new Promise<number>((resolve) => {
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
  stdout(`${lines.join('\n')}\n`);
  options.onReady?.(app);
  const code = await stopped;
  clearInterval(keepAlive);
  for (const item of cleanup.splice(0)) item.dispose();
  signals?.dispose();
  // Shutdown has run; this also waits for the admin socket and the journal to close (not after a
  // second signal, which means "exit now").
  if (code !== 130) await app.shutdown();
  await inspector?.close();
  guard?.dispose();
  return code;
}

/** Installs the process guard of `run`, attributing faults to the app's functions. */
function guardProcess(app: Application): ProcessGuard {
  const functions = (): Functions | undefined => {
    // Read at each fault: the container gains the function component during boot.
    const container = app.boot.context.container;
    return container.isBound(Functions) ? container.get<Functions>(Functions) : undefined;
  };
  return ProcessGuard.install({ logger: app.logger, attributors: [(fault) => functions()?.originOf(fault)] });
}

/** Prints an error the way every command does: `error: ` and each of its problems in file order. */
function printError(stderr: (text: string) => void, error: unknown): void {
  const lines = problemsOf(error, [], '').map(formatProblem);
  if (lines.length === 1) stderr(`error: ${lines[0] as string}\n`);
  else {
    const title =
      error instanceof ManifestError ? `the boot manifest has ${lines.length} problems` : `${lines.length} problems`;
    stderr(`error: ${title}:\n${lines.map((line) => `  ${line}\n`).join('')}`);
  }
}

/** A yes/no prompt on the terminal, when both stdin and stderr are one. */
function terminalConfirm(): ((question: string) => Promise<boolean>) | undefined {
  if (process.stdin.isTTY !== true || process.stderr.isTTY !== true) return undefined;
  return async (question) => {
    const prompt = createInterface({ input: process.stdin, output: process.stderr });
    try {
      return /^y(es)?$/i.test((await prompt.question(`${question} [y/N] `)).trim());
    } finally {
      prompt.close();
    }
  };
}

/** The version in kindling's package.json, found upwards from this file (dist/ or the sources). */
function packageVersion(): string {
  for (let dir = dirname(fileURLToPath(import.meta.url)); ; dir = dirname(dir)) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: unknown; version?: unknown };
      if (pkg.name === 'kindling' && typeof pkg.version === 'string') return pkg.version;
    } catch {
      // no package.json here: look further up
    }
    if (dirname(dir) === dir) return 'unknown';
  }
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
  const argv = process.argv.slice(2);
  const failed = argv[0] === 'run' ? 1 : 2;
  let settled = false;
  // Node exits on its own once nothing is left to wait on, with 0: a command whose work can never
  // finish (a promise that never settles and holds no timer or socket) must not pass for a success.
  process.once('beforeExit', () => {
    if (settled) return;
    process.stderr.write(
      `error: ${escapeInvisible(argv[0] ?? 'the command')} stopped before it finished: what it waited for can never settle (a component module, hook or listener whose promise never resolves)\n`,
    );
    process.exit(failed);
  });
  main(argv, { processGuard: true }).then(
    (code) => {
      settled = true;
      process.exit(code);
    },
    (error: unknown) => {
      settled = true;
      process.stderr.write(`error: ${describeError(error)}\n`);
      process.exit(failed);
    },
  );
}
