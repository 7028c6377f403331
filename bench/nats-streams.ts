// What the NATS cases share: whether NATS is there, and removing the JetStream streams their buses made.
import { createConnection } from 'node:net';
import { connect } from 'nats';

/**
 * Deletes the JetStream streams every bus under `prefix` made (each bus makes its channel and
 * dead-letter streams, and each reserves storage on the server).
 */
export async function removeStreams(url: string, prefix: string): Promise<void> {
  const nc = await connect({ servers: url });
  try {
    const jsm = await nc.jetstreamManager();
    const names: string[] = [];
    for await (const stream of jsm.streams.list()) {
      const subjects = stream.config.subjects ?? [];
      if (subjects.length > 0 && subjects.every((subject) => subject.startsWith(`${prefix}.`)))
        names.push(stream.config.name);
    }
    for (const name of names) await jsm.streams.delete(name).catch(() => undefined);
  } finally {
    await nc.close();
  }
}

/** Whether something accepts a TCP connection at the NATS URL's host and port (within a second). */
export function reachable(url: string): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = createConnection({ host: hostname, port: Number(port || 4222) });
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
    socket.setTimeout(1000, () => done(false));
  });
}
