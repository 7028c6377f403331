// The JetStream streams the tests leave on the shared NATS server. A bus's channel streams reserve
// their byte limit (1.25 GiB a bus by default) whether or not they hold anything, so streams left
// by runs that crashed, or by a test that forgot to delete its own, add up until the server refuses
// new ones ("insufficient storage resources available"). Every test prefix carries its run's tag
// (see uniquePrefix): a run deletes its own streams when it ends, and streams of runs that ended
// long ago when it begins, leaving runs that go on beside it alone.
import { randomBytes } from 'node:crypto';

/** The environment variable that carries a test run's tag to its workers. */
export const RUN_TAG_VARIABLE = 'KINDLING_TEST_RUN';

/** A stream of a run this old has outlived any test run: it was left behind. */
const STALE_MS = 6 * 3600 * 1000;

/** The tag of this test run (4 hex digits), made once by the global setup. */
export function runTag(): string {
  const tag = process.env[RUN_TAG_VARIABLE];
  if (tag !== undefined && /^[0-9a-f]{4}$/.test(tag)) return tag;
  const made = randomBytes(2).toString('hex');
  process.env[RUN_TAG_VARIABLE] = made;
  return made;
}

/**
 * The streams test prefixes make (`kindling.t<tag><random>`, with `.` written `_2E_` in stream
 * names): channels and dead letters, and the KV buckets some components keep.
 */
const TEST_STREAM = /_2E_T([0-9A-F]{4})[0-9A-F]{4,6}_/;

/** What {@link sweepTestStreams} deleted. */
export interface Swept {
  readonly deleted: readonly string[];
}

/**
 * Deletes the test streams on the server at `url` that belong to the run `tag`, or that were
 * created more than six hours ago by any run. Does nothing when the server cannot be reached.
 */
export async function sweepTestStreams(url: string, tag: string): Promise<Swept> {
  const { connect } = await import('nats');
  const nc = await connect({ servers: url, timeout: 2000 }).catch(() => undefined);
  if (nc === undefined) return { deleted: [] };
  try {
    const jsm = await nc.jetstreamManager();
    const stale = Date.now() - STALE_MS;
    const doomed: string[] = [];
    for await (const stream of jsm.streams.list()) {
      const match = TEST_STREAM.exec(stream.config.name);
      if (match === null) continue;
      if (match[1] === tag.toUpperCase() || Date.parse(stream.created) < stale) doomed.push(stream.config.name);
    }
    for (const name of doomed) await jsm.streams.delete(name).catch(() => undefined);
    return { deleted: doomed };
  } finally {
    await nc.close();
  }
}
