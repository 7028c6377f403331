// A nats-server of a test's own, on a free port with its own store: for what must not touch the
// shared one on 4222 (killing and restarting it).
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { reachable } from './nats-harness.js';

export const NATS_SERVER = process.env['KINDLING_NATS_SERVER'] ?? '/usr/sbin/nats-server';
export const haveNatsServer = existsSync(NATS_SERVER);
if (!haveNatsServer) {
  if (process.env['CI'] === 'true')
    throw new Error(`nats-server is not at ${NATS_SERVER}; install it or set KINDLING_NATS_SERVER`);
  console.warn(`skipping the tests that run their own nats-server: none at ${NATS_SERVER} (set KINDLING_NATS_SERVER)`);
}

/** A port nothing listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** Starts nats-server with JetStream on `port`, storing in `store`; resolves once it listens. */
export async function startNatsServer(
  port: number,
  store: string,
  extra: readonly string[] = [],
): Promise<{ process: ChildProcess; exited: Promise<unknown> }> {
  const child = spawn(NATS_SERVER, [...extra, '-a', '127.0.0.1', '-p', String(port), '-js', '-sd', store], {
    stdio: 'ignore',
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  for (let i = 0; i < 100 && !(await reachable(`nats://127.0.0.1:${port}`)); i++) {
    // Bounded wait for the server to listen: it has no readiness signal but the port.
    await new Promise<void>((resolve) => setTimeout(resolve, 50));
  }
  return { process: child, exited };
}
