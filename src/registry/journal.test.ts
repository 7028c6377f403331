import { spawn } from 'node:child_process';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HandlerRegistry } from '../handlers/handler-registry.js';
import { FileJournal, foldJournal } from './journal.js';
import { Registry } from './registry.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'kindling-journal-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const silent = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };
function journaled(path: string) {
  const opened = FileJournal.open(path);
  const registry = new Registry({ handlers: new HandlerRegistry(), acceptKinds: ['x.*'], journal: opened.journal, logger: silent });
  return { ...opened, registry };
}
const create = (id: string, data: unknown = {}) => ({ op: 'create' as const, entry: { id, kind: 'x.y', data } });

describe('FileJournal', () => {
  it('reads back every batch written before a restart', async () => {
    const path = join(dir, 'journal.log');
    const first = journaled(path);
    await first.registry.apply([create('app:a'), create('app:b')]);
    await first.registry.apply([{ op: 'delete', entry: { id: 'app:a' } }]);
    first.journal.close();
    const second = FileJournal.open(path);
    expect(second.records.map((r) => r.revision)).toEqual([1, 2]);
    expect(second.journal.lastRevision).toBe(2);
    expect(second.tornTail).toBe(false);
    expect([...foldJournal(second.records)].map(([id, e]) => [id, e?.id])).toEqual([
      ['app:a', undefined],
      ['app:b', 'app:b'],
    ]);
    second.journal.close();
  });

  it('drops a torn last record and keeps everything before it', async () => {
    const path = join(dir, 'journal.log');
    const first = journaled(path);
    await first.registry.apply([create('app:a')]);
    first.journal.close();
    appendFileSync(path, '0badc0de\t{"v":1,"revision":2,"chan');
    const second = FileJournal.open(path);
    expect(second.tornTail).toBe(true);
    expect(second.records.map((r) => r.revision)).toEqual([1]);
    second.journal.close();
    expect(readFileSync(path, 'utf8').endsWith('\n')).toBe(true);
  });

  it('refuses a journal damaged before its last record', async () => {
    const path = join(dir, 'journal.log');
    const first = journaled(path);
    await first.registry.apply([create('app:a')]);
    await first.registry.apply([create('app:b')]);
    first.journal.close();
    const lines = readFileSync(path, 'utf8').split('\n');
    lines[0] = lines[0]!.replace('app:a', 'app:X');
    writeFileSync(path, lines.join('\n'));
    expect(() => FileJournal.open(path)).toThrow(/journal\.log:1 is damaged before its last record/);
  });

  it('creates the file with owner-only permissions', () => {
    const path = join(dir, 'state', 'journal.log');
    FileJournal.open(path).journal.close();
    expect(statSync(path).mode & 0o777).toBe(0o600);
  });
});

describe('Registry with a journal', () => {
  it('refuses the batch and changes nothing when the journal cannot write', async () => {
    const discarded: string[] = [];
    const handlers = new HandlerRegistry();
    handlers.registerListener('x.*', { add: () => undefined, update: () => undefined, delete: () => undefined, discard: () => void discarded.push('discard') });
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
    const path = join(dir, 'journal.log');
    const first = journaled(path);
    await first.registry.apply([create('app:base', { v: 1 })], { durable: false });
    await first.registry.apply([{ op: 'update', entry: { id: 'app:base', kind: 'x.y', data: { v: 2 } } }, create('app:cli')]);
    first.journal.close();

    const second = journaled(path);
    await second.registry.apply([create('app:base', { v: 1 })], { durable: false });
    await second.registry.apply(second.registry.opsToReach(foldJournal(second.records)), { durable: false, source: 'journal replay' });
    expect(second.registry.entries().map((e) => [e.id, e.data])).toEqual([
      ['app:base', { v: 2 }],
      ['app:cli', {}],
    ]);
    second.journal.close();
    expect(FileJournal.open(path).records).toHaveLength(1);
  });

  it('keeps exactly the acknowledged batches when the process is killed mid-apply', async () => {
    const path = join(dir, 'journal.log');
    const child = spawn(process.execPath, [join(import.meta.dirname, '../../test/fixtures/journal/apply-forever.mjs'), path], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
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
    const { records, journal } = FileJournal.open(path);
    journal.close();
    const revisions = records.map((r) => r.revision);
    // Every acknowledged batch is there; at most the batch in flight was also written whole.
    expect(revisions.slice(0, acknowledged.length)).toEqual(acknowledged);
    expect(revisions).toEqual(Array.from({ length: revisions.length }, (_, i) => i + 1));
    expect(revisions.length - acknowledged.length).toBeLessThanOrEqual(2);
    for (const record of records) expect(record.changes).toHaveLength(2);
  });
});
