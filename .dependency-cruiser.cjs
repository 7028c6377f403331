// The layer rules of the import graph. `npm run lint:deps` checks src/, boot/, components/, test/
// and bench/ against them; a forbidden import fails the build. The layers, bottom up:
//
//   src/             the core: registry, handlers, config, YAML, events (src/transport/nats is
//                    the one room that loads `nats`)
//   boot/            the boot kernel and the app around it (kernel, app, state, admin)
//   components/      the built-in components, on top of boot's public entry
//   boot/cli, boot/testing
//                    the two assemblies that wire the built-ins in: the `kindling` command and
//                    the `kindling/testing` harness; nothing else in boot/ imports them or
//                    components/
//
// Tests (*.test.ts, test/) may import anything; shipped code never imports a test.

/** Shipped code: what `npm run build` compiles. */
const SHIPPED = '^(src|boot|components)/';
const TEST = '(^test/|\\.test\\.ts$)';
const ASSEMBLIES = '^boot/(cli|testing)/';

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'A file-level import circle: cut it (usually a type moved to the module both sides use).',
      from: {},
      to: { circular: true },
    },
    {
      name: 'not-to-unresolvable',
      severity: 'error',
      comment: 'An import that resolves to no file.',
      from: { path: SHIPPED },
      to: { couldNotResolve: true },
    },
    {
      name: 'core-not-to-boot-or-components',
      severity: 'error',
      comment: 'src/ is the bottom layer: it never imports boot/ or components/.',
      from: { path: '^src/' },
      to: { path: '^(boot|components)/' },
    },
    {
      name: 'core-without-nats',
      severity: 'error',
      comment: 'Only src/transport/nats (the `kindling/nats` entry) loads the nats client; the core works without it.',
      from: { path: '^src/', pathNot: '^src/transport/nats/' },
      // (^|/): node_modules may be a link to another checkout's.
      to: { path: ['^src/transport/nats/', '(^|/)node_modules/nats/'] },
    },
    {
      name: 'boot-not-to-components',
      severity: 'error',
      comment:
        'Components depend on boot, never the reverse: only the assemblies (boot/cli, boot/testing) wire the built-ins in.',
      from: { path: '^boot/', pathNot: [ASSEMBLIES, TEST] },
      to: { path: '^components/' },
    },
    {
      name: 'boot-not-to-assemblies',
      severity: 'error',
      comment: 'The CLI and the testing harness sit on top of everything; the rest of boot/ never imports them.',
      from: { path: '^boot/', pathNot: [ASSEMBLIES, TEST] },
      to: { path: ASSEMBLIES },
    },
    {
      name: 'components-through-boot-entry',
      severity: 'error',
      comment:
        'A component reaches boot through `kindling/boot` (boot/index.ts) only; its tests may use `kindling/testing`.',
      from: { path: '^components/' },
      to: { path: '^boot/', pathNot: ['^boot/index\\.ts$', '^boot/testing/index\\.ts$'] },
    },
    {
      name: 'components-not-to-testing',
      severity: 'error',
      comment: 'The testing harness is for tests: shipped component code never imports it.',
      from: { path: '^components/', pathNot: TEST },
      to: { path: '^boot/testing/' },
    },
    {
      name: 'components-not-to-each-others-internals',
      severity: 'error',
      comment: "A component uses another one through that component's index.ts, never its inner files.",
      from: { path: '^components/([^/]+)/' },
      to: { path: '^components/[^/]+/', pathNot: ['^components/$1/', '^components/[^/]+/index\\.ts$'] },
    },
    {
      name: 'components-not-to-aggregate',
      severity: 'error',
      comment: 'components/index.ts gathers the built-ins; a component importing it would import itself.',
      from: { path: '^components/[^/]+/' },
      to: { path: '^components/index\\.ts$' },
    },
    {
      name: 'shipped-not-to-tests',
      severity: 'error',
      comment: 'Shipped code never imports a test or a test helper (test/support, *.test.ts).',
      from: { path: SHIPPED, pathNot: TEST },
      to: { path: TEST },
    },
    {
      name: 'shipped-not-to-dev-deps',
      severity: 'error',
      comment: 'Shipped code never imports a devDependency (vitest, fast-check, …): a user would not have it.',
      from: { path: SHIPPED, pathNot: TEST },
      to: { dependencyTypes: ['npm-dev'], dependencyTypesNot: ['type-only'] },
    },
  ],
  options: {
    doNotFollow: { path: ['node_modules', '^dist/'] },
    exclude: { path: ['^test/fixtures/', '^dist/'] },
    tsConfig: { fileName: 'tsconfig.json' },
    // Type-only imports count: an `import type` circle is still a circle between files.
    tsPreCompilationDeps: true,
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      extensions: ['.ts', '.js', '.mjs', '.cjs', '.d.ts', '.json'],
    },
    moduleSystems: ['es6', 'cjs'],
  },
};
