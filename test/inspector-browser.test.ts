// The inspector in a real browser: `kindling run --inspect` on a copy of examples/hello (the compiled
// CLI, a child process), its page in headless Chromium. The page lists the example's entries, shows
// the revision a real `kindling apply` makes and the bus event it sends, and nothing is served
// without the token. The channels view, on an inspector in this process, follows pending counts live.
import { spawn } from 'node:child_process';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BrowserContext, Page } from 'playwright-core';
import { HandlerRegistry, Registry, silentLogger } from 'kindling';
import { DefaultEventBus } from 'kindling/events';
import { Inspector } from '../boot/inspector/inspector-server.js';
import { busyOrders } from './support/busy-channel.js';
import { cliPath, copyHello, kindling, root, stateDir } from './support/cli-harness.js';
import { launchChromium, skipChromium } from './support/chromium.js';

/** `kindling run <dir> --inspect 0` up and serving: the inspector's address and the process. */
async function runInspected(
  dir: string,
  state: string,
): Promise<{ child: ChildProcessWithoutNullStreams; url: string; output: { out: string; err: string } }> {
  const child = spawn(process.execPath, [cliPath, 'run', dir, '--state-dir', state, '--inspect', '0'], {
    cwd: root,
    env: { ...process.env, NO_COLOR: '1' },
  });
  const output = { out: '', err: '' };
  child.stderr.on('data', (chunk: Buffer) => (output.err += chunk.toString()));
  return new Promise((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      output.out += chunk.toString();
      const url = /inspector {2}(http:\/\/127\.0\.0\.1:\d+\/[\w-]+\/)/.exec(output.out)?.[1];
      if (url !== undefined && output.out.includes('press Ctrl-C to stop')) resolve({ child, url, output });
    });
    child.once('exit', (code) =>
      reject(new Error(`kindling run exited with ${code} before it was up:\n${output.out}${output.err}`)),
    );
  });
}

describe.skipIf(skipChromium)('the inspector page in Chromium', () => {
  let dir: string;
  let state: string;
  let app: Awaited<ReturnType<typeof runInspected>>;
  let browser: Awaited<ReturnType<typeof launchChromium>>;
  let context: BrowserContext;

  beforeAll(async () => {
    dir = await copyHello();
    state = await stateDir();
    app = await runInspected(dir, state);
    browser = await launchChromium();
    context = browser.context;
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    if (app !== undefined && app.child.exitCode === null) {
      const exited = new Promise((resolve) => app.child.once('exit', resolve));
      app.child.kill('SIGINT');
      await exited;
    }
    await rm(dir, { recursive: true, force: true });
    await rm(state, { recursive: true, force: true });
  }, 30_000);

  async function open(hash = ''): Promise<Page> {
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    await page.goto(app.url + hash);
    await page.waitForSelector('#status.live');
    expect(errors).toEqual([]);
    return page;
  }

  it("lists the example's entries, and shows one with its data and where it was declared", async () => {
    const page = await open();
    await expect.poll(() => page.locator('#entry-list .row').count()).toBe(8);
    const ids = await page.locator('#entry-list .row .id').allTextContents();
    expect(ids).toEqual([
      'hello:echo',
      'hello:get-hello',
      'hello:get-home',
      'hello:greet',
      'hello:home',
      'hello:post-echo',
      'hello:server',
      'hello:site',
    ]);
    await page.fill('#f-kind', 'http.*');
    await expect.poll(() => page.locator('#entry-list .row').count()).toBe(5);
    await page.click('text=hello:server');
    await page.waitForSelector('#entry-detail h2');
    expect(await page.textContent('#entry-detail')).toContain('declared at registry/http.yaml:5:5');
    expect(await page.textContent('#entry-detail .entry-data')).toContain('"addr": "127.0.0.1:0"');
    await page.close();
  });

  it('shows the revision of a real `kindling apply` and the event it sent, live', async () => {
    const entries = await open();
    const events = await open('#events');
    await events.fill('#f-pattern', 'registry.**');
    await events.click('#tail-apply');
    await events.locator('#tail-count', { hasText: 'following registry.**' }).waitFor();
    const http = join(dir, 'registry/http.yaml');
    await writeFile(http, (await readFile(http, 'utf8')).replace('path: /hello/:name', 'path: /hi/:name'));
    const applied = await kindling(['apply', dir, '--state-dir', state]);
    expect(applied.err).toBe('');
    expect(applied.out).toContain('applied revision 2');
    // Pushed over the stream: no reload, no poll.
    await entries.locator('#revision', { hasText: /^revision 2$/ }).waitFor({ timeout: 1_000 });
    await events.locator('#tail-rows tr', { hasText: 'registry.entry.update' }).first().waitFor({ timeout: 1_000 });
    expect(await events.textContent('#tail-rows')).toContain('hello:get-hello');
    // The revision's diff names the changed field, before and after.
    await entries.evaluate("location.hash = '#revision/2'");
    await entries.waitForSelector('#revision-detail .diff');
    const diff = await entries.textContent('#revision-detail');
    expect(diff).toContain('hello:get-hello');
    expect(diff).toContain('data.path');
    expect(diff).toContain('"/hello/:name"');
    expect(diff).toContain('"/hi/:name"');
    await entries.close();
    await events.close();
  });

  it('shows pending messages per channel group beside dead letters, and follows them live', async () => {
    // An inspector in this process, over a bus whose channels this test drives.
    const bus = new DefaultEventBus({ nodeID: 'channels-1' });
    const registry = new Registry({ handlers: new HandlerRegistry(), acceptKinds: ['config.*'], events: bus });
    const inspector = await Inspector.start({
      name: 'channels',
      registry,
      bus,
      logger: silentLogger,
      limits: { pollMs: 50 },
    });
    let release = (): void => {};
    try {
      release = await busyOrders(bus.channels, 2, 5);
      const page = await context.newPage();
      await page.goto(`${inspector.url}#channels`);
      await page.waitForSelector('#status.live');
      const billing = page.locator('#channel-rows tr[data-group="billing"]');
      const audit = page.locator('#channel-rows tr[data-group="audit"]');
      const pending = async (): Promise<string> =>
        `${await billing.locator('td.waiting').textContent()} waiting, ${await billing.locator('td.in-flight').textContent()} in flight`;
      await expect.poll(pending).toBe('3 waiting, 2 in flight');
      await expect.poll(() => audit.locator('td.letters').textContent()).toBe('5');
      expect(await page.textContent('#channel-summary')).toContain('5 messages pending (3 waiting, 2 in flight)');
      // Pushed over the stream as the handlers finish: no reload.
      release();
      await expect.poll(pending).toBe('0 waiting, 0 in flight');
      await page.click('#channel-rows a');
      await page.locator('#channel-detail .error', { hasText: 'no audit today' }).first().waitFor();
      await page.close();
    } finally {
      release();
      await inspector.close();
      await bus.stop();
    }
  });

  it('serves nothing without the token', async () => {
    const { origin } = new URL(app.url);
    const token = new URL(app.url).pathname.slice(1, -1);
    const page = await context.newPage();
    for (const path of [
      '/',
      `/${token.slice(0, -1)}/`,
      `/${token}x/api/entries`,
      '/api/entries',
      `/${token.toUpperCase()}/`,
    ]) {
      const response = await page.goto(origin + path);
      expect(response?.status()).toBe(404);
      const body = await response?.text();
      expect(body).toBe('not found');
    }
    await page.close();
    // The app kept running through all of it.
    const ok = await fetch(`${app.url}api/entries`);
    expect(ok.status).toBe(200);
    expect(((await ok.json()) as { revision: number }).revision).toBe(2);
  });
});
