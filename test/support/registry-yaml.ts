// Shared by the registry YAML tests (src/yaml/*.test.ts): texts, parses and the errors they raise.
import type { Entry } from '../../src/entry/entry.js';
import { parseRegistryYaml, RegistryYamlError, type RegistryYamlOptions } from '../../src/yaml/registry-yaml.js';

/** Lines joined into a YAML text. */
export function yaml(...lines: string[]): string {
  return `${lines.join('\n')}\n`;
}

/** A registry file with one entry, `app:hello` of kind `function.js`. */
export const ONE_ENTRY = yaml('namespace: app', 'entries:', '  - name: hello', '    kind: function.js');

/** Parses a text as the file `test.yaml`. */
export function parse(text: string, options?: RegistryYamlOptions): Entry[] {
  return parseRegistryYaml(text, 'test.yaml', options);
}

/** The RegistryYamlError `run` throws; fails when it throws nothing or something else. */
export function errorOf(run: () => unknown): RegistryYamlError {
  try {
    run();
  } catch (error) {
    if (error instanceof RegistryYamlError) return error;
    throw error;
  }
  throw new Error('expected a RegistryYamlError');
}

/** The RegistryYamlError `run` rejects with. */
export async function asyncErrorOf(run: () => Promise<unknown>): Promise<RegistryYamlError> {
  try {
    await run();
  } catch (error) {
    if (error instanceof RegistryYamlError) return error;
    throw error;
  }
  throw new Error('expected a RegistryYamlError');
}

/** Problems as `line:column message`, the file left out. */
export function problemsOf(text: string, options?: RegistryYamlOptions): string[] {
  return errorOf(() => parse(text, options)).problems.map((p) => `${p.line}:${p.column} ${p.message}`);
}

/** The ids of entries, in order. */
export function ids(entries: readonly Entry[]): string[] {
  return entries.map((entry) => entry.id);
}

/** The entry of an id; fails when there is none. */
export function entry(entries: readonly Entry[], id: string): Entry {
  const found = entries.find((e) => e.id === id);
  if (found === undefined) throw new Error(`no entry ${id}`);
  return found;
}
