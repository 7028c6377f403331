import { chmod, lstat, mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { KindlingError } from 'kindling';

/** The state directory of an app when none is given: `<app dir>/.kindling`. */
export const STATE_DIR_NAME = '.kindling';
/** The registry journal inside the state directory. */
export const JOURNAL_FILE = 'journal.log';
/** The admin endpoint's unix socket inside the state directory. */
export const ADMIN_SOCKET_FILE = 'admin.sock';

/**
 * The longest unix socket path the platform accepts, in bytes (`sun_path` less its terminating
 * NUL: 108 on Linux, 104 on macOS and the BSDs).
 */
export const MAX_SOCKET_PATH_BYTES = process.platform === 'linux' ? 107 : 103;

/** Where an app keeps its durable history and its admin socket. */
export interface StatePaths {
  /** The state directory (absolute). */
  readonly dir: string;
  /** The registry journal. */
  readonly journal: string;
  /** The admin endpoint's unix socket. */
  readonly socket: string;
}

/**
 * The state paths of the app in `appDir`, or of `override` when given (relative to the working
 * directory, like any command-line path).
 *
 * @example
 * statePaths('/srv/hello'); // { dir: '/srv/hello/.kindling', journal: '…/journal.log', socket: '…/admin.sock' }
 */
export function statePaths(appDir: string, override?: string): StatePaths {
  const dir = override === undefined ? join(appDir, STATE_DIR_NAME) : resolve(override);
  return { dir, journal: join(dir, JOURNAL_FILE), socket: join(dir, ADMIN_SOCKET_FILE) };
}

/**
 * Throws `INVALID` when `socket` is longer than a unix socket path may be, naming the limit and
 * what to do about it.
 */
export function checkSocketPath(socket: string): void {
  const bytes = Buffer.byteLength(socket);
  if (bytes > MAX_SOCKET_PATH_BYTES) {
    throw new KindlingError(
      'INVALID',
      `the admin socket path ${socket} is ${bytes} bytes long, and unix socket paths are limited to ${MAX_SOCKET_PATH_BYTES} bytes on this platform; choose a shorter state directory with --state-dir (for example --state-dir /tmp/my-app)`,
      { details: { socket, bytes, limit: MAX_SOCKET_PATH_BYTES } },
    );
  }
}

/**
 * Creates the state directory (and its parents) with owner-only permissions, or checks an existing
 * one: it must be a directory owned by this user; group and other permissions are removed.
 */
export async function ensureStateDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const info = await lstat(dir);
  if (!info.isDirectory()) {
    throw new KindlingError('INVALID', `the state directory ${dir} is not a directory`, { details: { dir } });
  }
  const uid = process.getuid?.();
  if (uid !== undefined && info.uid !== uid) {
    throw new KindlingError(
      'FORBIDDEN',
      `the state directory ${dir} belongs to another user (uid ${info.uid}); use a directory of your own with --state-dir`,
      {
        details: { dir, owner: info.uid },
      },
    );
  }
  if ((info.mode & 0o077) !== 0) await chmod(dir, 0o700);
}
