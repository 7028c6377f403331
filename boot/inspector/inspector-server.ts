// The live inspector: a small HTTP server on 127.0.0.1 that serves one page and what it reads —
// entries, one entry, revisions with diffs, nodes, durable channels — and two server-sent event
// streams: the registry's revisions (resumable with Last-Event-ID) and a tail of bus events under a
// pattern. Every path starts with a random token printed at start; without it, a request gets a
// bare 404. Hostile requests are answered and logged, never fatal.

import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { STATUS_CODES, createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { KindlingError, LogThrottle, escapeInvisible, messageOf } from 'kindling';
import type { Disposable, HistoryRecord, Logger, Registry } from 'kindling';
import type { Channels, EventBus } from 'kindling/events';
import { entryList, entryView, preview, revisionList, revisionSummary, revisionView } from './inspector-data.js';
import { busNodeSource, collectNodes, localNodeSource } from './inspector-nodes.js';
import type { InspectorNodeSource } from './inspector-nodes.js';
import { INSPECTOR_CSS, INSPECTOR_HTML, INSPECTOR_JS } from './inspector-page.js';

/** Limits of the inspector's server. */
export interface InspectorLimits {
  /** Open connections at once (default 64). */
  readonly maxConnections: number;
  /** Open event streams at once, both kinds together (default 16). */
  readonly maxStreams: number;
  /** The largest request head, in bytes (default 16 KiB). */
  readonly maxHeaderBytes: number;
  /** Time a client has to send a request head, in ms (default 10 000). */
  readonly headersTimeoutMs: number;
  /** Bytes a stream may have waiting for a slow client before it is closed (it reconnects and resumes; default 4 MiB). */
  readonly maxStreamBacklogBytes: number;
  /** Bus events kept per tail between two flushes; older ones are counted as dropped (default 2 000). */
  readonly maxTailBatch: number;
  /** How often a tail flushes its events, in ms (default 100). */
  readonly tailFlushMs: number;
  /** How often nodes and channels are read and sent when they changed, in ms (default 2 000). */
  readonly pollMs: number;
}

export const DEFAULT_INSPECTOR_LIMITS: InspectorLimits = Object.freeze({
  maxConnections: 64,
  maxStreams: 16,
  maxHeaderBytes: 16 * 1024,
  headersTimeoutMs: 10_000,
  maxStreamBacklogBytes: 4 * 1024 * 1024,
  maxTailBatch: 2_000,
  tailFlushMs: 100,
  pollMs: 2_000,
});

/** Options of {@link Inspector.start}. */
export interface InspectorOptions {
  /** The app's name, shown in the page title. */
  readonly name: string;
  readonly registry: Registry;
  /** The app's bus: the event tail, durable channels and bus nodes need it. */
  readonly bus?: EventBus | undefined;
  /** The app's directory: entry positions are shown relative to it. */
  readonly appDir?: string;
  /** More node sources after the local node and the bus's nodes (a cluster adds its own). */
  readonly nodes?: readonly InspectorNodeSource[];
  /** The port on 127.0.0.1 (default 0: one the system picks). */
  readonly port?: number;
  /** The token of every URL (default: 32 random bytes, base64url). */
  readonly token?: string;
  readonly logger: Logger;
  readonly limits?: Partial<InspectorLimits>;
}

/** The most bytes of a pattern of the event tail. */
const MAX_PATTERN_CHARS = 256;
/** The longest preview of one event's payload in the tail. */
const TAIL_PAYLOAD_CHARS = 600;
/** A comment line on every stream this often, so proxies and the client see it alive. */
const KEEPALIVE_MS = 15_000;
/** Batches larger than this are sent without their changes: the page reloads the entry list. */
const MAX_STREAMED_CHANGES = 5_000;

const SECURITY_HEADERS = {
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
  // The token is in the URL: no page this one links to learns it.
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
} as const;

interface Stream {
  readonly response: ServerResponse;
  close(): void;
}

/** A running inspector; {@link close} stops it. */
export class Inspector implements AsyncDisposable {
  private readonly server: Server;
  private readonly limits: InspectorLimits;
  private readonly storms: LogThrottle;
  private readonly tokenHash: Buffer;
  private readonly sources: readonly InspectorNodeSource[];
  private readonly revisionStreams = new Set<Stream>();
  private readonly tailStreams = new Set<Stream>();
  private readonly subscriptions: Disposable[] = [];
  private poller: ReturnType<typeof setInterval> | undefined;
  private lastNodes = '';
  private lastChannels = '';
  private closed = false;

  private constructor(
    private readonly options: InspectorOptions,
    readonly token: string,
  ) {
    this.limits = { ...DEFAULT_INSPECTOR_LIMITS, ...options.limits };
    this.storms = new LogThrottle(options.logger, { linesPerWindow: 3 });
    this.tokenHash = digest(token);
    const bus = options.bus;
    this.sources = [
      localNodeSource(options.registry, bus),
      ...(bus === undefined ? [] : [busNodeSource(bus)]),
      ...(options.nodes ?? []),
    ];
    this.server = createServer(
      {
        maxHeaderSize: this.limits.maxHeaderBytes,
        headersTimeout: this.limits.headersTimeoutMs,
        requestTimeout: this.limits.headersTimeoutMs,
        keepAliveTimeout: 5_000,
        connectionsCheckingInterval: 1_000,
      },
      (request, response) => this.handle(request, response),
    );
    this.server.maxConnections = this.limits.maxConnections;
    this.server.maxHeadersCount = 100;
    this.server.on('clientError', (error: NodeJS.ErrnoException, socket: Duplex) => this.clientError(error, socket));
    this.server.on('connect', (_request: IncomingMessage, socket: Duplex) => {
      socket.on('error', () => undefined);
      socket.destroy();
    });
    this.server.on('drop', () =>
      this.storms.warn(
        'drop',
        `inspector: closed a new connection: maxConnections (${this.limits.maxConnections}) are open`,
      ),
    );
  }

  /** Starts the inspector on 127.0.0.1; resolves once it listens. Throws when the port is taken. */
  static async start(options: InspectorOptions): Promise<Inspector> {
    const token = options.token ?? randomBytes(32).toString('base64url');
    if (!/^[\w-]{16,256}$/.test(token))
      throw new KindlingError('INVALID', 'the inspector token must be 16 to 256 characters of A-Z a-z 0-9 _ -');
    const port = options.port ?? 0;
    if (!Number.isInteger(port) || port < 0 || port > 65_535)
      throw new KindlingError('INVALID', `the inspector port must be an integer from 0 to 65535, got ${String(port)}`);
    const inspector = new Inspector(options, token);
    await new Promise<void>((resolve, reject) => {
      const failed = (error: NodeJS.ErrnoException): void =>
        reject(
          new KindlingError(
            'UNAVAILABLE',
            `the inspector cannot listen on 127.0.0.1:${port}: ${error.code === 'EADDRINUSE' ? 'the port is in use' : messageOf(error)}`,
            { cause: error },
          ),
        );
      inspector.server.once('error', failed);
      inspector.server.listen({ host: '127.0.0.1', port }, () => {
        inspector.server.off('error', failed);
        inspector.server.on('error', (error) => options.logger.error(`inspector: ${messageOf(error)}`));
        resolve();
      });
    });
    inspector.follow();
    return inspector;
  }

  /** The port it listens on. */
  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  /** The page's address, token included. */
  get url(): string {
    return `http://127.0.0.1:${this.port}/${this.token}/`;
  }

  /** Closes every stream and connection and stops listening. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.poller);
    for (const sub of this.subscriptions.splice(0)) sub.dispose();
    for (const stream of [...this.revisionStreams, ...this.tailStreams]) stream.close();
    const closing = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    await closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  // ---- the feeds ---------------------------------------------------------------------------------

  private follow(): void {
    this.subscriptions.push(this.options.registry.onDidCommit((record) => this.broadcastRevision(record)));
    for (const source of this.sources) {
      const sub = source.onDidChange?.(() => this.pollNodes());
      if (sub !== undefined) this.subscriptions.push(sub);
    }
    this.poller = setInterval(() => {
      this.pollNodes();
      void this.pollChannels();
    }, this.limits.pollMs);
    this.poller.unref();
  }

  private broadcastRevision(record: HistoryRecord): void {
    if (this.revisionStreams.size === 0) return;
    const message = sse('revision', revisionMessage(record), String(record.revision));
    for (const stream of this.revisionStreams) this.send(stream, message);
  }

  private nodesJson(): string {
    return JSON.stringify(collectNodes(this.sources));
  }

  private pollNodes(): void {
    if (this.revisionStreams.size === 0) return;
    const json = this.nodesJson();
    if (json === this.lastNodes) return;
    this.lastNodes = json;
    for (const stream of this.revisionStreams) this.send(stream, sse('nodes', json));
  }

  private async pollChannels(): Promise<void> {
    if (this.revisionStreams.size === 0) return;
    const json = JSON.stringify(await this.channelsView());
    if (json === this.lastChannels) return;
    this.lastChannels = json;
    for (const stream of this.revisionStreams) this.send(stream, sse('channels', json));
  }

  private async channelsView(): Promise<object> {
    const channels = this.channels();
    if (channels === undefined)
      return { available: false, reason: 'this app has no event bus: load the events component' };
    try {
      const [counts, pending] = await Promise.all([channels.deadLetterCounts(), channels.pendingCounts()]);
      const stats = (channels as Partial<{ stats(): Record<string, number> }>).stats?.();
      return { available: true, deadLetters: counts, pending, ...(stats === undefined ? {} : { store: stats }) };
    } catch (error) {
      return { available: false, reason: messageOf(error) };
    }
  }

  private channels(): Channels | undefined {
    try {
      return this.options.bus?.channels;
    } catch {
      return undefined;
    }
  }

  // ---- requests ----------------------------------------------------------------------------------

  private handle(request: IncomingMessage, response: ServerResponse): void {
    response.on('error', () => undefined);
    request.on('error', () => undefined);
    try {
      this.route(request, response);
    } catch (error) {
      this.storms.warn('fault', `inspector: a request failed: ${messageOf(error)}`);
      if (!response.headersSent) json(response, 500, { error: 'the inspector could not answer this request' });
      else response.destroy();
    }
  }

  private route(request: IncomingMessage, response: ServerResponse): void {
    // A page elsewhere that resolves its own name to 127.0.0.1 (DNS rebinding) sends its own Host.
    if (!this.allowedHost(request.headers.host)) {
      this.storms.warn(
        'host',
        `inspector: refused a request for host ${escapeInvisible(String(request.headers.host), 80)}`,
      );
      plain(response, 403, 'forbidden');
      return;
    }
    const raw = request.url ?? '/';
    const queryAt = raw.indexOf('?');
    const path = queryAt < 0 ? raw : raw.slice(0, queryAt);
    const slash = path.indexOf('/', 1);
    const token = path.slice(1, slash < 0 ? undefined : slash);
    if (!this.tokenMatches(token)) {
      // One answer for every wrong path: nothing tells a guesser how close it came.
      plain(response, 404, 'not found');
      return;
    }
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.setHeader('allow', 'GET, HEAD');
      plain(response, 405, 'only GET and HEAD are served');
      return;
    }
    if (slash < 0) {
      response.writeHead(308, { ...SECURITY_HEADERS, location: `/${token}/` }).end();
      return;
    }
    const rest = path.slice(slash + 1);
    const query = new URLSearchParams(queryAt < 0 ? '' : raw.slice(queryAt + 1));
    const { registry } = this.options;
    if (request.method === 'HEAD' && rest.startsWith('stream/')) {
      // A stream is for a client that reads it: a HEAD opens none.
      plain(response, 200, '');
      return;
    }
    switch (rest) {
      case '':
        asset(response, 'text/html', INSPECTOR_HTML.replaceAll('{{NAME}}', htmlText(this.options.name)));
        return;
      case 'app.js':
        asset(response, 'text/javascript', INSPECTOR_JS);
        return;
      case 'app.css':
        asset(response, 'text/css', INSPECTOR_CSS);
        return;
      case 'api/entries':
        json(response, 200, { name: this.options.name, ...entryList(registry) });
        return;
      case 'api/entry': {
        const id = query.get('id') ?? '';
        const view = entryView(registry, id, this.options.appDir);
        if (view === undefined) json(response, 404, { error: `no entry ${id} at revision ${registry.revision}` });
        else json(response, 200, view);
        return;
      }
      case 'api/revisions': {
        const before = optionalInteger(query.get('before'));
        const limit = Math.min(optionalInteger(query.get('limit')) ?? 200, 1_000);
        json(response, 200, revisionList(registry, before, limit));
        return;
      }
      case 'api/revision': {
        const n = optionalInteger(query.get('n'));
        const view = n === undefined ? undefined : revisionView(registry, n);
        if (view === undefined)
          json(response, 404, { error: `revision ${query.get('n') ?? '(none)'} is not in the retained history` });
        else json(response, 200, view);
        return;
      }
      case 'api/nodes':
        json(response, 200, collectNodes(this.sources));
        return;
      case 'api/channels':
        void this.channelsView().then((view) => json(response, 200, view));
        return;
      case 'api/dead-letters':
        void this.deadLetters(query.get('channel') ?? '', response);
        return;
      case 'stream/revisions':
        this.revisionStream(request, response, query);
        return;
      case 'stream/events':
        this.tailStream(request, response, query);
        return;
      default:
        json(response, 404, { error: 'no such page of the inspector' });
    }
  }

  private allowedHost(host: string | undefined): boolean {
    if (host === undefined) return false;
    const port = this.port;
    return host === `127.0.0.1:${port}` || host === `localhost:${port}` || host === `[::1]:${port}`;
  }

  private tokenMatches(candidate: string): boolean {
    return timingSafeEqual(digest(candidate), this.tokenHash);
  }

  private async deadLetters(channel: string, response: ServerResponse): Promise<void> {
    const channels = this.channels();
    if (channels === undefined || channel === '') {
      json(response, channel === '' ? 400 : 404, {
        error: channel === '' ? 'name a channel: ?channel=' : 'this app has no event bus',
      });
      return;
    }
    try {
      const letters = await channels.deadLetters(channel, 100);
      json(response, 200, {
        channel,
        letters: letters.map((letter) => ({
          id: letter.id,
          group: letter.group,
          attempts: letter.attempts,
          time: letter.time,
          error: preview(letter.error, 2_000).slice(1, -1),
          body: letter.body.length > 2_000 ? `${letter.body.slice(0, 2_000)}…` : letter.body,
        })),
      });
    } catch (error) {
      json(response, KindlingError.is(error, 'INVALID') ? 400 : 503, { error: messageOf(error) });
    }
  }

  /** Opens an event stream, or answers 503 when too many are open. */
  private openStream(request: IncomingMessage, response: ServerResponse): Stream | undefined {
    if (this.closed || this.revisionStreams.size + this.tailStreams.size >= this.limits.maxStreams) {
      json(response, 503, { error: `too many open streams (maxStreams ${this.limits.maxStreams}); close a tab` });
      return undefined;
    }
    response.writeHead(200, {
      ...SECURITY_HEADERS,
      'content-type': 'text/event-stream; charset=utf-8',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    response.flushHeaders();
    request.socket.setNoDelay(true);
    const keepalive = setInterval(() => response.write(': keepalive\n\n'), KEEPALIVE_MS);
    keepalive.unref();
    const cleanups: (() => void)[] = [() => clearInterval(keepalive)];
    let closed = false;
    const stream: Stream & { cleanups: (() => void)[] } = {
      response,
      cleanups,
      close: () => {
        if (closed) return;
        closed = true;
        for (const cleanup of cleanups.splice(0)) cleanup();
        this.revisionStreams.delete(stream);
        this.tailStreams.delete(stream);
        response.end();
      },
    };
    response.on('close', () => stream.close());
    return stream;
  }

  /**
   * The registry's revisions from the one after `Last-Event-ID` (or `?since=`): the retained
   * batches in between, then each new one as it commits. When the history no longer holds them
   * all, a `reset` tells the page to read the entry list again.
   */
  private revisionStream(request: IncomingMessage, response: ServerResponse, query: URLSearchParams): void {
    const header = request.headers['last-event-id'];
    const since = optionalInteger(typeof header === 'string' && header !== '' ? header : query.get('since'));
    const stream = this.openStream(request, response);
    if (stream === undefined) return;
    const { registry } = this.options;
    const head = registry.revision;
    let out = '';
    if (since === undefined || since > head) {
      out += sse('reset', JSON.stringify({ revision: head }), String(head));
    } else if (since < head) {
      const records = registry.historyRecords().filter((record) => record.revision > since);
      // Whole only when every revision after `since` is still there, in order.
      const whole = records.length === head - since && records.every((record, i) => record.revision === since + i + 1);
      if (whole) for (const record of records) out += sse('revision', revisionMessage(record), String(record.revision));
      else out += sse('reset', JSON.stringify({ revision: head }), String(head));
    }
    out += sse('nodes', this.nodesJson());
    this.revisionStreams.add(stream);
    this.send(stream, out, Infinity);
    void this.channelsView().then((view) => {
      if (this.revisionStreams.has(stream)) this.send(stream, sse('channels', JSON.stringify(view)), Infinity);
    });
  }

  /** Bus events whose name matches `?pattern=` (event dialect), flushed in batches. */
  private tailStream(request: IncomingMessage, response: ServerResponse, query: URLSearchParams): void {
    const bus = this.options.bus;
    if (bus === undefined) {
      json(response, 404, { error: 'this app has no event bus: load the events component' });
      return;
    }
    const pattern = query.get('pattern') || '**';
    if (pattern.length > MAX_PATTERN_CHARS) {
      json(response, 400, { error: `the pattern is longer than ${MAX_PATTERN_CHARS} characters` });
      return;
    }
    let pending: { t: number; name: string; payload: string }[] = [];
    let dropped = 0;
    let subscription: Disposable;
    try {
      subscription = bus.on(pattern, (payload, name) => {
        if (pending.length >= this.limits.maxTailBatch) {
          pending.shift();
          dropped++;
        }
        pending.push({ t: Date.now(), name, payload: preview(payload, TAIL_PAYLOAD_CHARS) });
      });
    } catch (error) {
      json(response, 400, { error: `the pattern ${escapeInvisible(pattern, 80)} is refused: ${messageOf(error)}` });
      return;
    }
    const stream = this.openStream(request, response);
    if (stream === undefined) {
      subscription.dispose();
      return;
    }
    const flush = setInterval(() => {
      if (pending.length === 0 && dropped === 0) return;
      // A client that does not read fast enough loses events (counted), never the server's memory.
      if (response.writableLength > this.limits.maxStreamBacklogBytes / 4) {
        dropped += pending.length;
        pending = [];
        return;
      }
      const batch = JSON.stringify({ events: pending, dropped });
      pending = [];
      dropped = 0;
      this.send(stream, sse('events', batch));
    }, this.limits.tailFlushMs);
    flush.unref();
    (stream as Stream & { cleanups: (() => void)[] }).cleanups.push(
      () => clearInterval(flush),
      () => subscription.dispose(),
    );
    this.tailStreams.add(stream);
    this.send(stream, sse('ready', JSON.stringify({ pattern })), Infinity);
  }

  /** Writes to a stream; a client that lets more than `maxBacklog` bytes wait is cut off (it reconnects and resumes). */
  private send(stream: Stream, text: string, maxBacklog = this.limits.maxStreamBacklogBytes): void {
    const { response } = stream;
    if (response.writableEnded || response.destroyed) return;
    if (response.writableLength > maxBacklog) {
      this.storms.warn(
        'slow-stream',
        `inspector: closed an event stream whose client did not read (${response.writableLength} bytes waiting, maxStreamBacklogBytes ${this.limits.maxStreamBacklogBytes}); a page reconnects and resumes`,
      );
      // Ending would wait for the client to read what is queued: it never will.
      response.destroy();
      stream.close();
      return;
    }
    response.write(text);
  }

  private clientError(error: NodeJS.ErrnoException, socket: Duplex): void {
    socket.on('error', () => undefined);
    const code = typeof error.code === 'string' ? error.code : 'unknown';
    if (code === 'ECONNRESET' || code === 'EPIPE' || !socket.writable) {
      socket.destroy();
      return;
    }
    const status =
      code === 'HPE_HEADER_OVERFLOW'
        ? 431
        : code === 'ERR_HTTP_REQUEST_TIMEOUT'
          ? 408
          : code.startsWith('HPE_')
            ? 400
            : 400;
    this.storms.warn(`client-error:${status}`, `inspector: ${escapeInvisible(code, 40)}; answered ${status}`);
    const body = STATUS_CODES[status] ?? 'error';
    try {
      socket.end(
        `HTTP/1.1 ${status} ${body}\r\nconnection: close\r\ncontent-type: text/plain\r\ncontent-length: ${body.length}\r\n\r\n${body}`,
      );
    } catch {
      // The socket is gone.
    }
    setTimeout(() => socket.destroy(), 1_000).unref();
  }
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

function revisionMessage(record: HistoryRecord): string {
  const summary = revisionSummary(record);
  const changes =
    record.changes.length > MAX_STREAMED_CHANGES
      ? null
      : record.changes.map((change) => [change.op, change.entry.id, change.entry.kind]);
  return JSON.stringify({ ...summary, changes });
}

/** One server-sent event: `data` is one line of JSON (no newline). */
function sse(event: string, data: string, id?: string): string {
  return `${id === undefined ? '' : `id: ${id}\n`}event: ${event}\ndata: ${data}\n\n`;
}

function json(response: ServerResponse, status: number, body: unknown): void {
  if (response.headersSent || response.writableEnded) return;
  const text = JSON.stringify(body);
  response.writeHead(status, {
    ...SECURITY_HEADERS,
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
  });
  response.end(text);
}

function plain(response: ServerResponse, status: number, text: string): void {
  response.writeHead(status, {
    ...SECURITY_HEADERS,
    'content-type': 'text/plain; charset=utf-8',
    'content-length': Buffer.byteLength(text),
  });
  response.end(text);
}

function asset(response: ServerResponse, type: string, text: string): void {
  response.writeHead(200, {
    ...SECURITY_HEADERS,
    'content-type': `${type}; charset=utf-8`,
    'content-length': Buffer.byteLength(text),
  });
  response.end(text);
}

function optionalInteger(text: string | null): number | undefined {
  if (text === null || !/^\d{1,15}$/.test(text)) return undefined;
  return Number(text);
}

function htmlText(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
