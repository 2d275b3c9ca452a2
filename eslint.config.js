import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/**', 'data/**', 'dist/**', 'drizzle/**'] },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-restricted-syntax': [
        'error',
        { selector: "CallExpression[callee.object.name='it'][callee.property.name=/^(only|skip|todo)$/]", message: 'No focused or skipped tests.' },
        { selector: "CallExpression[callee.object.name='describe'][callee.property.name=/^(only|skip|todo)$/]", message: 'No focused or skipped tests.' },
      ],
    },
  },
  {
    files: ['src/flows/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['@slack/*', '@larksuiteoapi/*', 'dingtalk*', 'bullmq', 'ioredis', 'drizzle-orm*', 'postgres', '@electric-sql/*'], message: 'src/flows stays platform-, database- and queue-free (ARCHITECTURE.md rule 1).' },
            { group: ['**/adapters/**', '**/db/**', '**/scheduler/**', '**/http/**'], message: 'src/flows depends only on ports.' },
          ],
        },
      ],
    },
  },
);
