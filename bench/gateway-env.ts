/**
 * What every benchmark gateway runs with (bench/run.ts, bench/ab.ts): a plan without limits, so
 * the benchmarks measure the gateway rather than the plan's caps, and the fake model's address.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** Writes the plan file into `dataDir` and returns the gateway's environment. */
export function benchGatewayEnv(options: {
  port: number;
  databaseUrl: string;
  modelUrl: string;
  dataDir: string;
  redisUrl?: string;
}): Record<string, string> {
  const plansFile = join(options.dataDir, "plans.json");
  writeFileSync(
    plansFile,
    JSON.stringify([
      {
        id: "bench",
        name: "Bench",
        priceMonthly: 0,
        tokenLimit: null,
        overageRate: null,
        toolTier: "free",
        maxAgents: null,
        maxConcurrentRuns: 1_000_000,
        workspaceBytes: 0,
      },
    ]),
  );
  return {
    PORT: String(options.port),
    HOST: "127.0.0.1",
    DATABASE_URL: options.databaseUrl,
    OPENPAW_DATA_DIR: options.dataDir,
    ANTHROPIC_API_KEY: "sk-ant-bench-000000000000",
    ANTHROPIC_BASE_URL: options.modelUrl,
    OPENPAW_PLANS_FILE: plansFile,
    OPENPAW_DEFAULT_PLAN: "bench",
    OPENPAW_CONCURRENT_RUNS_PER_KEY: "1000000",
    OPENPAW_CONCURRENT_RUNS_PER_ORG: "1000000",
    OPENPAW_PASSWORD_HASH_COST: "10",
    OPENPAW_DIAGNOSTICS: "true",
    LOG_LEVEL: "error",
    REDIS_URL: options.redisUrl ?? "",
  };
}

/** CPU time (user + system) the process has used so far, in ms: a cost that load on a shared machine barely changes. */
export function cpuMsOf(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // utime, stime in clock ticks (USER_HZ = 100)
}
