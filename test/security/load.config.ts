import { defineConfig } from "vitest/config";

/** Load test (`npm run test:load`; OPENPAW_LOAD_SECONDS / OPENPAW_LOAD_CLIENTS shorten it locally). */
export default defineConfig({
  test: {
    include: ["test/security/load/**/*.load.ts"],
    testTimeout: 600_000,
    hookTimeout: 120_000,
    pool: "forks",
    globalSetup: ["test/global-setup.ts"],
  },
});
