// Hostile clients of a running app's admin socket: the request corpus of
// test/fixtures/hostile/admin/requests.json and hostile connections (partial frames, huge frames,
// a body that never ends, a client that never reads, many connections at once), each sent over a
// raw unix socket. After each: a clear error, the registry unchanged, and the app still answering.
import { readFileSync } from 'node:fs';
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { createConnection } from 'node:net';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Entry, LogFields, Logger } from 'kindling';
import { AdminClient, Application, statePaths } from 'kindling/boot';
import { builtinComponents } from 'kindling/components';

interface Case {
  readonly name: string;
  readonly path: string;
  readonly code: string;
  readonly message: string;
  readonly body?: unknown;
  readonly raw?: string;
}

const corpus = JSON.parse(readFileSync(join(import.meta.dirname, 'fixtures/hostile/admin/requests.json'), 'utf8')) as {
  cases: Case[];
};

const LIMITS = { timeoutMs: 400, maxConnections: 4, maxRequestBytes: 1024 * 1024, maxOps: 10 };

/** A logger that keeps warnings, and can wait for one. */
function watchedLogger(): Logger & { next(pattern: RegExp): Promise<string> } {
  const waiting: { pattern: RegExp; resolve: (line: string) => void }[] = [];
  const warn = (message: string, _fields?: LogFields): void => {
    for (const waiter of waiting.filter((w) => w.pattern.test(message))) {
      waiting.splice(waiting.indexOf(waiter), 1);
      waiter.resolve(message);
    }
  };
  const ignore = (): void => undefined;
  return {
    debug: ignore,
    info: ignore,
    warn,
    error: ignore,
    next: (pattern) => new Promise((resolve) => waiting.push({ pattern, resolve })),
  };
}

/** A raw connection to the socket: everything it receives, and its end. */
function connect(socketPath: string): { socket: Socket; received: () => string; closed: Promise<void> } {
  const socket = createConnection(socketPath);
  let text = '';
  socket.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
  socket.on('error', () => undefined);
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  return { socket, received: () => text, closed };
}

/** Sends `bytes` on a new connection and resolves with the status and body of the answer once it closes. */
async function exchange(socketPath: string, bytes: string | Buffer): Promise<{ status: number; body: string }> {
  const connection = connect(socketPath);
  connection.socket.write(bytes);
  await connection.closed;
  const text = connection.received();
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0);
  return { status, body: text.slice(text.indexOf('\r\n\r\n') + 4) };
}

function post(path: string, body: string | Buffer, headers: Record<string, string> = {}): Buffer {
  const payload = Buffer.from(body);
  const lines = [
    `POST ${path} HTTP/1.1`,
    'host: kindling',
    'content-type: application/json',
    `content-length: ${payload.length}`,
    'connection: close',
  ];
  for (const [name, value] of Object.entries(headers)) lines.push(`${name}: ${value}`);
  return Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`), payload]);
}

describe('the admin endpoint of a running app, against hostile clients', () => {
  let dir: string;
  let state: string;
  let app: Application;
  let socket: string;
  let logger: ReturnType<typeof watchedLogger>;
  let before: { revision: number; entries: readonly Entry[] };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kindling-hostile-admin-'));
    state = await mkdtemp(join(tmpdir(), 'ks-'));
    await cp(join(import.meta.dirname, 'fixtures/cli/app'), dir, { recursive: true });
    logger = watchedLogger();
    app = await Application.load(dir, { builtins: builtinComponents, logger, stateDir: state, admin: LIMITS });
    await app.start();
    socket = statePaths(dir, state).socket;
    // Enough entries that the answer to GET /entries outgrows the socket's buffers (a client that never reads it).
    const bulk = Array.from({ length: 3_000 }, (_, i) => ({
      op: 'create' as const,
      entry: { id: `bulk:n${i}`, kind: 'app.note', data: { text: 'x'.repeat(2_000) } },
    }));
    await app.registry.apply(bulk);
  });
  afterAll(async () => {
    await app.shutdown();
    await rm(dir, { recursive: true, force: true });
    await rm(state, { recursive: true, force: true });
  });

  beforeEach(() => {
    before = { revision: app.registry.revision, entries: app.registry.entries() };
  });

  /** The app still answers, and nothing changed. */
  async function unharmed(): Promise<void> {
    expect((await new AdminClient(statePaths(dir, state)).status()).phase).toBe('ready');
    expect(app.registry.revision).toBe(before.revision);
    expect(app.registry.entries()).toEqual(before.entries);
  }

  describe('POST bodies of the corpus', () => {
    it('has a case for each class of bad request', () => {
      expect(corpus.cases.length).toBeGreaterThanOrEqual(30);
    });

    it.each(corpus.cases.map((c) => [c.name, c] as const))(
      'refuses %s with a clear error and changes nothing',
      async (_name, c) => {
        const answer = await exchange(socket, post(c.path, c.raw ?? JSON.stringify(c.body)));
        expect(answer.status).toBe(422);
        const { error } = JSON.parse(answer.body) as { error: { code: string; message: string } };
        expect(error.code).toBe(c.code);
        expect(error.message).toContain(c.message);
        await unharmed();
      },
    );

    it('refuses entry data nested 100,000 levels deep', async () => {
      const deep = `{"ops":[{"op":"create","entry":{"id":"app:deep","kind":"app.note","meta":{},"data":${'['.repeat(100_000)}${']'.repeat(100_000)}}}]}`;
      const answer = await exchange(socket, post('/apply', deep));
      expect(answer.status).toBe(422);
      expect(JSON.parse(answer.body)).toMatchObject({
        error: { code: 'INVALID', message: expect.stringContaining('levels deep') },
      });
      await unharmed();
    });

    it('refuses a body that is not UTF-8', async () => {
      const answer = await exchange(socket, post('/apply', Buffer.from([0x7b, 0x22, 0xff, 0x22, 0x7d])));
      expect(JSON.parse(answer.body)).toMatchObject({
        error: { code: 'INVALID', message: expect.stringContaining('not valid JSON') },
      });
      await unharmed();
    });

    it('refuses more operations than maxOps, naming the limit and the flag', async () => {
      const ops = Array.from({ length: 11 }, (_, i) => ({
        op: 'create',
        entry: { id: `app:n${i}`, kind: 'app.note', meta: {}, data: {} },
      }));
      const answer = await exchange(socket, post('/apply', JSON.stringify({ ops })));
      expect(JSON.parse(answer.body)).toMatchObject({
        error: {
          code: 'INVALID',
          message:
            'the batch has 11 operations, more than the 10 one request may carry (maxOps); apply it in smaller batches, or raise the limit (kindling run --admin-max-ops)',
        },
      });
      await unharmed();
    });
  });

  describe('hostile connections', () => {
    it('refuses a body declared larger than maxRequestBytes before reading it', async () => {
      const head =
        'POST /apply HTTP/1.1\r\nhost: kindling\r\ncontent-length: 1073741824\r\nconnection: close\r\n\r\n{"ops":';
      const answer = await exchange(socket, head);
      expect(JSON.parse(answer.body)).toMatchObject({
        error: {
          code: 'INVALID',
          message: expect.stringContaining(
            'the request body is 1073741824 bytes, more than the 1048576 allowed (maxRequestBytes)',
          ),
        },
      });
      await unharmed();
    });

    it('stops reading a chunked body once it passes maxRequestBytes', async () => {
      const chunk = 'x'.repeat(64 * 1024);
      const chunks = Array.from({ length: 20 }, () => `${chunk.length.toString(16)}\r\n${chunk}\r\n`).join('');
      const answer = await exchange(
        socket,
        `POST /apply HTTP/1.1\r\nhost: kindling\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n${chunks}0\r\n\r\n`,
      );
      expect(JSON.parse(answer.body)).toMatchObject({
        error: { code: 'INVALID', message: expect.stringContaining('more than 1048576') },
      });
      await unharmed();
    });

    it('closes a connection whose headers never end, after the time limit', async () => {
      const answer = await exchange(socket, 'POST /apply HTTP/1.1\r\nhost: kindling\r\n');
      expect(answer.status).toBe(408);
      await unharmed();
    });

    it('closes a connection whose body never ends, after the time limit', async () => {
      const answer = await exchange(
        socket,
        'POST /apply HTTP/1.1\r\nhost: kindling\r\ncontent-length: 100\r\n\r\n{"ops":[',
      );
      expect(answer.status).toBe(408);
      await unharmed();
    });

    it('closes a connection that sends nothing, after the time limit', async () => {
      const answer = await exchange(socket, '');
      expect(answer.status).toBe(408);
      await unharmed();
    });

    it('drops the answer of a client that never reads it, after the time limit', async () => {
      const stalled = connect(socket);
      const dropped = logger.next(/did not take its answer/);
      stalled.socket.write('GET /entries HTTP/1.1\r\nhost: kindling\r\nconnection: close\r\n\r\n');
      stalled.socket.pause();
      expect(await dropped).toBe('an admin client did not take its answer within 400 ms; the connection was closed');
      stalled.socket.destroy();
      await unharmed();
    });

    it('answers 400 to bytes that are not HTTP', async () => {
      const answer = await exchange(socket, Buffer.from([0x16, 0x03, 0x01, 0x00, 0xff, 0x0d, 0x0a, 0x0d, 0x0a]));
      expect(answer.status).toBe(400);
      await unharmed();
    });

    it('answers 431 to headers larger than the server reads', async () => {
      const answer = await exchange(
        socket,
        `GET /status HTTP/1.1\r\nhost: kindling\r\nx-big: ${'a'.repeat(64 * 1024)}\r\n\r\n`,
      );
      expect(answer.status).toBe(431);
      await unharmed();
    });

    it('closes connections past maxConnections at once, and serves again once the idle ones are gone', async () => {
      const idle = Array.from({ length: LIMITS.maxConnections }, () => connect(socket));
      await Promise.all(idle.map((c) => new Promise<void>((resolve) => c.socket.once('connect', () => resolve()))));
      const extra = Array.from({ length: 20 }, () => connect(socket));
      // The extra connections are closed without an answer; the idle ones when their time is up.
      await Promise.all(extra.map((c) => c.closed));
      expect(extra.map((c) => c.received())).toEqual(extra.map(() => ''));
      await Promise.all(idle.map((c) => c.closed));
      await unharmed();
    });
  });
});
