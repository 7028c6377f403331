import { spawn } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { chmod, chown, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { KindlingError, silentLogger } from 'kindling';
import { AdminClient, isNotRunning } from './admin-client.js';
import type { AdminApplyResult, AdminStatus } from './admin-protocol.js';
import { AdminServer } from './admin-server.js';
import type { AdminHandlers } from './admin-server.js';
import { MAX_SOCKET_PATH_BYTES, statePaths } from '../state/state-dir.js';
import type { StatePaths } from '../state/state-dir.js';

const status: AdminStatus = {
  pid: 4242,
  name: 'test',
  appDir: '/app',
  stateDir: '/app/.kindling',
  phase: 'ready',
  startedAt: '2025-01-01T00:00:00.000Z',
  revision: 3,
  entries: 0,
  journal: { path: '/app/.kindling/journal.log', replayedBatches: 0, tornTail: false },
};
const applied: AdminApplyResult = { revision: 4, dryRun: false, changes: [], faults: [] };

/** Another user's uid, for state directories and sockets made to look like theirs (the tests run as root). */
const OTHER_UID = 12_345;
const asRoot = process.getuid?.() === 0;

/**
 * A fake app on `socket`, as another local user could put there: it answers every request as a live
 * app would, and records what it was sent.
 */
async function fakeApp(socket: string): Promise<{ server: Server; requests: string[] }> {
  const requests: string[] = [];
  const server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString()));
    request.on('end', () => {
      requests.push(`${request.method} ${request.url} ${body}`);
      response.end(JSON.stringify({ result: request.url === '/status' ? status : applied }));
    });
  });
  await new Promise<void>((resolve) => server.listen(socket, resolve));
  return { server, requests };
}

function handlers(overrides: Partial<AdminHandlers> = {}): AdminHandlers {
  return {
    status: () => status,
    entries: () => ({ revision: 3, entries: [], owners: {} }),
    history: () => ({ revision: 3, records: [], journal: status.journal }),
    apply: async () => applied,
    rollback: async () => applied,
    ...overrides,
  };
}

describe('AdminServer', () => {
  let root: string;
  let paths: StatePaths;
  const servers: AdminServer[] = [];

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'kd-'));
    paths = statePaths(root, join(root, 'state'));
  });
  afterEach(async () => {
    for (const server of servers.splice(0)) await server.close();
    await rm(root, { recursive: true, force: true });
  });

  const listen = async (with_: Partial<AdminHandlers> = {}): Promise<AdminServer> => {
    const server = await AdminServer.listen(paths, handlers(with_), silentLogger);
    servers.push(server);
    return server;
  };

  describe('.listen', () => {
    it('creates the state directory 0700 and the socket 0600', async () => {
      await listen();
      expect(statSync(paths.dir).mode & 0o777).toBe(0o700);
      expect(statSync(paths.socket).mode & 0o777).toBe(0o600);
    });

    it.runIf(asRoot)('is out of reach of another user: the system refuses their connection', async () => {
      // Only the state directory and the socket keep them out: the directory above is open to all.
      await chmod(root, 0o755);
      await listen();
      const script = `require('node:net').createConnection(${JSON.stringify(paths.socket)}).on('connect', () => { console.log('connected'); process.exit(0); }).on('error', (e) => console.log(e.code));`;
      const child = spawn(process.execPath, ['-e', script], { uid: OTHER_UID, gid: OTHER_UID });
      let out = '';
      child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
      await new Promise((resolve) => child.once('close', resolve));
      expect(out).toBe('EACCES\n');
    });

    it('takes group and other permissions away from an existing state directory', async () => {
      await mkdir(paths.dir, { mode: 0o755 });
      await chmod(paths.dir, 0o755);
      await listen();
      expect(statSync(paths.dir).mode & 0o777).toBe(0o700);
    });

    it('refuses to start while a live app answers on the socket, naming its pid', async () => {
      await listen();
      await expect(AdminServer.listen(paths, handlers(), silentLogger)).rejects.toThrow(
        `an app (pid 4242) is already running with the state directory ${paths.dir}; stop it first, or give this one another --state-dir`,
      );
    });

    it('replaces a stale socket file that nothing answers on (an app that was killed)', async () => {
      await mkdir(paths.dir, { recursive: true, mode: 0o700 });
      // Connecting to a file nothing listens on is refused, as with the socket of a killed app
      // (the subprocess tests kill a real one).
      await writeFile(paths.socket, '');
      expect(await new AdminClient(paths).probe()).toEqual({ state: 'stale' });
      await listen();
      expect(await new AdminClient(paths).status()).toEqual(status);
    });

    it('two apps finding the same stale socket at once: one listens, the other is refused, the socket answers', async () => {
      await mkdir(paths.dir, { recursive: true, mode: 0o700 });
      for (let round = 0; round < 25; round++) {
        await writeFile(paths.socket, ''); // stale: nothing listens on it
        const outcomes = await Promise.allSettled([listen(), listen()]);
        const won = outcomes.filter((o) => o.status === 'fulfilled');
        const lost = outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected');
        expect(won).toHaveLength(1);
        expect(lost[0]?.reason).toMatchObject({ code: 'CONFLICT' });
        // The winner is reachable: its socket was not removed by the other.
        expect(await new AdminClient(paths).status()).toEqual(status);
        for (const server of servers.splice(0)) await server.close();
      }
    });

    it('refuses a socket path longer than the platform allows, naming the limit and --state-dir', async () => {
      const long = statePaths(root, join(root, 'x'.repeat(MAX_SOCKET_PATH_BYTES)));
      await expect(AdminServer.listen(long, handlers(), silentLogger)).rejects.toThrow(
        new RegExp(
          `unix socket paths are limited to ${MAX_SOCKET_PATH_BYTES} bytes on this platform; choose a shorter state directory with --state-dir`,
        ),
      );
    });
  });

  describe('.close', () => {
    it('removes the socket file', async () => {
      const server = await listen();
      await server.close();
      expect(existsSync(paths.socket)).toBe(false);
    });
  });

  describe('requests', () => {
    it('answers each route with its handler result', async () => {
      await listen();
      const client = new AdminClient(paths);
      expect(await client.entries()).toEqual({ revision: 3, entries: [], owners: {} });
      expect(await client.apply({ ops: [] })).toEqual(applied);
    });

    it('sends a refusal as { code, message, details } that the client throws again', async () => {
      await listen({
        apply: () =>
          Promise.reject(
            new KindlingError('CONFLICT', 'expected revision 1, but the registry is at 3; plan again', {
              details: { expectRevision: 1, revision: 3 },
            }),
          ),
      });
      const error = await new AdminClient(paths).apply({ ops: [] }).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(KindlingError);
      expect(error).toMatchObject({
        code: 'CONFLICT',
        message: 'expected revision 1, but the registry is at 3; plan again',
        details: { expectRevision: 1, revision: 3 },
      });
    });

    it('refuses a body that is not JSON', async () => {
      await listen();
      const client = new AdminClient(paths) as unknown as {
        call: (method: string, path: string, body: unknown) => Promise<unknown>;
      };
      await expect(client.call('POST', '/apply', undefined)).rejects.toMatchObject({
        code: 'INVALID',
        message: expect.stringContaining('not valid JSON'),
      });
    });

    it('refuses a batch larger than maxRequestBytes with a clear error the client receives', async () => {
      servers.push(await AdminServer.listen(paths, handlers(), silentLogger, { maxRequestBytes: 1024 * 1024 }));
      const ops = Array.from({ length: 500 }, (_, i) => ({
        op: 'create' as const,
        entry: { id: `app:n${i}`, kind: 'app.note', meta: {}, data: 'x'.repeat(10_000) },
      }));
      await expect(new AdminClient(paths).apply({ ops })).rejects.toMatchObject({
        code: 'INVALID',
        message: expect.stringMatching(
          /^the request body is \d+ bytes, more than the 1048576 allowed \(maxRequestBytes\)/,
        ) as unknown,
      });
    });

    it('answers NOT_FOUND for a route it does not have, listing those it has', async () => {
      await listen();
      const client = new AdminClient(paths) as unknown as { call: (method: string, path: string) => Promise<unknown> };
      await expect(client.call('DELETE', '/entries')).rejects.toMatchObject({
        code: 'NOT_FOUND',
        message: expect.stringContaining('GET /status, GET /entries'),
      });
    });
  });
});

describe('AdminClient', () => {
  let root: string;
  let paths: StatePaths;
  let fake: { server: Server; requests: string[] } | undefined;

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'kd-'));
    paths = statePaths(root, join(root, 'state'));
    await mkdir(paths.dir, { mode: 0o700 });
  });
  afterEach(async () => {
    if (fake !== undefined) await new Promise((resolve) => fake?.server.close(resolve));
    fake = undefined;
    await rm(root, { recursive: true, force: true });
  });

  const secret = {
    ops: [
      { op: 'create' as const, entry: { id: 'app:db', kind: 'app.note', meta: {}, data: { password: 'hunter2' } } },
    ],
  };

  it('says no app is running when there is no socket', async () => {
    const error = await new AdminClient(paths).status().catch((caught: unknown) => caught);
    expect(isNotRunning(error)).toBe(true);
    expect(await new AdminClient(paths).probe()).toEqual({ state: 'none' });
  });

  it('says no app is running when there is no state directory', async () => {
    await rm(paths.dir, { recursive: true });
    expect(await new AdminClient(paths).probe()).toEqual({ state: 'none' });
  });

  describe('before it connects', () => {
    it.runIf(asRoot)('refuses a state directory that belongs to another user, and sends it nothing', async () => {
      fake = await fakeApp(paths.socket);
      await chown(paths.dir, OTHER_UID, OTHER_UID);
      await expect(new AdminClient(paths).apply(secret)).rejects.toMatchObject({
        code: 'FORBIDDEN',
        message: `the state directory ${paths.dir} belongs to another user (uid ${OTHER_UID}), so the app answering there may not be yours; nothing was sent to it: use a state directory of your own with --state-dir`,
      });
      await expect(new AdminClient(paths).probe()).rejects.toMatchObject({ code: 'FORBIDDEN' });
      expect(fake.requests).toEqual([]);
    });

    it.runIf(asRoot)('refuses a socket that belongs to another user, and sends it nothing', async () => {
      fake = await fakeApp(paths.socket);
      await chown(paths.socket, OTHER_UID, OTHER_UID);
      await expect(new AdminClient(paths).apply(secret)).rejects.toMatchObject({
        code: 'FORBIDDEN',
        message: expect.stringContaining(`the admin socket ${paths.socket} belongs to another user (uid ${OTHER_UID})`),
      });
      expect(fake.requests).toEqual([]);
    });

    it('refuses a state directory open to group or others, saying how to close it', async () => {
      fake = await fakeApp(paths.socket);
      await chmod(paths.dir, 0o755);
      await expect(new AdminClient(paths).apply(secret)).rejects.toMatchObject({
        code: 'FORBIDDEN',
        message: `the state directory ${paths.dir} is open to group or others (mode 0755), so another user may have put the socket there; nothing was sent to it: if the app there is yours, run \`chmod 700 ${paths.dir}\`, or restart it (it sets the modes itself)`,
      });
      expect(fake.requests).toEqual([]);
    });

    it('refuses a socket open to others', async () => {
      fake = await fakeApp(paths.socket);
      await chmod(paths.socket, 0o666);
      await expect(new AdminClient(paths).entries()).rejects.toMatchObject({
        code: 'FORBIDDEN',
        message: expect.stringContaining(`run \`chmod 600 ${paths.socket}\``),
      });
      expect(fake.requests).toEqual([]);
    });

    it('refuses a state directory that is a symbolic link', async () => {
      const real = join(root, 'elsewhere');
      await mkdir(real, { mode: 0o700 });
      await rm(paths.dir, { recursive: true });
      await symlink(real, paths.dir);
      await expect(new AdminClient(paths).status()).rejects.toMatchObject({
        code: 'FORBIDDEN',
        message: expect.stringContaining('is not a directory (a symbolic link)'),
      });
    });

    it('talks to an app whose state directory and socket are its own and closed to others', async () => {
      fake = await fakeApp(paths.socket);
      await chmod(paths.socket, 0o600);
      expect(await new AdminClient(paths).apply(secret)).toEqual(applied);
      expect(fake.requests).toHaveLength(1);
    });
  });

  it('refuses an answer larger than maxResponseBytes', async () => {
    const server = await AdminServer.listen(
      paths,
      handlers({ entries: () => ({ revision: 1, entries: [], owners: { big: 'x'.repeat(10_000) } }) }),
      silentLogger,
    );
    try {
      await expect(new AdminClient(paths, { maxResponseBytes: 1_000 }).entries()).rejects.toMatchObject({
        message: expect.stringContaining('with more than 1000 bytes (maxResponseBytes)'),
      });
    } finally {
      await server.close();
    }
  });
});
