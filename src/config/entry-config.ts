import { keepEntryConfig, keptEntryConfig, type Entry } from '../entry/entry.js';
import { decodeEntryConfig, type ConfigClass } from './decode-entry-config.js';

/**
 * The decoded config of an entry: the one the registry decoded before the listeners ran, for a kind
 * whose listener declared `configs` (see `ListenerOptions.configs`), or else decoded now with
 * {@link decodeEntryConfig} (and kept for the next call). Only entries `createEntry` made (every
 * entry the registry holds) keep their config: they are deep-frozen, so it cannot go stale; it goes
 * when the entry does. Throws the `ConfigError` when the data is not valid.
 *
 * @example
 * add(ctx, entry) {
 *   const config = entryConfig(HttpEndpointConfig, entry); // decoded once, however many listeners ask
 * }
 */
export function entryConfig<T extends object>(ConfigClass: ConfigClass<T>, entry: Entry): Readonly<T> {
  const kept = keptEntryConfig(entry, ConfigClass);
  if (kept !== undefined) return kept as Readonly<T>;
  const config = decodeEntryConfig(ConfigClass, entry);
  keepEntryConfig(entry, ConfigClass, config);
  return config;
}
