// The CLI as a user runs it: `kindling run` on a copy of examples/hello in one process, and
// `kindling validate | plan | apply | history | rollback` as separate processes that reach it over
// its admin socket.
import { readFileSync, readdirSync, readlinkSync, statSync } from 'node:fs';
import { readFile, rm, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RunningApp, copyHello, kindling, stateDir } from './support/cli-harness.js';
import { fetchOnce } from './support/http-client.js';

const ENDPOINT = `
namespace: hello
entries:
  - name: get-bye
    kind: http.endpoint
    router: site
    method: GET
    path: /bye/:name
    func: greet
`;

/** The TCP ports a process listens on (Linux: its socket inodes matched against /proc/net/tcp*). */
function listeningTcpPorts(pid: number): number[] {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const match = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (match !== null) inodes.add(match[1] as string);
    } catch {
      // The descriptor closed while we looked.
    }
  }
  const ports: number[] = [];
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of readFileSync(table, 'utf8').split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      if (fields.length < 10 || fields[3] !== '0A' || !inodes.has(fields[9] as string)) continue;
      ports.push(Number.parseInt((fields[1] as string).split(':')[1] as string, 16));
    }
  }
  return ports.sort();
}

describe('kindling commands against a running example app (subprocesses)', () => {
  let dir: string;
  let state: string;
  let app: RunningApp;
  let http: string;
  let original: string;

  const revision = async (): Promise<number> =>
    Number(/revision (\d+)/.exec((await kindling(['history', dir, '--state-dir', state])).out)?.[1]);
  /** Puts the YAML back as it was and applies it (with --prune), so the next test starts from the original app. */
  const restore = async (): Promise<void> => {
    await writeFile(http, original);
    await unlink(join(dir, 'registry/extra.yaml')).catch(() => undefined);
    expect((await kindling(['apply', dir, '--state-dir', state, '--prune'])).code).toBe(0);
  };

  beforeAll(async () => {
    dir = await copyHello();
    state = await stateDir();
    http = join(dir, 'registry/http.yaml');
    original = await readFile(http, 'utf8');
    app = await RunningApp.start(dir, state);
  });
  afterAll(async () => {
    expect(await app.stop()).toBe(0);
    await rm(dir, { recursive: true, force: true });
    await rm(state, { recursive: true, force: true });
  });

  describe('the admin endpoint', () => {
    it('is a unix socket only its owner can open (0600, in a 0700 state directory)', () => {
      expect(statSync(join(state, 'admin.sock')).isSocket()).toBe(true);
      expect(statSync(join(state, 'admin.sock')).mode & 0o777).toBe(0o600);
      expect(statSync(state).mode & 0o777).toBe(0o700);
    });

    it.runIf(process.platform === 'linux')('adds no TCP listener: the app listens only on its own http service', () => {
      expect(listeningTcpPorts(app.pid)).toEqual([Number(new URL(app.url).port)]);
    });

    it('makes a second `kindling run` on the same state directory exit 1, naming the pid of the first', async () => {
      const second = await kindling(['run', dir, '--state-dir', state]);
      expect(second.code).toBe(1);
      expect(second.err).toContain(`an app (pid ${app.pid}) is already running with the state directory ${state}`);
      expect((await fetchOnce(`${app.url}/hello/Ada`)).status).toBe(200);
    });
  });

  describe('validate', () => {
    it('exits 0 for the example', async () => {
      const { code, out } = await kindling(['validate', dir, '--state-dir', state]);
      expect(code).toBe(0);
      expect(out).toMatch(/^valid: 8 entries in 2 files, checked through the running app \(pid \d+, revision \d+\)\n$/);
    });

    it('exits 2 with file:line:col for an endpoint whose function does not exist', async () => {
      await writeFile(join(dir, 'registry/extra.yaml'), ENDPOINT.replace('func: greet', 'func: farewell'));
      try {
        const { code, err } = await kindling(['validate', dir, '--state-dir', state]);
        expect(code).toBe(2);
        expect(err).toContain(
          `${join(dir, 'registry/extra.yaml')}:9:11: http.endpoint hello:get-bye: function entry hello:farewell does not exist`,
        );
      } finally {
        await unlink(join(dir, 'registry/extra.yaml'));
      }
    });
  });

  describe('plan', () => {
    it('exits 0 when the YAML matches the running app', async () => {
      const { code, out } = await kindling(['plan', dir, '--state-dir', state]);
      expect(code).toBe(0);
      expect(out).toContain('no changes: the running app');
    });

    it('exits 1 with + for a new entry and ~ with the changed field path', async () => {
      await writeFile(join(dir, 'registry/extra.yaml'), ENDPOINT);
      await writeFile(http, original.replace('path: /hello/:name', 'path: /hi/:name'));
      try {
        const { code, out } = await kindling(['plan', dir, '--state-dir', state]);
        expect(code).toBe(1);
        expect(out).toMatch(/^ {2}\+ hello:get-bye {4}http\.endpoint {2}\S*extra\.yaml:4:5$/m);
        expect(out).toMatch(/^ {2}~ hello:get-hello {2}http\.endpoint {2}data\.path$/m);
        expect(out).toContain('1 to create, 1 to update, 0 to delete');
      } finally {
        await writeFile(http, original);
        await unlink(join(dir, 'registry/extra.yaml'));
      }
    });

    it('prints the plan as JSON with --json', async () => {
      await writeFile(http, original.replace('path: /hello/:name', 'path: /hi/:name'));
      try {
        const { code, out } = await kindling(['plan', dir, '--state-dir', state, '--json']);
        expect(code).toBe(1);
        expect(JSON.parse(out)).toMatchObject({
          app: 'hello',
          valid: true,
          changes: [{ op: 'update', id: 'hello:get-hello', paths: ['data.path'] }],
        });
      } finally {
        await writeFile(http, original);
      }
    });

    it('exits 2 when the app refuses the dry run, with the position of the refused field', async () => {
      await writeFile(join(dir, 'registry/extra.yaml'), ENDPOINT.replace('path: /bye/:name', 'path: /hello/:name'));
      try {
        const { code, err } = await kindling(['plan', dir, '--state-dir', state]);
        expect(code).toBe(2);
        expect(err).toContain(
          `${join(dir, 'registry/extra.yaml')}:8:11: http.endpoint hello:get-bye: route GET /hello/:name on hello:server is already taken by endpoint hello:get-hello`,
        );
      } finally {
        await unlink(join(dir, 'registry/extra.yaml'));
      }
    });
  });

  describe('apply', () => {
    it('applies an edit as one new revision, served at once', async () => {
      const before = await revision();
      await writeFile(http, original.replace('path: /hello/:name', 'path: /hi/:name'));
      try {
        const { code, out } = await kindling(['apply', dir, '--state-dir', state]);
        expect(code).toBe(0);
        expect(out).toContain(`applied revision ${before + 1}: 0 created, 1 updated, 0 deleted`);
        expect(await (await fetchOnce(`${app.url}/hi/Ada`)).json()).toEqual({ message: 'Hello, Ada!' });
        expect((await fetchOnce(`${app.url}/hello/Ada`)).status).toBe(404);
      } finally {
        await restore();
      }
    });

    it('refuses a stale --expect-revision with exit 2 and changes nothing', async () => {
      const before = await revision();
      await writeFile(http, original.replace('path: /hello/:name', 'path: /hi/:name'));
      try {
        const { code, err } = await kindling([
          'apply',
          dir,
          '--state-dir',
          state,
          '--expect-revision',
          String(before - 1),
        ]);
        expect(code).toBe(2);
        expect(err).toContain(`expected revision ${before - 1}, but the registry is at ${before}; plan again`);
        expect(await revision()).toBe(before);
      } finally {
        await writeFile(http, original);
      }
    });

    it('deletes an entry the YAML no longer declares only with --prune', async () => {
      await writeFile(join(dir, 'registry/extra.yaml'), ENDPOINT);
      expect((await kindling(['apply', dir, '--state-dir', state])).code).toBe(0);
      await unlink(join(dir, 'registry/extra.yaml'));
      const kept = await kindling(['plan', dir, '--state-dir', state]);
      expect(kept.code).toBe(0);
      expect(kept.out).toContain('(hello:get-bye); --prune deletes it');
      const planned = await kindling(['plan', dir, '--state-dir', state, '--prune']);
      expect(planned.code).toBe(1);
      expect(planned.out).toMatch(/^ {2}- hello:get-bye {2}http\.endpoint$/m);
      expect((await kindling(['apply', dir, '--state-dir', state, '--prune'])).code).toBe(0);
      expect((await fetchOnce(`${app.url}/bye/Ada`)).status).toBe(404);
    });
  });

  describe('history and rollback', () => {
    it('lists the batches of the run with their sources', async () => {
      const { code, out } = await kindling(['history', dir, '--state-dir', state]);
      expect(code).toBe(0);
      expect(out).toMatch(/^ {2}rev {2}time +source +changes$/m);
      expect(out).toMatch(/^ +1 {2}\S+Z {2}yaml:\S+ +\+8$/m);
    });

    it('rolls the served routes back to an earlier revision', async () => {
      const base = await revision();
      await writeFile(http, original.replace('path: /hello/:name', 'path: /hi/:name'));
      try {
        expect((await kindling(['apply', dir, '--state-dir', state])).code).toBe(0);
        const { code, out } = await kindling(['rollback', dir, String(base), '--state-dir', state]);
        expect(code).toBe(0);
        expect(out).toContain(`rolled back to revision ${base} as revision ${base + 2}`);
        expect((await fetchOnce(`${app.url}/hello/Ada`)).status).toBe(200);
        expect((await fetchOnce(`${app.url}/hi/Ada`)).status).toBe(404);
      } finally {
        await writeFile(http, original);
      }
    });
  });
});

describe('a change applied through the CLI (subprocesses)', () => {
  let dir: string;
  let state: string;
  let app: RunningApp | undefined;

  beforeAll(async () => {
    dir = await copyHello();
    state = await stateDir();
  });
  afterAll(async () => {
    await app?.stop('SIGKILL');
    await rm(dir, { recursive: true, force: true });
    await rm(state, { recursive: true, force: true });
  });

  it('survives a restart, over the YAML it no longer matches', async () => {
    const http = join(dir, 'registry/http.yaml');
    const original = await readFile(http, 'utf8');
    app = await RunningApp.start(dir, state);
    await writeFile(http, original.replace('path: /hello/:name', 'path: /hi/:name'));
    expect((await kindling(['apply', dir, '--state-dir', state])).code).toBe(0);
    await writeFile(http, original);
    expect(await app.stop('SIGINT')).toBe(0);

    app = await RunningApp.start(dir, state);
    // The journal ended at revision 2: the baseline becomes 3 and the replay 4 (revisions never repeat).
    expect(app.output.out).toMatch(
      /^hello is running \(registry revision 4, 8 entries; 1 journaled batch replayed\)$/m,
    );
    expect(await (await fetchOnce(`${app.url}/hi/Ada`)).json()).toEqual({ message: 'Hello, Ada!' });
    const history = await kindling(['history', dir, '--state-dir', state]);
    expect(history.out).toMatch(/^ +4 {2}\S+Z {2}journal replay \(1 batch\) +~hello:get-hello$/m);
    expect(await app.stop('SIGINT')).toBe(0);
    app = undefined;
  });
});
