// The public surface of `kindling/testing`: boot a plugin with the built-in registry and event bus,
// and apply YAML snippets to it. Explicit named exports only.

export { TestApp, bootTestApp, decodeYamlConfig } from './test-app.js';
export type { TestAppOptions, RefusalMatcher } from './test-app.js';
