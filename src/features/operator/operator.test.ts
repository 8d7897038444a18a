import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Account, type Harness, createHarness } from "../../../test/helpers/harness";

const run = promisify(execFile);

describe("the instance operator", () => {
  let h: Harness;
  let op: Account;
  let a: Account;
  let b: Account;
  let keyA: string;

  beforeAll(async () => {
    h = await createHarness({ OPENPAW_OPERATOR_EMAILS: "ops@example.com, Second@Example.com" });
    op = await h.signup({ email: "ops@example.com", orgName: "Ops" });
    a = await h.signup({ orgName: "Alpha" });
    b = await h.signup({ orgName: "Beta" });
    keyA = (await h.createKey(a, { scopes: ["admin"] })).key;
  });
  afterAll(() => h?.close());

  it("is told so by /v1/me; nobody else is", async () => {
    expect((await h.request("GET", "/v1/me", { cookie: op.cookie })).body.operator).toBe(true);
    expect((await h.request("GET", "/v1/me", { cookie: a.cookie })).body.operator).toBe(false);
  });

  it("lists every org with its plan and usage, and the instance's figures", async () => {
    const res = await h.request("GET", "/v1/operator/orgs", { cookie: op.cookie });
    expect(res.status).toBe(200);
    const ids = res.body.data.map((o: { id: string }) => o.id);
    expect(ids).toEqual(expect.arrayContaining([op.orgId, a.orgId, b.orgId]));
    expect(res.body.data.find((o: { id: string }) => o.id === a.orgId)).toMatchObject({
      name: "Alpha",
      plan: { id: "free", name: "Free" },
      planStatus: "none",
      members: 1,
      agents: 0,
      tokenUsage: 0,
      tokenLimit: 200_000,
      runs: 0,
      cost: 0,
    });
    expect(res.body).toMatchObject({ page: 1, limit: 50, total: 3, hasMore: false });
    const filtered = await h.request("GET", "/v1/operator/orgs?q=alph", { cookie: op.cookie });
    expect(filtered.body.data.map((o: { id: string }) => o.id)).toEqual([a.orgId]);
    const summary = await h.request("GET", "/v1/operator/summary", { cookie: op.cookie });
    expect(summary.status).toBe(200);
    expect(summary.body).toMatchObject({ orgs: 3, users: 3, defaultPlan: "free", totals: { runs: 0 } });
    expect(summary.body.plans.find((p: { id: string }) => p.id === "free").orgs).toBe(3);
  });

  it("sets an org's plan; it applies at once", async () => {
    const res = await h.request("PUT", `/v1/operator/orgs/${a.orgId}/plan`, { cookie: op.cookie, body: { plan: "unlimited" } });
    expect(res.status).toBe(200);
    expect(res.body.plan).toEqual({ id: "unlimited", name: "Unlimited (self-hosted)" });
    const billing = await h.request("GET", `/v1/orgs/${a.orgId}/billing`, { cookie: a.cookie });
    expect(billing.body.plan.id).toBe("unlimited");
    expect(billing.body.tokenLimit).toBeNull();
    expect(h.logs.join("\n")).toContain("plan set by operator");
  });

  it("refuses bad input clearly and changes nothing", async () => {
    const unknownPlan = await h.request("PUT", `/v1/operator/orgs/${b.orgId}/plan`, { cookie: op.cookie, body: { plan: "platinum" } });
    expect(unknownPlan.status).toBe(400);
    expect(unknownPlan.body.error).toMatchObject({ type: "invalid_request_error", param: "plan" });
    expect(unknownPlan.body.error.message).toContain("unlimited");
    const extra = await h.request("PUT", `/v1/operator/orgs/${b.orgId}/plan`, { cookie: op.cookie, body: { plan: "pro", orgId: a.orgId } });
    expect(extra.status).toBe(400);
    const missing = await h.request("PUT", "/v1/operator/orgs/org_missing/plan", { cookie: op.cookie, body: { plan: "pro" } });
    expect(missing.status).toBe(404);
    expect((await h.request("GET", `/v1/orgs/${b.orgId}/billing`, { cookie: b.cookie })).body.plan.id).toBe("free");
  });

  it("an org Stripe bills is refused (409) unless forced, since Stripe's next event would set it back", async () => {
    const db = h.services.db.kysely;
    await db.updateTable("orgs").set({ stripe_subscription_id: "sub_live", plan_status: "active", plan: "pro" }).where("id", "=", b.orgId).execute();
    const refused = await h.request("PUT", `/v1/operator/orgs/${b.orgId}/plan`, { cookie: op.cookie, body: { plan: "agency" } });
    expect(refused.status).toBe(409);
    expect(refused.body.error.message).toContain("sub_live");
    const forced = await h.request("PUT", `/v1/operator/orgs/${b.orgId}/plan`, { cookie: op.cookie, body: { plan: "agency", force: true } });
    expect(forced.status).toBe(200);
    expect(forced.body).toMatchObject({ plan: { id: "agency" }, planStatus: "active", stripeSubscriptionId: "sub_live" });
    await db.updateTable("orgs").set({ stripe_subscription_id: null, plan_status: "none", plan: "free" }).where("id", "=", b.orgId).execute();
  });

  it("has a dashboard page: orgs, plans, usage across orgs, and a plan picker that works", async () => {
    const page = await h.request("GET", "/operator", { cookie: op.cookie });
    expect(page.status).toBe(200);
    expect(page.text).toContain("Alpha");
    expect(page.text).toContain("Unlimited (self-hosted)");
    expect(page.text).toContain(`action="/operator/orgs/${b.orgId}/plan"`);
    const form = new URLSearchParams({ plan: "pro" }).toString();
    const posted = await h.request("POST", `/operator/orgs/${b.orgId}/plan`, {
      cookie: op.cookie,
      raw: form,
      headers: { "content-type": "application/x-www-form-urlencoded", origin: "http://localhost", host: "localhost" },
    });
    expect(posted.status).toBe(303);
    expect((await h.request("GET", `/v1/orgs/${b.orgId}/billing`, { cookie: b.cookie })).body.plan.id).toBe("pro");
    await h.request("PUT", `/v1/operator/orgs/${b.orgId}/plan`, { cookie: op.cookie, body: { plan: "free" } });
    // The topbar links it for operators only.
    expect((await h.request("GET", `/orgs/${op.orgId}/agents`, { cookie: op.cookie })).text).toContain('href="/operator"');
    expect((await h.request("GET", `/orgs/${a.orgId}/agents`, { cookie: a.cookie })).text).not.toContain('href="/operator"');
    const notOperator = await h.request("GET", "/operator", { cookie: a.cookie });
    expect(notOperator.status).toBe(404);
    expect(notOperator.text).not.toContain("Beta");
    const refused = await h.request("POST", `/operator/orgs/${b.orgId}/plan`, {
      cookie: a.cookie,
      raw: form,
      headers: { "content-type": "application/x-www-form-urlencoded", origin: "http://localhost", host: "localhost" },
    });
    expect(refused.status).toBe(404);
    expect((await h.request("GET", `/v1/orgs/${b.orgId}/billing`, { cookie: b.cookie })).body.plan.id).toBe("free");
  });

  it("is 404 to everyone else: owners of the org, its admin keys, unauthenticated callers get nothing and change nothing", async () => {
    const callers: Array<[string, { cookie?: string; key?: string }]> = [
      ["owner session", { cookie: b.cookie }],
      ["admin key", { key: keyA }],
    ];
    for (const [who, auth] of callers) {
      for (const [method, path, body] of [
        ["GET", "/v1/operator/orgs", undefined],
        ["GET", "/v1/operator/summary", undefined],
        ["GET", `/v1/operator/orgs/${a.orgId}`, undefined],
        ["PUT", `/v1/operator/orgs/${b.orgId}/plan`, { plan: "unlimited" }],
      ] as const) {
        const res = await h.request(method, path, { ...auth, body });
        expect(res.status, `${who} ${method} ${path}`).toBe(404);
        expect(res.body.error.type).toBe("not_found_error");
        expect(res.text).not.toContain("Alpha");
      }
    }
    expect((await h.request("GET", "/v1/operator/orgs")).status).toBe(401);
    expect((await h.request("GET", `/v1/orgs/${b.orgId}/billing`, { cookie: b.cookie })).body.plan.id).toBe("free");
  });
});

describe("openpaw orgs / users (CLI)", () => {
  let h: Harness;
  let a: Account;
  const cli = (...args: string[]) =>
    run(process.execPath, ["--import", "tsx", "src/main.ts", ...args], {
      env: { ...process.env, DATABASE_URL: h.config.databaseUrl, OPENPAW_DATA_DIR: h.config.dataDir, OPENPAW_PASSWORD_HASH_COST: "10", LOG_LEVEL: "error" },
      timeout: 60_000,
    });

  beforeAll(async () => {
    h = await createHarness({});
    a = await h.signup({ orgName: "Cli Org", email: "cli@example.com" });
  });
  afterAll(() => h?.close());

  it("lists orgs, shows one, and sets a plan that the API then reports", async () => {
    const list = await cli("orgs", "list");
    expect(list.stdout).toMatch(/^ORG\s+PLAN\s+STATUS/);
    expect(list.stdout).toContain(a.orgId);
    expect(list.stdout).toContain("Cli Org");
    const set = await cli("orgs", "set-plan", a.orgId, "pro");
    expect(set.stdout).toContain(`Cli Org (${a.orgId}): free -> pro`);
    expect((await h.request("GET", `/v1/orgs/${a.orgId}/billing`, { cookie: a.cookie })).body.plan.id).toBe("pro");
    const show = await cli("orgs", "show", a.orgId);
    expect(show.stdout).toMatch(/plan\s+pro \(Pro\)/);
    const bad = await cli("orgs", "set-plan", a.orgId, "gold").catch((e) => e);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('Unknown plan "gold"');
  }, 90_000);

  it("moves every org from one plan to another (after OPENPAW_DEFAULT_PLAN changed)", async () => {
    const b = await h.signup({ orgName: "Still Free" });
    const moved = await cli("orgs", "set-plan", "--all", "unlimited", "--from", "free");
    expect(moved.stdout).toMatch(/^\d+ orgs? moved to unlimited from free/);
    expect((await h.request("GET", `/v1/orgs/${b.orgId}/billing`, { cookie: b.cookie })).body.plan.id).toBe("unlimited");
    // The org on pro was not on free: it stays.
    expect((await h.request("GET", `/v1/orgs/${a.orgId}/billing`, { cookie: a.cookie })).body.plan.id).toBe("pro");
  }, 90_000);

  it("lists users and resets a password: the new one works, the old one and every session end", async () => {
    const users = await cli("users", "list");
    expect(users.stdout).toContain("cli@example.com");
    const reset = await cli("users", "reset-password", "cli@example.com");
    const password = /new password (\S+)/.exec(reset.stdout)?.[1] ?? "";
    expect(password.length).toBeGreaterThanOrEqual(16);
    expect((await h.request("GET", "/v1/me", { cookie: a.cookie })).status).toBe(401);
    expect((await h.request("POST", "/v1/auth/login", { body: { email: "cli@example.com", password: "correct horse battery" } })).status).toBe(401);
    expect((await h.request("POST", "/v1/auth/login", { body: { email: "cli@example.com", password } })).status).toBe(200);
    const chosen = await cli("users", "reset-password", "cli@example.com", "--password", "a chosen long password");
    expect(chosen.stdout).not.toContain("new password");
    expect((await h.request("POST", "/v1/auth/login", { body: { email: "cli@example.com", password: "a chosen long password" } })).status).toBe(200);
  }, 90_000);
});
