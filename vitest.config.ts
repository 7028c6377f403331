import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const here = (path: string): string => fileURLToPath(new URL(path, import.meta.url));

/**
 * Two projects: `unit` (the tests beside the sources: no build, no child process, no service) and
 * `integration` (test/: the compiled CLI, child processes, real NATS). `npm test` runs both;
 * `npm run test:unit` and `npm run test:integration` run one.
 */
export default defineConfig({
  resolve: {
    alias: [
      { find: /^kindling$/, replacement: here('./src/index.ts') },
      { find: /^kindling\/events$/, replacement: here('./src/events/index.ts') },
      { find: /^kindling\/nats$/, replacement: here('./src/transport/nats/index.ts') },
      { find: /^kindling\/boot$/, replacement: here('./boot/index.ts') },
      { find: /^kindling\/components$/, replacement: here('./components/index.ts') },
      { find: /^kindling\/testing$/, replacement: here('./boot/testing/index.ts') },
    ],
  },
  test: {
    setupFiles: ['./test/support/setup.ts'],
    testTimeout: 20_000,
    hookTimeout: 20_000,
    projects: [
      {
        extends: true,
        test: { name: 'unit', include: ['src/**/*.test.ts', 'boot/**/*.test.ts', 'components/**/*.test.ts'] },
      },
      {
        extends: true,
        // Some tests drive the compiled CLI and child processes: dist/ is built once, first.
        test: { name: 'integration', include: ['test/**/*.test.ts'], globalSetup: ['./test/support/global-setup.ts'] },
      },
    ],
  },
});
