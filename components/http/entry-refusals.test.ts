import { describe, expect, it } from 'vitest';
import { createEntry, KindlingError, type ListenerContext } from 'kindling';
import { missing, requireReference } from './entry-refusals.js';

const endpoint = createEntry({ id: 'app:lost', kind: 'http.endpoint', data: { router: 'nowhere' } });

function contextWith(entries: Record<string, ReturnType<typeof createEntry>>): ListenerContext {
  return {
    transactionId: 't1',
    dryRun: false,
    signal: new AbortController().signal,
    compensating: false,
    baseRevision: 0,
    get: (id) => entries[id],
  };
}

function thrownBy(run: () => void): KindlingError {
  try {
    run();
  } catch (error) {
    if (KindlingError.is(error)) return error;
    throw error;
  }
  throw new Error('expected a refusal');
}

describe('entry refusals', () => {
  it('names the missing id in details.missing, so the registry waits for that id', () => {
    const error = missing(endpoint, ['data', 'router'], 'http.router app:nowhere', 'app:nowhere');
    expect(error.code).toBe('NOT_FOUND');
    expect(error.message).toBe('http.endpoint app:lost: http.router app:nowhere does not exist');
    expect(error.details).toEqual({ entryId: 'app:lost', missing: 'app:nowhere' });
  });

  it('refuses a reference to an absent entry with NOT_FOUND naming it', () => {
    const error = thrownBy(() =>
      requireReference(contextWith({}), endpoint, { path: ['data', 'router'], id: 'app:nowhere', kind: 'http.router' }),
    );
    expect(error.code).toBe('NOT_FOUND');
    expect(error.message).toMatch(/http\.router entry app:nowhere does not exist/);
    expect(error.details).toMatchObject({ entryId: 'app:lost', missing: 'app:nowhere' });
  });

  it('refuses a reference to an entry of another kind as INVALID, naming nothing to wait for', () => {
    const router = createEntry({ id: 'app:api', kind: 'function.js', data: {} });
    const error = thrownBy(() =>
      requireReference(contextWith({ 'app:api': router }), endpoint, {
        path: ['data', 'router'],
        id: 'app:api',
        kind: 'http.router',
      }),
    );
    expect(error.code).toBe('INVALID');
    expect(error.details).not.toHaveProperty('missing');
  });
});
