// examples/shop end to end: `kindling run --watch` on a copy of the example, driven over HTTP, with
// hot edits of each reactive kind. Three real nodes of a cluster on NATS are in example-shop-cluster.test.ts.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ReloadOutcome } from 'kindling/boot';
import { main } from '../boot/cli/main.js';
import { fetchOnce } from './support/http-client.js';
import { copyShop } from './support/shop-copy.js';
import { startWatchedRun, type WatchedRun } from './support/watched-run.js';

interface Order {
  readonly id: string;
  readonly status: string;
  readonly customer?: string;
  readonly error?: string;
}

/** Polls `read` until `check` holds (the test's timeout bounds it; no wall-time assertion). */
async function until<T>(read: () => Promise<T> | T, check: (value: T) => boolean): Promise<T> {
  for (;;) {
    const value = await read();
    if (check(value)) return value;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const tea = { customer: 'ada', card: '4242 4242 4242 4242', items: [{ sku: 'tea', qty: 2, price: 3.5 }] };
const declined = { customer: 'bo', card: '4000 0000 0000 0002', items: [{ sku: 'mug', qty: 1, price: 9 }] };

describe('examples/shop under `kindling run --watch` (in process)', () => {
  let run: WatchedRun;

  /** {@link WatchedRun.edit}, checking that the change changes the file. */
  function edit(path: string, change: (text: string) => string): Promise<ReloadOutcome> {
    return run.edit(path, (before) => {
      const after = change(before);
      expect(after).not.toBe(before);
      return after;
    });
  }

  const post = async (body: unknown): Promise<{ status: number; body: Record<string, unknown> }> => {
    const response = await fetchOnce(`${run.base}/orders`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };
  const orders = async (): Promise<Record<string, Order[]>> =>
    (await (await fetchOnce(`${run.base}/orders`)).json()) as Record<string, Order[]>;
  const statusOf = async (id: string): Promise<Order | undefined> =>
    Object.values(await orders())
      .flat()
      .find((order) => order.id === id);
  const totals = (): string[] => run.logs.filter((line) => / totals(?: \([^)]*\))? at \S+: /.test(line));

  beforeAll(async () => {
    run = await startWatchedRun(await copyShop());
  });

  afterAll(async () => {
    expect(await run.stop()).toBe(0);
  });

  it('boots the whole shop from its manifest', () => {
    expect(run.stdout.join('')).toMatch(
      /^shop is running \(registry revision 1, 15 entries\)\n {2}shop:server {2}http:\/\/127\.0\.0\.1:\d+\n/,
    );
  });

  it('takes an order, confirms it, and the payments consumer and the view listener mark it paid', async () => {
    const placed = await post(tea);
    expect(placed).toMatchObject({ status: 202, body: { status: 'pending', total: 7 } });
    const id = String(placed.body['id']);
    const order = await until(
      () => statusOf(id),
      (found) => found?.status === 'paid',
    );
    expect(order).toMatchObject({ id, customer: 'ada', status: 'paid' });
    expect(run.logs).toContain(`info charged 7.00 for ${id}`);
    expect(run.logs).toContain(`info confirmation of ${id} sent to ada`);
  });

  it('refuses an invalid order with the problems, and places nothing', async () => {
    const before = Object.values(await orders()).flat().length;
    const refused = await post({ customer: '', card: 'x', items: [{ sku: 'tea', qty: 0, price: 1 }] });
    expect(refused).toEqual({
      status: 400,
      body: {
        error: 'invalid order',
        problems: [
          'customer must be a non-empty string',
          'card must be a card number',
          'items[0].qty must be a whole number of at least 1',
        ],
      },
    });
    expect(Object.values(await orders()).flat()).toHaveLength(before);
  });

  it('retries a declined card, dead-letters it with the error, and the order fails', async () => {
    const id = String((await post(declined)).body['id']);
    const order = await until(
      () => statusOf(id),
      (found) => found?.status === 'failed',
    );
    expect(order?.error).toBe('card ending 0002 declined (attempt 3)');
    let out = '';
    const code = await main(['dead-letters', run.dir, 'payments', '--json'], {
      stdout: (text) => void (out += text),
      stderr: (text) => void (out += text),
      handleSignals: false,
    });
    expect(code).toBe(0);
    const letters = JSON.parse(out) as { id: string; group: string; error: string; attempts: number }[];
    expect(letters.find((letter) => letter.id === id)).toMatchObject({
      group: 'shop:payments',
      attempts: 3,
      error: expect.stringContaining('card ending 0002 declined (attempt 3)'),
    });
  });

  it('reports the totals on its timer', async () => {
    const [line] = await until(totals, (lines) => lines.some((l) => l.includes('paid 1') && l.includes('failed 1')));
    expect(line).toMatch(
      /^info totals at \d{4}-\d\d-\d\dT[\d:.]+Z: \d+ orders \(paid \d+, pending \d+, failed \d+\), revenue \d+\.\d\d$/,
    );
  });

  it('applies an edit of the timer at once', async () => {
    const outcome = await edit('registry/reactive.yaml', (text) =>
      text.replace('    overlap: skip\n', '    overlap: skip\n    input: { label: edited }\n'),
    );
    expect(outcome).toMatchObject({ status: 'applied', changes: ['~shop:totals'] });
    await until(totals, (lines) => lines.some((line) => line.startsWith('info totals (edited) at ')));
  });

  it('refuses a bad cron expression with file:line:col and the entry, and the timer keeps its schedule', async () => {
    const revision = run.app.registry.revision;
    const outcome = await edit(
      'registry/reactive.yaml',
      (text) => `${text}\n  - { name: nightly, kind: timer.cron, cron: "0 25 * * *", func: report-totals }\n`,
    );
    expect(outcome.status).toBe('refused');
    const message = outcome.status === 'refused' ? outcome.message : '';
    expect(message).toContain('entry shop:nightly (kind timer.cron)');
    expect(message).toMatch(
      new RegExp(
        `data\\.cron: "0 25 \\* \\* \\*" is not a cron schedule croner reads: .*hour: 25 \\(${join(run.dir, 'registry/reactive.yaml')}:\\d+:\\d+\\)`,
      ),
    );
    expect(run.app.registry.revision).toBe(revision);
    const seen = totals().length;
    await until(totals, (lines) => lines.length >= seen + 2);
  });

  it('applies an edit of the consumer: fewer retries dead-letter a declined card sooner', async () => {
    // Undo the refused edit first (nothing to apply), then lower the retries.
    const outcome = await edit('registry/reactive.yaml', (text) =>
      text.replace(/\n {2}- \{ name: nightly.*\n$/, '\n').replace('maxRetries: 2', 'maxRetries: 0'),
    );
    expect(outcome).toMatchObject({ status: 'applied', changes: ['~shop:payments'] });
    const id = String((await post(declined)).body['id']);
    const order = await until(
      () => statusOf(id),
      (found) => found?.status === 'failed',
    );
    expect(order?.error).toBe('card ending 0002 declined (attempt 1)');
  });

  it('applies an edit of the listener: a pattern that no longer matches order.status leaves new orders out of the view', async () => {
    const outcome = await edit('registry/reactive.yaml', (text) =>
      text.replace('pattern: order.status', 'pattern: order.state'),
    );
    expect(outcome).toMatchObject({ status: 'applied', changes: ['~shop:orders-view'] });
    const id = String((await post(tea)).body['id']);
    await until(
      () => run.logs,
      (lines) => lines.includes(`info charged 7.00 for ${id}`),
    );
    // Both statuses were broadcast before the charge was logged, and no listener matches them any more.
    expect(await statusOf(id)).toBeUndefined();
    const back = await edit('registry/reactive.yaml', (text) =>
      text.replace('pattern: order.state', 'pattern: order.status'),
    );
    expect(back).toMatchObject({ status: 'applied', changes: ['~shop:orders-view'] });
  });
});
