// The process-level guarantee of `kindling run`, on a real child process: a fault in a request or a
// function — including the ones no try/catch reaches (a rejection nobody handles, a throw in a timer)
// — is logged with its entry id, and the next request is answered. Nothing here kills the app.
import { cp, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RunningApp, kindling, root, stateDir } from './support/cli-harness.js';
import { rawRequest, sendRaw } from './support/raw-http.js';

const FIXTURE = join(import.meta.dirname, 'fixtures/hostile/http/app');

/** A copy of the fixture app in a temp dir, able to import `kindling`. */
async function copyApp(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'kindling-hostile-'));
  await cp(FIXTURE, dir, { recursive: true });
  await mkdir(join(dir, 'node_modules'));
  await symlink(root, join(dir, 'node_modules/kindling'), 'dir');
  return dir;
}

/** Resolves with the first stderr line of `app` after offset `from` that matches `pattern` (rejects if the app exits first). */
function logLine(app: RunningApp, pattern: RegExp, from: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const check = (): boolean => {
      const line = app.output.err
        .slice(from)
        .split('\n')
        .find((text) => pattern.test(text));
      if (line === undefined) return false;
      app.child.stderr.off('data', check);
      app.child.off('exit', exited);
      resolve(line);
      return true;
    };
    const exited = (): void =>
      reject(new Error(`the app exited before logging ${String(pattern)}:\n${app.output.err.slice(from)}`));
    if (check()) return;
    app.child.stderr.on('data', check);
    app.child.once('exit', exited);
  });
}

describe('ProcessGuard', () => {
  describe('in kindling run', () => {
    let dir: string;
    let state: string;
    let app: RunningApp;
    let port: number;

    const get = async (path: string): Promise<{ status: number | undefined; body: string }> => {
      const { status, body } = await sendRaw(port, rawRequest(`GET ${path} HTTP/1.1`, ['Connection: close']));
      return { status, body };
    };

    beforeAll(async () => {
      dir = await copyApp();
      state = await stateDir();
      app = await RunningApp.start(dir, state);
      port = Number(new URL(app.url).port);
    });
    afterAll(async () => {
      expect(await app.stop()).toBe(0);
      await rm(dir, { recursive: true, force: true });
      await rm(state, { recursive: true, force: true });
    });

    it.each([
      { path: '/floating', entry: 'floating', how: 'an unhandled rejection', fault: 'Error: a floating rejection' },
      {
        path: '/timer-throw',
        entry: 'timer-throw',
        how: 'an uncaught exception',
        fault: 'Error: a throw inside a timer',
      },
      {
        path: '/immediate-throw',
        entry: 'immediate-throw',
        how: 'an uncaught exception',
        fault: 'Error: a throw inside setImmediate',
      },
      {
        path: '/tick-throw',
        entry: 'tick-throw',
        how: 'an uncaught exception',
        fault: 'Error: a throw inside process.nextTick',
      },
      {
        path: '/later-rejection',
        entry: 'later-rejection',
        how: 'an unhandled rejection',
        fault: 'Error: a rejection from a later timer',
      },
      {
        path: '/proxy-rejection',
        entry: 'proxy-rejection',
        how: 'an unhandled rejection',
        fault: 'a thrown object: {}',
      },
    ])(
      'logs $how of function $entry with its entry id and endpoint, and serves the next request',
      async ({ path, entry, how, fault }) => {
        const from = app.output.err.length;
        expect(await get(path)).toEqual({ status: 200, body: 'answered' });
        const line = await logLine(
          app,
          new RegExp(`fault in function hostile:${entry} \\(endpoint hostile:get-${entry}\\), ${how}: `),
          from,
        );
        expect(line).toContain(fault);
        expect(line).toMatch(/the app keeps serving \(\d+ faults? so far\)/);
        expect(await get('/ok')).toEqual({ status: 200, body: 'ok' });
      },
    );

    it('attributes a throw from a timer the module set at import (no call context) by its stack frame', async () => {
      const from = app.output.err.length;
      expect((await get('/armed')).status).toBe(200);
      const line = await logLine(app, /fault in function hostile:armed, an uncaught exception: /, from);
      expect(line).toContain('Error: a throw in an interval the module set at import');
      expect(line).toMatch(/functions\/armed\.js\?v=[0-9a-f]+:\d+:\d+/);
      expect(await get('/ok')).toEqual({ status: 200, body: 'ok' });
    });

    it('logs a fault of a component (no entry) as an internal fault with its stack, and serves the next request', async () => {
      const from = app.output.err.length;
      expect((await get('/arm-component')).status).toBe(200);
      await logLine(
        app,
        /internal fault \(not attributed to an entry\), an uncaught exception: Error: fault-probe: a throw in a component timer/,
        from,
      );
      expect(app.output.err.slice(from)).toMatch(/fault-probe\.js:\d+:\d+/);
      expect(await get('/ok')).toEqual({ status: 200, body: 'ok' });
    });

    it.each([
      {
        name: 'the //[/ request target that new URL threw on (issue 12)',
        request: rawRequest('GET //[/ HTTP/1.1', ['Connection: close']),
        status: 404,
      },
      {
        name: 'the absolute-form target with port 99999 (issue 12)',
        request: rawRequest('GET http://x:99999/ HTTP/1.1', ['Connection: close']),
        status: 400,
      },
    ])('answers $name and serves the next request', async ({ request, status }) => {
      expect((await sendRaw(port, request)).status).toBe(status);
      expect(await get('/ok')).toEqual({ status: 200, body: 'ok' });
    });
  });

  describe('while kindling run starts', () => {
    it('fails the start with exit 1 on a fault no entry explains', async () => {
      const dir = await copyApp();
      const state = await stateDir();
      try {
        const manifest = join(dir, 'kindling.yaml');
        await writeFile(
          manifest,
          (await readFile(manifest, 'utf8')).replace(
            '  - module: ./fault-probe.js\n',
            '  - module: ./fault-probe.js\n    config: { atBoot: true }\n',
          ),
        );
        const result = await kindling(['run', dir, '--state-dir', state]);
        expect(result.code).toBe(1);
        expect(result.err).toMatch(
          /internal fault \(not attributed to an entry\), an unhandled rejection: Error: fault-probe: a rejection nobody handles, while starting/,
        );
        expect(result.err).toMatch(/error: hostile did not start: 1 internal fault while starting \(logged above\)/);
      } finally {
        await rm(dir, { recursive: true, force: true });
        await rm(state, { recursive: true, force: true });
      }
    });
  });
});
