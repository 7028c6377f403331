// The package's entry points as a user loads them: from the built dist/ (the global setup builds
// it), each in a fresh process with every module it resolves recorded.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const script = join(import.meta.dirname, 'fixtures/entry-points/import-entry.mjs');

/** Imports `entry` in a child process; returns the URLs it resolved and what `Reflect.getMetadata` is then. */
async function load(entry: string): Promise<{ urls: string[]; getMetadata: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'kindling-entry-'));
  try {
    const log = join(dir, 'urls.log');
    const { stdout } = await run(process.execPath, [script, log, entry], { cwd: dir });
    const urls = (await readFile(log, 'utf8')).split('\n').filter((line) => line !== '');
    return { urls, getMetadata: (JSON.parse(stdout) as { getMetadata: string }).getMetadata };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const natsPackage = (url: string): boolean => url.includes('/node_modules/nats/');

describe('entry points', () => {
  describe.each(['kindling', 'kindling/events', 'kindling/boot', 'kindling/components', 'kindling/testing'])(
    '%s',
    (entry) => {
      it('loads without the nats package', async () => {
        const { urls } = await load(entry);
        expect(urls.some((url) => url.includes('/dist/'))).toBe(true);
        expect(urls.filter(natsPackage)).toEqual([]);
      });

      it('loads reflect-metadata itself, so decorators with metadata work', async () => {
        const { getMetadata } = await load(entry);
        expect(getMetadata).toBe('function');
      });
    },
  );

  describe('kindling/nats', () => {
    it('is where the nats package comes from', async () => {
      const { urls } = await load('kindling/nats');
      expect(urls.some(natsPackage)).toBe(true);
    });
  });
});
