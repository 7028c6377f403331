import { createServer } from 'node:net';
import type { Server } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { bootTestApp, decodeYamlConfig } from 'kindling/testing';
import type { TestApp } from 'kindling/testing';
import { parseListenAddress } from './http-config.js';
import { HttpComponentConfig, HttpServers, HttpServiceConfig } from './index.js';

const FUNCTIONS = `
export const hello = (request) => ({ body: { hello: request.params.name, query: request.query } });
export const echo = (request) => ({ status: 201, headers: { 'x-echo': 'yes' }, body: { method: request.method, body: request.body, type: request.headers['content-type'] } });
export const text = () => ({ body: 'plain words' });
export const empty = () => ({});
export const fails = () => { throw new Error('secret detail'); };
export const teapot = () => { throw Object.assign(new Error('short and stout'), { status: 418 }); };
export const shapeless = () => 'just a string';
export const v2 = () => ({ body: 'version 2' });
`;

const BASE = `
entries:
  - { name: server, kind: http.service, addr: ":0" }
  - { name: api, kind: http.router, server: server, prefix: /api }
  - { name: hello, kind: function.js, file: ./functions.js, export: hello }
  - { name: hello-endpoint, kind: http.endpoint, router: api, method: GET, path: "/hello/:name", func: hello }
`;

/** Occupies a free port on 127.0.0.1 and returns the server holding it. */
async function occupyPort(): Promise<Server> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

function portOf(server: Server): number {
  return (server.address() as { port: number }).port;
}

async function closeNet(server: Server): Promise<void> {
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

/** Whether something accepts connections on 127.0.0.1:port (by trying to bind it ourselves). */
async function portIsFree(port: number): Promise<boolean> {
  const probe = createServer();
  return new Promise((resolve) => {
    probe.once('error', () => resolve(false));
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)));
  });
}

describe('http component', () => {
  let app: TestApp;
  const url = (path: string, service = 'test:server'): string => {
    const address = app.get<HttpServers>(HttpServers).address(service);
    if (address === undefined) throw new Error(`${service} is not listening`);
    return `${address.url}${path}`;
  };

  beforeEach(async () => {
    app = await bootTestApp({ components: ['function', 'http'], config: { http: { shutdownGraceMs: 0 } } });
    await app.write('functions.js', FUNCTIONS);
  });
  afterEach(async () => {
    await app.shutdown();
  });

  describe('http.service', () => {
    it('listens on 127.0.0.1 by default and reports the port it picked', async () => {
      await app.expectAccepted(BASE);
      const address = app.get<HttpServers>(HttpServers).address('test:server');
      expect(address?.host).toBe('127.0.0.1');
      expect(address?.port).toBeGreaterThan(0);
      expect(address?.url).toBe(`http://127.0.0.1:${address?.port}`);
    });

    it('refuses an address already in use, with a clear error, and keeps the running routes', async () => {
      await app.expectAccepted(BASE);
      const taken = await occupyPort();
      try {
        await app.expectRefused(
          `entries:\n  - { name: second, kind: http.service, addr: "127.0.0.1:${portOf(taken)}" }\n  - { name: v2, kind: function.js, file: ./functions.js, export: v2 }\n`,
          { code: 'REJECTED', message: `address 127.0.0.1:${portOf(taken)} is already in use` },
        );
      } finally {
        await closeNet(taken);
      }
      expect((await fetch(url('/api/hello/ada'))).status).toBe(200);
    });

    it('closes the socket it bound for a batch that is refused later', async () => {
      const taken = await occupyPort();
      const port = portOf(taken);
      await closeNet(taken);
      await app.expectRefused(
        `entries:\n  - { name: early, kind: http.service, addr: "127.0.0.1:${port}" }\n  - { name: zz-broken, kind: function.js, file: ./functions.js, export: nope }\n`,
        /has no export "nope"/,
      );
      expect(await portIsFree(port)).toBe(true);
    });

    it('closes the socket a dry run bound', async () => {
      const taken = await occupyPort();
      const port = portOf(taken);
      await closeNet(taken);
      await app.apply(`entries:\n  - { name: planned, kind: http.service, addr: "127.0.0.1:${port}" }\n`, {
        dryRun: true,
      });
      expect(await portIsFree(port)).toBe(true);
      expect(app.get<HttpServers>(HttpServers).addresses()).toEqual([]);
    });

    it('moves to a new address on update and closes the old one', async () => {
      await app.expectAccepted(BASE);
      const before = app.get<HttpServers>(HttpServers).address('test:server');
      const free = await occupyPort();
      const port = portOf(free);
      await closeNet(free);
      await app.expectAccepted(`entries:\n  - { name: server, kind: http.service, addr: "127.0.0.1:${port}" }\n`);
      const after = app.get<HttpServers>(HttpServers).address('test:server');
      expect(after?.port).toBe(port);
      expect((await fetch(url('/api/hello/moved'))).status).toBe(200);
      expect(await portIsFree(before?.port as number)).toBe(true);
    });

    it('refuses a malformed address at its file:line:col', async () => {
      await app.expectRefused(
        'entries:\n  - name: bad\n    kind: http.service\n    addr: "localhost"\n',
        /data\.addr: "localhost" is not a listen address.*snippet-\d+\.yaml:5:11\)/s,
      );
    });

    it('refuses deleting a service a router still uses', async () => {
      await app.expectAccepted(BASE);
      await expect(app.remove('test:server')).rejects.toThrow(
        /http\.service test:server cannot be deleted: routers test:api still use it/,
      );
    });

    it('answers 413 to a body over the limit', async () => {
      await app.expectAccepted(
        `${BASE}  - { name: echo, kind: function.js, file: ./functions.js, export: echo }\n  - { name: echo-endpoint, kind: http.endpoint, router: api, method: POST, path: /echo, func: echo }\n`,
      );
      await app.expectAccepted('entries:\n  - { name: server, kind: http.service, addr: ":0", bodyLimit: 4 }\n');
      const response = await fetch(url('/api/echo'), { method: 'POST', body: 'too long' });
      expect(response.status).toBe(413);
    });
  });

  describe('http.endpoint', () => {
    beforeEach(async () => {
      await app.expectAccepted(BASE);
    });

    it('calls the function with params and query and serves its JSON body', async () => {
      const response = await fetch(url('/api/hello/ada?x=1&x=2&y=z'));
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toBe('application/json; charset=utf-8');
      expect(await response.json()).toEqual({ hello: 'ada', query: { x: ['1', '2'], y: 'z' } });
    });

    it('passes a parsed JSON body and sends the status and headers the function returns', async () => {
      await app.expectAccepted(
        'entries:\n  - { name: echo, kind: function.js, file: ./functions.js, export: echo }\n  - { name: echo-endpoint, kind: http.endpoint, router: api, method: post, path: /echo, func: echo }\n',
      );
      const response = await fetch(url('/api/echo'), {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ a: 1 }),
      });
      expect(response.status).toBe(201);
      expect(response.headers.get('x-echo')).toBe('yes');
      expect(await response.json()).toEqual({ method: 'POST', body: { a: 1 }, type: 'application/json' });
    });

    it('sends a string body as text/plain and no body as 204', async () => {
      await app.expectAccepted(
        'entries:\n  - { name: text, kind: function.js, file: ./functions.js, export: text }\n  - { name: empty, kind: function.js, file: ./functions.js, export: empty }\n  - { name: text-endpoint, kind: http.endpoint, router: api, path: /text, func: text }\n  - { name: empty-endpoint, kind: http.endpoint, router: api, path: /empty, func: empty }\n',
      );
      const text = await fetch(url('/api/text'));
      expect([text.status, text.headers.get('content-type'), await text.text()]).toEqual([
        200,
        'text/plain; charset=utf-8',
        'plain words',
      ]);
      expect((await fetch(url('/api/empty'))).status).toBe(204);
    });

    it('answers HEAD on a GET route with its status and headers and no body', async () => {
      const response = await fetch(url('/api/hello/ada'), { method: 'HEAD' });
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toBe('application/json; charset=utf-8');
      expect(await response.text()).toBe('');
      expect((await fetch(url('/api/nothing'), { method: 'HEAD' })).status).toBe(404);
    });

    it('answers 404 for a path no endpoint serves', async () => {
      const response = await fetch(url('/api/nothing'));
      expect(response.status).toBe(404);
      expect(await response.json()).toEqual({ error: 'no route for GET /api/nothing' });
    });

    it('answers 500 without the details when the function throws', async () => {
      await app.expectAccepted(
        'entries:\n  - { name: fails, kind: function.js, file: ./functions.js, export: fails }\n  - { name: fails-endpoint, kind: http.endpoint, router: api, path: /fails, func: fails }\n',
      );
      const response = await fetch(url('/api/fails'));
      expect(response.status).toBe(500);
      expect(await response.json()).toEqual({ error: 'internal error' });
    });

    it('uses the status of an error the function throws with a 4xx status', async () => {
      await app.expectAccepted(
        'entries:\n  - { name: teapot, kind: function.js, file: ./functions.js, export: teapot }\n  - { name: teapot-endpoint, kind: http.endpoint, router: api, path: /teapot, func: teapot }\n',
      );
      const response = await fetch(url('/api/teapot'));
      expect([response.status, await response.json()]).toEqual([418, { error: 'short and stout' }]);
    });

    it('answers 500 when the function returns something that is not a response', async () => {
      await app.expectAccepted(
        'entries:\n  - { name: shapeless, kind: function.js, file: ./functions.js, export: shapeless }\n  - { name: shapeless-endpoint, kind: http.endpoint, router: api, path: /shapeless, func: shapeless }\n',
      );
      expect((await fetch(url('/api/shapeless'))).status).toBe(500);
    });

    it('refuses a route another endpoint already serves, naming it', async () => {
      await app.expectRefused(
        'entries:\n  - { name: again, kind: http.endpoint, router: api, method: GET, path: "/hello/:who", func: hello }\n',
        {
          code: 'REJECTED',
          message: 'route GET /api/hello/:who on test:server is already taken by endpoint test:hello-endpoint',
        },
      );
    });

    it('refuses an endpoint whose router does not exist', async () => {
      await app.expectRefused(
        'entries:\n  - { name: lost, kind: http.endpoint, router: nowhere, path: /lost, func: hello }\n',
        /http\.router entry test:nowhere does not exist/,
      );
    });

    it('refuses an endpoint whose function does not exist', async () => {
      await app.expectRefused(
        'entries:\n  - { name: lost, kind: http.endpoint, router: api, path: /lost, func: nothing }\n',
        /function entry test:nothing does not exist/,
      );
    });

    it('refuses an endpoint whose function reference names another kind', async () => {
      await app.expectRefused(
        'entries:\n  - { name: odd, kind: http.endpoint, router: api, path: /odd, func: api }\n',
        /test:api is a http\.router, not a function\.\*/,
      );
    });

    it('refuses an unknown method', async () => {
      await app.expectRefused(
        'entries:\n  - { name: odd, kind: http.endpoint, router: api, method: FETCH, path: /odd, func: hello }\n',
        /method must be one of GET, HEAD, POST/,
      );
    });

    it('refuses deleting a function an endpoint still calls', async () => {
      await expect(app.remove('test:hello')).rejects.toThrow(
        /function\.js test:hello cannot be deleted: endpoints test:hello-endpoint still call it/,
      );
      expect((await fetch(url('/api/hello/still'))).status).toBe(200);
    });

    it('lists every endpoint that still calls a function, in the order they were added', async () => {
      await app.expectAccepted(
        'entries:\n  - { name: another, kind: http.endpoint, router: api, path: /another, func: hello }\n',
      );
      await expect(app.remove('test:hello')).rejects.toThrow(
        'function.js test:hello cannot be deleted: endpoints test:hello-endpoint, test:another still call it',
      );
      await expect(app.remove('test:api')).rejects.toThrow(
        'http.router test:api cannot be deleted: endpoints test:hello-endpoint, test:another still use it',
      );
    });

    it('follows an endpoint to its new function, router and service within one batch', async () => {
      await app.expectAccepted(
        'entries:\n' +
          '  - { name: v2, kind: function.js, file: ./functions.js, export: v2 }\n' +
          '  - { name: server2, kind: http.service, addr: ":0" }\n' +
          '  - { name: api2, kind: http.router, server: server2, prefix: /api }\n',
      );
      const data = { router: 'api2', method: 'GET', path: '/hello/:name', func: 'v2' };
      // Whichever order the batch runs in, the deletes see the endpoint where the update put it.
      await app.registry.apply([
        { op: 'delete', entry: { id: 'test:hello' } },
        { op: 'delete', entry: { id: 'test:api' } },
        { op: 'delete', entry: { id: 'test:server' } },
        { op: 'update', entry: { id: 'test:hello-endpoint', kind: 'http.endpoint', data } },
      ]);
      expect(await (await fetch(url('/api/hello/ada', 'test:server2'))).text()).toBe('version 2');
      await expect(app.remove('test:v2')).rejects.toThrow(
        'function.js test:v2 cannot be deleted: endpoints test:hello-endpoint still call it',
      );
      await expect(app.remove('test:api2')).rejects.toThrow(
        'http.router test:api2 cannot be deleted: endpoints test:hello-endpoint still use it',
      );
      await expect(app.remove('test:server2')).rejects.toThrow(
        'http.service test:server2 cannot be deleted: routers test:api2 still use it',
      );
      await app.remove('test:server2', 'test:api2', 'test:hello-endpoint', 'test:v2');
      expect(app.get<HttpServers>(HttpServers).addresses()).toEqual([]);
    });

    it('accepts deleting a router together with its endpoints', async () => {
      await app.remove('test:api', 'test:hello-endpoint');
      expect((await fetch(url('/api/hello/gone'))).status).toBe(404);
    });

    it('moves the endpoints of a router whose prefix changes', async () => {
      await app.expectAccepted('entries:\n  - { name: api, kind: http.router, server: server, prefix: /v2 }\n');
      expect((await fetch(url('/v2/hello/ada'))).status).toBe(200);
      expect((await fetch(url('/api/hello/ada'))).status).toBe(404);
    });

    it('serves none of a refused batch: the running routes stay as they were', async () => {
      await app.expectRefused(
        'entries:\n  - { name: hello-endpoint, kind: http.endpoint, router: api, method: GET, path: "/greet/:name", func: hello }\n  - { name: v2, kind: function.js, file: ./functions.js, export: v2 }\n  - { name: v2-endpoint, kind: http.endpoint, router: api, path: /v2, func: v2 }\n  - { name: zz-broken, kind: function.js, file: ./functions.js, export: nope }\n',
        /has no export "nope"/,
      );
      expect((await fetch(url('/api/hello/ada'))).status).toBe(200);
      expect((await fetch(url('/api/greet/ada'))).status).toBe(404);
      expect((await fetch(url('/api/v2'))).status).toBe(404);
    });

    it('serves all of an accepted batch at once', async () => {
      await app.expectAccepted(
        'entries:\n  - { name: hello-endpoint, kind: http.endpoint, router: api, method: GET, path: "/greet/:name", func: hello }\n  - { name: v2, kind: function.js, file: ./functions.js, export: v2 }\n  - { name: v2-endpoint, kind: http.endpoint, router: api, path: /v2, func: v2 }\n',
      );
      expect((await fetch(url('/api/hello/ada'))).status).toBe(404);
      expect((await fetch(url('/api/greet/ada'))).status).toBe(200);
      expect(await (await fetch(url('/api/v2'))).text()).toBe('version 2');
    });

    it('lets an endpoint take, in the same batch, the route another one leaves', async () => {
      await app.expectAccepted(
        'entries:\n  - { name: hello-endpoint, kind: http.endpoint, router: api, method: GET, path: "/greet/:name", func: hello }\n  - { name: v2, kind: function.js, file: ./functions.js, export: v2 }\n  - { name: v2-endpoint, kind: http.endpoint, router: api, method: GET, path: "/hello/:who", func: v2 }\n',
      );
      expect(await (await fetch(url('/api/hello/ada'))).text()).toBe('version 2');
      expect(await (await fetch(url('/api/greet/ada'))).json()).toMatchObject({ hello: 'ada' });
    });

    it('refuses two new endpoints of one batch on one route, naming the first', async () => {
      await app.expectRefused(
        'entries:\n  - { name: a-endpoint, kind: http.endpoint, router: api, path: "/same/:x", func: hello }\n  - { name: b-endpoint, kind: http.endpoint, router: api, path: "/same/:y", func: hello }\n',
        {
          code: 'REJECTED',
          message: 'route GET /api/same/:y on test:server is already taken by endpoint test:a-endpoint',
        },
      );
      expect((await fetch(url('/api/same/1'))).status).toBe(404);
    });

    it('serves what is left after batches of one change each, and not what they took out', async () => {
      for (let v = 1; v <= 5; v++)
        await app.expectAccepted(
          `entries:\n  - { name: hello-endpoint, kind: http.endpoint, router: api, method: GET, path: "/hello${v}/:name", func: hello }\n`,
        );
      expect(await (await fetch(url('/api/hello5/ada'))).json()).toMatchObject({ hello: 'ada' });
      for (const gone of ['/api/hello/ada', '/api/hello1/ada', '/api/hello4/ada'])
        expect((await fetch(url(gone))).status).toBe(404);
    });

    it('does not serve the routes of a dry run', async () => {
      await app.apply(
        'entries:\n  - { name: v2, kind: function.js, file: ./functions.js, export: v2 }\n  - { name: v2-endpoint, kind: http.endpoint, router: api, path: /v2, func: v2 }\n',
        { dryRun: true },
      );
      expect((await fetch(url('/api/v2'))).status).toBe(404);
    });
  });

  describe('shutdown', () => {
    it('closes every server', async () => {
      await app.expectAccepted(BASE);
      const port = app.get<HttpServers>(HttpServers).address('test:server')?.port as number;
      await fetch(url('/api/hello/ada'));
      await app.shutdown();
      expect(await portIsFree(port)).toBe(true);
      app = await bootTestApp();
    });
  });
});

describe('HttpServiceConfig', () => {
  it('defaults to a 1 MiB body limit and bounded heads, times and connections', () => {
    expect({
      ...decodeYamlConfig(HttpServiceConfig, 'entries:\n  - { name: s, kind: http.service, addr: ":8080" }\n'),
    }).toEqual({
      addr: ':8080',
      bodyLimit: 1_048_576,
      maxUrlLength: 8_192,
      maxHeaderBytes: 16_384,
      maxHeaders: 100,
      headersTimeoutMs: 10_000,
      requestTimeoutMs: 30_000,
      keepAliveTimeoutMs: 5_000,
      maxConnections: 1_024,
    });
  });

  it('refuses a head time limit longer than the request time limit, at its position', () => {
    expect(() =>
      decodeYamlConfig(
        HttpServiceConfig,
        'entries:\n  - { name: s, kind: http.service, headersTimeoutMs: 20000, requestTimeoutMs: 10000 }\n',
      ),
    ).toThrow(/data\.headersTimeoutMs: headersTimeoutMs \(20000\) must not exceed requestTimeoutMs/);
  });

  it('reads an address without a host as 127.0.0.1', () => {
    expect(parseListenAddress(':8080')).toEqual({ host: '127.0.0.1', port: 8080 });
  });

  it('reads an IPv6 host in brackets', () => {
    expect(parseListenAddress('[::1]:0')).toEqual({ host: '::1', port: 0 });
  });

  it('refuses a port above 65535', () => {
    expect(() => parseListenAddress('127.0.0.1:70000')).toThrow('is not a listen address');
  });

  it('refuses an unknown key with its position', () => {
    expect(() =>
      decodeYamlConfig(HttpServiceConfig, 'entries:\n  - name: s\n    kind: http.service\n    port: 80\n'),
    ).toThrow(/data\.port: .*snippet\.yaml:5/);
  });
});

describe('HttpComponentConfig', () => {
  it("defaults to find-my-way's parameter length, 2,000 ReDoS check steps and ten log lines a minute", () => {
    expect({ ...new HttpComponentConfig() }).toEqual({
      shutdownGraceMs: 2_000,
      maxParamLength: 100,
      regexCheckSteps: 2_000,
      logLinesPerMinute: 10,
    });
  });
});
