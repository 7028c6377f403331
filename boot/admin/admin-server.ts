import { chmod, rename, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { KindlingError, messageOf } from 'kindling';
import type { Logger } from 'kindling';
import { AdminClient, type SocketProbe } from './admin-client.js';
import {
  DEFAULT_MAX_OPS,
  DEFAULT_MAX_SOURCE_LENGTH,
  decodeApplyRequest,
  decodeCompactRequest,
  decodeDeadLettersRequest,
  decodeRedriveRequest,
  decodeRollbackRequest,
  toWireError,
} from './admin-protocol.js';
import type {
  AdminApplyResult,
  AdminCompaction,
  AdminDeadLetters,
  AdminDeadLettersRequest,
  AdminEntries,
  AdminRedriveRequest,
  AdminRedriveResult,
  AdminHistory,
  AdminStatus,
  DecodedApplyRequest,
  DecodedRollbackRequest,
  RequestLimits,
} from './admin-protocol.js';
import { checkSocketPath, ensureStateDir } from '../state/state-dir.js';
import type { StatePaths } from '../state/state-dir.js';

/** What the admin endpoint serves; each may throw a `KindlingError`, sent as `{ code, message, details }`. */
export interface AdminHandlers {
  status(): AdminStatus;
  entries(): AdminEntries;
  apply(request: DecodedApplyRequest): Promise<AdminApplyResult>;
  history(): AdminHistory;
  rollback(request: DecodedRollbackRequest): Promise<AdminApplyResult>;
  /** Compacts the journal now (absent: the route answers NOT_FOUND). */
  compact?(): AdminCompaction | Promise<AdminCompaction>;
  /** Lists the dead letters of the app's durable channels. */
  deadLetters?(request: AdminDeadLettersRequest): Promise<AdminDeadLetters>;
  /** Sends dead letters of a channel again. */
  redrive?(request: AdminRedriveRequest): Promise<AdminRedriveResult>;
}

/** Limits of the admin endpoint: what one client can make it hold, and for how long. */
export interface AdminServerOptions {
  /** The largest request body, in bytes (default {@link DEFAULT_MAX_REQUEST_BYTES}). */
  readonly maxRequestBytes?: number;
  /** The most operations one `POST /apply` may carry (default 100,000). */
  readonly maxOps?: number;
  /** The longest `source` label of a `POST /apply`, in characters (default 256). */
  readonly maxSourceLength?: number;
  /**
   * How long a client has to send a whole request, and to take a whole answer, in ms (default
   * {@link DEFAULT_ADMIN_TIMEOUT_MS}); the connection is closed past it. The work in between (an
   * apply through the listeners) is bounded by the registry's own time limits instead: cutting it
   * short would leave the client not knowing whether its batch committed.
   */
  readonly timeoutMs?: number;
  /** The most connections open at once (default {@link DEFAULT_MAX_CONNECTIONS}); more are closed at once. */
  readonly maxConnections?: number;
}

/** Default largest admin request body: 64 MiB (a batch of many thousands of entries fits). */
export const DEFAULT_MAX_REQUEST_BYTES = 64 * 1024 * 1024;
/** Default time to send a request or take an answer: 30 s. */
export const DEFAULT_ADMIN_TIMEOUT_MS = 30_000;
/** Default most admin connections open at once. */
export const DEFAULT_MAX_CONNECTIONS = 16;

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

const ROUTES =
  'GET /status, GET /entries, POST /apply, GET /history, POST /rollback, POST /compact, POST /dead-letters, POST /redrive';

/**
 * A running app's admin endpoint: JSON over HTTP on a unix socket in the app's state directory,
 * reachable only by the directory's owner (the directory is 0700, the socket 0600). Nothing
 * listens on a network interface. What a client sends is bounded (bytes, operations, time,
 * connections) and decoded strictly; nothing it sends can end or stall the app.
 *
 * Routes: `GET /status`, `GET /entries`, `POST /apply`, `GET /history`, `POST /rollback`,
 * `POST /compact`. Every answer is `{ result }` or `{ error: { code, message, details } }`.
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
  static async listen(
    paths: StatePaths,
    handlers: AdminHandlers,
    logger: Logger,
    options: AdminServerOptions = {},
  ): Promise<AdminServer> {
    const limits = {
      maxRequestBytes: positive(options.maxRequestBytes, DEFAULT_MAX_REQUEST_BYTES, 'maxRequestBytes'),
      maxOps: positive(options.maxOps, DEFAULT_MAX_OPS, 'maxOps'),
      maxSourceLength: positive(options.maxSourceLength, DEFAULT_MAX_SOURCE_LENGTH, 'maxSourceLength'),
      timeoutMs: positive(options.timeoutMs, DEFAULT_ADMIN_TIMEOUT_MS, 'timeoutMs'),
    };
    const maxConnections = positive(options.maxConnections, DEFAULT_MAX_CONNECTIONS, 'maxConnections');
    checkSocketPath(paths.socket);
    await ensureStateDir(paths.dir);
    const probe = await new AdminClient(paths).probe();
    if (probe.state === 'live') throw alreadyRunning(paths, probe.status.pid);
    if (probe.state === 'stale') await removeStaleSocket(paths, logger);
    const server = createServer(
      {
        // The whole request (headers and body) within the limit, counted from the connection: one
        // that sends nothing, or stops half-way, gets 408 and is closed. Checked this often, not every 30 s.
        requestTimeout: limits.timeoutMs,
        headersTimeout: limits.timeoutMs,
        connectionsCheckingInterval: Math.max(10, Math.min(1_000, Math.floor(limits.timeoutMs / 4))),
      },
      (request, response) => void serve({ handlers, logger, limits }, request, response),
    );
    server.maxConnections = maxConnections;
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
  return new KindlingError(
    'CONFLICT',
    `${who} is already running with the state directory ${paths.dir}; stop it first, or give this one another --state-dir`,
    {
      details: { stateDir: paths.dir, pid },
    },
  );
}

interface Limits {
  readonly maxRequestBytes: number;
  readonly maxOps: number;
  readonly maxSourceLength: number;
  readonly timeoutMs: number;
}

/** What every request of one endpoint is served with. */
interface Serving {
  readonly handlers: AdminHandlers;
  readonly logger: Logger;
  readonly limits: Limits;
}

async function serve(serving: Serving, request: IncomingMessage, response: ServerResponse): Promise<void> {
  const { handlers, logger, limits } = serving;
  const route = `${request.method ?? 'GET'} ${(request.url ?? '/').split('?')[0] ?? '/'}`;
  try {
    const result = await dispatchAdmin(handlers, limits, route, () => readJson(request, limits.maxRequestBytes));
    send(serving, response, 200, { result });
  } catch (error) {
    const wire = toWireError(error);
    if (wire.code === 'INTERNAL') logger.error(`admin ${route.slice(0, 200)} failed: ${wire.message}`, { error });
    send(serving, response, STATUS_OF[wire.code] ?? 500, { error: wire });
  }
}

/**
 * Serves one admin request: `route` (`POST /apply`) with its body, read by `readBody` only for the
 * routes that take one and decoded strictly. The same for the admin socket and for a cluster's
 * admin subject on NATS.
 */
export async function dispatchAdmin(
  handlers: AdminHandlers,
  limits: RequestLimits,
  route: string,
  readBody: () => Promise<unknown>,
): Promise<unknown> {
  switch (route) {
    case 'GET /status':
      return handlers.status();
    case 'GET /entries':
      return handlers.entries();
    case 'GET /history':
      return handlers.history();
    case 'POST /apply':
      return handlers.apply(decodeApplyRequest(await readBody(), limits));
    case 'POST /rollback':
      return handlers.rollback(decodeRollbackRequest(await readBody()));
    case 'POST /compact':
      if (handlers.compact === undefined) throw new KindlingError('NOT_FOUND', 'this app has no journal to compact');
      decodeCompactRequest(await readBody());
      return handlers.compact();
    case 'POST /dead-letters':
      if (handlers.deadLetters === undefined) throw noChannels();
      return handlers.deadLetters(decodeDeadLettersRequest(await readBody()));
    case 'POST /redrive':
      if (handlers.redrive === undefined) throw noChannels();
      return handlers.redrive(decodeRedriveRequest(await readBody()));
    default:
      throw new KindlingError('NOT_FOUND', `the admin endpoint has no ${route.slice(0, 200)} (${ROUTES})`);
  }
}

function noChannels(): KindlingError {
  return new KindlingError('NOT_FOUND', 'this app has no event bus, so no durable channels: load the events component');
}

const UTF8 = new TextDecoder('utf-8', { fatal: true });

function readJson(request: IncomingMessage, maxBytes: number): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const tooLarge = (bytes: number | string): KindlingError =>
      new KindlingError(
        'INVALID',
        `the request body is ${bytes} bytes, more than the ${maxBytes} allowed (maxRequestBytes); apply in smaller batches, or raise the limit (kindling run --admin-max-request-bytes)`,
        {
          details: { limit: maxBytes },
        },
      );
    const declared = Number(request.headers['content-length']);
    // Refused before a byte of it is read.
    if (declared > maxBytes) {
      reject(tooLarge(declared));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) {
        chunks.length = 0;
        request.pause();
        reject(tooLarge(`more than ${maxBytes}`));
        return;
      }
      chunks.push(chunk);
    });
    request.on('error', reject);
    // A client that goes away mid-body: nothing is waited for, nothing kept.
    request.on('close', () => {
      chunks.length = 0;
      reject(new KindlingError('ABORTED', 'the client closed the connection before the request was complete'));
    });
    request.on('end', () => {
      try {
        resolve(JSON.parse(UTF8.decode(Buffer.concat(chunks))) as unknown);
      } catch (error) {
        reject(new KindlingError('INVALID', `the request body is not valid JSON: ${messageOf(error)}`));
      }
    });
  });
}

function send({ limits, logger }: Serving, response: ServerResponse, status: number, body: unknown): void {
  let text: string;
  try {
    text = JSON.stringify(body);
  } catch (error) {
    text = JSON.stringify({
      error: toWireError(new KindlingError('INTERNAL', `the answer could not be encoded: ${messageOf(error)}`)),
    });
    status = 500;
  }
  if (response.destroyed || response.headersSent) return;
  // A client that never reads its answer holds it in memory: it has the time limit to take it.
  const timer = setTimeout(() => {
    logger.warn(`an admin client did not take its answer within ${limits.timeoutMs} ms; the connection was closed`);
    response.destroy();
  }, limits.timeoutMs);
  response.once('close', () => clearTimeout(timer));
  response.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    connection: 'close',
  });
  response.end(text);
}

function positive(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < 1)
    throw new KindlingError('INVALID', `admin ${name} must be a positive whole number, got ${value}`);
  return value;
}
