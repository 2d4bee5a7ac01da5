import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.mjs'],
    pool: 'forks',
    testTimeout: 120000,
    hookTimeout: 240000
  }
})
