import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.{js,mjs,ts}'],
    pool: 'forks',
    testTimeout: 60000
  }
})
