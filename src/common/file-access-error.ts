import { KindlingError, messageOf } from './errors.js';
import type { ErrorCode } from './errors.js';

/** Why a file was not read. */
export type FileAccessReason = 'outside' | 'not-found' | 'not-regular' | 'too-large' | 'changed' | 'unreadable';

const CODES: Record<FileAccessReason, ErrorCode> = {
  outside: 'FORBIDDEN',
  'not-found': 'NOT_FOUND',
  'not-regular': 'INVALID',
  'too-large': 'INVALID',
  changed: 'INVALID',
  unreadable: 'INVALID',
};

/**
 * A file that was refused or could not be read, and why: `FORBIDDEN` outside the
 * app's file boundary, `NOT_FOUND`, or `INVALID` (not a regular file, over its size limit, changed
 * while it was opened, unreadable). The message is the path followed by {@link problem}; it never
 * quotes the file's content.
 */
export class FileAccessError extends KindlingError {
  readonly reason: FileAccessReason;
  /** The path as it was given. */
  readonly path: string;
  /** What is wrong, without the path: "is a FIFO (named pipe), not a regular file". */
  readonly problem: string;

  constructor(
    reason: FileAccessReason,
    path: string,
    problem: string,
    options: { cause?: unknown; details?: Readonly<Record<string, unknown>> } = {},
  ) {
    super(CODES[reason], `${path} ${problem}`, { cause: options.cause, details: { ...options.details, path, reason } });
    this.reason = reason;
    this.path = path;
    this.problem = problem;
  }

  /** The error of a failed file system call on `path`. */
  static fromFs(path: string, error: unknown): FileAccessError {
    const code = (error as { code?: unknown } | undefined)?.code;
    if (code === 'ENOENT' || code === 'ENOTDIR')
      return new FileAccessError('not-found', path, 'does not exist', { cause: error });
    if (code === 'EACCES' || code === 'EPERM')
      return new FileAccessError('unreadable', path, 'cannot be read: permission denied', { cause: error });
    if (code === 'ELOOP')
      return new FileAccessError('unreadable', path, 'cannot be read: too many levels of symbolic links', {
        cause: error,
      });
    return new FileAccessError('unreadable', path, `cannot be read: ${messageOf(error)}`, { cause: error });
  }
}
