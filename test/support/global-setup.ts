import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { runTag, sweepTestStreams } from './test-streams.js';

const NATS_URL = process.env['KINDLING_TEST_NATS_URL'] ?? 'nats://127.0.0.1:4222';

/**
 * Tags the run, deletes the JetStream streams earlier runs left behind, and builds dist/; when the
 * run ends, deletes the streams it made itself (see test-streams.ts).
 */
export default async function setup(): Promise<() => Promise<void>> {
  // Made before the workers start, so that they inherit it.
  const tag = runTag();
  await sweepTestStreams(NATS_URL, tag);
  build();
  return async () => {
    await sweepTestStreams(NATS_URL, tag);
  };
}

/**
 * Builds dist/ once per run: some tests drive the compiled CLI or child processes. Type errors are
 * the typecheck's business (`npm run typecheck`, run by CI); here only emitted JavaScript matters,
 * so tsc's "errors, but output generated" (exit 2) is a warning, and anything else is fatal.
 */
function build(): void {
  const root = fileURLToPath(new URL('../..', import.meta.url));
  const build = spawnSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json'], {
    cwd: root,
    encoding: 'utf8',
  });
  if (build.status === 0) return;
  if (build.status === 2) {
    process.stderr.write(
      `warning: the build has type errors (run npm run typecheck):\n${build.stdout.split('\n').slice(0, 5).join('\n')}\n`,
    );
    return;
  }
  throw new Error(`building dist/ failed (tsc exit ${build.status ?? build.signal}):\n${build.stdout}${build.stderr}`);
}
