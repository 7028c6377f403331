// The bus says at info when it has joined NATS, and again when a dropped connection came back:
// before, only failures were logged, and a healthy node said nothing about where it was.
import { afterEach, describe, expect, it } from 'vitest';
import { NatsTransport } from 'kindling/nats';
import { createEventBus, type EventBus } from 'kindling/events';
import { LogCapture } from './support/log-capture.js';
import { NATS_URL, removeStreams, skipNats, uniquePrefix } from './support/nats-harness.js';

const AT = new URL(NATS_URL).host;

describe.skipIf(skipNats)('NatsTransport: the connect and reconnect log lines', () => {
  let bus: EventBus | undefined;
  let prefix = '';

  afterEach(async () => {
    await bus?.stop();
    bus = undefined;
    await removeStreams(prefix);
  });

  it('logs one info line on connect naming the server, the node and JetStream, and one per reconnect', async () => {
    prefix = uniquePrefix();
    const log = new LogCapture();
    const transport = new NatsTransport({ url: NATS_URL, prefix, logger: log, reconnectTimeWaitMs: 50 });
    bus = createEventBus({ nodeID: 'logged-1', transport, logger: log });
    await bus.start();
    const connected = log.lines.filter((line) => / to NATS at /.test(line));
    expect(connected).toEqual([`info connected to NATS at nats://${AT} as node logged-1 (JetStream: on)`]);

    const from = log.mark();
    const reconnected = new Promise<void>((resolve) => {
      const off = bus?.on('$transporter.connected', (payload) => {
        if ((payload as { reconnected?: boolean }).reconnected !== true) return;
        off?.dispose();
        resolve();
      });
    });
    // Drops and re-opens this client's socket only: the shared server is untouched.
    await transport.connection?.reconnect();
    await reconnected;
    expect(await log.waitFor(/ to NATS at /, from)).toBe(
      `info reconnected to NATS at nats://${AT} as node logged-1 (JetStream: on)`,
    );
    expect(log.lines.slice(from).filter((line) => / to NATS at /.test(line))).toHaveLength(1);
  });

  // The link asks nats.js to hold 256 KiB before writing mid-turn (one socket write for a turn of a
  // thousand small events instead of five). The option is read by nats.js but not in its types: an
  // upgrade that drops it would only cost speed, silently, so this says so.
  it('connects with the write threshold it asked nats.js for', async () => {
    prefix = uniquePrefix();
    const transport = new NatsTransport({ url: NATS_URL, prefix, logger: new LogCapture() });
    bus = createEventBus({ nodeID: 'threshold-1', transport, logger: new LogCapture() });
    await bus.start();
    const protocol = (transport.connection as unknown as { protocol?: { pendingLimit?: unknown } }).protocol;
    expect(protocol?.pendingLimit).toBe(256 * 1024);
  });
});
