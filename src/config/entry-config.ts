import { isCanonicalEntry, type Entry } from '../entry/entry.js';
import { decodeEntryConfig, type ConfigClass } from './decode-entry-config.js';

interface Decoded {
  readonly configClass: ConfigClass<object>;
  readonly config: object;
}

/**
 * The config decoded for each stored entry, with the class it was decoded with. Only entries
 * `createEntry` made are kept: they are deep-frozen, so their config cannot go stale. Weak: an entry
 * no longer referenced takes its config with it.
 */
const decoded = new WeakMap<object, Decoded>();

/**
 * The decoded config of an entry: the one the registry decoded before the listeners ran, for a kind
 * whose listener declared `configs` (see `ListenerOptions.configs`), or else decoded now with
 * {@link decodeEntryConfig} (and kept for the next call). Throws its `ConfigError` when the data is
 * not valid.
 *
 * @example
 * add(ctx, entry) {
 *   const config = entryConfig(HttpEndpointConfig, entry); // decoded once, however many listeners ask
 * }
 */
export function entryConfig<T extends object>(ConfigClass: ConfigClass<T>, entry: Entry): Readonly<T> {
  const kept = decoded.get(entry);
  if (kept !== undefined && kept.configClass === ConfigClass) return kept.config as Readonly<T>;
  return decodeAndKeep(ConfigClass, entry);
}

/** Decodes `entry` with `ConfigClass` and keeps the result for {@link entryConfig}. */
export function decodeAndKeep<T extends object>(ConfigClass: ConfigClass<T>, entry: Entry): Readonly<T> {
  const config = decodeEntryConfig(ConfigClass, entry);
  if (isCanonicalEntry(entry)) decoded.set(entry, { configClass: ConfigClass, config });
  return config;
}

/** Whether `entry` already has a config decoded with `ConfigClass` (the registry's check). */
export function hasDecodedConfig(ConfigClass: ConfigClass<object>, entry: Entry): boolean {
  return decoded.get(entry)?.configClass === ConfigClass;
}
