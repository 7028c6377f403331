import type { EntrySource } from '../entry/entry.js';
import type { YamlPath, YamlPosition } from './source-map.js';
import { readYamlDetailed, type DetailedRead, type YamlReadLimits } from './yaml-reader.js';

/**
 * A file's text, kept so that positions can be computed when first asked for: the detailed read runs at
 * most once per file, whether for its problems or for the `locate` of its entries.
 */
export class FileOrigin {
  private read: DetailedRead | undefined;

  constructor(
    readonly file: string,
    private readonly text: string,
    private readonly limits: YamlReadLimits,
  ) {}

  detailed(): DetailedRead {
    this.read ??= readYamlDetailed(this.text, this.limits);
    return this.read;
  }

  /**
   * Maps a path under an entry to the node that holds it in the file: `data` paths to the `data:`
   * mapping or, for inline fields, to the entry's own keys; `meta` paths to the entry's meta or, for a
   * key it inherits, to the file-level meta; `id`/`name` and `kind` to those fields.
   */
  locateInEntry(document: number, index: number, path: readonly (string | number)[]): YamlPosition | undefined {
    const map = this.detailed().sourceMap;
    const entry = ['entries', index] as const;
    const has = (at: YamlPath): boolean => map.has(document, at);
    const [head, ...rest] = path;
    let target: YamlPath;
    switch (head) {
      case 'data':
        target = has([...entry, 'data']) ? [...entry, 'data', ...rest] : [...entry, ...rest];
        break;
      case 'meta': {
        const key = rest[0];
        if (key !== undefined && has([...entry, 'meta', key])) target = [...entry, 'meta', ...rest];
        else if (key !== undefined && has(['meta', key])) target = ['meta', ...rest];
        else target = has([...entry, 'meta']) ? [...entry, 'meta'] : entry;
        break;
      }
      case 'id':
      case 'name':
        target = [...entry, 'name'];
        break;
      case 'kind':
        target = [...entry, 'kind'];
        break;
      default:
        target = entry;
    }
    return map.locate(document, target);
  }
}

/** Where an entry was declared; `locate` is computed on first use (see {@link FileOrigin}). */
export function entrySource(origin: FileOrigin, document: number, index: number, at: YamlPosition): EntrySource {
  return {
    file: origin.file,
    line: at.line,
    column: at.column,
    locate: (path) => {
      const found = origin.locateInEntry(document, index, path);
      return found === undefined ? undefined : { line: found.line, column: found.column };
    },
  };
}
