// Lint and format rules for every JavaScript and TypeScript file of the
// repository (`pnpm lint`). The formatting rules describe the style the code
// is written in: no semicolons, single quotes, 2-space indentation. TypeScript
// files write `function f(`, JavaScript files (tests, fixtures, scripts,
// examples, benchmarks) write `function f (`. `pnpm lint:fix` applies the
// fixable ones.
import js from '@eslint/js'
import stylistic from '@stylistic/eslint-plugin'
import { defineConfig } from 'eslint/config'
import globals from 'globals'
import tseslint from 'typescript-eslint'

const TS = ['**/*.ts', '**/*.mts', '**/*.cts']
const JS = ['**/*.js', '**/*.mjs', '**/*.cjs']

export default defineConfig(
  {
    ignores: [
      '**/node_modules/**',
      '**/dist/**',
      '**/build/**',
      '**/prebuilds/**',
      '**/.turbo/**',
      'docs/api/**',
      'docs/.quickstart-*/**',
      'docs/.snippets-*/**',
      'bench/results/**',
      'test-results/**'
    ]
  },
  {
    linterOptions: { reportUnusedDisableDirectives: 'error' }
  },
  js.configs.recommended,
  {
    files: [...JS, ...TS],
    languageOptions: {
      ecmaVersion: 'latest',
      sourceType: 'module',
      globals: { ...globals.node }
    }
  },
  {
    files: ['**/*.cjs', 'packages/os-memlock/*.js'],
    languageOptions: { sourceType: 'commonjs' }
  },
  {
    files: TS,
    extends: [tseslint.configs.recommended],
    rules: {
      // The packages compile to CommonJS and load the addon with `import os =
      // require(...)`; the optional peer sodium-native is required lazily.
      '@typescript-eslint/no-require-imports': ['error', { allowAsImport: true, allow: ['^sodium-native$'] }]
    }
  },
  {
    // Type-level tests: each statement only has to type-check (or not, under @ts-expect-error).
    files: ['**/test/fixtures/types/**/*.ts'],
    rules: { '@typescript-eslint/no-unused-expressions': 'off' }
  },
  {
    plugins: { '@stylistic': stylistic },
    rules: {
      eqeqeq: ['error', 'always', { null: 'ignore' }],
      'no-new': 'error',
      'no-empty': ['error', { allowEmptyCatch: true }],
      'prefer-const': ['error', { destructuring: 'all' }],
      'no-throw-literal': 'error',
      'prefer-promise-reject-errors': 'error',
      'no-self-compare': 'error',
      'no-useless-rename': 'error',
      'object-shorthand': ['error', 'properties'],
      '@stylistic/semi': ['error', 'never'],
      '@stylistic/quotes': ['error', 'single', { avoidEscape: true, allowTemplateLiterals: 'always' }],
      '@stylistic/indent': ['error', 2, { SwitchCase: 1, offsetTernaryExpressions: true }],
      '@stylistic/no-tabs': 'error',
      '@stylistic/no-trailing-spaces': 'error',
      '@stylistic/eol-last': 'error',
      '@stylistic/no-multiple-empty-lines': ['error', { max: 2, maxEOF: 0 }],
      '@stylistic/comma-dangle': ['error', 'never'],
      '@stylistic/comma-spacing': 'error',
      '@stylistic/keyword-spacing': 'error',
      '@stylistic/space-infix-ops': 'error',
      '@stylistic/space-before-blocks': 'error',
      '@stylistic/object-curly-spacing': ['error', 'always'],
      '@stylistic/array-bracket-spacing': ['error', 'never'],
      '@stylistic/arrow-spacing': 'error',
      '@stylistic/brace-style': ['error', '1tbs', { allowSingleLine: true }],
      '@stylistic/key-spacing': 'error',
      '@stylistic/space-in-parens': 'error',
      '@stylistic/block-spacing': 'error',
      '@stylistic/no-multi-spaces': 'error',
      '@stylistic/spaced-comment': ['error', 'always', { markers: ['/'] }],
      '@stylistic/comma-style': 'error',
      '@stylistic/semi-spacing': 'error',
      '@stylistic/space-unary-ops': 'error',
      '@stylistic/template-curly-spacing': 'error',
      '@stylistic/computed-property-spacing': 'error',
      '@stylistic/function-call-spacing': 'error',
      '@stylistic/rest-spread-spacing': 'error',
      '@stylistic/no-whitespace-before-property': 'error',
      '@stylistic/switch-colon-spacing': 'error',
      '@stylistic/new-parens': 'error',
      '@stylistic/no-floating-decimal': 'error',
      '@stylistic/arrow-parens': ['error', 'always'],
      '@stylistic/quote-props': ['error', 'as-needed']
    }
  },
  {
    files: TS,
    rules: {
      '@stylistic/space-before-function-paren': ['error', { named: 'never', anonymous: 'never', asyncArrow: 'always' }],
      '@stylistic/member-delimiter-style': ['error', {
        multiline: { delimiter: 'none' },
        singleline: { delimiter: 'semi', requireLast: false }
      }],
      '@stylistic/type-annotation-spacing': 'error'
    }
  },
  {
    files: JS,
    rules: {
      '@stylistic/space-before-function-paren': ['error', { named: 'always', anonymous: 'always', asyncArrow: 'always' }],
      'no-unused-expressions': 'error'
    }
  }
)
