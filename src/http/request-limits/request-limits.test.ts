import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Account, type Harness, createHarness } from "../../../test/helpers/harness";

const plan = (id: string, rateLimitPerKey: number | null, rateLimitPerOrg: number | null) => ({
  id,
  name: id,
  priceMonthly: 0,
  tokenLimit: null,
  overageRate: null,
  toolTier: "free",
  maxAgents: null,
  maxConcurrentRuns: 5,
  workspaceBytes: 0,
  rateLimitPerKey,
  rateLimitPerOrg,
});

describe("request rate limits per API key and per org (plan table)", () => {
  const dir = mkdtempSync(join(tmpdir(), "openpaw-rl-"));
  const plansFile = join(dir, "plans.json");
  let h: Harness;
  let a: Account;
  let b: Account;

  beforeAll(async () => {
    writeFileSync(plansFile, JSON.stringify([plan("tiny", 3, 5), plan("roomy", 100, 100), { ...plan("legacy", null, null), rateLimitPerKey: undefined, rateLimitPerOrg: undefined }]));
    // A window longer than the test, so no count resets while it runs.
    h = await createHarness({ OPENPAW_PLANS_FILE: plansFile, OPENPAW_DEFAULT_PLAN: "tiny", OPENPAW_RATE_LIMIT_WINDOW_SECONDS: "3600" });
    a = await h.signup({ orgName: "A" });
    b = await h.signup({ orgName: "B" });
  });
  afterAll(async () => {
    await h.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const list = (account: Account, key: string) => h.request("GET", `/v1/orgs/${account.orgId}/agents`, { key });

  it("counts per key, then per org; 429 envelope with Retry-After and RateLimit-* headers; other orgs unaffected", async () => {
    const k1 = (await h.createKey(a, { scopes: ["read"] })).key;
    const k2 = (await h.createKey(a, { scopes: ["read"] })).key;
    const seen: string[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await list(a, k1);
      expect(res.status).toBe(200);
      seen.push(res.headers.get("ratelimit-remaining") as string);
      expect(res.headers.get("ratelimit-limit")).toBe("3");
      expect(Number(res.headers.get("ratelimit-reset"))).toBeGreaterThan(0);
    }
    expect(seen).toEqual(["2", "1", "0"]);
    const refused = await list(a, k1);
    expect(refused.status).toBe(429);
    expect(refused.body.error).toMatchObject({ type: "rate_limit_error" });
    expect(refused.body.error.message).toContain("this API key");
    expect(refused.body.error.requestId).toMatch(/^req_/);
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(refused.headers.get("ratelimit-remaining")).toBe("0");
    expect(refused.headers.get("ratelimit-limit")).toBe("3");

    // The org's 5: k1 used 4 of them (the refused one counts), so k2 has one left.
    const k2First = await list(a, k2);
    expect(k2First.status).toBe(200);
    expect(k2First.headers.get("ratelimit-remaining")).toBe("0");
    const orgRefused = await list(a, k2);
    expect(orgRefused.status).toBe(429);
    expect(orgRefused.body.error.message).toContain("this organization");

    // Another org's key, and the dashboard session of A, are not limited by A's counts.
    const kb = (await h.createKey(b, { scopes: ["read"] })).key;
    expect((await list(b, kb)).status).toBe(200);
    const session = await h.request("GET", `/v1/orgs/${a.orgId}/agents`, { cookie: a.cookie });
    expect(session.status).toBe(200);
    expect(session.headers.get("ratelimit-limit")).toBeNull();
  });

  it("a refused request changes nothing (a POST over the limit creates nothing)", async () => {
    const k = (await h.createKey(b, { scopes: ["write", "read"] })).key;
    const before = await h.services.db.kysely.selectFrom("agents").select("id").where("org_id", "=", b.orgId).execute();
    let created = 0;
    let refused = 0;
    for (let i = 0; i < 5; i++) {
      const res = await h.request("POST", `/v1/orgs/${b.orgId}/agents`, { key: k, body: { name: `n${i}`, systemPrompt: "x" } });
      if (res.status === 201) created++;
      else if (res.status === 429) refused++;
    }
    expect(refused).toBeGreaterThan(0);
    const after = await h.services.db.kysely.selectFrom("agents").select("id").where("org_id", "=", b.orgId).execute();
    expect(after.length - before.length).toBe(created);
  });

  it("follows the org's plan: a plan without limits sends no RateLimit headers", async () => {
    const c = await h.signup({ orgName: "C" });
    await h.services.db.kysely.updateTable("orgs").set({ plan: "legacy" }).where("id", "=", c.orgId).execute();
    const k = (await h.createKey(c, { scopes: ["read"] })).key;
    for (let i = 0; i < 8; i++) {
      const res = await list(c, k);
      expect(res.status).toBe(200);
      expect(res.headers.get("ratelimit-limit")).toBeNull();
    }
  });

  it("OPENPAW_RATE_LIMITS=false turns them off", async () => {
    const off = await createHarness({ OPENPAW_PLANS_FILE: plansFile, OPENPAW_DEFAULT_PLAN: "tiny", OPENPAW_RATE_LIMITS: "false" });
    try {
      const acct = await off.signup();
      const k = (await off.createKey(acct, { scopes: ["read"] })).key;
      for (let i = 0; i < 6; i++) expect((await off.request("GET", `/v1/orgs/${acct.orgId}/agents`, { key: k })).status).toBe(200);
    } finally {
      await off.close();
    }
  });
});
