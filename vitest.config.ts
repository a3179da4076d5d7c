import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The heavy suites run apart: npm run test:reliability (vitest.reliability.config.ts).
    exclude: ['test/reliability/**', '**/node_modules/**'],
    setupFiles: ['test/support/setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Two cores: each emulator test file starts its own moto_server.
    maxWorkers: 2,
    reporters: ['default'],
  },
});
