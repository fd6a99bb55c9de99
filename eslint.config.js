// Lint, and the layer rules of DESIGN.md as rules rather than hopes:
// only src/main/electron and src/preload import 'electron'; core folders never import the
// transports or the UI; the renderer reaches the core only through src/shared.
import js from '@eslint/js';
import svelte from 'eslint-plugin-svelte';
import globals from 'globals';
import tseslint from 'typescript-eslint';

const electronOnly = { name: 'electron', message: "Only src/main/electron and src/preload may import 'electron'." };

export default tseslint.config(
  { ignores: ['out/**', 'dist/**', 'node_modules/**', '.tmp/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  ...svelte.configs['flat/recommended'],
  {
    languageOptions: { globals: { ...globals.node, ...globals.browser } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-explicit-any': 'error',
      'no-restricted-imports': ['error', { paths: [electronOnly] }],
    },
  },
  {
    files: ['**/*.svelte', '**/*.svelte.ts'],
    languageOptions: { parserOptions: { parser: tseslint.parser, extraFileExtensions: ['.svelte'] } },
  },
  {
    files: ['src/main/electron/**', 'src/preload/**'],
    rules: { 'no-restricted-imports': 'off' },
  },
  {
    files: ['src/main/{store,dataset,augment,model,train,analysis,jobs,util}/**', 'src/main/core.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [electronOnly],
          patterns: [
            {
              group: ['**/electron/**', '**/server/**', '**/cli/**', '**/renderer/**', '../core', '../../core'],
              message: 'Core folders do not import transports, the CLI, the UI or the Core that joins them.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['src/shared/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        { paths: [electronOnly], patterns: [{ group: ['node:*', '**/main/**', '**/renderer/**'], message: 'src/shared is pure TypeScript.' }] },
      ],
    },
  },
  {
    files: ['src/renderer/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        { paths: [electronOnly], patterns: [{ group: ['node:*', '**/main/**', '**/preload/**'], message: 'The renderer talks to the core only through src/shared and its api client.' }] },
      ],
    },
  },
);
