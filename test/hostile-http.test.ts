// The hostile corpus for HTTP, by class: requests written byte for byte on raw sockets, clients that
// are slow, greedy or go away, and function results that once ended the process. After each, the
// app is up, the next request is answered, and the bad one got a clear status and a log line naming
// the service or the endpoint and function.
import { readFile } from 'node:fs/promises';
import { connect } from 'node:net';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootTestApp } from 'kindling/testing';
import type { TestApp } from 'kindling/testing';
import { HttpServers } from 'kindling/components';
import { LogCapture } from './support/log-capture.js';
import { rawRequest, sendRaw } from './support/raw-http.js';

const FIXTURES = join(import.meta.dirname, 'fixtures/hostile/http');

/** Functions whose result is bad, by export name: each serves GET /r/<name>. */
const BAD_RESULTS: { name: string; problem: RegExp }[] = [
  { name: 'deep', problem: /returned a body nested too deeply to encode as JSON/ },
  { name: 'crlfHeader', problem: /returned header "x-note" with a value that holds characters HTTP does not allow/ },
  { name: 'undefinedHeader', problem: /returned header "x-note" with an undefined value/ },
  { name: 'spacedHeaderName', problem: /returned header name "x note", which is not a valid HTTP header name/ },
  { name: 'objectHeader', problem: /returned header "x-note" with a object value/ },
  { name: 'bigintBody', problem: /returned a body holding a BigInt/ },
  { name: 'circularBody', problem: /returned a body with a circular reference/ },
  { name: 'symbolBody', problem: /returned a symbol as its body, which JSON cannot encode/ },
  { name: 'functionBody', problem: /returned a function as its body, which JSON cannot encode/ },
  { name: 'throwingGetter', problem: /returned a result that cannot be read: Error: the getter of body throws/ },
  { name: 'throwingToJson', problem: /returned a body that cannot be encoded as JSON: Error: toJSON throws/ },
  {
    name: 'throwingNestedGetter',
    problem: /returned a body that cannot be encoded as JSON: Error: a nested getter throws/,
  },
  { name: 'proxyResult', problem: /failed: Error: a proxy trap throws/ },
  { name: 'proxyBody', problem: /returned a result that cannot be read: Error: a proxy trap throws/ },
  { name: 'proxyHeaders', problem: /returned a result that cannot be read: Error: a proxy trap throws/ },
  { name: 'badStatus', problem: /returned status 1000, not an HTTP status/ },
  { name: 'informationalStatus', problem: /returned status 101, not an HTTP status/ },
  { name: 'throwsString', problem: /failed: a thrown string: a plain string/ },
  { name: 'throwsProxy', problem: /failed: a thrown object: \{\}; answered 500$/ },
  {
    name: 'throwsBadToString',
    problem: /failed: a thrown object: \{ toString: \[Function: trap\], toJSON: \[Function: trap\] \}; answered 500$/,
  },
  { name: 'thenableThrows', problem: /failed: Error: a proxy trap throws/ },
  { name: 'rejects', problem: /failed: Error: rejected later/ },
];

function registryYaml(): string {
  const functions = ['ok', 'echo', 'query', ...BAD_RESULTS.map((row) => row.name), 'framing', 'held'];
  const lines = [
    'entries:',
    '  - { name: server, kind: http.service, addr: ":0", bodyLimit: 300000, maxUrlLength: 1024, maxHeaderBytes: 4096, maxHeaders: 20, headersTimeoutMs: 300, requestTimeoutMs: 600 }',
    '  - { name: small, kind: http.service, addr: ":0", maxConnections: 2, keepAliveTimeoutMs: 200 }',
    '  - { name: site, kind: http.router, server: server }',
    '  - { name: small-site, kind: http.router, server: small }',
    '  - { name: small-ok, kind: http.endpoint, router: small-site, path: /ok, func: ok }',
    '  - { name: ok-endpoint, kind: http.endpoint, router: site, path: /ok, func: ok }',
    '  - { name: hello-endpoint, kind: http.endpoint, router: site, path: "/hello/:name", func: ok }',
    '  - { name: echo-endpoint, kind: http.endpoint, router: site, method: POST, path: /echo, func: echo }',
    '  - { name: query-endpoint, kind: http.endpoint, router: site, path: /query, func: query }',
    '  - { name: framing-endpoint, kind: http.endpoint, router: site, path: /framing, func: framing }',
    '  - { name: held-endpoint, kind: http.endpoint, router: site, path: /held, func: held }',
    '  - { name: late-endpoint, kind: http.endpoint, router: site, path: /late, func: held, timeoutMs: 50 }',
  ];
  for (const name of functions)
    lines.push(`  - { name: ${name}, kind: function.js, file: ./functions.js, export: ${name} }`);
  for (const { name } of BAD_RESULTS)
    lines.push(`  - { name: ${name}-endpoint, kind: http.endpoint, router: site, path: /r/${name}, func: ${name} }`);
  return `${lines.join('\n')}\n`;
}

describe('http component against hostile clients', () => {
  let app: TestApp;
  const logs = new LogCapture();
  let port: number;
  let smallPort: number;

  /** GET /ok on a fresh connection: the app is up and serving. */
  const okStatus = async (): Promise<number | undefined> =>
    (await sendRaw(port, rawRequest('GET /ok HTTP/1.1', ['Connection: close']))).status;

  beforeAll(async () => {
    // Every row of the corpus awaits its own log line: lift the ten lines a minute per status.
    app = await bootTestApp({
      components: ['function', 'http'],
      config: { http: { shutdownGraceMs: 0, logLinesPerMinute: 1_000 } },
      logger: logs,
    });
    await app.write('functions.js', await readFile(join(FIXTURES, 'functions.js'), 'utf8'));
    await app.expectAccepted(registryYaml());
    port = app.get<HttpServers>(HttpServers).address('test:server')?.port as number;
    smallPort = app.get<HttpServers>(HttpServers).address('test:small')?.port as number;
  });
  afterAll(async () => {
    await app.shutdown();
  });

  describe('a request written on a raw socket', () => {
    const body = (text: string): string[] => [`Content-Length: ${Buffer.byteLength(text)}`];
    it.each([
      {
        name: 'a target new URL throws on (//[/)',
        request: rawRequest('GET //[/ HTTP/1.1'),
        status: 404,
        log: /http\.service test:server: no route for GET \/\/\[\/; answered 404/,
      },
      {
        name: 'an absolute-form target with port 99999',
        request: rawRequest('GET http://x:99999/ok HTTP/1.1'),
        status: 400,
        log: /http\.service test:server: the request target has port 99999, outside 0-65535/,
      },
      {
        name: 'an absolute-form target with a malformed host',
        request: rawRequest('GET http://[zz/ok HTTP/1.1'),
        status: 400,
        log: /the request target has a malformed host/,
      },
      {
        name: 'an asterisk-form target',
        request: rawRequest('OPTIONS * HTTP/1.1'),
        status: 400,
        log: /the asterisk-form target "\*"/,
      },
      {
        name: 'an authority-form target outside CONNECT',
        request: rawRequest('GET 127.0.0.1:80 HTTP/1.1'),
        status: 400,
        log: /malformed request \(HPE_INVALID_URL/,
      },
      {
        name: 'a CONNECT request',
        request: rawRequest('CONNECT 127.0.0.1:22 HTTP/1.1'),
        status: 405,
        log: /http\.service test:server: refused a CONNECT request/,
      },
      {
        name: 'a path with % not followed by hex digits',
        request: rawRequest('GET /hello/%zz HTTP/1.1'),
        status: 400,
        log: /the path has malformed percent-encoding/,
      },
      {
        name: 'a path with a truncated escape',
        request: rawRequest('GET /hello/%E0%A4%A HTTP/1.1'),
        status: 400,
        log: /the path has malformed percent-encoding/,
      },
      {
        name: 'a path whose escapes are not UTF-8',
        request: rawRequest('GET /hello/%C0%AF HTTP/1.1'),
        status: 400,
        log: /the path has malformed percent-encoding/,
      },
      {
        name: 'a query whose escapes are not UTF-8',
        request: rawRequest('GET /query?a=%ff HTTP/1.1'),
        status: 400,
        log: /the query string has malformed percent-encoding/,
      },
      {
        name: 'a query with a malformed escape in a key',
        request: rawRequest('GET /query?%zz=1 HTTP/1.1'),
        status: 400,
        log: /the query string has malformed percent-encoding/,
      },
      {
        name: 'a malformed request line',
        request: 'GARBAGE\r\n\r\n',
        status: 400,
        log: /http\.service test:server: malformed request \(HPE_/,
      },
      {
        name: 'an unknown HTTP version',
        request: rawRequest('GET /ok HTTP/9.9'),
        status: 400,
        log: /malformed request \(HPE_/,
      },
      {
        name: 'a header line without a colon',
        request: rawRequest('GET /ok HTTP/1.1', ['no colon here']),
        status: 400,
        log: /malformed request \(HPE_/,
      },
      {
        name: 'a control character in a header value',
        request: rawRequest('GET /ok HTTP/1.1', ['X-Note: a\u0001b']),
        status: 400,
        log: /malformed request \(HPE_/,
      },
      {
        name: 'a NUL byte in the target',
        request: rawRequest('GET /ok\u0000x HTTP/1.1'),
        status: 400,
        log: /malformed request \(HPE_/,
      },
      {
        name: 'a head over maxHeaderBytes',
        request: rawRequest('GET /ok HTTP/1.1', [`X-Big: ${'a'.repeat(5_000)}`]),
        status: 431,
        log: /the request head is larger than maxHeaderBytes \(4096 bytes\); answered 431/,
      },
      {
        name: 'more headers than maxHeaders',
        request: rawRequest(
          'GET /ok HTTP/1.1',
          Array.from({ length: 30 }, (_, i) => `X-H${i}: ${i}`),
        ),
        status: 431,
        log: /the request has more than maxHeaders \(20\) headers/,
      },
      {
        name: 'a target over maxUrlLength',
        request: rawRequest(`GET /ok?${'a'.repeat(2_000)} HTTP/1.1`),
        status: 414,
        log: /the request target is longer than maxUrlLength \(1024 characters\)/,
      },
      {
        name: 'two different Content-Length headers',
        request: rawRequest('POST /echo HTTP/1.1', ['Content-Length: 2', 'Content-Length: 3'], 'abc'),
        status: 400,
        log: /malformed request \(HPE_/,
      },
      {
        name: 'Content-Length and Transfer-Encoding together',
        request: rawRequest('POST /echo HTTP/1.1', ['Content-Length: 3', 'Transfer-Encoding: chunked'], '0\r\n\r\n'),
        status: 400,
        log: /malformed request \(HPE_/,
      },
      {
        name: 'a chunk size that is not hex',
        request: rawRequest('POST /echo HTTP/1.1', ['Transfer-Encoding: chunked'], 'zz\r\nabc\r\n0\r\n\r\n'),
        status: 400,
        log: /malformed request \(HPE_/,
      },
      {
        name: 'a declared body over bodyLimit',
        request: rawRequest('POST /echo HTTP/1.1', ['Content-Length: 5000000']),
        status: 413,
        log: /endpoint test:echo-endpoint: the request body is larger than bodyLimit \(300000 bytes\); answered 413/,
      },
      {
        name: 'a chunked body over bodyLimit',
        request: rawRequest(
          'POST /echo HTTP/1.1',
          ['Transfer-Encoding: chunked'],
          `${(200_000).toString(16)}\r\n${'a'.repeat(200_000)}\r\n${(200_000).toString(16)}\r\n${'a'.repeat(200_000)}\r\n0\r\n\r\n`,
        ),
        status: 413,
        log: /endpoint test:echo-endpoint: the request body is larger than bodyLimit/,
      },
      {
        name: 'a JSON body that does not parse',
        request: rawRequest('POST /echo HTTP/1.1', ['Content-Type: application/json', ...body('{"a":')], '{"a":'),
        status: 400,
        log: /endpoint test:echo-endpoint: the request body is not valid JSON/,
      },
      {
        name: 'a JSON body of 100,000 nested arrays (under the limit) sent back by the function',
        request: rawRequest(
          'POST /echo HTTP/1.1',
          ['Content-Type: application/json', ...body(`${'['.repeat(100_000)}${']'.repeat(100_000)}`)],
          `${'['.repeat(100_000)}${']'.repeat(100_000)}`,
        ),
        status: 500,
        log: /endpoint test:echo-endpoint: function test:echo returned a body nested too deeply to encode as JSON; answered 500/,
      },
      {
        name: 'a parameter longer than maxParamLength',
        request: rawRequest(`GET /hello/${'a'.repeat(101)} HTTP/1.1`),
        status: 404,
        log: /no route for GET \/hello\/a{101}/,
      },
      {
        name: 'a method no endpoint serves',
        request: rawRequest('PROPFIND /ok HTTP/1.1'),
        status: 404,
        log: /no route for PROPFIND \/ok/,
      },
      { name: 'an HTTP/1.1 request without Host', request: 'GET /ok HTTP/1.1\r\n\r\n', status: 400, log: undefined },
    ])('answers $status to $name, logs it and serves the next request', async ({ request, status, log }) => {
      const from = logs.mark();
      expect((await sendRaw(port, request)).status).toBe(status);
      if (log !== undefined) expect(await logs.waitFor(log, from)).toMatch(log);
      expect(await okStatus()).toBe(200);
    });

    it.each([
      { name: 'an absolute-form target', request: rawRequest('GET http://example.test/ok HTTP/1.1') },
      {
        name: 'an Upgrade request (no upgrade is served, so it is a plain request)',
        request: rawRequest('GET /ok HTTP/1.1', ['Connection: Upgrade', 'Upgrade: websocket']),
      },
      {
        name: 'Expect: 100-continue',
        request: rawRequest('POST /echo HTTP/1.1', ['Expect: 100-continue', 'Content-Length: 2'], 'hi'),
      },
      { name: 'a fragment in the target', request: rawRequest('GET /ok#frag HTTP/1.1') },
    ])('serves $name', async ({ request }) => {
      expect((await sendRaw(port, request)).status).toBe(200);
    });

    it('gives a query key __proto__ as a plain key', async () => {
      const answer = await sendRaw(port, rawRequest('GET /query?__proto__=x&a=1&a=2 HTTP/1.1'));
      const query = JSON.parse(answer.body) as Record<string, unknown>;
      expect([Object.getPrototypeOf(query), Object.keys(query), query['__proto__'], query['a']]).toEqual([
        Object.prototype,
        ['__proto__', 'a'],
        'x',
        ['1', '2'],
      ]);
    });
  });

  describe('a slow, greedy or vanishing client', () => {
    it('answers 408 to a head that never ends (headersTimeoutMs) and serves the next request', async () => {
      const from = logs.mark();
      expect((await sendRaw(port, 'GET /ok HTTP/1.1\r\nHost: x\r\nX-Slow: ')).status).toBe(408);
      expect(
        await logs.waitFor(/http\.service test:server: the request did not arrive in time .*; answered 408/, from),
      ).toBeDefined();
      expect(await okStatus()).toBe(200);
    });

    it('answers 408 to a chunked body that never ends (requestTimeoutMs) and serves the next request', async () => {
      const from = logs.mark();
      expect(
        (await sendRaw(port, rawRequest('POST /echo HTTP/1.1', ['Transfer-Encoding: chunked'], '5\r\nhello\r\n')))
          .status,
      ).toBe(408);
      expect(await logs.waitFor(/the request did not arrive in time/, from)).toBeDefined();
      expect(await okStatus()).toBe(200);
    });

    it('logs a client that aborts mid-body, naming the endpoint, and serves the next request', async () => {
      const from = logs.mark();
      const answer = await sendRaw(port, rawRequest('POST /echo HTTP/1.1', ['Content-Length: 1000'], 'only part'), {
        afterWrite: (socket) => setImmediate(() => socket.destroy()),
      });
      expect(answer.status).toBeUndefined();
      expect(
        await logs.waitFor(
          /endpoint test:echo-endpoint: the client closed the connection before the request body was complete .*; no answer possible/,
          from,
        ),
      ).toBeDefined();
      expect(await okStatus()).toBe(200);
    });

    it('answers nothing to a client gone before its answer, and serves the next request', async () => {
      const from = logs.mark();
      const called = new Promise<() => void>((resolve) => {
        (globalThis as { kindlingHeld?: (release: () => void) => void }).kindlingHeld = resolve;
      });
      const answer = await sendRaw(port, rawRequest('GET /held HTTP/1.1'), {
        afterWrite: (socket) => void called.then((release) => socket.once('close', release).destroy()),
      });
      expect(answer.status).toBeUndefined();
      expect(await okStatus()).toBe(200);
      expect(logs.lines.slice(from).filter((line) => /internal error/.test(line))).toEqual([]);
    });

    it('closes a keep-alive connection left idle past keepAliveTimeoutMs', async () => {
      const closed = await new Promise<boolean>((resolve, reject) => {
        const socket = connect({ host: '127.0.0.1', port: smallPort }, () =>
          socket.write(rawRequest('GET /ok HTTP/1.1')),
        );
        const guard = setTimeout(() => {
          socket.destroy();
          reject(new Error('the idle connection stayed open'));
        }, 10_000);
        socket.on('data', () => undefined);
        socket.once('close', () => {
          clearTimeout(guard);
          resolve(true);
        });
      });
      expect(closed).toBe(true);
    });

    it('closes a connection over maxConnections at once, logs it, and serves once one is free', async () => {
      const from = logs.mark();
      const held: Socket[] = await Promise.all(
        [1, 2].map(
          () =>
            new Promise<Socket>((resolve) => {
              const socket = connect({ host: '127.0.0.1', port: smallPort }, () => resolve(socket));
            }),
        ),
      );
      try {
        expect((await sendRaw(smallPort, rawRequest('GET /ok HTTP/1.1'))).status).toBeUndefined();
        expect(
          await logs.waitFor(/http\.service test:small: closed a new connection: maxConnections \(2\) are open/, from),
        ).toBeDefined();
      } finally {
        await Promise.all(held.map((socket) => new Promise<void>((resolve) => socket.end(() => resolve()))));
      }
      // The server frees a slot when it has seen the close; each attempt awaits a whole answer.
      let status: number | undefined;
      for (let attempt = 0; attempt < 50 && status !== 200; attempt++)
        status = (await sendRaw(smallPort, rawRequest('GET /ok HTTP/1.1', ['Connection: close']))).status;
      expect(status).toBe(200);
    });
  });

  describe('a function result', () => {
    it.each(BAD_RESULTS)(
      'answers 500 to $name, logs the endpoint, the function and the problem, and serves the next request',
      async ({ name, problem }) => {
        const from = logs.mark();
        const answer = await sendRaw(port, rawRequest(`GET /r/${name} HTTP/1.1`, ['Connection: close']));
        expect([answer.status, answer.body]).toEqual([500, '{"error":"internal error"}']);
        const line = await logs.waitFor(new RegExp(`endpoint test:${name}-endpoint: function test:${name} `), from);
        expect(line).toMatch(problem);
        expect(line).toMatch(/; answered 500$/);
        expect(await okStatus()).toBe(200);
      },
    );

    it('answers 504 to a function that does not answer within timeoutMs, and serves the next request', async () => {
      const from = logs.mark();
      const answer = await sendRaw(port, rawRequest('GET /late HTTP/1.1', ['Connection: close']));
      expect([answer.status, answer.body]).toEqual([504, '{"error":"the function did not answer in time"}']);
      expect(
        await logs.waitFor(
          /endpoint test:late-endpoint: function test:held did not answer within timeoutMs \(50 ms\); answered 504$/,
          from,
        ),
      ).toBeDefined();
      expect(await okStatus()).toBe(200);
    });

    it('sends its own framing, not the content-length or transfer-encoding a function returns', async () => {
      const answer = await sendRaw(port, rawRequest('GET /framing HTTP/1.1', ['Connection: close']));
      expect([
        answer.status,
        answer.headers['content-length'],
        answer.headers['transfer-encoding'],
        answer.body,
      ]).toEqual([200, '5', undefined, 'short']);
    });
  });
});

describe('RouteRegexCheck', () => {
  describe('.problemOf (through an http.endpoint apply)', () => {
    let app: TestApp;
    const BASE =
      'entries:\n  - { name: server, kind: http.service, addr: ":0" }\n  - { name: site, kind: http.router, server: server }\n  - { name: ok, kind: function.js, file: ./functions.js, export: ok }\n';
    const endpoint = (path: string): string =>
      `entries:\n  - name: redos\n    kind: http.endpoint\n    router: site\n    path: "${path}"\n    func: ok\n`;

    beforeAll(async () => {
      app = await bootTestApp({
        components: ['function', 'http'],
        config: { http: { shutdownGraceMs: 0, regexCheckSteps: 2_000 } },
      });
      await app.write('functions.js', await readFile(join(FIXTURES, 'functions.js'), 'utf8'));
      await app.expectAccepted(BASE);
    });
    afterAll(async () => {
      await app.shutdown();
    });

    it.each([
      { name: 'the (a|a)+ route that blocked an app 47 s', path: '/redos/:p(^(a|a)+$)' },
      { name: 'a nested quantifier over words and spaces', path: '/redos/:p(^(\\\\w+\\\\s*)*$)' },
      { name: 'overlapping classes in a loop', path: '/redos/:p(([a-z]|[a-c])+x)' },
      { name: 'three adjacent digit runs in one segment', path: '/redos/:a(\\\\d+):b(\\\\d+):c(\\\\d+)' },
    ])('refuses $name as INVALID at data.path, with its position', async ({ path }) => {
      const error = await app.expectRefused(endpoint(path), {
        code: 'REJECTED',
        message: 'catastrophic backtracking (ReDoS)',
      });
      const cause = error.cause as { code?: string; message?: string };
      expect(cause.code).toBe('INVALID');
      expect(cause.message).toMatch(
        /snippet-\d+\.yaml:6:11: http\.endpoint test:redos: route GET .* is refused: the regular expression .* (is open to|could not be proven safe from) catastrophic backtracking \(ReDoS\)/,
      );
    });

    it('refuses an unsafe regex in a router prefix at data.prefix', async () => {
      const error = await app.expectRefused(
        'entries:\n  - name: site\n    kind: http.router\n    server: server\n    prefix: "/:p(^(a|a)+$)"\n  - { name: e, kind: http.endpoint, router: site, path: /x, func: ok }\n',
        {
          code: 'REJECTED',
          message: 'ReDoS',
        },
      );
      expect(String((error.cause as Error).message)).toMatch(
        /snippet-\d+\.yaml:6:13: http\.router test:site: route GET/,
      );
    });

    it('accepts safe regexes and plain parameters, and serves them', async () => {
      await app.expectAccepted(
        'entries:\n  - { name: by-id, kind: http.endpoint, router: site, path: "/items/:id(^\\\\d+$)", func: ok }\n  - { name: range, kind: http.endpoint, router: site, path: "/range/:from-:to", func: ok }\n  - { name: uuid, kind: http.endpoint, router: site, path: "/u/:id([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})", func: ok }\n',
      );
      const port = app.get<HttpServers>(HttpServers).address('test:server')?.port as number;
      expect((await sendRaw(port, rawRequest('GET /items/42 HTTP/1.1', ['Connection: close']))).status).toBe(200);
      expect(
        (await sendRaw(port, rawRequest(`GET /items/${'4'.repeat(99)}x HTTP/1.1`, ['Connection: close']))).status,
      ).toBe(404);
      expect((await sendRaw(port, rawRequest('GET /range/1-9 HTTP/1.1', ['Connection: close']))).status).toBe(200);
    });
  });

  it('refuses a regex it cannot prove safe within regexCheckSteps, naming the limit', async () => {
    await using app = await bootTestApp({
      components: ['function', 'http'],
      config: { http: { shutdownGraceMs: 0, regexCheckSteps: 100 } },
    });
    await app.write('functions.js', 'export const ok = () => ({ body: "ok" });\n');
    await app.expectRefused(
      'entries:\n  - { name: server, kind: http.service, addr: ":0" }\n  - { name: site, kind: http.router, server: server }\n  - { name: ok, kind: function.js, file: ./functions.js, export: ok }\n  - { name: abc, kind: http.endpoint, router: site, path: "/:p((ab|cd|ef)+)", func: ok }\n',
      /could not be proven safe from catastrophic backtracking \(ReDoS\) within 100 steps/,
    );
  });
});
