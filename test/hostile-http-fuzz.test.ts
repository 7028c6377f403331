// A bounded request fuzzer: a few thousand generated request lines, headers and bodies, written on
// raw sockets to a running app in batches. After each batch the app answers a valid request, and no
// request ever reaches the component's own "internal error" path.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { bootTestApp } from 'kindling/testing';
import type { TestApp } from 'kindling/testing';
import { HttpServers } from 'kindling/components';
import { LogCapture } from './support/log-capture.js';
import { rawRequest, sendRaw } from './support/raw-http.js';

const BATCHES = 30;
const BATCH_SIZE = 100;
/** Lines of refused requests the log may hold after the run: 10 per service or endpoint and status. */
const LOG_BOUND = 150;

const hex = fc.constantFrom(...'0123456789abcdefABCDEF');
/** A character a path or query might hold, hostile ones included. */
const targetChar = fc.oneof(
  fc.constantFrom(...'abcXYZ019-._~/'),
  fc.constantFrom(
    '%',
    '[',
    ']',
    ':',
    '@',
    '?',
    '#',
    '&',
    '=',
    '+',
    ';',
    ',',
    '*',
    '(',
    ')',
    '\\',
    '"',
    '<',
    '>',
    '{',
    '}',
    '|',
    '^',
    '`',
    ' ',
    '\t',
    '\u0000',
    '\u007f',
    'é',
    '\u202e',
    '\ud800',
  ),
  fc.tuple(fc.constant('%'), hex, hex).map((parts) => parts.join('')),
  fc.string({ maxLength: 3 }),
);
const path = fc.array(targetChar, { maxLength: 40 }).map((chars) => `/${chars.join('')}`);
const target = fc.oneof(
  { weight: 5, arbitrary: path },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      '/ok',
      '/hello/x',
      '/echo',
      '/files/a/b',
      '/items/12',
      '/items/x',
      '//[/',
      '/%',
      '/%zz',
      '/%C0%AF',
      '/?a=%ff',
    ),
  },
  {
    weight: 2,
    arbitrary: fc
      .tuple(
        fc.constantFrom('http', 'https', 'HTTP', 'x-y', 'h'),
        fc.string({ maxLength: 12 }),
        fc.oneof(
          fc.constant(''),
          fc.integer({ min: -5, max: 200_000 }).map((port) => `:${port}`),
        ),
        path,
      )
      .map(([scheme, host, port, rest]) => `${scheme}://${host}${port}${rest}`),
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom('*', '', 'x', '127.0.0.1:80', 'http:', 'http://', 'http://[', 'http://[::1]:65536/'),
  },
  { weight: 1, arbitrary: fc.string({ maxLength: 60 }) },
);
const method = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom('GET', 'POST', 'HEAD', 'PUT', 'DELETE', 'OPTIONS', 'PATCH') },
  { weight: 2, arbitrary: fc.constantFrom('CONNECT', 'PROPFIND', 'PRI', 'TRACE', 'get', 'G ET', '') },
  { weight: 1, arbitrary: fc.string({ minLength: 1, maxLength: 10 }) },
);
const version = fc.oneof(
  { weight: 8, arbitrary: fc.constant('HTTP/1.1') },
  { weight: 2, arbitrary: fc.constantFrom('HTTP/1.0', 'HTTP/2.0', 'HTTP/1.1x', 'HTTP/1', '', 'http/1.1') },
);
const header = fc.oneof(
  {
    weight: 4,
    arbitrary: fc
      .tuple(
        fc.constantFrom('Content-Type', 'X-A', 'Accept', 'Cookie', 'Connection', 'Expect', 'Upgrade', 'Host'),
        fc.string({ maxLength: 30 }),
      )
      .map(([name, value]) => `${name}: ${value}`),
  },
  {
    weight: 2,
    arbitrary: fc
      .oneof(
        fc.integer({ min: -10, max: 10_000_000 }).map(String),
        fc.constantFrom('abc', '1,2', ' 5', '0x10', '99999999999999999999'),
      )
      .map((length) => `Content-Length: ${length}`),
  },
  {
    weight: 1,
    arbitrary: fc
      .constantFrom('chunked', 'gzip, chunked', 'chunked, gzip', 'identity', 'x')
      .map((coding) => `Transfer-Encoding: ${coding}`),
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      'Content-Type: application/json',
      'Content-Type: text/plain',
      'Content-Type: application/x+json; charset=utf-8',
    ),
  },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.string({ maxLength: 12 }), fc.string({ maxLength: 30 }))
      .map(([name, value]) => `${name}: ${value}`),
  },
  { weight: 1, arbitrary: fc.string({ maxLength: 40 }) },
);
const body = fc.oneof(
  fc.constant(''),
  fc.string({ maxLength: 80 }),
  fc.json({ maxDepth: 4 }),
  fc.integer({ min: 1, max: 2_000 }).map((depth) => `${'['.repeat(depth)}${']'.repeat(depth)}`),
  fc.constantFrom('5\r\nhello\r\n0\r\n\r\n', 'zz\r\n', '0\r\n\r\n', '{"a":', '\u0000\u0001'),
);
const request = fc
  .tuple(method, target, version, fc.array(header, { maxLength: 8 }), fc.boolean(), body)
  .map(([verb, url, http, headers, withHost, payload]) =>
    withHost
      ? rawRequest(`${verb} ${url} ${http}`, headers, payload)
      : `${verb} ${url} ${http}\r\n${headers.map((line) => `${line}\r\n`).join('')}\r\n${payload}`,
  );

describe('http component under a request fuzzer', () => {
  let app: TestApp;
  const logs = new LogCapture();
  let port: number;

  beforeAll(async () => {
    app = await bootTestApp({
      components: ['function', 'http'],
      config: { http: { shutdownGraceMs: 0 } },
      logger: logs,
    });
    await app.write(
      'functions.js',
      'export const ok = () => ({ body: "ok" });\nexport const echo = (request) => ({ body: { received: request.body ?? null, query: request.query, params: request.params } });\n',
    );
    await app.expectAccepted(`entries:
  - { name: server, kind: http.service, addr: ":0", bodyLimit: 65536, headersTimeoutMs: 200, requestTimeoutMs: 400 }
  - { name: site, kind: http.router, server: server }
  - { name: ok, kind: function.js, file: ./functions.js, export: ok }
  - { name: echo, kind: function.js, file: ./functions.js, export: echo }
  - { name: get-ok, kind: http.endpoint, router: site, path: /ok, func: ok }
  - { name: get-hello, kind: http.endpoint, router: site, path: "/hello/:name", func: echo }
  - { name: post-echo, kind: http.endpoint, router: site, method: POST, path: /echo, func: echo }
  - { name: put-echo, kind: http.endpoint, router: site, method: PUT, path: /echo, func: echo }
  - { name: get-files, kind: http.endpoint, router: site, path: "/files/*", func: echo }
  - { name: get-item, kind: http.endpoint, router: site, path: "/items/:id(^\\\\d+$)", func: echo }
`);
    port = app.get<HttpServers>(HttpServers).address('test:server')?.port as number;
  });
  afterAll(async () => {
    await app.shutdown();
  });

  it(`survives ${BATCHES * BATCH_SIZE} generated requests, answering a valid request after each batch of ${BATCH_SIZE}`, async () => {
    // New requests each run, like test/fuzz.test.ts; a failing batch is printed whole to replay it.
    const requests = fc.sample(request, { numRuns: BATCHES * BATCH_SIZE });
    for (let batch = 0; batch < BATCHES; batch++) {
      const sent = requests.slice(batch * BATCH_SIZE, (batch + 1) * BATCH_SIZE);
      // A request that waits for more bytes is cut short: the fuzzer looks for crashes, not answers.
      await Promise.all(sent.map((bytes) => sendRaw(port, bytes, { timeoutMs: 250 }).catch(() => undefined)));
      const answer = await sendRaw(port, rawRequest('GET /ok HTTP/1.1', ['Connection: close']));
      expect([answer.status, answer.body], `after batch ${batch}: ${JSON.stringify(sent)}`).toEqual([200, 'ok']);
    }
    expect(logs.lines.filter((line) => /internal error/.test(line))).toEqual([]);
    // Ten lines a minute per place and status: thousands of bad requests, a bounded log.
    expect(logs.lines.filter((line) => /answered|no answer possible/.test(line)).length).toBeLessThanOrEqual(LOG_BOUND);
  }, 60_000);
});
