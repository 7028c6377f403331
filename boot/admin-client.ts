import { request } from 'node:http';
import { KindlingError, messageOf } from 'kindling';
import { fromWireError } from './admin-protocol.js';
import type { AdminApplyRequest, AdminApplyResult, AdminEntries, AdminHistory, AdminRollbackRequest, AdminStatus, WireError } from './admin-protocol.js';
import type { StatePaths } from './state-dir.js';

/** What is at an admin socket path. */
export type SocketProbe =
  | { readonly state: 'none' }
  /** A socket file that nothing answers on (an app that was killed). */
  | { readonly state: 'stale' }
  | { readonly state: 'live'; readonly status: AdminStatus };

/** How long a probe waits for an answer before it calls the socket unresponsive. */
const PROBE_TIMEOUT_MS = 3_000;

/**
 * A client of a running app's admin endpoint (a unix socket in its state directory). Every call
 * opens one connection and closes it with the answer. A refusal comes back as the app's
 * `KindlingError` (code, message, details); an app that is not running as `UNAVAILABLE` with
 * `details.notRunning`.
 *
 * @example
 * const client = new AdminClient(statePaths('examples/hello'));
 * const { revision } = await client.status();
 */
export class AdminClient {
  constructor(readonly paths: StatePaths) {}

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

  private call<T>(method: 'GET' | 'POST', path: string, body?: unknown, timeoutMs?: number): Promise<T> {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    return new Promise<T>((resolve, reject) => {
      const req = request(
        {
          socketPath: this.paths.socket,
          path,
          method,
          agent: false,
          headers: payload === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
          ...(timeoutMs === undefined ? {} : { timeout: timeoutMs }),
        },
        (response) => {
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.on('error', (error) => reject(this.unreachable(error)));
          response.on('end', () => {
            let parsed: { result?: T; error?: WireError };
            try {
              parsed = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { result?: T; error?: WireError };
            } catch {
              reject(new KindlingError('INTERNAL', `the admin endpoint at ${this.paths.socket} answered ${method} ${path} with something that is not JSON (HTTP ${response.statusCode ?? '?'})`));
              return;
            }
            if (parsed.error !== undefined) reject(fromWireError(parsed.error));
            else resolve(parsed.result as T);
          });
        },
      );
      req.on('timeout', () => {
        req.destroy(
          new KindlingError('TIMEOUT', `the app at ${this.paths.dir} did not answer within ${timeoutMs ?? 0} ms (is it stopped or stuck?)`, {
            details: { reason: 'TIMEOUT', stateDir: this.paths.dir },
          }),
        );
      });
      req.on('error', (error) => reject(error instanceof KindlingError ? error : this.unreachable(error)));
      req.end(payload);
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
  return error instanceof KindlingError && error.details['notRunning'] === true;
}
