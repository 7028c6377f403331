import { KindlingError } from '../common/errors.js';
import type { FileBoundary } from '../common/file-boundary.js';
import type { RegistryYamlCache } from './registry-yaml-cache.js';
import type { YamlReadLimits } from './yaml-reader.js';

/**
 * Limits of registry YAML ({@link loadRegistryYaml}, {@link parseRegistryYaml}); the defaults suit
 * any real registry. An app sets them in its boot manifest, under `allow.yaml`.
 */
export interface RegistryYamlLimits {
  /** Largest file accepted, in bytes. Default 16 MiB. */
  readonly maxFileBytes?: number;
  /** Deepest nesting of maps and lists in a document (its root collection is level 1). Default 64. */
  readonly maxDepth?: number;
  /**
   * Most nodes that aliases and merge keys (and the file-level meta copied into each entry) may add to
   * one file, counted with repetition. Default 1,000,000.
   */
  readonly maxAliasNodes?: number;
  /**
   * Most characters of strings (keys and values) one file may hold once every alias, merge key and
   * copy of the file-level meta is expanded, counted as string length (one per UTF-16 code unit: one
   * byte for ASCII text). Default four times `maxFileBytes` (64 MiB with its default): a file
   * without aliases never composes more text than it holds, so this leaves room for generous sharing
   * while every entry's JSON stays far below what one JavaScript string can hold.
   */
  readonly maxExpandedBytes?: number;
}

/** Options of {@link loadRegistryYaml} and {@link parseRegistryYaml}: the limits, and where the files must be. */
export interface RegistryYamlOptions extends RegistryYamlLimits {
  /**
   * Where the files must be (for {@link loadRegistryYaml}): a directory, or a {@link FileBoundary}
   * that opts more directories in. Every path given, found in a directory or reached through a
   * symbolic link must resolve inside it, or it is refused without being read. Unset, files are read
   * wherever they are (for paths the caller trusts); the CLI and `Application` always set it to the
   * app's root.
   */
  readonly root?: string | FileBoundary;
  /**
   * What the files read into last time (for {@link loadRegistryYaml}): only the files whose text
   * changed since are read again. A watcher reloading after a save passes the same cache each time.
   */
  readonly cache?: RegistryYamlCache;
  /**
   * With a {@link cache}: the only files that may have changed since its last load (a file watch
   * reports them). The others the cache remembers are taken as they were, without reading them;
   * files not remembered are read. Unset, every file is read and compared.
   */
  readonly changedFiles?: readonly string[];
}

/** The default of {@link RegistryYamlOptions.maxFileBytes}: 16 MiB. */
export const DEFAULT_MAX_FILE_BYTES = 16 * 1024 * 1024;
/** The default of {@link RegistryYamlOptions.maxDepth}. */
export const DEFAULT_MAX_DEPTH = 64;
/** The default of {@link RegistryYamlOptions.maxAliasNodes}. */
export const DEFAULT_MAX_ALIAS_NODES = 1_000_000;
/** {@link RegistryYamlOptions.maxExpandedBytes} is this many times `maxFileBytes` unless given. */
const EXPANDED_BYTES_PER_FILE_BYTE = 4;
/** The default of {@link RegistryYamlOptions.maxExpandedBytes} with the default `maxFileBytes`: 64 MiB. */
export const DEFAULT_MAX_EXPANDED_BYTES = EXPANDED_BYTES_PER_FILE_BYTE * DEFAULT_MAX_FILE_BYTES;

/** The limits of one read: every one set, `maxFileBytes` included. */
export type RegistryReadLimits = YamlReadLimits & { readonly maxFileBytes: number };

/** Every limit of `options`, defaults filled in; throws `INVALID` for a limit that is not a positive integer. */
export function limitsOf(options: RegistryYamlOptions): RegistryReadLimits {
  const positive = (value: number | undefined, fallback: number, name: string): number => {
    if (value === undefined) return fallback;
    if (!Number.isSafeInteger(value) || value < 1) {
      throw new KindlingError('INVALID', `${name} must be a positive integer, got ${String(value)}`);
    }
    return value;
  };
  const maxFileBytes = positive(options.maxFileBytes, DEFAULT_MAX_FILE_BYTES, 'maxFileBytes');
  return {
    maxFileBytes,
    maxDepth: positive(options.maxDepth, DEFAULT_MAX_DEPTH, 'maxDepth'),
    maxAliasNodes: positive(options.maxAliasNodes, DEFAULT_MAX_ALIAS_NODES, 'maxAliasNodes'),
    maxExpandedBytes: positive(
      options.maxExpandedBytes,
      EXPANDED_BYTES_PER_FILE_BYTE * maxFileBytes,
      'maxExpandedBytes',
    ),
  };
}
