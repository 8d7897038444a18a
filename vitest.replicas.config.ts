import { defineConfig } from "vitest/config";

/** The two-replica test (`npm run test:replicas`): real server processes on PostgreSQL and Redis. */
export default defineConfig({
  test: {
    include: ["test/replicas/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 90_000,
    pool: "forks",
    globalSetup: ["test/global-setup.ts"],
  },
});
