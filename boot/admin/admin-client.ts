import { lstat } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { request } from 'node:http';
import { KindlingError, messageOf } from 'kindling';
import { fromWireError } from './admin-protocol.js';
import type {
  AdminDeadLetters,
  AdminDeadLettersRequest,
  AdminRedriveRequest,
  AdminRedriveResult,
} from './admin-protocol.js';
import type {
  AdminApplyRequest,
  AdminApplyResult,
  AdminCompaction,
  AdminEntries,
  AdminHistory,
  AdminRollbackRequest,
  AdminStatus,
  WireError,
} from './admin-protocol.js';
import type { StatePaths } from '../state/state-dir.js';

/** What is at an admin socket path. */
export type SocketProbe =
  | { readonly state: 'none' }
  /** A socket file that nothing answers on (an app that was killed). */
  | { readonly state: 'stale' }
  | { readonly state: 'live'; readonly status: AdminStatus };

/** How long a probe waits for an answer before it calls the socket unresponsive. */
const PROBE_TIMEOUT_MS = 3_000;

/** Default largest answer the client reads: 256 MiB (the entries of a very large registry fit). */
export const DEFAULT_MAX_RESPONSE_BYTES = 256 * 1024 * 1024;

/** Options of an {@link AdminClient}. */
export interface AdminClientOptions {
  /** The largest answer read, in bytes (default {@link DEFAULT_MAX_RESPONSE_BYTES}); a larger one is refused. */
  readonly maxResponseBytes?: number;
}

/**
 * A client of a running app's admin endpoint (a unix socket in its state directory). Every call
 * opens one connection and closes it with the answer. A refusal comes back as the app's
 * `KindlingError` (code, message, details); an app that is not running as `UNAVAILABLE` with
 * `details.notRunning`.
 *
 * Before it connects, the client checks what it is about to trust with entries (secrets included),
 * as the server does: the state directory and the socket must belong to this user (or root) and
 * give group and others no access; otherwise every call throws `FORBIDDEN`, saying what to do.
 *
 * @example
 * const client = new AdminClient(statePaths('examples/hello'));
 * const { revision } = await client.status();
 */
export class AdminClient {
  private readonly maxResponseBytes: number;

  constructor(
    readonly paths: StatePaths,
    options: AdminClientOptions = {},
  ) {
    this.maxResponseBytes = options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
  }

  /** How a command names where it looked for the app: its state directory. */
  get where(): string {
    return this.paths.dir;
  }

  /** What is at the socket: nothing, a stale file, or a live app (with its status). */
  async probe(): Promise<SocketProbe> {
    try {
      return { state: 'live', status: await this.call<AdminStatus>('GET', '/status', undefined, PROBE_TIMEOUT_MS) };
    } catch (error) {
      const reason = (error as KindlingError).details?.['reason'];
      if (reason === 'ENOENT') return { state: 'none' };
      if (reason === 'ECONNREFUSED') return { state: 'stale' };
      throw error;
    }
  }

  status(): Promise<AdminStatus> {
    return this.call('GET', '/status');
  }

  entries(): Promise<AdminEntries> {
    return this.call('GET', '/entries');
  }

  apply(body: AdminApplyRequest): Promise<AdminApplyResult> {
    return this.call('POST', '/apply', body);
  }

  history(): Promise<AdminHistory> {
    return this.call('GET', '/history');
  }

  rollback(body: AdminRollbackRequest): Promise<AdminApplyResult> {
    return this.call('POST', '/rollback', body);
  }

  /** Compacts the app's journal now. */
  compact(): Promise<AdminCompaction> {
    return this.call('POST', '/compact', {});
  }

  /** The dead-letter counts of the app's durable channels, and the dead letters of `channel` when given. */
  deadLetters(body: AdminDeadLettersRequest): Promise<AdminDeadLetters> {
    return this.call('POST', '/dead-letters', body);
  }

  /** Sends dead letters of a channel again, each to the group that gave up on it. */
  redrive(body: AdminRedriveRequest): Promise<AdminRedriveResult> {
    return this.call('POST', '/redrive', body);
  }

  private async call<T>(method: 'GET' | 'POST', path: string, body?: unknown, timeoutMs?: number): Promise<T> {
    await this.checkTrusted();
    const payload = body === undefined ? undefined : JSON.stringify(body);
    return new Promise<T>((resolve, reject) => {
      const req = request(
        {
          socketPath: this.paths.socket,
          path,
          method,
          agent: false,
          headers:
            payload === undefined
              ? {}
              : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
          ...(timeoutMs === undefined ? {} : { timeout: timeoutMs }),
        },
        (response) => {
          const chunks: Buffer[] = [];
          let size = 0;
          response.on('data', (chunk: Buffer) => {
            size += chunk.length;
            if (size > this.maxResponseBytes) {
              chunks.length = 0;
              // Settled first: whatever the destroyed response emits next changes nothing.
              reject(
                new KindlingError(
                  'INVALID',
                  `the app at ${this.paths.dir} answered ${method} ${path} with more than ${this.maxResponseBytes} bytes (maxResponseBytes); refused`,
                  {
                    details: { reason: 'TOO_LARGE', limit: this.maxResponseBytes },
                  },
                ),
              );
              req.destroy();
              return;
            }
            chunks.push(chunk);
          });
          response.on('error', (error) => reject(this.unreachable(error)));
          response.on('end', () => {
            let parsed: { result?: T; error?: WireError };
            try {
              parsed = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { result?: T; error?: WireError };
            } catch {
              reject(
                new KindlingError(
                  'INTERNAL',
                  `the admin endpoint at ${this.paths.socket} answered ${method} ${path} with something that is not JSON (HTTP ${response.statusCode ?? '?'})`,
                ),
              );
              return;
            }
            if (parsed.error !== undefined) reject(fromWireError(parsed.error));
            else resolve(parsed.result as T);
          });
        },
      );
      req.on('timeout', () => {
        req.destroy(
          new KindlingError(
            'TIMEOUT',
            `the app at ${this.paths.dir} did not answer within ${timeoutMs ?? 0} ms (is it stopped or stuck?)`,
            {
              details: { reason: 'TIMEOUT', stateDir: this.paths.dir },
            },
          ),
        );
      });
      req.on('error', (error) => reject(KindlingError.is(error) ? error : this.unreachable(error)));
      req.end(payload);
    });
  }

  /**
   * Throws `FORBIDDEN` unless the state directory and the socket (when there is one) belong to this
   * user or root and give group and others no access: another user who created them could read
   * every entry sent, and answer as the app would. A missing directory or socket is left to the
   * connection to report (no app runs there).
   */
  private async checkTrusted(): Promise<void> {
    const dir = await lstatIfAny(this.paths.dir);
    if (dir === undefined) return;
    if (!dir.isDirectory()) {
      throw this.untrusted(
        `the state directory ${this.paths.dir} is not a directory${dir.isSymbolicLink() ? ' (a symbolic link)' : ''}`,
        'give --state-dir the real directory the app runs with',
      );
    }
    this.checkOwnerAndMode(dir, `the state directory ${this.paths.dir}`, 'directory');
    const socket = await lstatIfAny(this.paths.socket);
    // Anything else there cannot be connected to: the connection reports it as no app running.
    if (socket?.isSocket() === true) this.checkOwnerAndMode(socket, `the admin socket ${this.paths.socket}`, 'socket');
  }

  private checkOwnerAndMode(info: Stats, what: string, kind: 'directory' | 'socket'): void {
    const uid = process.getuid?.();
    if (uid !== undefined && info.uid !== uid && info.uid !== 0) {
      throw this.untrusted(
        `${what} belongs to another user (uid ${info.uid}), so the app answering there may not be yours; nothing was sent to it`,
        kind === 'directory'
          ? 'use a state directory of your own with --state-dir'
          : 'remove it if no app of yours runs there, then start the app again',
      );
    }
    const open = info.mode & 0o077;
    if (open !== 0) {
      const mode = (info.mode & 0o777).toString(8).padStart(4, '0');
      const fix = kind === 'directory' ? `chmod 700 ${this.paths.dir}` : `chmod 600 ${this.paths.socket}`;
      throw this.untrusted(
        `${what} is open to group or others (mode ${mode}), so another user may have put the socket there; nothing was sent to it`,
        `if the app there is yours, run \`${fix}\`, or restart it (it sets the modes itself)`,
      );
    }
  }

  private untrusted(problem: string, fix: string): KindlingError {
    return new KindlingError('FORBIDDEN', `${problem}: ${fix}`, {
      details: { stateDir: this.paths.dir, socket: this.paths.socket },
    });
  }

  private unreachable(error: unknown): KindlingError {
    const reason = (error as NodeJS.ErrnoException).code;
    if (reason === 'ENOENT' || reason === 'ECONNREFUSED') {
      return new KindlingError('UNAVAILABLE', `no running app at ${this.paths.dir}`, {
        cause: error,
        details: { reason, notRunning: true, stateDir: this.paths.dir },
      });
    }
    return new KindlingError('UNAVAILABLE', `cannot reach the app at ${this.paths.socket}: ${messageOf(error)}`, {
      cause: error,
      details: { reason, stateDir: this.paths.dir },
      retryable: true,
    });
  }
}

/** Whether `error` says that no app is running at the state directory. */
export function isNotRunning(error: unknown): boolean {
  return KindlingError.is(error) && error.details['notRunning'] === true;
}

async function lstatIfAny(path: string): Promise<Stats | undefined> {
  try {
    return await lstat(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT' || (error as NodeJS.ErrnoException).code === 'ENOTDIR')
      return undefined;
    throw error;
  }
}
