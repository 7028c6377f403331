// Lint for the TypeScript of every room: typescript-eslint's type-checked recommended rules, plus a
// few of our own. Layer boundaries and import circles are dependency-cruiser's job
// (.dependency-cruiser.cjs); formatting is Prettier's (.prettierrc).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

// bench/ compiles against the built package (bench/tsconfig.json maps `kindling` to dist/), so its
// types, and the type-checked rules over it, need a build. Say so rather than report every call
// into an unresolved module as unsafe.
if (!existsSync(join(import.meta.dirname, 'dist/src/index.d.ts'))) {
  throw new Error('eslint: bench/ is linted against dist/ — run `npm run build` first');
}

export default tseslint.config(
  {
    ignores: ['dist/**', 'dist-bench/**', 'coverage/**', '**/*.js', '**/*.mjs', '**/*.cjs', 'test/fixtures/**'],
  },
  {
    files: ['{src,boot,components,test,bench,examples}/**/*.ts', 'vitest.config.ts'],
    extends: [js.configs.recommended, ...tseslint.configs.recommendedTypeChecked],
    languageOptions: {
      parserOptions: {
        projectService: true,
        tsconfigRootDir: import.meta.dirname,
      },
    },
    linterOptions: {
      reportUnusedDisableDirectives: 'error',
    },
    rules: {
      // More than four parameters: take an options object instead.
      '@typescript-eslint/max-params': ['error', { max: 4 }],
      // `_name` marks a parameter or binding that is there for its position or its type only.
      '@typescript-eslint/no-unused-vars': [
        'error',
        {
          argsIgnorePattern: '^_',
          varsIgnorePattern: '^_',
          caughtErrorsIgnorePattern: '^_',
          destructuredArrayIgnorePattern: '^_',
          ignoreRestSiblings: true,
        },
      ],
      // Passing on what a `catch` caught is fine: it is whatever was thrown.
      '@typescript-eslint/prefer-promise-reject-errors': ['error', { allowThrowingUnknown: true }],
      // Terminal-safe output and the tests of it match control characters on purpose.
      'no-control-regex': 'off',
    },
  },
  {
    files: ['**/*.test.ts', 'test/**/*.ts'],
    rules: {
      // vitest's asymmetric matchers (`expect.any`, `expect.stringContaining`, …) and the calls a
      // `vi.fn()` recorded are typed `any`.
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
    },
  },
  {
    files: ['**/*.test.ts', 'test/**/*.ts', 'bench/**/*.ts'],
    rules: {
      // Fakes and measured stand-ins implement async interfaces with plain bodies.
      '@typescript-eslint/require-await': 'off',
    },
  },
);
