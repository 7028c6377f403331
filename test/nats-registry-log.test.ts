// The cluster registry's log on the real JetStream: revisions are stream sequences, an append
// prepared against an old revision is fenced, readers follow from any revision, compaction answers
// GONE for what it removed, and a message no log wrote is reported, not skipped.
import { connect, headers, type NatsConnection } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KindlingError } from 'kindling';
import { RegistryLog, type LoggedBatch, type LogReader } from '../src/transport/nats/registry-log.js';
import { NATS_URL, skipNats } from './support/nats-harness.js';

/** Takes the next `count` batches a reader yields. */
async function take(reader: LogReader, count: number): Promise<LoggedBatch[]> {
  const out: LoggedBatch[] = [];
  const iterator = reader[Symbol.asyncIterator]();
  while (out.length < count) {
    const next = await iterator.next();
    if (next.done === true) break;
    out.push(next.value);
  }
  return out;
}

function codeOf(error: unknown): string | undefined {
  return KindlingError.is(error) ? error.code : undefined;
}

describe.skipIf(skipNats)('the registry log on JetStream', () => {
  let nc: NatsConnection;
  const created: string[] = [];
  let serial = 0;

  /** A log of a cluster of its own, in memory, removed after the file. */
  async function freshLog(): Promise<RegistryLog> {
    const log = await RegistryLog.open({
      connection: nc,
      cluster: `t${process.pid}-${Date.now().toString(36)}-${serial++}`,
      storage: 'memory',
    });
    created.push(log.stream, log.stream.replace('KINDLING_REGISTRY_', 'OBJ_KINDLING_SNAPSHOTS_'));
    return log;
  }

  beforeAll(async () => {
    nc = await connect({ servers: NATS_URL });
  });

  afterAll(async () => {
    const jsm = await nc.jetstreamManager();
    for (const stream of created) await jsm.streams.delete(stream).catch(() => undefined);
    await nc.close();
  });

  it('numbers batches by the stream sequence, from 1, and reads them back with who wrote them', async () => {
    const log = await freshLog();
    expect(await log.lastRevision()).toBe(0);
    expect(await log.append({ ops: ['a'] }, { expectRevision: 0, source: 'registry/http.yaml', node: 'n1' })).toBe(1);
    expect(await log.append({ ops: ['b'] }, { expectRevision: 1 })).toBe(2);
    expect(await log.lastRevision()).toBe(2);
    const reader = await log.read(1);
    const batches = await take(reader, 2);
    await reader.close();
    expect(batches.map((b) => [b.revision, b.body, b.source, b.node])).toEqual([
      [1, { ops: ['a'] }, 'registry/http.yaml', 'n1'],
      [2, { ops: ['b'] }, undefined, undefined],
    ]);
    expect(Number.isNaN(Date.parse(batches[0]!.time))).toBe(false);
  });

  it('fences concurrent appends: of ten prepared against one revision, exactly one is stored', async () => {
    const log = await freshLog();
    await log.append({ n: 0 }, { expectRevision: 0 });
    const results = await Promise.allSettled(
      Array.from({ length: 10 }, (_, n) => log.append({ n: n + 1 }, { expectRevision: 1 })),
    );
    const won = results.filter((r) => r.status === 'fulfilled');
    const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(won).toEqual([{ status: 'fulfilled', value: 2 }]);
    expect(lost).toHaveLength(9);
    for (const { reason } of lost) {
      expect(codeOf(reason)).toBe('CONFLICT');
      expect((reason as KindlingError).details).toEqual({ revision: 2, expected: 1 });
      expect((reason as Error).message).toBe(
        'the batch was prepared against revision 1, and the cluster is at revision 2',
      );
    }
    expect(await log.lastRevision()).toBe(2);
  });

  it('a reader from the middle gets what follows, then each batch appended later, in order', async () => {
    const log = await freshLog();
    for (let n = 0; n < 5; n++) await log.append({ n }, { expectRevision: n });
    const reader = await log.read(4);
    const iterator = reader[Symbol.asyncIterator]();
    expect((await iterator.next()).value).toMatchObject({ revision: 4, body: { n: 3 } });
    expect((await iterator.next()).value).toMatchObject({ revision: 5, body: { n: 4 } });
    const later = iterator.next();
    await log.append({ n: 5 }, { expectRevision: 5 });
    expect((await later).value).toMatchObject({ revision: 6, body: { n: 5 } });
    await reader.close();
  });

  it('after a compaction the revisions stay, the log starts later, and older reads answer GONE', async () => {
    const log = await freshLog();
    for (let n = 0; n < 6; n++) await log.append({ n }, { expectRevision: n });
    expect(await log.compact(5)).toBe(4);
    expect(await log.firstRevision()).toBe(5);
    expect(await log.lastRevision()).toBe(6);
    const error = await log.read(3).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(codeOf(error)).toBe('GONE');
    expect((error as KindlingError).details).toEqual({ firstRevision: 5 });
    const reader = await log.read(5);
    expect((await take(reader, 2)).map((b) => b.revision)).toEqual([5, 6]);
    await reader.close();
    // Appending goes on from the same numbering.
    expect(await log.append({ n: 6 }, { expectRevision: 6 })).toBe(7);
  });

  it('keeps the latest snapshot beside the log, and compacts up to it', async () => {
    const log = await freshLog();
    expect(await log.loadSnapshot()).toBeUndefined();
    for (let n = 0; n < 4; n++) await log.append({ n }, { expectRevision: n });
    await log.saveSnapshot(2, { entries: ['a', 'b'] });
    expect(await log.loadSnapshot()).toEqual({ revision: 2, body: { entries: ['a', 'b'] } });
    const big = { entries: Array.from({ length: 20_000 }, (_, i) => ({ id: `app:e${i}`, data: 'x'.repeat(64) })) };
    expect(await log.compactAt(3, big)).toBe(3);
    expect(await log.loadSnapshot()).toEqual({ revision: 3, body: big });
    expect(await log.firstRevision()).toBe(4);
    await expect(log.read(3)).rejects.toThrow(
      `revision 3 is no longer in the log of ${log.stream} (it starts at 4): load a snapshot first`,
    );
    await expect(log.saveSnapshot(9, {})).rejects.toThrow(
      'a snapshot at revision 9: the log goes from 0 to revision 4',
    );
  });

  it('reports a message that no log wrote, or that is not JSON, at its revision', async () => {
    const log = await freshLog();
    const js = nc.jetstream();
    await js.publish(log.subject, new TextEncoder().encode('{"not":"ours"}'));
    const h = headers();
    h.set('Kindling-Log', '1');
    await js.publish(log.subject, new Uint8Array([0x7b, 0xff, 0xfe]), { headers: h });
    await log.append({ fine: true }, { expectRevision: 2 });
    const reader = await log.read(1);
    const [foreign, broken, fine] = await take(reader, 3);
    await reader.close();
    expect(foreign).toMatchObject({ revision: 1, body: undefined });
    expect(foreign?.problem?.message).toBe(
      'revision 1 of the log was not written by a registry log of this version (format "")',
    );
    expect(broken).toMatchObject({ revision: 2, body: undefined });
    expect(broken?.problem?.message).toMatch(/^revision 2 of the log is not JSON: /);
    expect(fine).toMatchObject({ revision: 3, body: { fine: true } });
    expect(fine?.problem).toBeUndefined();
  });

  it('refuses what it cannot store, naming why, and stores nothing', async () => {
    const log = await RegistryLog.open({
      connection: nc,
      cluster: `t${process.pid}-small-${serial++}`,
      storage: 'memory',
      maxBatchBytes: 64,
    });
    created.push(log.stream);
    const circular: Record<string, unknown> = {};
    circular['self'] = circular;
    const big = { text: 'x'.repeat(100) };
    await expect(log.append(circular, { expectRevision: 0 })).rejects.toThrow(/the batch cannot be written as JSON/);
    await expect(log.append(big, { expectRevision: 0 })).rejects.toThrow(
      'the batch is 111 bytes as JSON, more than the log takes (64): apply it in smaller batches',
    );
    await expect(log.read(0)).rejects.toThrow('fromRevision must be a whole number from 1, not 0');
    expect(await log.lastRevision()).toBe(0);
  });

  it('refuses a cluster name that cannot name a stream', async () => {
    for (const cluster of ['', 'a.b', 'a b', 'x'.repeat(65), 'ü']) {
      await expect(RegistryLog.open({ connection: nc, cluster })).rejects.toThrow(
        /^cluster name .*: use 1 to 64 letters, digits, '-' or '_'/,
      );
    }
  });
});
