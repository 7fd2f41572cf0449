import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // The handlers log through Powertools; tests only need warnings and errors.
    env: { POWERTOOLS_LOG_LEVEL: 'WARN' },
  },
});
