import { defineConfig } from "vitest/config";

/** Fault injection (`npm run test:faults`): provider failures, client disconnects, SIGTERM/SIGKILL of a real server. */
export default defineConfig({
  test: {
    include: ["test/security/faults/**/*.faults.ts"],
    testTimeout: 90_000,
    hookTimeout: 90_000,
    pool: "forks",
    fileParallelism: false,
    globalSetup: ["test/global-setup.ts"],
  },
});
