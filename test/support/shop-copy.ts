// A copy of examples/shop for the end-to-end tests: a free port, a fast totals timer.
import { cp, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '../..');

/** Replaces `from` by `to` in a file of `dir`, failing when the example no longer has `from`. */
export async function editFile(dir: string, path: string, from: string, to: string): Promise<void> {
  const file = join(dir, path);
  const text = await readFile(file, 'utf8');
  if (!text.includes(from)) throw new Error(`${path} no longer contains ${from}`);
  await writeFile(file, text.replace(from, to));
}

/** A copy of the example in a temp dir: its server on a free port, the totals timer every 100 ms. */
export async function copyShop(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'kindling-shop-'));
  await cp(join(root, 'examples/shop'), dir, { recursive: true });
  await editFile(dir, 'node/server.yaml', '"127.0.0.1:8080"', '"127.0.0.1:0"');
  await editFile(dir, 'registry/reactive.yaml', 'every: 30s', 'every: 100ms');
  return dir;
}
