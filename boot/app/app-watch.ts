import { basename, dirname, sep } from 'node:path';
import { watch } from 'chokidar';
import { messageOf, toDisposable } from 'kindling';
import type { Disposable, Logger } from 'kindling';
import { displayPath } from './display-path.js';
import type { BootManifest } from './manifest.js';
import { isIgnoredByWatch } from './watch-ignore.js';

/** Options of {@link watchApp} (and `Application.watch`). */
export interface WatchOptions {
  /** Quiet time after the last file event before reloading, in ms (editors write in bursts). Default 80. */
  readonly debounceMs?: number;
  /**
   * The longest a burst is held, in ms, however long the writes go on: a file rewritten without
   * pause still reloads this often. Default 1000.
   */
  readonly maxWaitMs?: number;
}

/** A running watch of an app's files ({@link watchApp}, `Application.watch`). Dispose to stop. */
export interface AppWatch extends Disposable {
  /** The directories watched (absolute paths), each with everything under it. */
  readonly roots: readonly string[];
  /** Resolves once every root has been read and is watched: from then on no change is missed. */
  readonly ready: Promise<void>;
}

/**
 * Watches an app's directory and its registry sources, every directory under them included (ones
 * created later too), through saves in place, saves by rename (an editor's temporary file renamed
 * over the file, `sed -i`), deletes and re-creates. Each burst of changes becomes one call of
 * `onChange` with the files added, changed or deleted. A change to the boot manifest itself is only
 * logged: it needs a restart. The names of `WATCH_IGNORED` (editors' swap and backup files,
 * node_modules, dot directories) are never looked at. A watcher error is logged; watching goes on.
 *
 * @example
 * const watching = watchApp(manifest, logger, (files) => void app.reload(files));
 * await watching.ready;
 */
export function watchApp(
  manifest: BootManifest,
  logger: Logger,
  onChange: (files: string[]) => void,
  options: WatchOptions = {},
): AppWatch {
  const debounceMs = options.debounceMs ?? 80;
  const maxWaitMs = options.maxWaitMs ?? 1000;
  const roots = watchRoots(manifest);
  const pending = new Set<string>();
  let quiet: NodeJS.Timeout | undefined;
  let longest: NodeJS.Timeout | undefined;
  const flush = (): void => {
    clearTimeout(quiet);
    clearTimeout(longest);
    quiet = longest = undefined;
    const files = [...pending].sort();
    pending.clear();
    if (files.includes(manifest.file)) {
      logger.warn(`${displayPath(manifest.file)} changed: restart to apply changes to the boot manifest`);
    }
    const sources = files.filter((file) => file !== manifest.file);
    if (sources.length === 0) return;
    try {
      onChange(sources);
    } catch (error) {
      logger.error(`a file change could not be handled: ${messageOf(error)}`, { error });
    }
  };
  const watcher = watch([...roots], {
    ignoreInitial: true,
    // A root whose own name looks ignorable (an app in ~/.apps) is still watched: only names under it are tested.
    ignored: (path) => !roots.includes(path) && isIgnoredByWatch(basename(path)),
  });
  watcher.on('all', (event, path) => {
    logger.debug(`watch: ${event} ${displayPath(path)}`);
    // Directories matter through their files: chokidar reports each file of a directory added or removed.
    if (event !== 'add' && event !== 'change' && event !== 'unlink') return;
    pending.add(path);
    clearTimeout(quiet);
    quiet = setTimeout(flush, debounceMs);
    longest ??= setTimeout(flush, maxWaitMs);
  });
  watcher.on('error', (error) => logger.error(`file watcher: ${describeWatchError(error)}; still watching`, { error }));
  let closed = false;
  let markReady: () => void = () => undefined;
  const ready = new Promise<void>((resolve) => (markReady = resolve));
  watcher.once('ready', markReady);
  const stop = toDisposable(() => {
    closed = true;
    clearTimeout(quiet);
    clearTimeout(longest);
    pending.clear();
    // A watch disposed before it was ready is as ready as it will ever be.
    markReady();
    watcher
      .close()
      .catch((error: unknown) => logger.warn(`the file watcher did not close cleanly: ${messageOf(error)}`, { error }));
  });
  void ready.then(() => {
    if (!closed) logger.debug(`watching ${roots.map(displayPath).join(', ')}`);
  });
  return { roots, ready, dispose: () => stop.dispose(), [Symbol.dispose]: () => stop.dispose() };
}

/**
 * The directories to watch: the app directory and each registry source outside it (a YAML file's
 * directory), none inside another.
 */
function watchRoots(manifest: BootManifest): string[] {
  const dirs = [
    manifest.dir,
    ...manifest.registry.map((source) => (/\.ya?ml$/i.test(source) ? dirname(source) : source)),
  ];
  return [...new Set(dirs)]
    .sort()
    .filter((root, index, all) => !all.slice(0, index).some((outer) => root.startsWith(outer + sep)));
}

function describeWatchError(error: unknown): string {
  // A Node system error's code (ENOSPC, EMFILE), as the watcher passes it on.
  const code = typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined;
  if (code === 'ENOSPC')
    return `${messageOf(error)} (the system's limit of watched files is reached: raise fs.inotify.max_user_watches)`;
  if (code === 'EMFILE') return `${messageOf(error)} (too many open files: raise the limit with ulimit -n)`;
  return messageOf(error);
}
