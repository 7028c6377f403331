import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEVICES, makeSpecialFiles } from '../../test/support/special-files.js';
import type { SpecialFiles } from '../../test/support/special-files.js';
import { FileBoundary } from './file-boundary.js';
import { FileAccessError } from './file-access-error.js';
import { checkBoundedFile, readBoundedFile } from './read-bounded-file.js';

const LIMIT = 4096;

/** Resolves on the next turn of the event loop's timers: proof that nothing blocks it. */
const timerFires = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 0));

async function refusalOf(pending: Promise<unknown>): Promise<FileAccessError> {
  const error: unknown = await pending.then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  expect(error).toBeInstanceOf(FileAccessError);
  return error as FileAccessError;
}

let dir: string;
let app: string;
let special: SpecialFiles;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kindling-read-'));
  app = join(dir, 'app');
  await mkdir(join(app, 'sub'), { recursive: true });
  await mkdir(join(dir, 'outside'));
  await mkdir(join(dir, 'common'));
  await writeFile(join(app, 'sub', 'ok.txt'), 'inside\n');
  await writeFile(join(dir, 'outside', 'x.js'), 'outside\n');
  await writeFile(join(dir, 'common', 'lib.js'), 'common\n');
  await mkdir(join(dir, 'app-evil'));
  await writeFile(join(dir, 'app-evil', 'x.js'), 'prefix\n');
  await symlink(join(dir, 'outside', 'x.js'), join(app, 'link-out.js'));
  await symlink(join(app, 'sub', 'ok.txt'), join(app, 'link-in.txt'));
  special = await makeSpecialFiles(join(app, 'special'), '.yaml', LIMIT);
});
afterAll(async () => {
  await special.close();
  await rm(dir, { recursive: true, force: true });
});

describe('readBoundedFile', () => {
  it('reads a regular file within the limit', async () => {
    const file = await readBoundedFile(join(app, 'sub', 'ok.txt'), { maxBytes: LIMIT });
    expect(file.bytes.toString()).toBe('inside\n');
    expect(file.size).toBe(7);
  });

  it.each(['fifo', 'socket', 'directory', 'oversized'] as const)(
    'refuses %s without reading it, while timers keep firing',
    async (name) => {
      const { path, expected } = special[name];
      const pending = refusalOf(readBoundedFile(path, { maxBytes: LIMIT }));
      await timerFires();
      const error = await pending;
      expect(error.message).toMatch(expected);
      expect(error.message.startsWith(path)).toBe(true);
      expect(error.code).toBe('INVALID');
    },
  );

  it.each(DEVICES)(
    'refuses the character device $label without reading from it (memory stays bounded)',
    async ({ path, expected }) => {
      const before = process.memoryUsage().arrayBuffers;
      const error = await refusalOf(readBoundedFile(path, { maxBytes: 64 * 1024 * 1024 }));
      expect(error.message).toMatch(expected);
      expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(8 * 1024 * 1024);
    },
  );

  it('names the setting that raises the limit', async () => {
    const error = await refusalOf(
      readBoundedFile(special.oversized.path, { maxBytes: LIMIT, limitName: 'maxFileBytes' }),
    );
    expect(error.message).toContain(`more than the limit of ${LIMIT} (maxFileBytes)`);
    expect(error.reason).toBe('too-large');
  });

  it.runIf(process.platform === 'linux')(
    'refuses a file that grows past the limit while it is read (fstat said 0 bytes)',
    async () => {
      // /proc files are regular files whose size fstat gives as 0: what is read is more than was announced.
      const error = await refusalOf(readBoundedFile('/proc/self/status', { maxBytes: 64 }));
      expect(error.message).toMatch(/grew past the limit of 64 bytes \(maxBytes\) while it was read/);
    },
  );

  it.runIf(process.platform === 'linux')('reads a file that grows within the limit', async () => {
    const file = await readBoundedFile('/proc/self/status', { maxBytes: LIMIT * 16 });
    expect(file.bytes.toString()).toMatch(/^Name:/);
  });

  it('refuses a missing file with NOT_FOUND', async () => {
    const error = await refusalOf(readBoundedFile(join(app, 'nowhere.txt'), { maxBytes: LIMIT }));
    expect(error).toMatchObject({ code: 'NOT_FOUND', reason: 'not-found' });
  });

  // Regression: each blocked open of a FIFO held one of libuv's four threads; after four, no file could be read.
  it('still reads files after many FIFO attempts', async () => {
    for (let i = 0; i < 12; i++) await refusalOf(readBoundedFile(special.fifo.path, { maxBytes: LIMIT }));
    expect((await readBoundedFile(join(app, 'sub', 'ok.txt'), { maxBytes: LIMIT })).bytes.toString()).toBe('inside\n');
  });

  describe('with a boundary', () => {
    const boundary = (): FileBoundary => new FileBoundary(app, { allow: ['../common'] });

    it.each([
      ['a path with ../', (): string => join(app, '..', 'outside', 'x.js')],
      ['an absolute path', (): string => join(dir, 'outside', 'x.js')],
      ['a symbolic link that leads out', (): string => join(app, 'link-out.js')],
      ['a sibling directory whose name starts with the root', (): string => join(dir, 'app-evil', 'x.js')],
    ])('refuses %s with FORBIDDEN before opening it', async (_label, path) => {
      const error = await refusalOf(readBoundedFile(path(), { maxBytes: LIMIT, boundary: boundary() }));
      expect(error).toMatchObject({ code: 'FORBIDDEN', reason: 'outside' });
      expect(error.message).toContain(`is outside the app root ${app}`);
    });

    it('says where a symbolic link that leads out resolves', async () => {
      const error = await refusalOf(
        readBoundedFile(join(app, 'link-out.js'), { maxBytes: LIMIT, boundary: boundary() }),
      );
      expect(error.message).toContain(`(it resolves to ${join(dir, 'outside', 'x.js')})`);
    });

    it('reads through a symbolic link that stays inside, and gives the real path', async () => {
      const file = await readBoundedFile(join(app, 'link-in.txt'), { maxBytes: LIMIT, boundary: boundary() });
      expect(file.bytes.toString()).toBe('inside\n');
      expect(file.realPath).toBe(join(app, 'sub', 'ok.txt'));
    });

    it('reads a file in a directory the boundary opts in', async () => {
      const file = await readBoundedFile(join(dir, 'common', 'lib.js'), { maxBytes: LIMIT, boundary: boundary() });
      expect(file.bytes.toString()).toBe('common\n');
    });

    it('refuses a special file inside the boundary for its type', async () => {
      const error = await refusalOf(readBoundedFile(special.fifo.path, { maxBytes: LIMIT, boundary: boundary() }));
      expect(error.message).toMatch(special.fifo.expected);
    });

    it('refuses a device for its type even in a directory the boundary opts in', async () => {
      const error = await refusalOf(
        readBoundedFile('/dev/zero', { maxBytes: LIMIT, boundary: new FileBoundary(app, { allow: ['/dev'] }) }),
      );
      expect(error.message).toMatch(/is a character device, not a regular file/);
    });
  });
});

describe('checkBoundedFile', () => {
  it('gives the real path and size of a regular file', async () => {
    const file = await checkBoundedFile(join(app, 'link-in.txt'), { maxBytes: LIMIT, boundary: new FileBoundary(app) });
    expect(file).toEqual({ path: join(app, 'link-in.txt'), realPath: join(app, 'sub', 'ok.txt'), size: 7 });
  });

  it('refuses a FIFO without waiting for a writer', async () => {
    const error = await refusalOf(checkBoundedFile(special.fifo.path, { maxBytes: LIMIT }));
    expect(error.message).toMatch(special.fifo.expected);
  });
});

describe('FileBoundary', () => {
  describe('.resolve', () => {
    it('gives the real path of a file inside the root', async () => {
      expect(await new FileBoundary(app).resolve('sub/ok.txt')).toBe(join(app, 'sub', 'ok.txt'));
    });

    it('refuses a missing path with NOT_FOUND', async () => {
      await expect(new FileBoundary(app).resolve('missing.txt')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    });

    it('names the directories allow.paths opts in when it refuses', async () => {
      const error = await refusalOf(
        new FileBoundary(app, { allow: ['../common'] }).resolve(join(dir, 'outside', 'x.js')),
      );
      expect(error.message).toContain(`and the directories allow.paths opts in (${join(dir, 'common')})`);
    });
  });

  describe('constructor', () => {
    it('refuses a maxModuleBytes that is not a positive integer', () => {
      expect(() => new FileBoundary(app, { maxModuleBytes: 0 })).toThrow(/maxModuleBytes must be a positive integer/);
    });
  });
});
