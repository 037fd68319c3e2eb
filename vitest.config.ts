import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  // The web app's tests import the server's contracts the way the web build does (web/vite.config.ts).
  resolve: { alias: { '@contracts': fileURLToPath(new URL('./src/api/contracts/index.ts', import.meta.url)) } },
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts', 'web/src/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // expect.poll waits for a condition (a screen after a click, a row after a write). Its 1 s default failed
    // tasks.browser under load 25 (a filter's fetch took longer); a wait ends as soon as the condition holds.
    expect: { poll: { timeout: 15_000, interval: 50 } },
    // Integration suites boot real servers, brokers and databases; keep them from starving each other on 2 cores.
    maxWorkers: 2,
    fileParallelism: true,
  },
});
