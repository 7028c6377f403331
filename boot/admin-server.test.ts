import { existsSync, statSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { KindlingError, silentLogger } from 'kindling';
import { AdminClient, isNotRunning } from './admin-client.js';
import type { AdminApplyResult, AdminStatus } from './admin-protocol.js';
import { AdminServer } from './admin-server.js';
import type { AdminHandlers } from './admin-server.js';
import { MAX_SOCKET_PATH_BYTES, statePaths } from './state-dir.js';
import type { StatePaths } from './state-dir.js';

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
        new RegExp(`unix socket paths are limited to ${MAX_SOCKET_PATH_BYTES} bytes on this platform; choose a shorter state directory with --state-dir`),
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
        apply: () => Promise.reject(new KindlingError('CONFLICT', 'expected revision 1, but the registry is at 3; plan again', { details: { expectRevision: 1, revision: 3 } })),
      });
      const error = await new AdminClient(paths).apply({ ops: [] }).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(KindlingError);
      expect(error).toMatchObject({ code: 'CONFLICT', message: 'expected revision 1, but the registry is at 3; plan again', details: { expectRevision: 1, revision: 3 } });
    });

    it('refuses a body that is not JSON', async () => {
      await listen();
      const client = new AdminClient(paths) as unknown as { call: (method: string, path: string, body: unknown) => Promise<unknown> };
      await expect(client.call('POST', '/apply', undefined)).rejects.toMatchObject({ code: 'INVALID', message: expect.stringContaining('not valid JSON') });
    });

    it('answers NOT_FOUND for a route it does not have, listing those it has', async () => {
      await listen();
      const client = new AdminClient(paths) as unknown as { call: (method: string, path: string) => Promise<unknown> };
      await expect(client.call('DELETE', '/entries')).rejects.toMatchObject({ code: 'NOT_FOUND', message: expect.stringContaining('GET /status, GET /entries') });
    });
  });
});

describe('AdminClient', () => {
  it('says no app is running when there is no socket', async () => {
    const root = await mkdtemp(join(tmpdir(), 'kd-'));
    try {
      const error = await new AdminClient(statePaths(root)).status().catch((caught: unknown) => caught);
      expect(isNotRunning(error)).toBe(true);
      expect(await new AdminClient(statePaths(root)).probe()).toEqual({ state: 'none' });
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});
