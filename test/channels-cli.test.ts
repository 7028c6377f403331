// `kindling dead-letters` (with each group's pending counts) and `kindling redrive`, driven in
// process through main(), against an app started in this process with a state directory: the CLI
// reaches its durable channels through the admin socket.
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { silentLogger } from 'kindling';
import { Application } from 'kindling/boot';
import { EventBus, type ChannelSubscription } from 'kindling/events';
import { builtinComponents } from 'kindling/components';
import { eventually } from './support/channel-contract.js';
import { runCli } from './support/cli-harness.js';

const fixture = join(import.meta.dirname, 'fixtures', 'cli', 'app');

describe('kindling dead-letters | redrive', () => {
  let dir: string;
  let state: string;
  let app: Application;
  let bus: EventBus;
  let sub: ChannelSubscription;
  let failing = true;
  const handled: string[] = [];

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kindling-chan-'));
    state = await mkdtemp(join(tmpdir(), 'ks-'));
    await cp(fixture, dir, { recursive: true });
    app = await Application.load(dir, { builtins: builtinComponents, logger: silentLogger, stateDir: state });
    await app.start();
    bus = app.boot.context.container.get<EventBus>(EventBus);
    failing = true;
    handled.length = 0;
    sub = await bus.channels.subscribe('orders', {
      group: 'billing',
      maxRetries: 0,
      handler: (m) => {
        if (failing) throw new Error(`billing is down for ${m.id}`);
        handled.push(m.id);
      },
    });
    for (const id of ['o-1', 'o-2', 'o-3']) await bus.channels.send('orders', { id }, { id });
    for (let i = 0; i < 200 && (await bus.channels.deadLetters('orders')).length < 3; i++)
      await new Promise((resolve) => setTimeout(resolve, 5));
  });
  afterEach(async () => {
    await sub.close();
    await app.shutdown();
    await rm(dir, { recursive: true, force: true });
    await rm(state, { recursive: true, force: true });
  });

  it('counts dead letters per channel and pending per group, and lists the dead letters of one', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    // A group that joins late gets the messages still kept: one in hand, two waiting.
    const shipping = await bus.channels.subscribe('orders', { group: 'shipping', maxInFlight: 1, handler: () => gate });
    try {
      const counts = await runCli(['dead-letters', dir, '--state-dir', state]);
      expect(counts).toMatchObject({
        code: 0,
        out:
          'orders  3 dead letters\n' +
          '  group billing  0 waiting, 0 in flight\n' +
          '  group shipping  2 waiting, 1 in flight\n',
      });
    } finally {
      release();
      await shipping.close();
    }
    const listed = await runCli(['dead-letters', dir, 'orders', '--state-dir', state, '--json']);
    expect(listed.code).toBe(0);
    expect((JSON.parse(listed.out) as { id: string; error: string }[]).map((l) => [l.id, l.error])).toEqual([
      ['o-1', 'billing is down for o-1'],
      ['o-2', 'billing is down for o-2'],
      ['o-3', 'billing is down for o-3'],
    ]);
  });

  it('re-drives by id, then all; refuses without saying which', async () => {
    failing = false;
    const none = await runCli(['redrive', dir, 'orders', '--state-dir', state]);
    expect(none.code).toBe(2);
    expect(none.err).toContain('say which dead letters');
    const one = await runCli(['redrive', dir, 'orders', '--id', 'o-2', '--state-dir', state]);
    expect(one).toMatchObject({ code: 0, out: 're-drove 1 dead letter of channel orders: o-2\n' });
    const old = await runCli(['redrive', dir, 'orders', '--older-than', '1h', '--state-dir', state]);
    expect(old).toMatchObject({ code: 0, out: 're-drove 0 dead letters of channel orders\n' });
    const all = await runCli(['redrive', dir, 'orders', '--all', '--state-dir', state]);
    expect(all).toMatchObject({ code: 0, out: 're-drove 2 dead letters of channel orders: o-1, o-3\n' });
    await eventually(() => handled.length === 3, 'the re-driven messages');
    expect(handled.sort()).toEqual(['o-1', 'o-2', 'o-3']);
    expect(await runCli(['dead-letters', dir, '--state-dir', state])).toMatchObject({
      code: 0,
      out: 'orders  no dead letters\n  group billing  0 waiting, 0 in flight\n',
    });
  });
});
