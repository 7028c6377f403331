// Shared by the refusal and dry-run tests: a registry whose listener refuses what `bad` names, and
// entries declared at a position of /app/registry.yaml.
import { HandlerRegistry, KindlingError, Registry, createEntry, silentLogger } from '../../src/index.js';
import type { Entry, RegistryOp } from '../../src/index.js';
import { setEntrySource } from '../../src/entry/entry.js';

/** A registry accepting `app.*`; its listener `checker` refuses (INVALID) each entry `bad` has a reason for. */
export function registryRefusing(bad: (entry: Entry) => string | undefined): Registry {
  const handlers = new HandlerRegistry();
  const check = (_ctx: unknown, entry: Entry): void => {
    const reason = bad(entry);
    if (reason !== undefined) throw new KindlingError('INVALID', reason, { details: { entryId: entry.id } });
  };
  handlers.registerListener('app.*', { add: check, update: check, delete: () => undefined }, { name: 'checker' });
  return new Registry({ handlers, logger: silentLogger });
}

/** An `app.thing` entry declared at line `line`, column 5 of /app/registry.yaml. */
export const declared = (id: string, line: number, data: unknown = {}): Entry =>
  createEntry(setEntrySource({ id, kind: 'app.thing', data }, { file: '/app/registry.yaml', line, column: 5 }));

/** Creates of the entries, in order. */
export const creates = (...entries: Entry[]): RegistryOp[] => entries.map((entry) => ({ op: 'create', entry }));
