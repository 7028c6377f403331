import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { census, leakedSince } from './support/leak-check.js';

describe('leakedSince', () => {
  it('names a timer left running, and nothing once it is cleared', () => {
    const before = census();
    const timer = setTimeout(() => undefined, 60_000);
    expect(leakedSince(before)).toEqual(['Timeout ×1']);
    clearTimeout(timer);
    expect(leakedSince(before)).toEqual([]);
  });

  it('names a listening server', async () => {
    const before = census();
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    expect(leakedSince(before)).toEqual(['TCPServerWrap ×1']);
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
});
