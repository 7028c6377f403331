import { spawn } from 'node:child_process';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { cp, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchOnce } from './support/http-client.js';
import { startWatchedRun, type WatchedRun } from './support/watched-run.js';

const root = resolve(import.meta.dirname, '..');
const example = join(root, 'examples/hello');

/** Copies the example to a temp dir, listening on a free port instead of 8080. */
async function copyExample(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'kindling-hello-'));
  await cp(example, dir, { recursive: true });
  const http = join(dir, 'registry/http.yaml');
  await writeFile(http, (await readFile(http, 'utf8')).replace('"127.0.0.1:8080"', '"127.0.0.1:0"'));
  return dir;
}

describe('examples/hello under `kindling run --watch` (in process)', () => {
  let run: WatchedRun;

  beforeAll(async () => {
    run = await startWatchedRun(await copyExample());
  });

  afterAll(async () => {
    expect(await run.stop()).toBe(0);
  });

  it('prints where it listens', () => {
    expect(run.stdout.join('')).toMatch(
      /^hello is running \(registry revision 1, 8 entries\)\n {2}hello:server {2}http:\/\/127\.0\.0\.1:\d+\n/,
    );
  });

  it('serves GET / over real HTTP', async () => {
    const response = await fetchOnce(`${run.base}/`);
    expect(await response.json()).toEqual({ app: 'hello', try: ['GET /hello/:name', 'POST /echo'] });
  });

  it('serves GET /hello/:name with the name from the path', async () => {
    expect(await (await fetchOnce(`${run.base}/hello/Ada?shout=1`)).json()).toEqual({ message: 'HELLO, ADA!' });
  });

  it('serves POST /echo with the JSON body it was sent', async () => {
    const response = await fetchOnce(`${run.base}/echo`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"n":1}',
    });
    expect(await response.json()).toEqual({ received: { n: 1 }, type: 'application/json' });
  });

  it('run.logs each committed change through the example observer', () => {
    expect(run.logs).toContain('info [registry] revision 1: + http.endpoint hello:get-hello');
  });

  it('applies a good YAML edit as one batch and serves it', async () => {
    const outcome = await run.edit('registry/http.yaml', (text) =>
      text.replace('path: /hello/:name', 'path: /greet/:name'),
    );
    expect(outcome).toMatchObject({ status: 'applied', changes: ['~hello:get-hello'] });
    expect((await fetchOnce(`${run.base}/greet/Bo`)).status).toBe(200);
    expect((await fetchOnce(`${run.base}/hello/Bo`)).status).toBe(404);
  });

  it('reloads an edited function file and serves the new version', async () => {
    const outcome = await run.edit('functions/greet.js', (text) =>
      text.replace('`Hello, ${request.params.name}!`', '`Howdy, ${request.params.name}!`'),
    );
    expect(outcome).toMatchObject({ status: 'applied', changes: ['~hello:greet'] });
    expect(await (await fetchOnce(`${run.base}/greet/Cy`)).json()).toEqual({ message: 'Howdy, Cy!' });
  });

  it('refuses a YAML edit that is not valid, printing file:line:col, and keeps serving the previous version', async () => {
    const revision = run.app.registry.revision;
    const outcome = await run.edit('registry/http.yaml', (text) => text.replace('method: POST', 'method: [POST'));
    expect(outcome.status).toBe('refused');
    expect(run.logs.at(-1)).toMatch(
      new RegExp(
        `^error change refused, still serving revision ${revision}:\\n[^]*${join(run.dir, 'registry/http.yaml')}:\\d+:\\d+: `,
      ),
    );
    expect(run.app.registry.revision).toBe(revision);
    expect((await fetchOnce(`${run.base}/echo`, { method: 'POST', body: 'still here' })).status).toBe(200);
    // Undo the edit: the file is back to what was applied, so there is nothing to change.
    expect(
      await run.edit(
        'registry/http.yaml',
        (text) => text.replace('method: [POST', 'method: POST'),
        (outcome) => outcome.status === 'unchanged',
      ),
    ).toMatchObject({ revision: run.app.registry.revision });
  });

  it('refuses a function edit that drops the export, printing file:line:col, and keeps serving the previous version', async () => {
    const outcome = await run.edit('functions/echo.js', (text) =>
      text.replace('export function echo', 'export function echoed'),
    );
    expect(outcome.status).toBe('refused');
    expect(outcome.status === 'refused' && outcome.message).toMatch(
      new RegExp(
        `${join(run.dir, 'registry/functions.yaml')}:\\d+:\\d+: function hello:echo: module \\.\\./functions/echo\\.js has no export "echo"`,
      ),
    );
    const response = await fetchOnce(`${run.base}/echo`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"n":2}',
    });
    expect(await response.json()).toEqual({ received: { n: 2 }, type: 'application/json' });
  });
});

describe('`kindling run` as a subprocess (the `npm start` path)', () => {
  let dir: string;
  let child: ChildProcessWithoutNullStreams | undefined;

  // dist/, what `npm start` runs, was built by the global setup of the integration tests.
  afterAll(async () => {
    child?.kill('SIGKILL');
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  it('boots the example, prints its URL, serves it and stops on SIGINT with exit code 0', async () => {
    dir = await copyExample();
    // The copy lives outside the package: let its `import 'kindling/boot'` find it.
    await mkdir(join(dir, 'node_modules'));
    await symlink(root, join(dir, 'node_modules/kindling'), 'dir');
    child = spawn(process.execPath, [join(root, 'dist/boot/cli/main.js'), 'run', dir], { cwd: root });
    let stdout = '';
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const url = await new Promise<string>((resolve, reject) => {
      child?.stdout.on('data', (chunk: Buffer) => {
        stdout += chunk.toString();
        const found = /http:\/\/127\.0\.0\.1:\d+/.exec(stdout);
        if (found !== null) resolve(found[0]);
      });
      child?.once('exit', (code) => reject(new Error(`exited with ${code}: ${stderr}`)));
    });
    expect(await (await fetchOnce(`${url}/hello/World`)).json()).toEqual({ message: 'Hello, World!' });
    const exit = new Promise<number | null>((resolve) => child?.once('exit', (code) => resolve(code)));
    child.kill('SIGINT');
    expect(await exit).toBe(0);
    expect(stderr).toContain('received SIGINT: shutting down');
    expect(stderr).toMatch(/stopped 5 component\(s\)/);
  });
});
