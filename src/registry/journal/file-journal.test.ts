import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import {
  appendFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HandlerRegistry } from '../../handlers/handler-registry.js';
import { FileJournal, foldJournal } from './file-journal.js';
import type { FileJournalOptions, JournalFileSystem, JournalReadResult } from './file-journal.js';
import { Registry } from '../registry.js';

let dir: string;
let path: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'kindling-journal-'));
  path = join(dir, 'journal.log');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const silent = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };
async function journaled(options: FileJournalOptions = {}) {
  const opened = await FileJournal.open(path, options);
  const registry = new Registry({
    handlers: new HandlerRegistry(),
    acceptKinds: ['x.*'],
    journal: opened.journal,
    initialRevision: opened.journal.lastRevision,
    logger: silent,
  });
  return { ...opened, registry };
}
const create = (id: string, data: unknown = {}) => ({ op: 'create' as const, entry: { id, kind: 'x.y', data } });
const update = (id: string, data: unknown = {}) => ({ op: 'update' as const, entry: { id, kind: 'x.y', data } });
const remove = (id: string) => ({ op: 'delete' as const, entry: { id } });

/** Opens the journal, closes it at once, and gives what it read. */
async function reopen(options: FileJournalOptions = {}): Promise<JournalReadResult & { lastRevision: number }> {
  const opened = await FileJournal.open(path, options);
  opened.journal.close();
  return { ...opened, lastRevision: opened.journal.lastRevision };
}

/** The state as `[id, data]` pairs (undefined data: deleted). */
function summary(read: JournalReadResult): [string, unknown][] {
  return [...read.state]
    .map(([id, { entry }]) => [id, entry?.data] as [string, unknown])
    .sort(([a], [b]) => a.localeCompare(b));
}

/** A journal line written by hand: `crc32<TAB>json<LF>`. */
function record(value: unknown): string {
  const json = JSON.stringify(value);
  return `${crc32(json).toString(16).padStart(8, '0')}\t${json}\n`;
}
const batch = (revision: number, changes: unknown[], extra: object = {}) =>
  record({
    v: 1,
    revision,
    transactionId: `t${revision}`,
    time: '2025-01-01T00:00:00.000Z',
    source: 'test',
    changes,
    ...extra,
  });

/** Two committed batches, then a third: the file, and where the third (last) line begins. */
async function threeBatches(): Promise<{ bytes: Buffer; lastStart: number }> {
  const { registry, journal } = await journaled();
  await registry.apply([create('app:a', { n: 1 })]);
  await registry.apply([create('app:b', { n: 2 })]);
  const before = statSync(path).size;
  await registry.apply([update('app:a', { n: 3 }), create('app:c')]);
  journal.close();
  return { bytes: readFileSync(path), lastStart: before };
}

describe('FileJournal', () => {
  describe('.open', () => {
    it('reads back every batch written before a restart', async () => {
      const first = await journaled();
      await first.registry.apply([create('app:a'), create('app:b')]);
      await first.registry.apply([remove('app:a')]);
      first.journal.close();
      const second = await reopen();
      expect(second.batches).toBe(2);
      expect(second.lastRevision).toBe(2);
      expect(second.tornTail).toBe(false);
      expect(summary(second)).toEqual([
        ['app:a', undefined],
        ['app:b', {}],
      ]);
    });

    it('drops a torn last record and keeps everything before it', async () => {
      const first = await journaled();
      await first.registry.apply([create('app:a')]);
      first.journal.close();
      appendFileSync(path, '0badc0de\t{"v":1,"revision":2,"chan');
      const second = await reopen();
      expect(second.tornTail).toBe(true);
      expect(second.batches).toBe(1);
      expect(readFileSync(path, 'utf8').endsWith('\n')).toBe(true);
    });

    it('refuses a journal damaged before its last record, naming file and line', async () => {
      const first = await journaled();
      await first.registry.apply([create('app:a')]);
      await first.registry.apply([create('app:b')]);
      first.journal.close();
      const lines = readFileSync(path, 'utf8').split('\n');
      lines[0] = (lines[0] as string).replace('app:a', 'app:X');
      writeFileSync(path, lines.join('\n'));
      await expect(reopen()).rejects.toThrow(
        `registry journal ${path}:1 is damaged: its checksum does not match its content`,
      );
    });

    it('creates the file with owner-only permissions', async () => {
      path = join(dir, 'state', 'journal.log');
      await reopen();
      expect(statSync(path).mode & 0o777).toBe(0o600);
    });

    it.runIf(process.platform !== 'win32')('refuses a FIFO in place of the journal without waiting on it', async () => {
      execFileSync('mkfifo', [path]);
      await expect(reopen()).rejects.toThrow(`the registry journal ${path} is a FIFO; it must be a regular file`);
    });

    it('refuses a symbolic link in place of the journal (say to /dev/zero)', async () => {
      symlinkSync('/dev/zero', path);
      await expect(reopen()).rejects.toThrow(
        `the registry journal ${path} is a symbolic link; it must be a regular file`,
      );
    });

    it('reads a journal of many records as a stream, records across read chunks included', async () => {
      const lines: string[] = [];
      for (let revision = 1; revision <= 3_000; revision++) {
        // Sizes that put line ends everywhere in the 1 MiB read chunks, and one record larger than a chunk.
        const padding = 'p'.repeat(revision === 1_500 ? 3 * 1024 * 1024 : (revision * 7919) % 2_000);
        lines.push(
          batch(revision, [
            {
              op: 'create',
              entry: { id: `app:e${revision % 500}`, kind: 'x.y', meta: {}, data: { revision, padding } },
            },
          ]),
        );
      }
      writeFileSync(path, lines.join(''));
      const read = await reopen();
      expect(read.batches).toBe(3_000);
      expect(read.lastRevision).toBe(3_000);
      expect(read.state.size).toBe(500);
      expect((read.state.get('app:e0')?.entry?.data as { revision: number }).revision).toBe(3_000);
    });

    it('refuses a record longer than maxRecordBytes, naming file, line and the limit', async () => {
      writeFileSync(
        path,
        batch(1, []) + batch(2, [{ op: 'create', entry: { id: 'app:a', kind: 'x.y', data: 'x'.repeat(5_000) } }]),
      );
      await expect(reopen({ maxRecordBytes: 4_096 })).rejects.toThrow(
        `registry journal ${path}:2 is damaged: a record longer than 4096 bytes (maxRecordBytes); if the journal was written with a higher limit, start with it (kindling run --journal-max-record-bytes)`,
      );
    });
  });

  // Journal damage at every position of the last record (the one a crash could have torn).
  describe('.open, damage in the last record', () => {
    it('refuses a flip of any byte of a complete last record, with file:line, and leaves the file as it is', async () => {
      const { bytes, lastStart } = await threeBatches();
      for (let at = lastStart; at < bytes.length - 1; at++) {
        const damaged = Buffer.from(bytes);
        damaged[at] = (damaged[at] as number) ^ 0xff;
        writeFileSync(path, damaged);
        await expect(reopen(), `flip at byte ${at - lastStart} of the last record`).rejects.toThrow(
          `registry journal ${path}:3 is damaged`,
        );
        expect(readFileSync(path).equals(damaged)).toBe(true);
      }
    });

    it('refuses a flip of the line end itself: a whole record followed by another byte is no torn write', async () => {
      const { bytes } = await threeBatches();
      const damaged = Buffer.from(bytes);
      damaged[damaged.length - 1] = 0x0a ^ 0xff;
      writeFileSync(path, damaged);
      await expect(reopen()).rejects.toThrow(
        `registry journal ${path}:3 is damaged: a complete record whose line end is damaged (byte 0xf5 instead of a line feed)`,
      );
    });

    it('drops the last record cut at any length short of its line end, keeping the batches before it', async () => {
      const { bytes, lastStart } = await threeBatches();
      for (let length = lastStart + 1; length < bytes.length; length++) {
        writeFileSync(path, bytes.subarray(0, length));
        const read = await reopen();
        expect(
          { torn: read.tornTail, batches: read.batches, last: read.lastRevision },
          `cut at ${length - lastStart}`,
        ).toEqual({ torn: true, batches: 2, last: 2 });
        expect(readFileSync(path).equals(bytes.subarray(0, lastStart))).toBe(true);
      }
    });

    it('keeps the last record with its line end', async () => {
      const { bytes } = await threeBatches();
      writeFileSync(path, bytes);
      const read = await reopen();
      expect({ torn: read.tornTail, batches: read.batches }).toEqual({ torn: false, batches: 3 });
      expect(summary(read)).toEqual([
        ['app:a', { n: 3 }],
        ['app:b', { n: 2 }],
        ['app:c', {}],
      ]);
    });
  });

  // A forged journal: a valid checksum over content of the wrong shape.
  describe('.open, forged records', () => {
    const entry = { id: 'app:a', kind: 'x.y', meta: {}, data: {} };
    it.each([
      [
        'changes that are not a list (was: record.changes is not iterable)',
        batch(2, 'nope' as never),
        'changes must be a list',
      ],
      ['a revision that does not follow the one before', batch(1, []), 'revision 1 does not follow revision 1'],
      ['a revision that is not a number', batch('2' as never, []), 'revision must be a positive integer, not "2"'],
      ['an unknown field', batch(2, [], { extra: true }), 'batch has an unknown field "extra"'],
      [
        'an unknown op',
        batch(2, [{ op: 'upsert', entry }]),
        'changes[0].op must be create, update or delete, not "upsert"',
      ],
      [
        'an entry without a kind',
        batch(2, [{ op: 'create', entry: { id: 'app:a' } }]),
        'changes[0].entry: entry app:a: kind must be a non-empty string',
      ],
      [
        'an entry whose meta is not an object',
        batch(2, [{ op: 'create', entry: { ...entry, meta: [] } }]),
        'changes[0].entry: entry app:a: meta must be an object',
      ],
      [
        'an entry with an unknown field',
        batch(2, [{ op: 'create', entry: { ...entry, owner: 1 } }]),
        'changes[0].entry: entry has an unknown field "owner"',
      ],
      ['a change that is not an object', batch(2, [7]), 'changes[0] must be an object { op, entry }'],
      ['a time that is not a date', batch(2, [], { time: 'soon' }), 'time must be an ISO date, not "soon"'],
      ['a source that is not a string', batch(2, [], { source: 7 }), 'source must be a string'],
      ['an unknown format version', record({ v: 2 }), 'unknown format version 2 (this version reads 1)'],
      [
        'a JSON value that is not an object',
        `${crc32('[1]').toString(16).padStart(8, '0')}\t[1]\n`,
        'its content is not a JSON object',
      ],
      [
        'a snapshot after the first line',
        record({ v: 1, type: 'snapshot', revision: 5, time: '2025-01-01T00:00:00Z', entries: 0 }),
        'a snapshot can only begin the journal',
      ],
    ])('refuses %s with file:line and what is wrong', async (_what, forged, message) => {
      writeFileSync(path, batch(1, [{ op: 'create', entry }]) + forged + batch(3, []));
      await expect(reopen()).rejects.toThrow(`registry journal ${path}:2 is damaged: ${message}`);
    });

    it('checks entries with the decoder it is given', async () => {
      writeFileSync(path, batch(1, [{ op: 'create', entry: { ...entry, owner: 'ci' } }]));
      const read = await reopen({ decodeEntry: (value) => ({ ...(value as typeof entry) }) });
      expect(read.state.get('app:a')?.entry).toMatchObject({ owner: 'ci' });
    });
  });

  describe('.append', () => {
    it('refuses a batch larger than maxRecordBytes and changes nothing', async () => {
      const { registry, journal } = await journaled({ maxRecordBytes: 1_024 });
      await registry.apply([create('app:a')]);
      const before = readFileSync(path);
      await expect(registry.apply([create('app:big', 'x'.repeat(2_000))])).rejects.toThrow(
        /^the batch of revision 2 \(1 changes\) is \d+ bytes as a journal record, more than the limit of 1024 \(maxRecordBytes\); apply it in smaller batches/,
      );
      journal.close();
      expect(registry.revision).toBe(1);
      expect(registry.has('app:big')).toBe(false);
      expect(readFileSync(path).equals(before)).toBe(true);
    });
  });

  describe('.compact', () => {
    it('replaces the batches by a snapshot of the same state, and later batches follow it', async () => {
      const first = await journaled();
      await first.registry.apply([create('app:a', 1), create('app:b', 1)]);
      await first.registry.apply([update('app:a', 2), remove('app:b'), create('app:c', 1)]);
      const before = summary(await reopen());
      const done = first.journal.compact();
      expect(done).toMatchObject({ revision: 2, entries: 3 });
      await first.registry.apply([create('app:d', 1)]);
      first.journal.close();
      const read = await reopen();
      expect({ snapshot: read.snapshotRevision, batches: read.batches, last: read.lastRevision }).toEqual({
        snapshot: 2,
        batches: 1,
        last: 3,
      });
      expect(summary(read)).toEqual([...before, ['app:d', 1]].sort(([a], [b]) => String(a).localeCompare(String(b))));
    });

    it('compacts on its own once the batches pass compactBytes, so the file stays bounded', async () => {
      const { registry, journal } = await journaled({ compactBytes: 16 * 1024 });
      await registry.apply([create('app:a', '')]);
      for (let i = 2; i <= 200; i++) await registry.apply([update('app:a', `${i}${'x'.repeat(500)}`)]);
      journal.close();
      expect(statSync(path).size).toBeLessThan(2 * 16 * 1024 + 2_000);
      const read = await reopen();
      expect(read.snapshotRevision).toBeGreaterThan(1);
      expect(read.lastRevision).toBe(200);
      expect(read.state.size).toBe(1);
    });

    it('compacts on open a journal whose batches are past compactBytes', async () => {
      const { registry, journal } = await journaled();
      for (let i = 0; i < 20; i++) await registry.apply([i === 0 ? create('app:a', i) : update('app:a', i)]);
      journal.close();
      const read = await reopen({ compactBytes: 1_024 });
      expect(read.batches).toBe(20);
      const again = await reopen();
      expect({ snapshot: again.snapshotRevision, batches: again.batches, state: summary(again) }).toEqual({
        snapshot: 20,
        batches: 0,
        state: [['app:a', 19]],
      });
    });

    it('refuses a snapshot cut short: a snapshot is renamed into place whole, a crash cannot cut it', async () => {
      const { registry, journal } = await journaled();
      await registry.apply([create('app:a'), create('app:b')]);
      journal.compact();
      journal.close();
      const bytes = readFileSync(path);
      writeFileSync(path, bytes.subarray(0, bytes.length - 1));
      await expect(reopen()).rejects.toThrow(`registry journal ${path}:3 is damaged: the snapshot is cut short`);
      const lines = bytes.toString('utf8').split('\n');
      writeFileSync(path, `${lines[0]}\n${lines[1]}\n`);
      await expect(reopen()).rejects.toThrow(
        `registry journal ${path}:2 is damaged: the snapshot ends 1 entries short of what its header declares`,
      );
    });

    it('removes a compaction a crash left half-written, and reads the journal as it was', async () => {
      const { registry, journal } = await journaled();
      await registry.apply([create('app:a')]);
      journal.close();
      writeFileSync(`${path}.compact`, '0000');
      const read = await reopen();
      expect(summary(read)).toEqual([['app:a', {}]]);
      expect(existsSync(`${path}.compact`)).toBe(false);
    });

    it('leaves a readable journal with every committed batch when the process dies at any step of a compaction', async () => {
      let step = 0;
      for (let crashAt = 1; ; crashAt++) {
        rmSync(dir, { recursive: true, force: true });
        mkdirSync(dir);
        let calls = 0;
        const dying = (name: keyof JournalFileSystem) =>
          ((...args: unknown[]) => {
            calls++;
            if (calls >= crashAt) {
              // The process is gone from here on: a write gets half its bytes out, then nothing more happens.
              if (calls === crashAt && name === 'writeSync')
                (fs.writeSync as (...a: unknown[]) => number)(
                  args[0],
                  (args[1] as Buffer).subarray(0, Math.floor((args[3] as number) / 2)),
                );
              throw new Error(`crashed at step ${calls} (${name})`);
            }
            return (fs[name] as (...a: unknown[]) => unknown)(...args);
          }) as never;
        const fileSystem: JournalFileSystem = {
          openSync: dying('openSync'),
          writeSync: dying('writeSync'),
          fsyncSync: dying('fsyncSync'),
          closeSync: dying('closeSync'),
          renameSync: dying('renameSync'),
        };
        const { registry, journal } = await journaled({ fileSystem });
        await registry.apply([create('app:a', 1), create('app:b', 1)]);
        await registry.apply([update('app:a', 2), remove('app:b')]);
        let crashed = false;
        try {
          journal.compact();
        } catch {
          crashed = true;
        }
        journal.close();
        const read = await reopen();
        expect({ crashAt, state: summary(read), last: read.lastRevision }).toEqual({
          crashAt,
          state: [
            ['app:a', 2],
            ['app:b', undefined],
          ],
          last: 2,
        });
        if (!crashed) break;
        step = crashAt;
      }
      // open, write, fsync, rename, open dir, fsync dir, close dir: every step was crashed at once.
      expect(step).toBeGreaterThanOrEqual(7);
    });
  });
});

describe('foldJournal', () => {
  it('keeps the last word on each id', () => {
    const entry = (id: string, v: number) => ({ id, kind: 'x.y', meta: {}, data: v });
    const records = [
      {
        revision: 1,
        transactionId: 't1',
        time: '',
        source: undefined,
        changes: [{ op: 'create' as const, entry: entry('app:a', 1) }],
      },
      {
        revision: 2,
        transactionId: 't2',
        time: '',
        source: undefined,
        changes: [{ op: 'delete' as const, entry: entry('app:a', 1) }],
      },
    ];
    expect([...foldJournal(records)]).toEqual([['app:a', undefined]]);
  });
});

describe('Registry with a journal', () => {
  it('refuses the batch and changes nothing when the journal cannot write', async () => {
    const discarded: string[] = [];
    const handlers = new HandlerRegistry();
    handlers.registerListener('x.*', {
      add: () => undefined,
      update: () => undefined,
      delete: () => undefined,
      discard: () => void discarded.push('discard'),
    });
    const registry = new Registry({
      handlers,
      logger: silent,
      journal: {
        append: () => {
          throw Object.assign(new Error('disk full'), { code: 'UNAVAILABLE' });
        },
      },
    });
    await expect(registry.apply([create('app:a')])).rejects.toThrow('disk full');
    expect(registry.revision).toBe(0);
    expect(registry.entries()).toEqual([]);
    expect(discarded).toEqual(['discard']);
  });

  it('restores the journaled state over a baseline without writing the replay again', async () => {
    const first = await journaled();
    await first.registry.apply([create('app:base', { v: 1 })], { durable: false });
    await first.registry.apply([update('app:base', { v: 2 }), create('app:cli')]);
    first.journal.close();

    const second = await journaled();
    await second.registry.apply([create('app:base', { v: 1 })], { durable: false });
    const target = new Map([...second.state].map(([id, { entry }]) => [id, entry]));
    await second.registry.apply(second.registry.opsToReach(target), { durable: false, source: 'journal replay' });
    expect(second.registry.entries().map((e) => [e.id, e.data])).toEqual([
      ['app:base', { v: 2 }],
      ['app:cli', {}],
    ]);
    second.journal.close();
    expect((await reopen()).batches).toBe(1);
  });

  it('keeps exactly the acknowledged batches when the process is killed mid-apply', async () => {
    const child = spawn(
      process.execPath,
      [join(import.meta.dirname, '../../../test/fixtures/journal/apply-forever.mjs'), path],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    const acknowledged: number[] = [];
    await new Promise<void>((resolve) => {
      let buffer = '';
      child.stdout.on('data', (chunk: Buffer) => {
        buffer += chunk.toString();
        const lines = buffer.split('\n');
        buffer = lines.pop() ?? '';
        for (const line of lines) acknowledged.push(Number(line));
        if (acknowledged.length >= 200 && child.exitCode === null && !child.killed) {
          child.kill('SIGKILL');
          resolve();
        }
      });
    });
    await new Promise((resolve) => child.once('exit', resolve));
    const read = await reopen();
    // Every acknowledged batch is there; at most the batch in flight was also written whole.
    expect(read.lastRevision).toBeGreaterThanOrEqual(acknowledged.at(-1) as number);
    expect(read.lastRevision - acknowledged.length).toBeLessThanOrEqual(2);
    expect(read.batches).toBe(read.lastRevision);
    for (const revision of acknowledged)
      expect(read.state.get(`crash:e${revision}`)?.entry?.data).toMatchObject({ i: revision });
  });
});
