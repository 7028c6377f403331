// Headless Chromium for the inspector's browser tests: Debian's `chromium` driven by playwright-core,
// with a fresh profile each launch. Under CI=true a missing browser fails the run; elsewhere the
// tests skip with a message.
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import type { BrowserContext } from 'playwright-core';

export const CHROMIUM = process.env['KINDLING_CHROMIUM'] ?? '/usr/bin/chromium';

export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

const present = existsSync(CHROMIUM);
/** True when the browser tests must skip (no Chromium, outside CI). */
export const skipChromium = !present && process.env['CI'] !== 'true';
if (!present) {
  const message = `Chromium is not at ${CHROMIUM}; install it with: apt-get install -y chromium`;
  if (process.env['CI'] === 'true') throw new Error(message);
  console.warn(`skipping the inspector's browser tests: ${message}`);
}

/** A browser with a fresh user-data-dir; close() removes the profile. */
export async function launchChromium(): Promise<{ context: BrowserContext; close: () => Promise<void> }> {
  const profile = await mkdtemp(join(tmpdir(), 'kindling-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    args: CHROMIUM_ARGS,
    headless: true,
    viewport: { width: 1280, height: 760 },
  });
  return {
    context,
    close: async () => {
      await context.close();
      await rm(profile, { recursive: true, force: true });
    },
  };
}
