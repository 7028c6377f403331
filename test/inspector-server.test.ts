// The inspector's server without a browser: the token guard, hostile requests (each answered, none
// fatal), the revision stream resuming from Last-Event-ID (or resetting when history lost the
// revision), and the event tail with its pattern and hostile payloads.
import { rm } from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HandlerRegistry, Registry } from 'kindling';
import type { RegistryOp } from 'kindling';
import { DefaultEventBus } from 'kindling/events';
import { Inspector } from '../boot/inspector/inspector-server.js';
import type { InspectorOptions } from '../boot/inspector/inspector-server.js';
import type { InspectorNodeSource } from '../boot/inspector/inspector-nodes.js';
import { busyOrders } from './support/busy-channel.js';
import { copyHello, runCli, stateDir } from './support/cli-harness.js';
import { LogCapture } from './support/log-capture.js';
import { rawRequest, sendRaw } from './support/raw-http.js';

const create = (name: string, data: unknown = {}): RegistryOp => ({
  op: 'create',
  entry: { id: `app:${name}`, kind: 'config.item', data },
});

/** Reads a server-sent event stream until `done` says what arrived is enough; then disconnects. */
async function readStream(
  url: string,
  done: (text: string) => boolean,
  headers: Record<string, string> = {},
): Promise<string> {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), 10_000);
  let text = '';
  try {
    const response = await fetch(url, { headers, signal: abort.signal });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    const decoder = new TextDecoder();
    while (!done(text)) {
      const { value, done: ended } = await reader.read();
      if (ended) break;
      text += decoder.decode(value, { stream: true });
    }
  } finally {
    clearTimeout(timer);
    abort.abort();
  }
  return text;
}

/** The `event`, `id` and parsed `data` of each message of a stream's text. */
function messages(text: string): { event: string; id: string | undefined; data: unknown }[] {
  return text
    .split('\n\n')
    .filter((block) => block.includes('data: '))
    .map((block) => {
      const field = (name: string): string | undefined =>
        block
          .split('\n')
          .find((line) => line.startsWith(`${name}: `))
          ?.slice(name.length + 2);
      return { event: field('event') ?? 'message', id: field('id'), data: JSON.parse(field('data') ?? 'null') };
    });
}

describe('the inspector server', () => {
  let bus: DefaultEventBus;
  let registry: Registry;
  let inspector: Inspector;
  let logs: LogCapture;

  async function start(options: Partial<InspectorOptions> = {}, historyLimit?: number): Promise<void> {
    bus = new DefaultEventBus({ nodeID: 'inspected-1' });
    registry = new Registry({
      handlers: new HandlerRegistry(),
      acceptKinds: ['config.*'],
      events: bus,
      ...(historyLimit === undefined ? {} : { historyLimit }),
    });
    logs = new LogCapture();
    inspector = await Inspector.start({ name: 'test <app>', registry, bus, logger: logs, ...options });
  }

  beforeEach(async () => {
    await start();
  });

  afterEach(async () => {
    await inspector.close();
    await bus.stop();
  });

  const host = (): string => `Host: 127.0.0.1:${inspector.port}`;

  it('serves nothing without the token, and the same bare 404 however close the guess', async () => {
    const token = inspector.token;
    for (const path of ['/', '/api/entries', `/${token.slice(0, -1)}/`, `/${token}a/`, `/x${token}/api/entries`]) {
      const answer = await sendRaw(inspector.port, rawRequest(`GET ${path} HTTP/1.1`, [host(), 'Connection: close']));
      expect(answer.status, path).toBe(404);
      expect(answer.body).toBe('not found');
    }
    const page = await fetch(inspector.url);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(page.headers.get('referrer-policy')).toBe('no-referrer');
    // The app's name is text in the page, never markup.
    expect(await page.text()).toContain('test &#60;app&#62;');
  });

  it('refuses another Host (DNS rebinding), and methods other than GET and HEAD', async () => {
    const path = `/${inspector.token}/api/entries`;
    const rebound = await sendRaw(
      inspector.port,
      rawRequest(`GET ${path} HTTP/1.1`, [`Host: evil.example:${inspector.port}`, 'Connection: close']),
    );
    expect(rebound.status).toBe(403);
    expect(rebound.body).toBe('forbidden');
    const post = await sendRaw(
      inspector.port,
      rawRequest(`POST ${path} HTTP/1.1`, [host(), 'Content-Length: 2', 'Connection: close'], '{}'),
    );
    expect(post.status).toBe(405);
    expect(post.headers['allow']).toBe('GET, HEAD');
    const head = await fetch(`${inspector.url}stream/revisions`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-type')).toMatch(/^text\/plain/);
  });

  it('answers malformed and oversized requests, and keeps serving', async () => {
    const garbage = await sendRaw(inspector.port, 'NOT HTTP AT ALL\r\n\r\n');
    expect(garbage.status).toBe(400);
    const huge = await sendRaw(
      inspector.port,
      rawRequest(`GET /${inspector.token}/ HTTP/1.1`, [host(), `X-Big: ${'a'.repeat(32 * 1024)}`]),
    );
    expect(huge.status).toBe(431);
    const connect = await sendRaw(inspector.port, `CONNECT 127.0.0.1:22 HTTP/1.1\r\n${host()}\r\n\r\n`);
    expect(connect.status).toBeUndefined();
    const bad = await fetch(`${inspector.url}api/entry?id=%E0%A4%A`);
    expect(bad.status).toBe(404);
    expect(((await bad.json()) as { error: string }).error).toMatch(/^no entry /);
    const ok = await fetch(`${inspector.url}api/entries`);
    expect(ok.status).toBe(200);
    expect(logs.lines.some((line) => line.includes('inspector:') && line.includes('answered 400'))).toBe(true);
  });

  it('shows entries, one entry with its history, and a revision with its diff', async () => {
    await registry.apply([create('a', { port: 1 }), create('b')], { source: 'test' });
    await registry.apply([{ op: 'update', entry: { id: 'app:a', kind: 'config.item', data: { port: 2, tls: true } } }]);
    const list = (await (await fetch(`${inspector.url}api/entries`)).json()) as { revision: number; entries: unknown };
    expect(list).toMatchObject({
      revision: 2,
      entries: [
        ['app:a', 'config.item'],
        ['app:b', 'config.item'],
      ],
    });
    const entry = (await (await fetch(`${inspector.url}api/entry?id=app%3Aa`)).json()) as Record<string, unknown>;
    expect(entry).toMatchObject({ id: 'app:a', kind: 'config.item' });
    expect(entry['source']).toBeUndefined(); // not declared in a file
    expect(JSON.parse(entry['data'] as string)).toEqual({ port: 2, tls: true });
    expect((entry['history'] as { revision: number; op: string }[]).map((h) => [h.revision, h.op])).toEqual([
      [2, 'update'],
      [1, 'create'],
    ]);
    const revision = (await (await fetch(`${inspector.url}api/revision?n=2`)).json()) as {
      changes: { id: string; diff: unknown }[];
    };
    expect(revision.changes).toEqual([
      {
        op: 'update',
        id: 'app:a',
        kind: 'config.item',
        more: 0,
        diff: [
          { path: 'data.port', before: '1', after: '2' },
          { path: 'data.tls', after: 'true' },
        ],
      },
    ]);
    const gone = await fetch(`${inspector.url}api/revision?n=9`);
    expect(gone.status).toBe(404);
  });

  it('streams revisions from the one after Last-Event-ID, then each new one', async () => {
    for (const name of ['a', 'b', 'c']) await registry.apply([create(name)]);
    const reading = readStream(`${inspector.url}stream/revisions`, (seen) => messages(seen).some((m) => m.id === '4'), {
      'Last-Event-ID': '1',
    });
    await new Promise((resolve) => setTimeout(resolve, 200));
    await registry.apply([create('d')]);
    const text = await reading;
    const revisions = messages(text).filter((m) => m.event === 'revision');
    expect(revisions.map((m) => m.id)).toEqual(['2', '3', '4']);
    expect(messages(text).some((m) => m.event === 'reset')).toBe(false);
    expect(revisions[0]?.data).toMatchObject({ revision: 2, create: 1, changes: [['create', 'app:b', 'config.item']] });
  });

  it('sends a reset when the history no longer holds the revisions after Last-Event-ID', async () => {
    await inspector.close();
    await bus.stop();
    await start({}, 2);
    for (const name of ['a', 'b', 'c', 'd']) await registry.apply([create(name)]);
    const text = await readStream(`${inspector.url}stream/revisions?since=1`, (seen) => seen.includes('event: nodes'));
    const sent = messages(text);
    expect(sent[0]).toEqual({ event: 'reset', id: '4', data: { revision: 4 } });
    expect(sent.filter((m) => m.event === 'revision')).toEqual([]);
    const nodes = sent.find((m) => m.event === 'nodes')?.data as { node: string; local: boolean; revision: number }[];
    expect(nodes[0]).toMatchObject({ node: 'inspected-1', local: true, revision: 4 });
  });

  it('tails bus events under a pattern, hostile payloads shown as text', async () => {
    const cyclic: Record<string, unknown> = { name: 'loop' };
    cyclic['self'] = cyclic;
    const trap = new Proxy(
      {},
      {
        ownKeys: () => {
          throw new Error('trap');
        },
      },
    );
    const received = readStream(`${inspector.url}stream/events?pattern=user.*`, (seen) => seen.includes('user.done'));
    await new Promise((resolve) => setTimeout(resolve, 200));
    bus.emit('order.placed', { ignored: true });
    bus.emit('user.created', cyclic);
    bus.emit('user.updated', { big: 10n, fn: () => 1, text: 'x'.repeat(5_000) });
    bus.emit('user.removed', trap);
    bus.emit('user.done', 'last');
    const events = messages(await received)
      .filter((m) => m.event === 'events')
      .flatMap((m) => (m.data as { events: { name: string; payload: string }[] }).events);
    expect(events.map((e) => e.name)).toEqual(['user.created', 'user.updated', 'user.removed', 'user.done']);
    expect(events[0]?.payload).toBe('{"name": "loop", "self": [cycle]}');
    expect(events[1]?.payload).toMatch(/^\{"big": 10n, "fn": \[function\], "text": "x+…$/);
    expect(events[1]?.payload.length).toBeLessThanOrEqual(601);
    expect(events[2]?.payload).toBe('[unreadable]');
    const refused = await fetch(`${inspector.url}stream/events?pattern=a..b`);
    expect(refused.status).toBe(400);
    expect(((await refused.json()) as { error: string }).error).toMatch(
      /the pattern a\.\.b is refused: .*empty segment/,
    );
  });

  it('cuts off a stream client that does not read, and serves the next one', async () => {
    await inspector.close();
    await bus.stop();
    await start({ limits: { maxStreams: 1, maxStreamBacklogBytes: 64 * 1024 } });
    const stalled = connect({ host: '127.0.0.1', port: inspector.port });
    stalled.on('error', () => undefined);
    stalled.write(rawRequest(`GET /${inspector.token}/stream/revisions?since=0 HTTP/1.1`, [host()]));
    // Reads nothing: what the server writes piles up in the kernel's buffers, then in the server's.
    stalled.once('connect', () => stalled.pause());
    const from = logs.mark();
    let cutOff = false;
    void logs.waitFor(/closed an event stream whose client did not read/, from, 50_000).then(() => (cutOff = true));
    for (let batch = 0; batch < 1_000 && !cutOff; batch++) {
      await registry.apply(Array.from({ length: 1_000 }, (_, i) => create(`b${batch}-${i}-${'x'.repeat(60)}`)));
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(cutOff).toBe(true);
    // Its place is free again, and the server is fine.
    const next = new AbortController();
    const response = await fetch(`${inspector.url}stream/revisions?since=${registry.revision}`, {
      signal: next.signal,
    });
    expect(response.status).toBe(200);
    next.abort();
    stalled.destroy();
  }, 60_000);

  it('shows pending messages per channel group beside dead letters, and streams them as they change', async () => {
    await inspector.close();
    await bus.stop();
    await start({ limits: { pollMs: 20 } });
    const release = await busyOrders(bus.channels, 1, 3);
    let view = { deadLetters: {}, pending: [] as unknown[] };
    for (let i = 0; i < 200 && JSON.stringify(view.deadLetters) !== '{"orders":3}'; i++) {
      await new Promise((resolve) => setTimeout(resolve, 5));
      view = (await (await fetch(`${inspector.url}api/channels`)).json()) as typeof view;
    }
    expect(view).toMatchObject({
      available: true,
      deadLetters: { orders: 3 },
      pending: [
        { channel: 'orders', group: 'audit', waiting: 0, inFlight: 0 },
        { channel: 'orders', group: 'billing', waiting: 2, inFlight: 1 },
      ],
    });
    const drained = '{"channel":"orders","group":"billing","waiting":0,"inFlight":0}';
    const text = await readStream(`${inspector.url}stream/revisions?since=0`, (t) => {
      if (t.includes('"waiting":2,"inFlight":1')) release();
      return t.includes(drained);
    });
    const shown = messages(text).filter((m) => m.event === 'channels');
    expect(shown[0]?.data).toMatchObject({ pending: [{ group: 'audit' }, { group: 'billing', waiting: 2 }] });
    expect(shown.at(-1)?.data).toMatchObject({ deadLetters: { orders: 3 }, pending: [{}, JSON.parse(drained)] });
  });

  it('caps open streams, and reads nodes from the sources it is given', async () => {
    await inspector.close();
    await bus.stop();
    let state = 'catching-up';
    const cluster: InspectorNodeSource = {
      nodes: () => [{ node: 'peer-2', local: false, state, revision: 3, clusterRevision: 4 }],
    };
    await start({ limits: { maxStreams: 1 }, nodes: [cluster] });
    const first = new AbortController();
    const open = await fetch(`${inspector.url}stream/revisions?since=0`, { signal: first.signal });
    expect(open.status).toBe(200);
    const second = await fetch(`${inspector.url}stream/events?pattern=**`);
    expect(second.status).toBe(503);
    expect(((await second.json()) as { error: string }).error).toContain('maxStreams 1');
    first.abort();
    state = 'desynced';
    const nodes = (await (await fetch(`${inspector.url}api/nodes`)).json()) as { node: string; state: string }[];
    expect(nodes.map((n) => [n.node, n.state])).toEqual([
      ['inspected-1', 'running'],
      ['peer-2', 'desynced'],
    ]);
  });
});

describe('kindling run --inspect', () => {
  it('refuses a port that is not one, as a usage error', async () => {
    const { code, err } = await runCli(['run', 'examples/hello', '--inspect', '80a']);
    expect(code).toBe(2);
    expect(err).toContain("option '--inspect [port]' argument '80a' is invalid");
  });

  it('does not start the app when the inspector cannot listen, and says why', async () => {
    const dir = await copyHello();
    const state = await stateDir();
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    try {
      const port = (taken.address() as AddressInfo).port;
      const { code, err } = await runCli(['run', dir, '--state-dir', state, '--inspect', String(port)]);
      expect(code).toBe(1);
      expect(err).toContain(`did not start: the inspector cannot listen on 127.0.0.1:${port}: the port is in use`);
    } finally {
      await new Promise((resolve) => taken.close(resolve));
      await rm(dir, { recursive: true, force: true });
      await rm(state, { recursive: true, force: true });
    }
  });
});
