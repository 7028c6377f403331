// `kindling run <dir> --watch` in this process, as the example tests drive it: started, edited file
// by file with each edit's outcome awaited, stopped.
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Application, ReloadOutcome } from 'kindling/boot';
import { main } from '../../boot/cli/main.js';
import { LogCapture } from './log-capture.js';

/** A running app under `--watch`; {@link stop} ends it and removes its directory. */
export interface WatchedRun {
  readonly dir: string;
  readonly app: Application;
  /** Where its first http service listens (`http://127.0.0.1:<port>`). */
  readonly base: string;
  readonly stdout: readonly string[];
  /** Every log line, as `level message`. */
  readonly logs: readonly string[];
  /**
   * Writes a file of the app and resolves with the watcher's next outcome: by default the next one
   * that applied or refused something (a write may reach the watcher as more than one event).
   */
  edit(
    path: string,
    change: (text: string) => string,
    accepts?: (outcome: ReloadOutcome) => boolean,
  ): Promise<ReloadOutcome>;
  /** Stops the app; resolves with its exit code once the directory is removed. */
  stop(): Promise<number>;
}

/** Runs the app in `dir` (a copy the run owns) under `--watch` until it is ready. */
export async function startWatchedRun(dir: string): Promise<WatchedRun> {
  const stop = new AbortController();
  const stdout: string[] = [];
  const logger = new LogCapture();
  const waiting: { accepts: (outcome: ReloadOutcome) => boolean; resolve: (outcome: ReloadOutcome) => void }[] = [];
  let exited: Promise<number> = Promise.resolve(0);
  const app = await new Promise<Application>((resolve, reject) => {
    exited = main(['run', dir, '--watch'], {
      stdout: (text) => void stdout.push(text),
      stderr: (text) => reject(new Error(text)),
      logger,
      handleSignals: false,
      signal: stop.signal,
      onReady: resolve,
      onReload: (outcome) => {
        if (waiting[0]?.accepts(outcome) === true) waiting.shift()?.resolve(outcome);
      },
    });
    exited.then((code) => reject(new Error(`kindling run exited early with ${code}`)), reject);
  });
  return {
    dir,
    app,
    base: stdout.join('').match(/http:\/\/127\.0\.0\.1:\d+/)?.[0] ?? '',
    stdout,
    logs: logger.lines,
    async edit(path, change, accepts = (outcome) => outcome.status !== 'unchanged') {
      const file = join(dir, path);
      const outcome = new Promise<ReloadOutcome>((resolve) => waiting.push({ accepts, resolve }));
      await writeFile(file, change(await readFile(file, 'utf8')));
      return outcome;
    },
    async stop() {
      stop.abort();
      const code = await exited;
      await rm(dir, { recursive: true, force: true });
      return code;
    },
  };
}
