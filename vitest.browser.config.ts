import { defineConfig } from "vitest/config";

/** Browser tests (`npm run test:browser`): Chromium driven by playwright-core against the real server. */
export default defineConfig({
  test: {
    include: ["test/browser/**/*.test.ts"],
    testTimeout: 120_000,
    hookTimeout: 90_000,
    pool: "forks",
    fileParallelism: false,
    globalSetup: ["test/global-setup.ts"],
  },
});
