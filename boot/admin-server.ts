import { chmod, rename, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { KindlingError, messageOf } from 'kindling';
import type { Logger } from 'kindling';
import { AdminClient, type SocketProbe } from './admin-client.js';
import { toWireError } from './admin-protocol.js';
import type { AdminApplyResult, AdminEntries, AdminHistory, AdminStatus } from './admin-protocol.js';
import { checkSocketPath, ensureStateDir } from './state-dir.js';
import type { StatePaths } from './state-dir.js';

/** What the admin endpoint serves; each may throw a `KindlingError`, sent as `{ code, message, details }`. */
export interface AdminHandlers {
  status(): AdminStatus;
  entries(): AdminEntries;
  apply(body: Record<string, unknown>): Promise<AdminApplyResult>;
  history(): AdminHistory;
  rollback(body: Record<string, unknown>): Promise<AdminApplyResult>;
}

/** The largest request body accepted (a batch of many thousands of entries fits). */
const MAX_BODY_BYTES = 256 * 1024 * 1024;

const STATUS_OF: Readonly<Record<string, number>> = {
  INVALID: 422,
  REJECTED: 422,
  UNRESOLVED: 422,
  CONFLICT: 409,
  NOT_FOUND: 404,
  GONE: 410,
  FORBIDDEN: 403,
  TIMEOUT: 504,
  UNAVAILABLE: 503,
  ABORTED: 503,
};

/**
 * A running app's admin endpoint: JSON over HTTP on a unix socket in the app's state directory,
 * reachable only by the directory's owner (the directory is 0700, the socket 0600). Nothing
 * listens on a network interface.
 *
 * Routes: `GET /status`, `GET /entries`, `POST /apply`, `GET /history`, `POST /rollback`. Every
 * answer is `{ result }` or `{ error: { code, message, details } }`.
 *
 * @example
 * const admin = await AdminServer.listen(statePaths(appDir), handlers, logger);
 * // ...
 * await admin.close();
 */
export class AdminServer {
  private closing: Promise<void> | undefined;

  private constructor(
    readonly paths: StatePaths,
    private readonly server: Server,
  ) {}

  /**
   * Claims the state directory and listens on its socket. A socket file nothing answers on (a
   * killed app) is removed first; when a live app answers, throws `CONFLICT` naming its pid.
   */
  static async listen(paths: StatePaths, handlers: AdminHandlers, logger: Logger): Promise<AdminServer> {
    checkSocketPath(paths.socket);
    await ensureStateDir(paths.dir);
    const probe = await new AdminClient(paths).probe();
    if (probe.state === 'live') throw alreadyRunning(paths, probe.status.pid);
    if (probe.state === 'stale') await removeStaleSocket(paths, logger);
    const server = createServer((request, response) => void serve(handlers, request, response, logger));
    // Two apps started at once: binding the socket is atomic, so only one of them gets it.
    await new Promise<void>((resolve, reject) => {
      server.once('error', (error: NodeJS.ErrnoException) => {
        reject(error.code === 'EADDRINUSE' ? alreadyRunning(paths, undefined) : error);
      });
      server.listen(paths.socket, () => resolve());
    });
    server.on('error', (error) => logger.error(`admin endpoint ${paths.socket}: ${messageOf(error)}`, { error }));
    try {
      // The directory is 0700 already, so the socket was never reachable by others, whatever the umask.
      await chmod(paths.socket, 0o600);
    } catch (error) {
      server.close();
      throw error;
    }
    return new AdminServer(paths, server);
  }

  /** Stops listening, ends open connections and removes the socket file. Idempotent. */
  close(): Promise<void> {
    this.closing ??= new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    }).then(() => unlink(this.paths.socket).catch(() => undefined));
    return this.closing;
  }
}

let asideCount = 0;

/**
 * Removes a socket file nothing answered on. Two apps started at once after a crash both find it
 * stale, and one of them may already have replaced it with its own live socket when the other gets
 * here: so the file is first renamed aside (atomic: of two renames, one finds nothing and leaves
 * it), checked again under its new name, and put back, with `CONFLICT`, when an app answers on it.
 */
async function removeStaleSocket(paths: StatePaths, logger: Logger): Promise<void> {
  // A name no longer than the socket's, so that it fits the same path-length limit.
  const aside = join(dirname(paths.socket), `s${process.pid.toString(36)}-${(++asideCount).toString(36)}`);
  try {
    await rename(paths.socket, aside);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return; // another app moved it first
    throw error;
  }
  let again: SocketProbe;
  try {
    again = await new AdminClient({ ...paths, socket: aside }).probe();
  } catch (error) {
    await rename(aside, paths.socket).catch(() => undefined);
    throw error;
  }
  if (again.state === 'live') {
    await rename(aside, paths.socket).catch(() => undefined);
    throw alreadyRunning(paths, again.status.pid);
  }
  logger.info(`removed the stale admin socket ${paths.socket} (no app answered on it)`);
  await unlink(aside).catch(() => undefined);
}

function alreadyRunning(paths: StatePaths, pid: number | undefined): KindlingError {
  const who = pid === undefined ? 'another app' : `an app (pid ${pid})`;
  return new KindlingError('CONFLICT', `${who} is already running with the state directory ${paths.dir}; stop it first, or give this one another --state-dir`, {
    details: { stateDir: paths.dir, pid },
  });
}

async function serve(handlers: AdminHandlers, request: IncomingMessage, response: ServerResponse, logger: Logger): Promise<void> {
  const route = `${request.method ?? 'GET'} ${(request.url ?? '/').split('?')[0] ?? '/'}`;
  try {
    let result: unknown;
    switch (route) {
      case 'GET /status':
        result = handlers.status();
        break;
      case 'GET /entries':
        result = handlers.entries();
        break;
      case 'GET /history':
        result = handlers.history();
        break;
      case 'POST /apply':
        result = await handlers.apply(await readJson(request));
        break;
      case 'POST /rollback':
        result = await handlers.rollback(await readJson(request));
        break;
      default:
        throw new KindlingError('NOT_FOUND', `the admin endpoint has no ${route} (GET /status, GET /entries, POST /apply, GET /history, POST /rollback)`);
    }
    send(response, 200, { result });
  } catch (error) {
    const wire = toWireError(error);
    if (wire.code === 'INTERNAL') logger.error(`admin ${route} failed: ${wire.message}`, { error });
    send(response, STATUS_OF[wire.code] ?? 500, { error: wire });
  }
}

function readJson(request: IncomingMessage): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(new KindlingError('INVALID', `the request body is larger than ${MAX_BODY_BYTES} bytes`));
        request.destroy();
        return;
      }
      chunks.push(chunk);
    });
    request.on('error', reject);
    request.on('end', () => {
      try {
        const value = JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
        if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error('the body must be a JSON object');
        resolve(value as Record<string, unknown>);
      } catch (error) {
        reject(new KindlingError('INVALID', `the request body is not valid JSON: ${messageOf(error)}`));
      }
    });
  });
}

function send(response: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  response.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), connection: 'close' });
  response.end(text);
}
