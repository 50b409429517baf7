// Lint rules that encode the project's habits (see README "Layout"):
// - only src/procfs (and src/config, which reads operator-supplied files, src/storage, which keeps the pool
//   state file under --storage.path, and export/resource.ts) touch node:fs;
// - nothing in src spawns processes (node_exporter bans os/exec the same way);
// - promises are awaited or explicitly voided; type-only imports are marked.
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'eslint.config.mjs'] },
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: { parserOptions: { project: './tsconfig.json', tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      eqeqeq: ['error', 'always'],
    },
  },
  {
    // node:test's test() returns a promise the runner tracks itself
    files: ['test/**/*.ts'],
    rules: { '@typescript-eslint/no-floating-promises': 'off' },
  },
  {
    files: ['src/**/*.ts'],
    ignores: ['src/procfs/**', 'src/config/**', 'src/storage/**', 'src/export/resource.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [
            { name: 'node:fs', message: 'Read /proc through src/procfs (ProcFs), the only door to it.' },
            { name: 'fs', message: 'Read /proc through src/procfs (ProcFs), the only door to it.' },
            { name: 'node:child_process', message: 'The daemon never runs external commands.' },
            { name: 'child_process', message: 'The daemon never runs external commands.' },
          ],
        },
      ],
    },
  },
  {
    files: ['src/procfs/**/*.ts', 'src/config/**/*.ts', 'src/storage/**/*.ts', 'src/export/resource.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { paths: [{ name: 'node:child_process', message: 'The daemon never runs external commands.' }] },
      ],
    },
  },
);
