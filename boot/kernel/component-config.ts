import { createEntry, decodeEntryConfig } from 'kindling';
import { setEntrySource } from '../../src/entry/entry.js';
import type { ConfigClass } from 'kindling';
import type { ComponentConfigInfo } from './component.js';

/**
 * Decodes a component's raw manifest config into a validated, frozen instance of `ConfigClass`,
 * with the rules of entry config (`decodeEntryConfig`). A missing config decodes as `{}`; problems point
 * at the manifest's file:line:col. The loader calls it for components that declare `configClass`.
 */
export function decodeComponentConfig<T extends object>(
  ConfigClass: ConfigClass<T>,
  raw: unknown,
  info: ComponentConfigInfo,
): Readonly<T> {
  const input = setEntrySource(
    { id: `component:${info.component}`, kind: 'boot.component', meta: {}, data: raw ?? {} },
    info.source,
  );
  return decodeEntryConfig(ConfigClass, createEntry(input));
}
