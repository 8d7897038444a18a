/**
 * Usage at scale: loads 1,000,000 usage records for one org (120 days, 40 agents) through the same
 * batched repository insert the product uses (rollup included), then times the HTTP endpoints
 * in process (median of several runs): the list's first and a deep page, filtered lists, and the
 * summary. SQLite always; PostgreSQL too when TEST_DATABASE_URL is set (in a fresh schema).
 *
 *   npx tsx bench/usage.ts [records]
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sql } from "kysely";
import pg from "pg";
import { createApp } from "../src/app";
import { loadConfig } from "../src/config";
import type { UsageRecordsTable } from "../src/db/schema";
import { insertUsageRecords } from "../src/features/usage/repository";
import { createLogger } from "../src/lib/logger";
import { createServices } from "../src/services";

const TOTAL = Number(process.argv[2] ?? 1_000_000);
const DAYS = 120;
const AGENTS = 40;
const RUNS = 7;

async function bench(label: string, databaseUrl: string): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), "openpaw-bench-"));
  const config = loadConfig({ OPENPAW_DATA_DIR: dataDir, DATABASE_URL: databaseUrl, OPENPAW_PASSWORD_HASH_COST: "10", LOG_LEVEL: "error" });
  const services = await createServices(config, { logger: createLogger("error", { write: () => {} }) });
  const app = createApp(services);
  try {
    const signup = await app.request("/v1/auth/signup", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ email: `bench${Date.now()}@example.com`, password: "correct horse battery", orgName: "Bench" }),
    });
    const { org } = (await signup.json()) as { org: { id: string } };
    const cookie = (signup.headers.get("set-cookie") ?? "").split(";")[0];

    const now = Date.now();
    const span = DAYS * 86_400_000;
    const step = span / TOTAL;
    const loadStart = performance.now();
    const chunk = 20_000;
    const batch = services.db.dialect === "sqlite" ? 500 : 1000;
    for (let done = 0; done < TOTAL; done += chunk) {
      const rows: UsageRecordsTable[] = [];
      for (let i = done; i < Math.min(TOTAL, done + chunk); i++) {
        const agent = i % AGENTS;
        const input = 500 + (i % 997);
        const output = 100 + (i % 331);
        rows.push({
          id: `usg_bench${i.toString().padStart(8, "0")}`,
          org_id: org.id,
          agent_id: `ag_bench${agent}`,
          agent_name: `Agent ${agent}`,
          conversation_id: `conv_bench${i % 50_000}`,
          run_id: `run_bench${i}`,
          schedule_id: null,
          parent_run_id: null,
          api_key_id: null,
          user_id: null,
          model: "claude-sonnet-4-20250514",
          input_tokens: input,
          output_tokens: output,
          cache_read_tokens: 0,
          cache_write_tokens: 0,
          tokens: input + output,
          cost: (input * 3 + output * 15) / 1_000_000,
          iterations: 1 + (i % 4),
          tool_calls: i % 5,
          status: "completed",
          duration_ms: 800 + (i % 5000),
          created_at: Math.floor(now - span + i * step),
        });
      }
      await insertUsageRecords(services.db.kysely, rows, batch);
      process.stdout.write(`\r${label}: loaded ${(done + rows.length).toLocaleString("en-US")} records`);
    }
    const loadSeconds = (performance.now() - loadStart) / 1000;
    process.stdout.write(` in ${loadSeconds.toFixed(1)} s\n`);
    await sql`analyze`.execute(services.db.kysely);

    const time = async (path: string): Promise<{ median: number; status: number }> => {
      let status = 0;
      const samples: number[] = [];
      for (let i = 0; i <= RUNS; i++) {
        const t = performance.now();
        const res = await app.request(path, { headers: { cookie } });
        await res.arrayBuffer();
        status = res.status;
        if (i > 0) samples.push(performance.now() - t);
      }
      samples.sort((x, y) => x - y);
      return { median: samples[Math.floor(samples.length / 2)], status };
    };
    const base = `/v1/orgs/${org.id}`;
    const midFrom = new Date(now - 60 * 86_400_000 + 3_600_000 * 5).toISOString();
    const midTo = new Date(now - 20 * 86_400_000 + 3_600_000 * 7).toISOString();
    const cases: [string, string][] = [
      ["list page 1 (limit 50)", `${base}/usage`],
      ["list page 5000 (limit 50)", `${base}/usage?page=5000`],
      ["list last page (limit 200)", `${base}/usage?page=${Math.ceil(TOTAL / 200)}&limit=200`],
      ["list agentId, page 400", `${base}/usage?agentId=ag_bench7&page=400`],
      ["list from/to date-times, page 2000", `${base}/usage?from=${midFrom}&to=${midTo}&page=2000`],
      ["summary (month to date)", `${base}/usage/summary`],
      ["summary (120 days)", `${base}/usage/summary?from=${new Date(now - span).toISOString()}`],
      ["billing", `${base}/billing`],
    ];
    console.log(`${label}: ${TOTAL.toLocaleString("en-US")} records, median of ${RUNS} runs`);
    for (const [name, path] of cases) {
      const { median, status } = await time(path);
      console.log(`  ${name.padEnd(38)} ${median.toFixed(2).padStart(8)} ms${status === 200 ? "" : `  (status ${status})`}`);
    }
  } finally {
    await services.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

const sqliteDir = mkdtempSync(join(tmpdir(), "openpaw-bench-db-"));
await bench("SQLite", `sqlite:${join(sqliteDir, "bench.db")}`);
rmSync(sqliteDir, { recursive: true, force: true });

const pgBase = process.env.TEST_DATABASE_URL;
if (pgBase) {
  const schema = `bench_${process.pid}_${Date.now().toString(36)}`;
  const admin = new pg.Client({ connectionString: pgBase });
  await admin.connect();
  await admin.query(`create schema "${schema}"`);
  const url = new URL(pgBase);
  url.searchParams.set("options", `-c search_path=${schema}`);
  try {
    await bench("PostgreSQL", url.toString());
  } finally {
    await admin.query(`drop schema "${schema}" cascade`);
    await admin.end();
  }
} else {
  console.log("PostgreSQL: skipped (set TEST_DATABASE_URL to run it too)");
}
