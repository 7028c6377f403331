import { constants } from 'node:fs';
import type { Stats } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { resolve } from 'node:path';
import { FileAccessError } from './file-access-error.js';
import type { FileBoundary } from './file-boundary.js';

/** Options of {@link readBoundedFile} and {@link checkBoundedFile}. */
export interface BoundedFileOptions {
  /** Largest file accepted, in bytes. */
  readonly maxBytes: number;
  /** The setting that changes `maxBytes`, named in the refusal ("maxFileBytes"). */
  readonly limitName?: string;
  /** Where the file must be once symbolic links are resolved; anywhere when unset. */
  readonly boundary?: FileBoundary;
}

/** A regular file of bounded size, as it was checked. */
export interface CheckedFile {
  /** The path as it was given. */
  readonly path: string;
  /** The path that was opened: with a boundary, the real path (symbolic links resolved). */
  readonly realPath: string;
  readonly size: number;
}

/** A file read by {@link readBoundedFile}. */
export interface BoundedFile extends CheckedFile {
  readonly bytes: Buffer;
}

/**
 * Checks that `path` is a regular file of at most `maxBytes` (inside `boundary`, when given) without
 * reading it: for files that another reader opens afterwards, such as a module `import()` loads.
 * Throws a {@link FileAccessError}.
 */
export async function checkBoundedFile(path: string, options: BoundedFileOptions): Promise<CheckedFile> {
  const { handle, file } = await openBounded(path, options);
  await handle.close();
  return file;
}

/**
 * Reads a file only when it is a regular file of at most `maxBytes` (inside `boundary`, when given),
 * asynchronously: a FIFO, a device, a directory or a socket is refused without waiting on it or
 * reading from it, and a file that grows past the limit while it is read is refused too. Throws a
 * {@link FileAccessError}.
 *
 * @example
 * const { bytes } = await readBoundedFile('registry/app.yaml', { maxBytes: 16 * 1024 * 1024, boundary });
 */
export async function readBoundedFile(path: string, options: BoundedFileOptions): Promise<BoundedFile> {
  const { handle, file } = await openBounded(path, options);
  try {
    const max = options.maxBytes;
    // One byte more than allowed, so that a file that grew past the limit since fstat is caught too.
    let buffer = Buffer.allocUnsafe(Math.min(file.size, max) + 1);
    let length = 0;
    for (;;) {
      if (length === buffer.length) {
        if (length > max)
          throw new FileAccessError(
            'too-large',
            path,
            `grew past the limit of ${max} bytes (${limitName(options)}) while it was read`,
          );
        const larger = Buffer.allocUnsafe(Math.min(buffer.length * 2, max + 1));
        buffer.copy(larger, 0, 0, length);
        buffer = larger;
      }
      let bytesRead: number;
      try {
        ({ bytesRead } = await handle.read(buffer, length, buffer.length - length, length));
      } catch (error) {
        throw FileAccessError.fromFs(path, error);
      }
      if (bytesRead === 0) break;
      length += bytesRead;
    }
    return { ...file, size: length, bytes: buffer.subarray(0, length) };
  } finally {
    await handle.close();
  }
}

async function openBounded(
  path: string,
  options: BoundedFileOptions,
): Promise<{ handle: FileHandle; file: CheckedFile }> {
  const target = options.boundary === undefined ? resolve(path) : await options.boundary.resolve(path);
  // What is not a regular file is never opened: opening a FIFO waits for a writer (holding one of
  // libuv's four threads), and opening some devices does something by itself.
  let before: Stats;
  try {
    before = await stat(target);
  } catch (error) {
    throw FileAccessError.fromFs(path, error);
  }
  checkStats(path, before, options);
  let handle: FileHandle;
  try {
    // Should the file have been replaced since the stat: O_NONBLOCK returns at once from a FIFO,
    // O_NOCTTY never takes a terminal, and O_NOFOLLOW refuses a link swapped in after realpath.
    const follow = options.boundary === undefined ? 0 : constants.O_NOFOLLOW;
    handle = await open(target, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY | follow);
  } catch (error) {
    if ((error as { code?: unknown }).code === 'ELOOP') throw changed(path);
    throw FileAccessError.fromFs(path, error);
  }
  try {
    // The opened handle is what will be read: it decides.
    const info = await handle.stat();
    checkStats(path, info, options);
    if (info.dev !== before.dev || info.ino !== before.ino) throw changed(path);
    return { handle, file: { path, realPath: target, size: info.size } };
  } catch (error) {
    await handle.close();
    throw error;
  }
}

function checkStats(path: string, info: Stats, options: BoundedFileOptions): void {
  if (!info.isFile()) throw new FileAccessError('not-regular', path, `is ${fileTypeOf(info)}, not a regular file`);
  if (info.size > options.maxBytes) {
    throw new FileAccessError(
      'too-large',
      path,
      `is ${info.size} bytes, more than the limit of ${options.maxBytes} (${limitName(options)})`,
      {
        details: { size: info.size, maxBytes: options.maxBytes },
      },
    );
  }
}

function changed(path: string): FileAccessError {
  return new FileAccessError('changed', path, 'was replaced while it was opened; try again');
}

function limitName(options: BoundedFileOptions): string {
  return options.limitName ?? 'maxBytes';
}

/** "a FIFO (named pipe)", "a directory", ... for a file that is not a regular one. */
export function fileTypeOf(info: Stats): string {
  if (info.isFile()) return 'a regular file';
  if (info.isDirectory()) return 'a directory';
  if (info.isFIFO()) return 'a FIFO (named pipe)';
  if (info.isCharacterDevice()) return 'a character device';
  if (info.isBlockDevice()) return 'a block device';
  if (info.isSocket()) return 'a socket';
  return 'a special file';
}
