import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts', 'web/src/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Integration suites boot real servers, brokers and databases; keep them from starving each other on 2 cores.
    maxWorkers: 2,
    fileParallelism: true,
  },
});
