import { defineConfig } from 'vitest/config'

export default defineConfig({
  // The test files are transformed like TypeScript (the default include) and
  // so are the .mjs tests: Node 20 and 22 cannot parse `using` declarations,
  // which the transform rewrites (test/using.test.mjs).
  oxc: {
    include: [/\.(m?ts|[jt]sx)$/, /\/test\/[^/]+\.test\.mjs$/]
  },
  test: {
    include: ['test/**/*.test.{ts,mjs}'],
    pool: 'forks',
    testTimeout: 120000,
    hookTimeout: 60000
  }
})
