import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FileBoundary, getEntrySource } from 'kindling';
import type { RegistryYamlLimits } from 'kindling';
import { fromWireEntry, readWireSources } from './wire-entry.js';

describe('readWireSources', () => {
  let dir: string;
  let file: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kindling-wire-'));
    file = join(dir, 'notes.yaml');
    await writeFile(file, 'namespace: app\nentries:\n  - name: first\n    kind: app.note\n    text: one\n');
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /** Where `data.text` of the entry a client says it declared at notes.yaml:3:5 is, once its file is read. */
  const locateText = async (limits?: RegistryYamlLimits): Promise<unknown> => {
    const entry = fromWireEntry({
      id: 'app:first',
      kind: 'app.note',
      data: { text: 'one' },
      at: { file, line: 3, column: 5 },
    });
    await readWireSources([{ op: 'create', entry }], new FileBoundary(dir), limits);
    return getEntrySource(entry)?.locate?.(['data', 'text']);
  };

  it('reads the file an entry names, so that a path under the entry is located', async () => {
    expect(await locateText()).toEqual({ line: 5, column: 11 });
  });

  it("leaves a file over the app's maxFileBytes unread: the entry is located at its declaration only", async () => {
    expect(await locateText({ maxFileBytes: 16 })).toBeUndefined();
  });

  it("parses the file under the app's other limits too", async () => {
    expect(await locateText({ maxDepth: 2 })).toBeUndefined();
  });
});
