// Fails any test that leaves timers, sockets, servers or child processes behind. Resources that
// existed before the test (a server from beforeAll, vitest's own) are not counted: only growth is.
import { afterEach, beforeEach, expect } from 'vitest';

/** The kinds of handle a test must close before it ends. */
const WATCHED = new Set([
  'Timeout',
  'Immediate',
  'TCPServerWrap',
  'TCPSocketWrap',
  'PipeServerWrap',
  'PipeWrap',
  'ProcessWrap',
  'UDPWrap',
  'FSEventWrap',
  'StatWatcher',
]);

/** Counts the watched handles that are open now, by kind. */
export function census(): Map<string, number> {
  const counts = new Map<string, number>();
  for (const type of process.getActiveResourcesInfo()) {
    if (WATCHED.has(type)) counts.set(type, (counts.get(type) ?? 0) + 1);
  }
  return counts;
}

/** Lets closes that were started before the test ended finish (sockets close on the next ticks). */
async function quiesce(): Promise<void> {
  for (let i = 0; i < 3; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

/** The watched handles opened since `before` was taken, as `Kind ×n`. */
export function leakedSince(before: ReadonlyMap<string, number>): string[] {
  return [...census()]
    .filter(([type, count]) => count > (before.get(type) ?? 0))
    .map(([type, count]) => `${type} ×${count - (before.get(type) ?? 0)}`);
}

/**
 * Installs the check for the whole suite. A test that means to leave a resource open for the next
 * test of its file should open it in `beforeAll` instead.
 */
export function installLeakCheck(): void {
  let before = new Map<string, number>();
  beforeEach(() => {
    before = census();
  });
  afterEach(async () => {
    let leaked: string[] = [];
    // A handle may need a few more turns of the loop to be released after its close() resolved,
    // and the test runner's own short timers (progress reports) come and go: only what stays for
    // half a second counts as left open.
    for (let attempt = 0; attempt < 20; attempt++) {
      await quiesce();
      leaked = leakedSince(before);
      if (leaked.length === 0) return;
      await new Promise<void>((resolve) => setTimeout(resolve, 25).unref());
    }
    expect.fail(
      `the test left resources open: ${leaked.join(', ')} (close servers, sockets, timers and child processes before it ends)`,
    );
  });
}
