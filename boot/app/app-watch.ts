import { watch } from 'node:fs';
import type { FSWatcher } from 'node:fs';
import { basename, dirname, relative, resolve, sep } from 'node:path';
import { messageOf, toDisposable } from 'kindling';
import type { Disposable, Logger } from 'kindling';
import type { BootManifest } from './manifest.js';

/** Options of {@link watchApp} (and `Application.watch`). */
export interface WatchOptions {
  /** Quiet time after the last file event before reloading, in ms (editors write in bursts). */
  readonly debounceMs?: number;
}

/**
 * Watches an app's directory and its registry sources: each burst of changes to its files becomes
 * one call of `onChange` with the files that changed (a change to the boot manifest itself is only
 * logged: it needs a restart). Editor droppings, dot directories and node_modules are ignored.
 * Dispose to stop.
 *
 * @example
 * const stop = watchApp(manifest, logger, (files) => void app.reload(files));
 */
export function watchApp(manifest: BootManifest, logger: Logger, onChange: (files: string[]) => void, options: WatchOptions = {}): Disposable {
  const debounceMs = options.debounceMs ?? 80;
  const roots = [...new Set([manifest.dir, ...manifest.registry.map((source) => (source.endsWith('.yaml') || source.endsWith('.yml') ? dirname(source) : source))])]
    .sort()
    .filter((root, index, all) => !all.slice(0, index).some((outer) => root.startsWith(outer + sep)));
  const pending = new Set<string>();
  let timer: NodeJS.Timeout | undefined;
  const flush = (): void => {
    timer = undefined;
    const files = [...pending];
    pending.clear();
    if (files.includes(manifest.file)) {
      logger.warn(`${relative(process.cwd(), manifest.file)} changed: restart to apply changes to the boot manifest`);
    }
    const relevant = files.filter((file) => file !== manifest.file);
    if (relevant.length > 0) onChange(relevant);
  };
  const watchers: FSWatcher[] = roots.map((root) =>
    watch(root, { recursive: true }, (_event, name) => {
      if (name === null) return;
      const file = resolve(root, name.toString());
      if (ignored(file)) return;
      pending.add(file);
      clearTimeout(timer);
      timer = setTimeout(flush, debounceMs);
    }),
  );
  for (const watcher of watchers) watcher.on('error', (error) => logger.error(`file watcher failed: ${messageOf(error)}`, { error }));
  logger.info(`watching ${roots.map((root) => relative(process.cwd(), root) || '.').join(', ')} for changes`);
  return toDisposable(() => {
    clearTimeout(timer);
    for (const watcher of watchers) watcher.close();
  });
}

function ignored(file: string): boolean {
  const name = basename(file);
  return (
    file.split(sep).some((part) => part === 'node_modules' || (part.startsWith('.') && part.length > 1)) ||
    name.endsWith('~') ||
    name.endsWith('.swp') ||
    name.endsWith('.swx') ||
    name.endsWith('.tmp') ||
    name.startsWith('#')
  );
}
