// The CLI against something that only looks like a running app: a fake admin socket, as another
// local user could put in a state directory they created, or an app whose answers carry control
// characters (ids and sources from before the id grammar, a forged history row). The CLI must send
// nothing to an endpoint it cannot trust, and print whatever it is given without letting it forge
// a line or reach the terminal raw.
import { realpathSync } from 'node:fs';
import { chmod, chown, cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { statePaths } from 'kindling/boot';
import { runCli } from './support/cli-harness.js';

const OTHER_UID = 12_345;
const asRoot = process.getuid?.() === 0;

/** What a terminal would act on: C0 but the line feed, DEL, C1, bidi controls, zero-width characters, lone surrogates. */
const RAW_CONTROL =
  /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff\ud800-\udfff]/;

const FORGED_SOURCE = 'ci\n    9  2025-01-01T00:00:00Z  yaml:/etc  +app:forged';
const RED_ID = 'app:\u001b[31mred';
const BIDI_ID = 'app:\u202eevil';

describe('kindling commands against a fake app', () => {
  let dir: string;
  let state: string;
  let server: Server | undefined;
  let requests: string[];
  let applyAnswer: { status: number; body: unknown };

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kindling-fake-'));
    state = await mkdtemp(join(tmpdir(), 'ks-'));
    await cp(join(import.meta.dirname, 'fixtures/cli/app'), dir, { recursive: true });
    requests = [];
    applyAnswer = { status: 200, body: { result: { revision: 3, dryRun: true, changes: [], faults: [] } } };
    const yaml = `yaml:${realpathSync(dir)}`;
    const answers: Record<string, unknown> = {
      '/status': {
        pid: 4242,
        name: 'evil\u001b]0;owned\u0007',
        appDir: dir,
        stateDir: state,
        phase: 'ready',
        startedAt: '2025-01-01T00:00:00.000Z',
        revision: 3,
        entries: 2,
        journal: { path: '/j', replayedBatches: 0, tornTail: false },
      },
      '/entries': {
        revision: 3,
        entries: [
          { id: BIDI_ID, kind: 'app.note', meta: {}, data: {} },
          { id: 'base:welcome', kind: 'app.note', meta: {}, data: { text: 'always here' } },
        ],
        owners: { [BIDI_ID]: yaml, 'base:welcome': yaml },
      },
      '/history': {
        revision: 3,
        records: [
          {
            revision: 1,
            transactionId: 't1',
            time: '2025-01-01T00:00:00.000Z',
            source: FORGED_SOURCE,
            changes: [{ op: 'create', id: RED_ID, kind: 'app.note' }],
          },
          {
            revision: 2,
            transactionId: 't2',
            time: '2025-01-01T00:00:01.000Z',
            source: 'ci',
            changes: [{ op: 'create', id: BIDI_ID, kind: 'app.note' }],
          },
        ],
        journal: { path: '/j\u202e', replayedBatches: 0, tornTail: true },
      },
    };
    server = createServer((request, response) => {
      let body = '';
      request.on('data', (chunk: Buffer) => (body += chunk.toString()));
      request.on('end', () => {
        requests.push(`${request.method} ${request.url} ${body}`);
        const answer =
          request.url === '/apply' ? applyAnswer : { status: 200, body: { result: answers[request.url ?? ''] } };
        response.writeHead(answer.status, { 'content-type': 'application/json' });
        response.end(JSON.stringify(answer.body));
      });
    });
    const socket = statePaths(dir, state).socket;
    await new Promise<void>((resolve) => server?.listen(socket, resolve));
    await chmod(socket, 0o600);
  });
  afterEach(async () => {
    await new Promise((resolve) => server?.close(resolve));
    server = undefined;
    await rm(dir, { recursive: true, force: true });
    await rm(state, { recursive: true, force: true });
  });

  describe('in a state directory another user created', () => {
    it.runIf(asRoot)(
      'apply exits 2, saying what to do, and sends the fake app nothing (it used to send every entry and report success)',
      async () => {
        await chown(state, OTHER_UID, OTHER_UID);
        const { code, out, err } = await runCli(['apply', dir, '--state-dir', state]);
        expect({ code, out }).toEqual({ code: 2, out: '' });
        expect(err).toBe(
          `error: the state directory ${state} belongs to another user (uid ${OTHER_UID}), so the app answering there may not be yours; nothing was sent to it: use a state directory of your own with --state-dir\n`,
        );
        expect(requests).toEqual([]);
      },
    );

    it.runIf(asRoot).each(['plan', 'validate', 'history', 'compact'])(
      '%s exits 2 and sends the fake app nothing',
      async (command) => {
        await chown(state, OTHER_UID, OTHER_UID);
        const { code, err } = await runCli([command, dir, '--state-dir', state]);
        expect(code).toBe(2);
        expect(err).toContain('belongs to another user');
        expect(requests).toEqual([]);
      },
    );

    it('apply exits 2 and sends nothing when the state directory is open to others', async () => {
      await chmod(state, 0o777);
      const { code, err } = await runCli(['apply', dir, '--state-dir', state]);
      expect(code).toBe(2);
      expect(err).toContain(`is open to group or others (mode 0777)`);
      expect(requests).toEqual([]);
    });
  });

  describe('answers that carry control characters', () => {
    it('history prints a source with a line feed on its own row, escaped (it used to forge a row)', async () => {
      const { code, out } = await runCli(['history', dir, '--state-dir', state]);
      expect(code).toBe(0);
      expect(out).not.toMatch(RAW_CONTROL);
      const rows = out.split('\n').filter((line) => /^ +\d+ {2}/.test(line));
      expect(rows).toHaveLength(2);
      expect(rows[0]).toContain('ci\\n    9  2025-01-01T00:00:00Z  yaml:/etc  +app:forged');
      expect(rows[0]).toContain('+app:\\u001b[31mred');
      expect(rows[1]).toContain('+app:\\u202eevil');
      expect(out).toContain('history of evil\\u001b]0;owned\\u0007 (pid 4242');
      expect(out).toContain('a torn last record of /j\\u202e was dropped');
    });

    it('history --json stays JSON that reads back as the original values', async () => {
      const { code, out } = await runCli(['history', dir, '--state-dir', state, '--json']);
      expect(code).toBe(0);
      expect(out).not.toMatch(RAW_CONTROL);
      const parsed = JSON.parse(out) as { records: { source: string; changes: { id: string }[] }[] };
      expect(parsed.records.map((r) => [r.source, r.changes[0]?.id])).toEqual([
        [FORGED_SOURCE, RED_ID],
        ['ci', BIDI_ID],
      ]);
    });

    it('plan prints an id with a bidi override escaped', async () => {
      const { code, out } = await runCli(['plan', dir, '--state-dir', state, '--prune']);
      expect(code).toBe(1);
      expect(out).not.toMatch(RAW_CONTROL);
      expect(out).toMatch(/^ {2}- app:\\u202eevil {2}app\.note$/m);
    });

    it('validate prints a refusal whose message carries escape sequences, escaped and indented', async () => {
      await writeFile(
        join(dir, 'registry/extra.yaml'),
        'namespace: app\nentries:\n  - { name: new, kind: app.note }\n',
      );
      applyAnswer = {
        status: 422,
        body: {
          error: { code: 'REJECTED', message: `entry ${RED_ID} refused \u001b[2J by\nthe listener`, details: {} },
        },
      };
      const { code, err } = await runCli(['validate', dir, '--state-dir', state]);
      expect(code).toBe(2);
      expect(err).not.toMatch(RAW_CONTROL);
      expect(err).toContain('  entry app:\\u001b[31mred refused \\u001b[2J by\n  the listener');
    });
  });
});
