/**
 * Deletion inventories. Deleting an org, an agent or a conversation must remove everything that
 * belongs to it, proven generically: every table of the database that has an `org_id`,
 * `agent_id`, `conversation_id` or `run_id` column is read before and after, and no row of the
 * deleted object (or of its runs) may be left, except the billing history listed in KEPT. Tables
 * added later (run events, webhooks, schedules...) are covered without anyone remembering them.
 * Files on disk and what caches hold (key lookups, the domain directory) are checked as well,
 * at once, without invalidating anything by hand.
 */
import { appTables } from "../helpers/tables";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type FakeDns, startFakeDns } from "../fakes/dns";
import { type Harness, createHarness, testDatabase } from "../helpers/harness";
import { type OrgWorld, type SecurityEnv, buildWorld, startSecurityEnv } from "./support";

/** What stays after a deletion, on purpose (README "Usage and billing", SECURITY.md). */
const KEPT: Record<"org" | "agent" | "conversation", string[]> = {
  // Meter events Stripe has yet to bill: a customer id and a token count, nothing of the org's content.
  org: ["overage_outbox"],
  // Billing history: one usage record per run, and its daily rollup.
  agent: ["usage_records", "usage_daily"],
  conversation: ["usage_records"],
};

let env: SecurityEnv;
let dns: FakeDns;

beforeAll(async () => {
  dns = await startFakeDns();
  env = await startSecurityEnv({
    OPENPAW_DEFAULT_PLAN: "unlimited",
    OPENPAW_DNS_SERVERS: dns.address,
    ...(process.env.REDIS_URL ? { REDIS_URL: process.env.REDIS_URL } : {}),
  });
  env.model.setFallback(() => ({ text: "noted" }));
}, 60_000);

afterAll(async () => {
  await env?.close();
  await dns?.close();
});

type Scope = { column: "org_id" | "agent_id" | "conversation_id"; id: string };

/**
 * Rows that belong to `scope`: in every table with its column (the owning table by its `id`), and
 * in every table with a `run_id` column, the rows of the scope's runs.
 */
async function inventory(scope: Scope, runIds: string[]): Promise<Record<string, number>> {
  const db = env.h.services.db.kysely;
  const own = { org_id: "orgs", agent_id: "agents", conversation_id: "conversations" }[scope.column];
  const out: Record<string, number> = {};
  for (const table of await appTables(db)) {
    const columns = table.columns.map((c) => c.name);
    let n = 0;
    const count = async (column: string, ids: string[]) => {
      if (ids.length === 0) return 0;
      const row = await db
        .selectFrom(table.name as any)
        .select((eb) => eb.fn.countAll<number>().as("n"))
        .where(column as any, "in", ids)
        .executeTakeFirst();
      return Number(row?.n ?? 0);
    };
    if (table.name === own) n += await count("id", [scope.id]);
    if (columns.includes(scope.column)) n += await count(scope.column, [scope.id]);
    if (columns.includes("run_id")) n += await count("run_id", runIds);
    if (table.name === "runs") n += await count("id", runIds);
    if (n > 0) out[table.name] = n;
  }
  return out;
}

async function runsOf(scope: Scope): Promise<string[]> {
  const rows = await env.h.services.db.kysely
    .selectFrom("runs")
    .select("id")
    .where(scope.column as "org_id", "=", scope.id)
    .execute();
  return rows.map((r) => r.id);
}

const without = (rows: Record<string, number>, kept: string[]) => Object.fromEntries(Object.entries(rows).filter(([t]) => !kept.includes(t)));

/** Adds what buildWorld lacks: an active custom domain, a workspace file, an MCP server, a channel, history. */
async function furnish(w: OrgWorld, label: string): Promise<{ domain: string }> {
  const { call } = env;
  const cookie = w.owner.cookie;
  const domain = `api.${label}-${w.orgId.slice(-6).toLowerCase()}.example.com`;
  const put = await call("PUT", `/v1/orgs/${w.orgId}/custom-domain`, { cookie, body: { domain } });
  expect(put.status, put.text).toBe(200);
  dns.setRecord(put.body.dns[1].name, "TXT", [put.body.dns[1].value]);
  await env.h.services.db.kysely.updateTable("custom_domains").set({ checked_at: null }).where("org_id", "=", w.orgId).execute();
  expect((await call("GET", `/v1/orgs/${w.orgId}/custom-domain`, { cookie })).body.status).toBe("active");
  const upload = await call("PUT", `/v1/orgs/${w.orgId}/files/content?path=reports/q3.md`, {
    key: w.adminKey.key,
    raw: "# Q3",
    headers: { "content-type": "application/octet-stream" },
  });
  expect(upload.status, upload.text).toBe(201);
  const mcp = await call("POST", `/v1/orgs/${w.orgId}/mcp-servers`, { cookie, body: { name: "docs", url: "https://mcp.example.com/mcp" } });
  expect(mcp.status, mcp.text).toBe(201);
  const channel = await call("POST", `/v1/orgs/${w.orgId}/channels`, {
    cookie,
    body: { name: "alerts", type: "slack", config: { url: "https://hooks.slack.com/services/T0/B0/XXXX" } },
  });
  expect(channel.status, channel.text).toBe(201);
  return { domain };
}

/** A webhook endpoint of the org and a schedule of the world's agent that posts into its conversation. */
async function unattended(w: OrgWorld): Promise<void> {
  const cookie = w.owner.cookie;
  const hook = await env.call("POST", `/v1/orgs/${w.orgId}/webhooks`, { cookie, body: { url: "https://hooks.example.com/openpaw", events: ["run.completed"] } });
  expect(hook.status, hook.text).toBe(201);
  const schedule = await env.call("POST", `/v1/orgs/${w.orgId}/agents/${w.agentId}/schedules`, {
    cookie,
    body: { cron: "0 9 * * *", message: "daily", conversationId: w.conversationId },
  });
  expect(schedule.status, schedule.text).toBe(201);
}

describe("deletion inventories", () => {
  it("deleting a conversation leaves no row of it or of its runs (usage records stay)", async () => {
    const w = await buildWorld(env, "Conv");
    const scope: Scope = { column: "conversation_id", id: w.conversationId };
    await unattended(w);
    // A second turn, so the conversation has several runs and HISTORY entries.
    const again = await env.call("POST", `/v1/agent/${w.agentId}/chat`, {
      cookie: w.owner.cookie,
      body: { message: "and again", conversationId: w.conversationId, stream: false },
    });
    expect(again.status).toBe(200);
    const runs = await runsOf(scope);
    expect(runs.length).toBe(2);
    const before = await inventory(scope, runs);
    // The second run's webhook delivery and the schedule posting into the conversation are its rows too.
    expect(Object.keys(before)).toEqual(
      expect.arrayContaining(["conversations", "messages", "runs", "usage_records", "memory_history", "schedules", "webhook_deliveries"]),
    );

    const del = await env.call("DELETE", `/v1/orgs/${w.orgId}/agents/${w.agentId}/conversations/${w.conversationId}`, { cookie: w.owner.cookie });
    expect(del.status).toBe(204);
    const after = await inventory(scope, runs);
    expect(without(after, KEPT.conversation)).toEqual({});
    expect(after.usage_records).toBe(before.usage_records);
  });

  it("deleting an agent leaves no row of it or of its runs (usage records and their rollup stay)", async () => {
    const w = await buildWorld(env, "Agent");
    const scope: Scope = { column: "agent_id", id: w.agentId };
    await unattended(w);
    const runs = await runsOf(scope);
    expect(runs.length).toBeGreaterThanOrEqual(1);
    const before = await inventory(scope, runs);
    expect(Object.keys(before)).toEqual(
      expect.arrayContaining(["agents", "agent_skills", "conversations", "messages", "runs", "memory_notes", "memory_history", "usage_records", "usage_daily", "schedules"]),
    );

    expect((await env.call("DELETE", `/v1/orgs/${w.orgId}/agents/${w.agentId}`, { cookie: w.owner.cookie })).status).toBe(204);
    const after = await inventory(scope, runs);
    expect(without(after, KEPT.agent)).toEqual({});
    expect(after.usage_records).toBe(before.usage_records);
    // The org's other agent is untouched.
    expect((await env.call("GET", `/v1/orgs/${w.orgId}/agents/${w.otherAgentId}`, { cookie: w.owner.cookie })).status).toBe(200);
  });

  it("deleting an org leaves no row, no file and no cached credential or domain of it", async () => {
    const w = await buildWorld(env, "Org");
    const { domain } = await furnish(w, "org");
    await unattended(w);
    const scope: Scope = { column: "org_id", id: w.orgId };
    const runs = await runsOf(scope);
    const before = await inventory(scope, runs);
    expect(Object.keys(before).length).toBeGreaterThanOrEqual(14);
    const workspace = join(env.h.config.dataDir, "workspaces", w.orgId);
    expect(existsSync(join(workspace, "reports", "q3.md"))).toBe(true);
    // Every credential and the domain are in use (and so in the caches) right before the deletion.
    for (const key of [w.adminKey, w.chatKey, w.restrictedKey]) {
      expect((await env.call("GET", `/v1/orgs/${w.orgId}/agents`, { key: key.key })).status).not.toBe(401);
    }
    expect((await env.call("GET", `/v1/orgs/${w.orgId}`, { key: w.adminKey.key, headers: { host: domain } })).status).toBe(200);

    expect((await env.call("DELETE", `/v1/orgs/${w.orgId}`, { cookie: w.owner.cookie })).status).toBe(204);

    expect(without(await inventory(scope, runs), KEPT.org)).toEqual({});
    expect(existsSync(workspace)).toBe(false);
    for (const key of [w.adminKey, w.chatKey, w.restrictedKey]) {
      expect((await env.call("GET", `/v1/orgs/${w.orgId}/agents`, { key: key.key })).status).toBe(401);
      const write = await env.call("POST", `/v1/orgs/${w.orgId}/agents`, { key: key.key, body: { name: "late", model: "claude-sonnet-4-20250514" } });
      expect(write.status).toBe(401);
    }
    expect((await env.call("GET", "/v1/models", { cookie: w.owner.cookie, headers: { host: domain } })).status).toBe(421);
    expect((await env.call("GET", `/v1/orgs/${w.orgId}`, { cookie: w.owner.cookie })).status).toBe(404);
    // The people stay: the owner's account and their other orgs are theirs, not the org's.
    expect((await env.call("GET", "/v1/me", { cookie: w.owner.cookie })).status).toBe(200);
  });

  it("refuses to delete an org whose subscription is still billed (409), and changes nothing", async () => {
    const w = await buildWorld(env, "Billed");
    const db = env.h.services.db.kysely;
    await db.updateTable("orgs").set({ plan: "pro", plan_status: "active", stripe_subscription_id: "sub_live_1" }).where("id", "=", w.orgId).execute();
    const res = await env.call("DELETE", `/v1/orgs/${w.orgId}`, { cookie: w.owner.cookie });
    expect(res.status).toBe(409);
    expect(res.body.error.type).toBe("conflict_error");
    expect((await env.call("GET", `/v1/orgs/${w.orgId}`, { key: w.adminKey.key })).status).toBe(200);
  });
});

describe("deletion seen from another replica", () => {
  let other: Harness;
  beforeAll(async () => {
    // A second gateway on the same database (and the same Redis, when there is one).
    other = await createHarness({ DATABASE_URL: env.h.config.databaseUrl, ...(process.env.REDIS_URL ? { REDIS_URL: process.env.REDIS_URL } : {}) });
  });
  afterAll(async () => {
    await other?.close();
  });

  it(`never answers a request racing an org's deletion with a 5xx${process.env.REDIS_URL ? "; with Redis the key is refused at once" : ""}`, async () => {
    const w = await buildWorld(env, "Replica");
    const body = { name: "late", model: "claude-sonnet-4-20250514" };
    // The other replica has the admin key's lookup cached.
    expect((await other.request("GET", `/v1/orgs/${w.orgId}/agents`, { key: w.adminKey.key })).status).toBe(200);
    const waiting = process.env.REDIS_URL ? await listenForInvalidation() : null;
    expect((await env.call("DELETE", `/v1/orgs/${w.orgId}`, { cookie: w.owner.cookie })).status).toBe(204);
    await waiting?.seen;
    const write = await other.request("POST", `/v1/orgs/${w.orgId}/agents`, { key: w.adminKey.key, body });
    if (process.env.REDIS_URL) expect(write.status).toBe(401);
    else expect([401, 409]).toContain(write.status);
    expect(write.body.error).toBeDefined();
    console.log(`deletion on another replica (${testDatabase}${process.env.REDIS_URL ? " + Redis" : ", no Redis"}): racing write -> ${write.status}`);
  });
});

/** Subscribes now; `seen` resolves once an API-key invalidation went over Redis (every subscriber has it on the wire). */
async function listenForInvalidation(): Promise<{ seen: Promise<void> }> {
  const { Redis } = await import("ioredis");
  const { API_KEY_INVALIDATION_CHANNEL } = await import("../../src/features/api-keys/authenticator");
  const listener = new Redis(process.env.REDIS_URL as string);
  await listener.subscribe(API_KEY_INVALIDATION_CHANNEL);
  const seen = new Promise<void>((resolve) => {
    listener.on("message", () => {
      // Give the other replica's subscriber, in this same process, the same turn to read it.
      setTimeout(() => {
        listener.disconnect();
        resolve();
      }, 50);
    });
  });
  return { seen };
}
