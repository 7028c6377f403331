import {
  DeliverPolicy,
  headers as natsHeaders,
  NatsError,
  RetentionPolicy,
  StorageType,
  type ConsumerMessages,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
  type NatsConnection,
  type ObjectStore,
} from 'nats';
import { KindlingError, messageOf } from '../../common/errors.js';

/**
 * The shared log of a cluster's registry: one JetStream stream in which each committed batch is one
 * message, so that the stream sequence is the registry revision on every node. JetStream orders and
 * stores; nothing here votes or elects. An append names the revision it was prepared against
 * (JetStream's expected-last-sequence check), so of two appends prepared against the same revision
 * exactly one is stored and the other is refused with `CONFLICT`.
 */
export interface RegistryLogOptions {
  /** A connection the caller owns (the log neither drains nor closes it). */
  readonly connection: NatsConnection;
  /** The cluster's name: its stream is `KINDLING_REGISTRY_<name>`, its subject `<prefix>.registry.<name>`. */
  readonly cluster: string;
  /** The subject prefix (default `kindling`). */
  readonly prefix?: string;
  /** Where JetStream keeps the stream (default `file`: a batch survives a restart of nats-server). */
  readonly storage?: 'file' | 'memory';
  /** The largest batch, in bytes, the stream takes (default 8 MiB; the server's own limit may be lower). */
  readonly maxBatchBytes?: number;
}

/** What an append records beside the batch itself. */
export interface AppendOptions {
  /** The revision the batch was prepared against: the append is refused unless it is still the last. */
  readonly expectRevision: number;
  /** Who applied it (a file source, `rollback to 3`, a CLI user...). */
  readonly source?: string;
  /** The node that proposed it. */
  readonly node?: string;
}

/** One batch read back from the log. */
export interface LoggedBatch {
  /** The stream sequence: the registry revision this batch makes. */
  readonly revision: number;
  /** When JetStream stored it (ISO 8601). */
  readonly time: string;
  readonly source: string | undefined;
  readonly node: string | undefined;
  /** The batch as appended (parsed JSON), or undefined when {@link problem} says why it could not be read. */
  readonly body: unknown;
  /**
   * Why this message is not a batch (not JSON, or not written by a log): the revision is taken all
   * the same, so a reader reports it (a node says it is desynced) rather than skipping it silently.
   */
  readonly problem?: KindlingError;
}

/** What a log is, decided once when it is opened. */
interface LogSettings {
  readonly cluster: string;
  readonly stream: string;
  readonly subject: string;
  readonly storage: StorageType;
  readonly maxBatchBytes: number;
}

/** The whole registry at a revision, as stored beside the log. */
export interface StoredSnapshot {
  readonly revision: number;
  /** The state as saved (parsed JSON). */
  readonly body: unknown;
}

/** A reader of the log, from a revision onwards, following new batches as they are appended. */
export interface LogReader extends AsyncIterable<LoggedBatch> {
  /** Stops reading; the iteration ends. */
  close(): Promise<void>;
}

const HEADER_SOURCE = 'Kindling-Source';
const HEADER_NODE = 'Kindling-Node';
const HEADER_FORMAT = 'Kindling-Log';
const FORMAT = '1';
/** JetStream's error code for an expected-last-sequence mismatch. */
const WRONG_LAST_SEQUENCE = 10071;
const DEFAULT_MAX_BATCH_BYTES = 8 * 1024 * 1024;
/**
 * How long a JetStream API call (stream info, append) may wait for its answer. Longer than the
 * client's 5 s: a node applying a large batch through its listeners can hold its event loop for a
 * while, and an answer that arrived in the meantime must not count as lost.
 */
const API_TIMEOUT_MS = 30_000;
/** The object name of the latest snapshot in the cluster's object store. */
const SNAPSHOT = 'latest';

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

/**
 * The registry log of one cluster on JetStream.
 *
 * @example
 * const log = await RegistryLog.open({ connection: nc, cluster: 'shop' });
 * const revision = await log.append({ ops }, { expectRevision: await log.lastRevision() });
 * for await (const batch of log.read(1)) apply(batch.body);
 */
export class RegistryLog {
  /** The stream's name. */
  readonly stream: string;
  /** The subject its batches are appended on. */
  readonly subject: string;
  private readonly js: JetStreamClient;
  private snapshotStore: Promise<ObjectStore> | undefined;

  private constructor(
    private readonly jsm: JetStreamManager,
    connection: NatsConnection,
    private readonly settings: LogSettings,
  ) {
    this.js = connection.jetstream({ timeout: API_TIMEOUT_MS });
    this.stream = settings.stream;
    this.subject = settings.subject;
  }

  /** Opens the cluster's log, creating its stream on first use. */
  static async open(options: RegistryLogOptions): Promise<RegistryLog> {
    // The name is letters, digits, '-' and '_' only, so it names a stream and a subject token as it is.
    const cluster = checkClusterName(options.cluster);
    const settings: LogSettings = {
      cluster,
      stream: `KINDLING_REGISTRY_${cluster}`,
      subject: `${options.prefix ?? 'kindling'}.registry.${cluster}`,
      storage: options.storage === 'memory' ? StorageType.Memory : StorageType.File,
      maxBatchBytes: options.maxBatchBytes ?? DEFAULT_MAX_BATCH_BYTES,
    };
    const { stream, subject } = settings;
    const jsm = await jetStreamOf(options.connection);
    const existing = await jsm.streams.info(stream).catch(() => undefined);
    if (existing === undefined) {
      await jsm.streams
        .add({
          name: stream,
          subjects: [subject],
          retention: RetentionPolicy.Limits,
          storage: settings.storage,
          max_msg_size: settings.maxBatchBytes,
          // The log is the registry's history: nothing ages out; only a compaction removes batches.
          max_msgs: -1,
          max_bytes: -1,
          max_age: 0,
        })
        .catch(async (error: unknown) => {
          // Two nodes creating it at once: the other one won, which is as good.
          if ((await jsm.streams.info(stream).catch(() => undefined)) === undefined) throw error;
        });
    } else if (!existing.config.subjects.includes(subject)) {
      throw new KindlingError(
        'CONFLICT',
        `cluster ${cluster}: the JetStream stream ${stream} exists but does not hold ${subject} (another prefix?)`,
      );
    }
    return new RegistryLog(jsm, options.connection, settings);
  }

  /** The revision of the last batch in the log (0 for an empty log). */
  async lastRevision(): Promise<number> {
    return (await this.jsm.streams.info(this.stream)).state.last_seq;
  }

  /** The oldest revision the log still holds (after a compaction, the first batch after the cut). */
  async firstRevision(): Promise<number> {
    const state = (await this.jsm.streams.info(this.stream)).state;
    return state.messages === 0 ? state.last_seq + 1 : state.first_seq;
  }

  /**
   * Appends a batch prepared against `expectRevision` and resolves with the revision it makes.
   * Refused with `CONFLICT` (`details.revision`: the log's last revision) when another batch was
   * appended since; with `INVALID` when the batch is not JSON or larger than the log takes.
   */
  async append(body: unknown, options: AppendOptions): Promise<number> {
    const data = encodeBody(body, this.settings.maxBatchBytes);
    const headers = natsHeaders();
    headers.set(HEADER_FORMAT, FORMAT);
    if (options.source !== undefined) headers.set(HEADER_SOURCE, headerText(options.source));
    if (options.node !== undefined) headers.set(HEADER_NODE, headerText(options.node));
    try {
      const ack = await this.js.publish(this.subject, data, {
        headers,
        expect: { lastSequence: options.expectRevision, streamName: this.stream },
      });
      return ack.seq;
    } catch (error) {
      if (error instanceof NatsError && error.api_error?.err_code === WRONG_LAST_SEQUENCE) {
        const revision = await this.lastRevision();
        throw new KindlingError(
          'CONFLICT',
          `the batch was prepared against revision ${options.expectRevision}, and the cluster is at revision ${revision}`,
          { details: { revision, expected: options.expectRevision } },
        );
      }
      throw new KindlingError('UNAVAILABLE', `the batch could not be appended to ${this.stream}: ${messageOf(error)}`, {
        cause: error,
      });
    }
  }

  /**
   * Reads the log from `fromRevision` (1 for the whole log) and goes on with each batch appended
   * later, until {@link LogReader.close}. Refused with `GONE` (`details.firstRevision`) when the log
   * no longer holds `fromRevision` (it was compacted away): load a snapshot first.
   */
  async read(fromRevision: number): Promise<LogReader> {
    if (!Number.isSafeInteger(fromRevision) || fromRevision < 1)
      throw new KindlingError('INVALID', `fromRevision must be a whole number from 1, not ${String(fromRevision)}`);
    const first = await this.firstRevision();
    if (fromRevision < first)
      throw new KindlingError(
        'GONE',
        `revision ${fromRevision} is no longer in the log of ${this.stream} (it starts at ${first}): load a snapshot first`,
        { details: { firstRevision: first } },
      );
    const consumer = await this.js.consumers.get(this.stream, {
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: fromRevision,
    });
    const messages: ConsumerMessages = await consumer.consume();
    return {
      close: async () => {
        await messages.close();
      },
      [Symbol.asyncIterator]: async function* () {
        for await (const msg of messages) yield loggedBatch(msg);
      },
    };
  }

  /**
   * Stores the whole registry as it is at `revision`, replacing the previous snapshot: the state a
   * node behind a compaction loads before it reads the rest of the log. Kept in a JetStream object
   * store of the cluster (`KINDLING_SNAPSHOTS_<name>`), so a snapshot may be larger than a message.
   */
  async saveSnapshot(revision: number, body: unknown): Promise<void> {
    const last = await this.lastRevision();
    if (!Number.isSafeInteger(revision) || revision < 0 || revision > last)
      throw new KindlingError(
        'INVALID',
        `a snapshot at revision ${String(revision)}: the log goes from 0 to revision ${last}`,
      );
    const data = encodeBody({ revision, body }, Number.MAX_SAFE_INTEGER);
    const store = await this.snapshots();
    await store.putBlob({ name: SNAPSHOT, description: `registry at revision ${revision}` }, data);
  }

  /** The latest snapshot, or undefined when none was saved; `INVALID` when what is stored is not one. */
  async loadSnapshot(): Promise<StoredSnapshot | undefined> {
    const data = await (await this.snapshots()).getBlob(SNAPSHOT);
    if (data === null) return undefined;
    let parsed: unknown;
    try {
      parsed = JSON.parse(decoder.decode(data));
    } catch (error) {
      throw new KindlingError('INVALID', `the snapshot of ${this.stream} is not JSON: ${messageOf(error)}`);
    }
    const { revision, body } = (parsed ?? {}) as { revision?: unknown; body?: unknown };
    if (typeof revision !== 'number' || !Number.isSafeInteger(revision) || revision < 0)
      throw new KindlingError('INVALID', `the snapshot of ${this.stream} has no revision`);
    return { revision, body };
  }

  /**
   * Saves a snapshot of the registry at `revision` and removes the batches up to it from the log:
   * a reader from an older revision gets `GONE` and loads the snapshot. Resolves with how many
   * batches were removed.
   */
  async compactAt(revision: number, body: unknown): Promise<number> {
    await this.saveSnapshot(revision, body);
    return this.compact(revision + 1);
  }

  private async snapshots(): Promise<ObjectStore> {
    const { cluster, storage } = this.settings;
    this.snapshotStore ??= this.js.views.os(`KINDLING_SNAPSHOTS_${cluster}`, {
      storage,
      description: `registry snapshots of cluster ${cluster}`,
    });
    return this.snapshotStore;
  }

  /** How large the log is now: its bytes and its batches (what a compaction removes). */
  async size(): Promise<{ readonly bytes: number; readonly batches: number }> {
    const info = await this.jsm.streams.info(this.stream);
    return { bytes: info.state.bytes, batches: info.state.messages };
  }

  /**
   * Removes every batch before `keepFrom` from the log (after a snapshot at `keepFrom - 1` was
   * stored elsewhere); resolves with how many were removed. The revision numbers do not change.
   */
  async compact(keepFrom: number): Promise<number> {
    const response = await this.jsm.streams.purge(this.stream, { seq: keepFrom });
    return response.purged;
  }
}

async function jetStreamOf(connection: NatsConnection): Promise<JetStreamManager> {
  try {
    return await connection.jetstreamManager({ timeout: API_TIMEOUT_MS });
  } catch (error) {
    throw new KindlingError(
      'UNAVAILABLE',
      `a cluster registry needs JetStream, and the NATS server does not answer for it (start nats-server with -js): ${messageOf(error)}`,
      { cause: error },
    );
  }
}

function checkClusterName(name: string): string {
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(name))
    throw new KindlingError(
      'INVALID',
      `cluster name ${JSON.stringify(name)}: use 1 to 64 letters, digits, '-' or '_' (it names a JetStream stream)`,
    );
  return name;
}

function encodeBody(body: unknown, maxBytes: number): Uint8Array {
  let text: string | undefined;
  try {
    text = JSON.stringify(body);
  } catch (error) {
    throw new KindlingError('INVALID', `the batch cannot be written as JSON: ${messageOf(error)}`, { cause: error });
  }
  if (text === undefined) throw new KindlingError('INVALID', 'the batch cannot be written as JSON (it is undefined)');
  const data = encoder.encode(text);
  if (data.length > maxBytes)
    throw new KindlingError(
      'INVALID',
      `the batch is ${data.length} bytes as JSON, more than the log takes (${maxBytes}): apply it in smaller batches`,
    );
  return data;
}

/** A header value: one line, printable. */
function headerText(text: string): string {
  return text.replace(/[\r\n]+/g, ' ').slice(0, 1024);
}

function loggedBatch(msg: JsMsg): LoggedBatch {
  const revision = msg.seq;
  const time = new Date(Math.floor(msg.info.timestampNanos / 1e6)).toISOString();
  const source = msg.headers?.get(HEADER_SOURCE) || undefined;
  const node = msg.headers?.get(HEADER_NODE) || undefined;
  const base = { revision, time, source, node };
  const format = msg.headers?.get(HEADER_FORMAT);
  if (format !== FORMAT)
    return {
      ...base,
      body: undefined,
      problem: new KindlingError(
        'INVALID',
        `revision ${revision} of the log was not written by a registry log of this version (format ${JSON.stringify(format ?? '')})`,
      ),
    };
  try {
    return { ...base, body: JSON.parse(decoder.decode(msg.data)) as unknown };
  } catch (error) {
    return {
      ...base,
      body: undefined,
      problem: new KindlingError('INVALID', `revision ${revision} of the log is not JSON: ${messageOf(error)}`),
    };
  }
}
