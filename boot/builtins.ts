import type { Component } from './component.js';

/** The built-in components, by the name a manifest uses. */
// A type alias, not an interface: it must fit `Record<string, Component>`.
export type BuiltinComponents = {
  readonly events: Component;
  readonly registry: Component;
  readonly function: Component;
  readonly http: Component;
};

/**
 * The built-in components (`events`, `registry`, `function`, `http`) by the name a manifest uses.
 * They live in `components/`, which depends on this package: they are imported on first call, not
 * when `kindling/boot` loads.
 *
 * @example
 * const builtins = await loadBuiltinComponents();
 * const boot = new BootLoader();
 * boot.register(builtins.events);
 * boot.register(builtins.registry);
 * boot.register(myservice);
 * await boot.start();
 */
export async function loadBuiltinComponents(): Promise<BuiltinComponents> {
  const { builtinComponents } = await import('../components/index.js');
  return builtinComponents;
}
