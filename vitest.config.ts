import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // The handlers log through Powertools; tests only need warnings and errors. Their metrics (EMF lines on
    // stdout) are off but in test/integration/observability.test.ts, which reads them.
    env: { POWERTOOLS_LOG_LEVEL: 'WARN', POWERTOOLS_METRICS_DISABLED: 'true' },
    // The integration tests' API answers are checked against docs/openapi.json (the helper says how).
    setupFiles: ['test/helpers/validate-api-responses.ts'],
  },
});
