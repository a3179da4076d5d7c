import { defineConfig } from 'vitest/config';

/** The heavy reliability suites (`npm run test:reliability`): kill points, transient faults. */
export default defineConfig({
  test: {
    include: ['test/reliability/**/*.test.ts'],
    setupFiles: ['test/support/setup.ts'],
    testTimeout: 900_000,
    hookTimeout: 120_000,
    // Each case starts its own sandbox (moto_server, stand-in): one file at a time on two cores.
    maxWorkers: 1,
    reporters: ['default'],
  },
});
