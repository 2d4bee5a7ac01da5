import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.{ts,mjs}'],
    pool: 'forks',
    testTimeout: 120000,
    hookTimeout: 60000
  }
})
