// The CLI as a process, with apps whose components never finish (a load that never settles, a
// module whose import never ends), throw values that cannot be described, or have nothing
// listening: it must fail with the component's name, never exit 0 silently, never hang, and run an
// idle app until a signal.
import { spawn } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cliPath, kindling, root, stateDir } from './support/cli-harness.js';

const fixtures = join(import.meta.dirname, 'fixtures/boot');
const stuck = join(fixtures, 'stuck-app');
const hangAtImport = join(fixtures, 'hang-at-import');
const hostile = join(fixtures, 'hostile-throw-app');
const quiet = join(fixtures, 'quiet-app');

const STUCK = 'component stuck did not load within 300 ms (raise loadTimeoutMs if it needs longer)';

describe('kindling validate', () => {
  it('exits 2 naming a component whose load never settles, and its time limit', async () => {
    const { code, err } = await kindling(['validate', stuck, '--state-dir', join(stuck, 'no-such-state')]);
    expect(code).toBe(2);
    expect(err).toMatch(new RegExp(`^error: ${STUCK.replace(/[()]/g, '\\$&')}$`, 'm'));
  });

  it('exits 2, not 0, when a component module never finishes loading', async () => {
    const { code, out, err } = await kindling(['validate', hangAtImport]);
    expect({ code, out }).toEqual({ code: 2, out: '' });
    expect(err).toContain('error: validate stopped before it finished: what it waited for can never settle');
  });

  it('prints the failure of a component that throws a value that cannot be described, naming the component', async () => {
    const { code, err } = await kindling(['validate', hostile]);
    expect(code).toBe(2);
    expect(err).toMatch(/^error: component hostile failed to load: .+$/m);
    expect(err).not.toMatch(/^error: toString$/m);
  });
});

describe('kindling run', () => {
  it('exits 1 naming a component whose load never settles, with a state directory', async () => {
    const state = await stateDir();
    try {
      const { code, err } = await kindling(['run', stuck, '--state-dir', state]);
      expect(code).toBe(1);
      expect(err).toContain(`error: stuck did not start: ${STUCK}\n`);
    } finally {
      await rm(state, { recursive: true, force: true });
    }
  });

  it('exits 1 naming a component whose load never settles, with --no-state', async () => {
    const { code, err } = await kindling(['run', stuck, '--no-state']);
    expect(code).toBe(1);
    expect(err).toContain(`error: stuck did not start: ${STUCK}\n`);
  });

  it('exits 1, not 0, when a component module never finishes loading', async () => {
    const { code, err } = await kindling(['run', hangAtImport, '--no-state']);
    expect(code).toBe(1);
    expect(err).toContain('error: run stopped before it finished');
  });

  it('runs an app with nothing listening until a signal, then calls its stop hooks (it used to exit at once)', async () => {
    const child = spawn(process.execPath, [cliPath, 'run', quiet, '--no-state'], { cwd: root });
    let out = '';
    let err = '';
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        if (out.includes('press Ctrl-C to stop')) resolve();
      });
      void exited.then(() => reject(new Error(`kindling run exited before it was up:\n${out}${err}`)));
    });
    // Still running: it did not stop on its own, so the signal is what stops it.
    expect(child.exitCode).toBeNull();
    expect(err).not.toContain('quiet: stopped');
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(err).toContain('quiet: started\nquiet: stopped\n');
  });
});
