import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const here = (path: string): string => fileURLToPath(new URL(path, import.meta.url));

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
    include: ['src/**/*.test.ts', 'boot/**/*.test.ts', 'components/**/*.test.ts', 'test/**/*.test.ts'],
    setupFiles: ['./test/support/setup.ts'],
    globalSetup: ['./test/support/global-setup.ts'],
    testTimeout: 20_000,
    hookTimeout: 20_000,
  },
});
