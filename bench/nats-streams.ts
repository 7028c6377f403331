// What the NATS cases share: removing the JetStream streams their buses made.
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
