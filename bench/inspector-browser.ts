// The inspector in headless Chromium, outside the test suite (it needs Debian's chromium):
//
//   npm run bench:inspector   measures the page with 10,000 entries and 1,000 bus events a second:
//                             the entry list's first render and a filter over it, the rows kept in
//                             the DOM, and whether the event tail keeps up (events shown, dropped,
//                             the longest frame while they stream)
//   npm run screenshots       writes docs/images/inspector-*.png, one per view, from examples/hello
//
// Both run against dist/ (built first by the npm scripts).
import { cp, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import type { Page } from 'playwright-core';
import { HandlerRegistry, Registry, silentLogger } from 'kindling';
import type { RegistryOp } from 'kindling';
import { DefaultEventBus, EventBus } from 'kindling/events';
import { Application } from 'kindling/boot';
import { builtinComponents } from 'kindling/components';
import { Inspector } from '../dist/boot/inspector/inspector-server.js';
import { inspectApplication } from '../dist/boot/inspector/inspect-app.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const CHROMIUM = process.env['KINDLING_CHROMIUM'] ?? '/usr/bin/chromium';
const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Waits until `expression` is true in the page, asked from here: the page's CSP allows no eval,
 * which Playwright's waitForFunction polling needs.
 */
async function until(page: Page, expression: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await page.evaluate(expression))) {
    if (Date.now() > deadline) throw new Error(`not true within ${timeoutMs} ms: ${expression}`);
    await sleep(25);
  }
}

/** Runs `run` with a page of a fresh headless Chromium (a new user-data-dir, removed afterwards). */
async function withPage<T>(viewport: { width: number; height: number }, run: (page: Page) => Promise<T>): Promise<T> {
  const profile = await mkdtemp(join(tmpdir(), 'kindling-chromium-'));
  const context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, args: ARGS, viewport });
  try {
    return await run(await context.newPage());
  } finally {
    await context.close();
    await rm(profile, { recursive: true, force: true });
  }
}

// ---- measure -------------------------------------------------------------------------------------

const ENTRIES = 10_000;
const EVENTS_PER_SECOND = 1_000;
const SECONDS = 10;

async function measure(): Promise<void> {
  const bus = new DefaultEventBus({ nodeID: 'bench', logger: silentLogger });
  const registry = new Registry({ handlers: new HandlerRegistry(), acceptKinds: ['config.*'], events: bus });
  const ops: RegistryOp[] = [];
  for (let i = 0; i < ENTRIES; i++) {
    const id = String(i).padStart(5, '0');
    ops.push({
      op: 'create',
      entry: { id: `app.ns${i % 20}:item-${id}`, kind: `config.kind${i % 7}`, data: { n: i, label: `item ${id}` } },
    });
  }
  await registry.apply(ops);
  const inspector = await Inspector.start({ name: 'bench', registry, bus, logger: silentLogger });
  try {
    await withPage({ width: 1280, height: 760 }, async (page) => {
      await page.goto(inspector.url);
      await until(page, 'window.kindlingInspector.timings.firstListRender !== null');
      const load = await page.evaluate<{ first: number; loaded: number; draw: number; rows: number }>(
        '({ first: window.kindlingInspector.timings.firstListRender, loaded: window.kindlingInspector.timings.entriesLoaded, draw: window.kindlingInspector.timings.lastListRenderMs, rows: document.querySelectorAll("#entry-list .row").length })',
      );
      await page.fill('#f-text', 'item-0999');
      const filter = await page.evaluate<number>('window.kindlingInspector.timings.lastListRenderMs');
      const filtered = await page.locator('#entry-list .row').count();
      await page.fill('#f-text', '');
      await page.evaluate('document.getElementById("entry-list").scrollTop = 1e9');
      await sleep(200);
      const bottomRows = await page.locator('#entry-list .row').count();
      const lastId = await page.locator('#entry-list .row .id').last().textContent();
      console.log(`entry list, ${ENTRIES.toLocaleString('en')} entries:`);
      console.log(
        `  page load to the first list render   ${load.first.toFixed(0)} ms (entries fetched and parsed at ${load.loaded.toFixed(0)} ms)`,
      );
      console.log(
        `  filter and draw of the full list      ${load.draw.toFixed(1)} ms; a text filter: ${filter.toFixed(1)} ms (${filtered} rows)`,
      );
      console.log(
        `  rows in the DOM                       ${load.rows} at the top, ${bottomRows} at the bottom (last: ${lastId})`,
      );

      await page.evaluate('location.hash = "#events"');
      await page.fill('#f-pattern', 'load.**');
      await page.click('#tail-apply');
      await until(page, 'document.querySelector("#tail-count").textContent.includes("following load.**")');
      // The longest gap between two frames while events stream: how long the page could not react.
      await page.evaluate(
        'window.frames_ = []; (function tick(t) { window.frames_.push(t); if (window.frames_.length < 100000) requestAnimationFrame(tick); })(performance.now())',
      );
      let sent = 0;
      const started = Date.now();
      while (Date.now() - started < SECONDS * 1000) {
        const due = Math.floor(((Date.now() - started) / 1000) * EVENTS_PER_SECOND);
        for (; sent < due; sent++) bus.emit(`load.tick.k${sent % 10}`, { n: sent, at: Date.now(), note: 'a payload' });
        await sleep(5);
      }
      await sleep(1_000);
      const tail = await page.evaluate<{
        received: number;
        dropped: number;
        rows: number;
        worst: number;
        frames: number;
        heap: number;
      }>(
        '(() => { const f = window.frames_; let worst = 0; for (let i = 1; i < f.length; i++) worst = Math.max(worst, f[i] - f[i - 1]); const s = window.kindlingInspector.state; return { received: s.received, dropped: s.dropped, rows: document.querySelectorAll("#tail-rows tr").length, worst, frames: f.length, heap: performance.memory ? performance.memory.usedJSHeapSize : 0 }; })()',
      );
      console.log(
        `event tail, ${EVENTS_PER_SECOND.toLocaleString('en')} events/s for ${SECONDS} s (${sent.toLocaleString('en')} sent):`,
      );
      console.log(
        `  shown ${tail.received.toLocaleString('en')}, dropped ${tail.dropped}; rows in the DOM ${tail.rows}`,
      );
      console.log(
        `  longest frame ${tail.worst.toFixed(0)} ms over ${tail.frames} frames; JS heap ${(tail.heap / 2 ** 20).toFixed(1)} MiB`,
      );
    });
  } finally {
    await inspector.close();
    await bus.stop();
  }
}

// ---- screenshots ---------------------------------------------------------------------------------

async function screenshots(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'kindling-shots-'));
  await cp(join(root, 'examples/hello'), dir, { recursive: true });
  const httpYaml = join(dir, 'registry/http.yaml');
  await writeFile(httpYaml, (await readFile(httpYaml, 'utf8')).replace('"127.0.0.1:8080"', '"127.0.0.1:0"'));
  await mkdir(join(dir, 'node_modules'));
  await symlink(root, join(dir, 'node_modules/kindling'), 'dir');
  const app = await Application.load(dir, { builtins: builtinComponents, logger: silentLogger });
  await app.start();
  const inspector = await inspectApplication(app);
  let ship = (): void => {};
  const shipped = new Promise<void>((resolve) => (ship = resolve));
  const out = join(root, 'docs/images');
  await mkdir(out, { recursive: true });
  try {
    // A second revision with a diff: the greeting's route renamed, as an edit and a reload would.
    await writeFile(httpYaml, (await readFile(httpYaml, 'utf8')).replace('path: /hello/:name', 'path: /hi/:name'));
    await app.reload();
    // Two dead letters in a durable channel whose billing handler always fails.
    const bus = app.boot.context.container.get<EventBus>(EventBus);
    await bus.channels.subscribe('orders', {
      group: 'billing',
      maxRetries: 0,
      handler: () => {
        throw new Error('the card was declined');
      },
    });
    // A shipping group busy with the first order: the other waits behind it.
    await bus.channels.subscribe('orders', { group: 'shipping', maxInFlight: 1, handler: () => shipped });
    await bus.channels.send('orders', { order: 1041, total: 18.5 }, { id: 'order-1041' });
    await bus.channels.send('orders', { order: 1042, total: 7 }, { id: 'order-1042' });
    await withPage({ width: 1280, height: 640 }, async (page) => {
      const shot = async (name: string, prepare: (page: Page) => Promise<void>): Promise<void> => {
        await prepare(page);
        await sleep(400);
        await page.screenshot({ path: join(out, `inspector-${name}.png`) });
        console.log(`docs/images/inspector-${name}.png`);
      };
      await page.goto(`${inspector.url}#entry/hello%3Aget-hello`);
      await page.waitForSelector('#status.live');
      await shot('entries', async (p) => {
        await p.fill('#f-kind', 'http.*');
        await p.waitForSelector('#entry-detail h2');
      });
      await shot('revisions', async (p) => {
        await p.evaluate('location.hash = "#revision/2"');
        await p.waitForSelector('#revision-detail .diff');
      });
      await shot('events', async (p) => {
        await p.evaluate('location.hash = "#events"');
        await until(p, 'document.querySelector("#tail-count").textContent.includes("following")');
        for (const name of ['Ada', 'Grace', 'Edsger']) bus.emit('user.greeted', { name, route: '/hi/:name' });
        await app.registry.apply([
          {
            op: 'update',
            entry: {
              id: 'hello:get-home',
              kind: 'http.endpoint',
              data: { router: 'site', method: 'GET', path: '/', func: 'home' },
            },
          },
        ]);
        await until(p, 'document.querySelectorAll("#tail-rows tr").length >= 4');
      });
      await shot('nodes', async (p) => {
        await p.evaluate('location.hash = "#nodes"');
        await p.waitForSelector('#node-rows tr');
      });
      await shot('channels', async (p) => {
        await p.evaluate('location.hash = "#channels"');
        await p.waitForSelector('#channel-rows a');
        await p.click('#channel-rows a');
        await p.waitForSelector('#channel-detail h2');
      });
    });
  } finally {
    ship();
    await inspector.close();
    await app.shutdown('screenshots taken');
    await rm(dir, { recursive: true, force: true });
  }
}

const mode = process.argv[2];
if (mode === 'measure') await measure();
else if (mode === 'screenshots') await screenshots();
else {
  console.error('usage: node dist-bench/inspector-browser.js measure | screenshots');
  process.exitCode = 2;
}
