// The crash test of durable history: `kindling apply` runs in a loop against a `kindling run`
// subprocess, which is killed with SIGKILL in the middle of an apply — while the batch is in the
// listeners (not yet journaled), or after it was journaled but before the apply answered. After a
// restart (with the YAML back to the original, so only the journal can bring the batches back),
// exactly the acknowledged batches are there, plus the one in flight only when it was journaled.
import { cp, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { silentLogger } from 'kindling';
import { AdminClient, statePaths } from 'kindling/boot';
import { main } from '../boot/cli/main.js';
import { RunningApp, copyHello, kindling, stateDir } from './support/cli-harness.js';

/** The batch the probe holds (so the app is killed in the middle of applying it). */
const HOLD_AT = 12;

/** The YAML of batch `n`: entries c1..cn (each apply creates one more), with some bulk to write. */
function crashYaml(n: number): string {
  const entries = Array.from(
    { length: n },
    (_, i) => `  - { name: c${i + 1}, kind: crash.item, n: ${i + 1}, padding: "${'x'.repeat(4_000)}" }`,
  );
  return `namespace: crash\nentries:\n${entries.join('\n')}\n`;
}

/** Adds the crash probe to the app's manifest, holding batch `holdAt` in `phase` (0: never). */
async function probe(dir: string, holdAt: number, phase: string): Promise<void> {
  const manifest = join(dir, 'kindling.yaml');
  const text = (await readFile(manifest, 'utf8')).replace(/\n {2}- module: \.\/crash-probe\.js\n.*\n/, '\n');
  await writeFile(
    manifest,
    text.replace(
      '\nregistry:\n',
      `\n  - module: ./crash-probe.js\n    config: { holdAt: ${holdAt}, phase: ${phase} }\nregistry:\n`,
    ),
  );
}

async function apply(dir: string, state: string): Promise<number> {
  // The CLI's own code path, in process so the loop is quick; it reaches the app over its socket.
  return main(['apply', dir, '--state-dir', state], {
    stdout: () => undefined,
    stderr: () => undefined,
    logger: silentLogger,
    handleSignals: false,
  });
}

describe('durable history under SIGKILL', () => {
  it.each([
    { phase: 'listener', journaled: false },
    { phase: 'observer', journaled: true },
  ])(
    'keeps exactly the acknowledged batches when killed with a batch in the $phase',
    async ({ phase, journaled }) => {
      const dir = await copyHello();
      const state = await stateDir();
      await cp(join(import.meta.dirname, 'fixtures/cli/crash/crash-probe.js'), join(dir, 'crash-probe.js'));
      await probe(dir, HOLD_AT, phase);
      const crashFile = join(dir, 'registry/crash.yaml');
      let app: RunningApp | undefined = await RunningApp.start(dir, state);
      try {
        const first = app;
        first.child.stderr.on('data', () => {
          if (first.output.err.includes(`crash-probe: holding crash:c${HOLD_AT} in the ${phase}`))
            first.child.kill('SIGKILL');
        });
        const acknowledged: number[] = [];
        let inFlight = 0;
        for (let n = 1; n <= HOLD_AT; n++) {
          await writeFile(crashFile, crashYaml(n));
          inFlight = n;
          if ((await apply(dir, state)) !== 0) break;
          acknowledged.push(n);
        }
        expect(await first.stop()).toBeNull();
        expect(first.child.signalCode).toBe('SIGKILL');
        expect(acknowledged).toEqual(Array.from({ length: HOLD_AT - 1 }, (_, i) => i + 1));
        expect(inFlight).toBe(HOLD_AT);

        // Only the journal can bring the crash entries back now (and the probe holds nothing).
        await unlink(crashFile);
        await probe(dir, 0, phase);
        app = await RunningApp.start(dir, state);
        const { entries } = await new AdminClient(statePaths(dir, state)).entries();
        const present = entries
          .filter((entry) => entry.kind === 'crash.item')
          .map((entry) => (entry.data as { n: number }).n)
          .sort((a, b) => a - b);
        expect(present).toEqual(journaled ? [...acknowledged, inFlight] : acknowledged);
        const history = await kindling(['history', dir, '--state-dir', state]);
        expect(history.out).toContain(`journal replay (${present.length} batches)`);
      } finally {
        await app?.stop('SIGKILL');
        await rm(dir, { recursive: true, force: true });
        await rm(state, { recursive: true, force: true });
      }
    },
    60_000,
  );
});
