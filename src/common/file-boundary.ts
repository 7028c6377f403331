import { realpath } from 'node:fs/promises';
import { isAbsolute, relative, resolve, sep } from 'node:path';
import { KindlingError } from './errors.js';
import { FileAccessError } from './file-access-error.js';

/** The default of {@link FileBoundaryOptions.maxModuleBytes}: 16 MiB. */
export const DEFAULT_MAX_MODULE_BYTES = 16 * 1024 * 1024;

/** Options of a {@link FileBoundary}. */
export interface FileBoundaryOptions {
  /** More directories that paths may resolve into: absolute, or relative to the root. Default none. */
  readonly allow?: readonly string[];
  /**
   * Largest JavaScript module read, checked or imported for the app (component modules of the boot
   * manifest, `function.js` files), in bytes. Default 16 MiB.
   */
  readonly maxModuleBytes?: number;
}

/**
 * Where the files that an app's registry YAML, boot manifest and admin clients name may be: inside
 * the app root (the boot manifest's directory) or a directory the manifest opts in, once symbolic
 * links are resolved. A path that leads anywhere else is refused before anything is read from it.
 *
 * @example
 * const boundary = new FileBoundary('/srv/app', { allow: ['../common'] });
 * const real = await boundary.resolve('/srv/app/functions/hello.js'); // or throws FORBIDDEN
 */
export class FileBoundary {
  /** The app root, absolute. */
  readonly root: string;
  /** The directories opted in besides the root, absolute. */
  readonly allowed: readonly string[];
  /** See {@link FileBoundaryOptions.maxModuleBytes}. */
  readonly maxModuleBytes: number;
  private realRoots: Promise<readonly string[]> | undefined;

  constructor(root: string, options: FileBoundaryOptions = {}) {
    this.root = resolve(root);
    this.allowed = Object.freeze((options.allow ?? []).map((dir) => resolve(this.root, dir)));
    const max = options.maxModuleBytes ?? DEFAULT_MAX_MODULE_BYTES;
    if (!Number.isSafeInteger(max) || max < 1)
      throw new KindlingError('INVALID', `maxModuleBytes must be a positive integer, got ${String(max)}`);
    this.maxModuleBytes = max;
  }

  /**
   * The real path of `path` (symbolic links resolved) when it is inside the boundary. Throws a
   * {@link FileAccessError}: `FORBIDDEN` when it leads outside, `NOT_FOUND` when it does not exist.
   */
  async resolve(path: string): Promise<string> {
    const absolute = resolve(this.root, path);
    let real: string;
    try {
      real = await realpath(absolute);
    } catch (error) {
      throw FileAccessError.fromFs(path, error);
    }
    if (!(await this.contains(real))) {
      const shown = real === absolute ? '' : ` (it resolves to ${real})`;
      throw new FileAccessError('outside', path, `is outside ${this.describe()}${shown}`);
    }
    return real;
  }

  /** Whether a real path (symbolic links already resolved) is inside the boundary. */
  async contains(realPath: string): Promise<boolean> {
    const roots = await this.roots();
    return roots.some((root) => {
      const rel = relative(root, realPath);
      return rel === '' || (!isAbsolute(rel) && rel !== '..' && !rel.startsWith(`..${sep}`));
    });
  }

  /** "the app root /srv/app", with the directories opted in. */
  describe(): string {
    const allowed =
      this.allowed.length === 0 ? '' : ` and the directories allow.paths opts in (${this.allowed.join(', ')})`;
    return `the app root ${this.root}${allowed}`;
  }

  private roots(): Promise<readonly string[]> {
    // Compared by real path, so that an app under a symbolic link (/tmp on some systems) still
    // contains its own files. A directory that does not exist contains nothing that exists.
    this.realRoots ??= Promise.all([this.root, ...this.allowed].map((dir) => realpath(dir).catch(() => dir)));
    return this.realRoots;
  }
}
