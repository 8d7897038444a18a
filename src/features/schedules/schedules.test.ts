import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startFakeAnthropic } from "../../../test/fakes/anthropic";
import type { FakeModelServer } from "../../../test/fakes/model-script";
import { type Account, type Harness, createHarness } from "../../../test/helpers/harness";
import { nextTick } from "./cron";
import { Scheduler } from "./scheduler";

const SONNET = "claude-sonnet-4-20250514";
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const at = (s: string) => Date.parse(s);

describe("schedules: /v1/orgs/:orgId/agents/:agentId/schedules and the tick sweep", () => {
  let h: Harness;
  let fake: FakeModelServer;
  let a: Account;
  let b: Account;
  let agentId: string;
  let clock = Date.now();

  const base = () => `/v1/orgs/${a.orgId}/agents/${agentId}/schedules`;
  const db = () => h.services.db.kysely;
  /** A scheduler like each gateway's, on a clock the test moves. */
  const scheduler = () => new Scheduler({ db: db(), logger: h.services.logger, runs: h.services.runs, sweepMs: 3_600_000, now: () => clock });
  const create = async (body: Record<string, unknown>, account = a, path = base()) => {
    const res = await h.request("POST", path, { cookie: account.cookie, body });
    expect(res.status, res.text).toBe(201);
    return res.body;
  };
  const runsOf = (scheduleId: string) => db().selectFrom("runs").selectAll().where("schedule_id", "=", scheduleId).execute();
  const settle = async (scheduleId: string) => {
    for (let i = 0; i < 400; i++) {
      const rows = await runsOf(scheduleId);
      if (rows.every((r) => !["queued", "running"].includes(r.status))) return rows;
      await sleep(25);
    }
    return runsOf(scheduleId);
  };

  beforeAll(async () => {
    fake = await startFakeAnthropic();
    h = await createHarness({
      ANTHROPIC_API_KEY: "sk-ant-test-key-000000000000",
      ANTHROPIC_BASE_URL: fake.url,
      OPENPAW_DEFAULT_PLAN: "unlimited",
      // The test sweeps with its own clock.
      OPENPAW_SCHEDULE_SWEEP_MS: "3600000",
    });
    a = await h.signup({ orgName: "A" });
    b = await h.signup({ orgName: "B" });
    const agent = await h.request("POST", `/v1/orgs/${a.orgId}/agents`, {
      cookie: a.cookie,
      body: { name: "Digest", systemPrompt: "You summarise.", model: SONNET, maxIterations: 3 },
    });
    expect(agent.status, agent.text).toBe(201);
    agentId = agent.body.id;
  });
  afterAll(async () => {
    await h.close();
    await fake.close();
  });
  beforeEach(async () => {
    fake.setFallback(() => ({ text: "digest done" }));
    await db().deleteFrom("schedules").execute();
    await db().updateTable("orgs").set({ plan: "unlimited" }).where("id", "=", a.orgId).execute();
  });

  it("creates, reads, changes and deletes a schedule with its next tick", async () => {
    const created = await create({ cron: "0 9 * * 1-5", timezone: "Europe/Berlin", message: "Morning digest" });
    expect(created.id).toMatch(/^sch_/);
    expect(created).toMatchObject({ agentId, cron: "0 9 * * 1-5", timezone: "Europe/Berlin", enabled: true, conversationId: null, lastRunAt: null, lastRunId: null });
    const next = new Date(created.nextRunAt);
    expect(next.getTime()).toBeGreaterThan(Date.now());
    expect(new Intl.DateTimeFormat("en-GB", { timeZone: "Europe/Berlin", hour: "2-digit", minute: "2-digit" }).format(next)).toBe("09:00");
    expect((await h.request("GET", base(), { cookie: a.cookie })).body.data).toHaveLength(1);
    const off = await h.request("PATCH", `${base()}/${created.id}`, { cookie: a.cookie, body: { enabled: false } });
    expect(off.body).toMatchObject({ enabled: false, nextRunAt: null });
    const on = await h.request("PATCH", `${base()}/${created.id}`, { cookie: a.cookie, body: { enabled: true, cron: "*/5 * * * *", timezone: "UTC" } });
    expect(on.status, on.text).toBe(200);
    expect(Date.parse(on.body.nextRunAt) % 300_000).toBe(0);
    expect((await h.request("DELETE", `${base()}/${created.id}`, { cookie: a.cookie })).status).toBe(204);
    expect((await h.request("GET", `${base()}/${created.id}`, { cookie: a.cookie })).status).toBe(404);
  });

  it("refuses invalid, never-firing and too frequent cron expressions, unknown time zones and conversations, naming the field", async () => {
    const cases: Array<[Record<string, unknown>, number, string]> = [
      [{ cron: "not a cron", message: "x" }, 400, "cron"],
      [{ cron: "61 * * * *", message: "x" }, 400, "cron"],
      [{ cron: "* * * * * *", message: "x" }, 400, "cron"],
      [{ cron: "0 0 31 2 *", message: "x" }, 400, "cron"],
      [{ cron: "0 9 * * *", timezone: "Mars/Olympus", message: "x" }, 400, "timezone"],
      [{ cron: "0 9 * * *", message: "" }, 400, "message"],
      [{ cron: "0 9 * * *", message: "x", conversationId: "conv_nope" }, 404, "conversationId"],
      [{ cron: "0 9 * * *", message: "x", extra: 1 }, 400, "extra"],
    ];
    for (const [body, status, param] of cases) {
      const res = await h.request("POST", base(), { cookie: a.cookie, body });
      expect(res.status, `${JSON.stringify(body)} → ${res.text}`).toBe(status);
      expect(res.body.error.param).toBe(param);
    }
    // Free: hourly at most, and two schedules.
    await db().updateTable("orgs").set({ plan: "free" }).where("id", "=", a.orgId).execute();
    const often = await h.request("POST", base(), { cookie: a.cookie, body: { cron: "*/30 * * * *", message: "x" } });
    expect(often.status).toBe(400);
    expect(often.body.error).toMatchObject({ param: "cron" });
    expect(often.body.error.message).toMatch(/Free plan allows at most one tick every 60 minutes/);
    await create({ cron: "0 * * * *", message: "hourly" });
    await create({ cron: "0 9 * * *", message: "daily" });
    const third = await h.request("POST", base(), { cookie: a.cookie, body: { cron: "0 10 * * *", message: "x" } });
    expect(third.status).toBe(403);
    expect((await db().selectFrom("schedules").select("id").where("org_id", "=", a.orgId).execute()).length).toBe(2);
    // Unlimited: every minute is allowed.
    await db().updateTable("orgs").set({ plan: "unlimited" }).where("id", "=", a.orgId).execute();
    await create({ cron: "* * * * *", message: "every minute" });
  });

  it("another org, and a key restricted to other agents, get 404; chat and read keys may not change schedules", async () => {
    const created = await create({ cron: "0 9 * * *", message: "x" });
    const foreign = `/v1/orgs/${b.orgId}/agents/${agentId}/schedules`;
    for (const path of [base(), `${base()}/${created.id}`]) expect((await h.request("GET", path, { cookie: b.cookie })).status).toBe(404);
    for (const path of [foreign, `${foreign}/${created.id}`]) expect((await h.request("GET", path, { cookie: b.cookie })).status).toBe(404);
    expect((await h.request("PATCH", `${base()}/${created.id}`, { cookie: b.cookie, body: { enabled: false } })).status).toBe(404);
    expect((await h.request("DELETE", `${base()}/${created.id}`, { cookie: b.cookie })).status).toBe(404);
    expect((await h.request("POST", base(), { cookie: b.cookie, body: { cron: "0 9 * * *", message: "x" } })).status).toBe(404);
    const other = await h.request("POST", `/v1/orgs/${a.orgId}/agents`, { cookie: a.cookie, body: { name: "Other", systemPrompt: "x", model: SONNET } });
    const restricted = await h.createKey(a, { scopes: ["write"], agentIds: [other.body.id] });
    expect((await h.request("GET", `${base()}/${created.id}`, { key: restricted.key })).status).toBe(404);
    const chatKey = await h.createKey(a, { scopes: ["chat"] });
    const readKey = await h.createKey(a, { scopes: ["read"] });
    expect((await h.request("POST", base(), { key: chatKey.key, body: { cron: "0 9 * * *", message: "x" } })).status).toBe(403);
    expect((await h.request("DELETE", `${base()}/${created.id}`, { key: readKey.key })).status).toBe(403);
    // The permission is checked before the body: a read key learns nothing from validation.
    const invalid = await h.request("PATCH", `${base()}/${created.id}`, { key: readKey.key, body: { cron: 5 } });
    expect([invalid.status, invalid.body.error.code]).toEqual([403, "permission_denied"]);
    expect((await h.request("GET", base(), { key: readKey.key })).status).toBe(200);
    await h.request("DELETE", `/v1/orgs/${a.orgId}/agents/${other.body.id}`, { cookie: a.cookie });
  });

  it("a due tick starts one background run as the creator, attributed to the schedule, in a new conversation each tick", async () => {
    const key = await h.createKey(a, { scopes: ["write", "chat"] });
    const created = await h.request("POST", base(), { key: key.key, body: { cron: "*/10 * * * *", message: "Tick report" } });
    expect(created.status, created.text).toBe(201);
    const id = created.body.id;
    clock = Date.parse(created.body.nextRunAt);
    const sweeper = scheduler();
    expect(await sweeper.sweep()).toBe(1);
    expect(await sweeper.sweep()).toBe(0);
    clock += 600_000;
    expect(await sweeper.sweep()).toBe(1);
    const runs = await settle(id);
    expect(runs).toHaveLength(2);
    expect(runs.every((r) => r.api_key_id === key.id && r.background === 1 && r.status === "completed" && r.input === "Tick report")).toBe(true);
    expect(new Set(runs.map((r) => r.conversation_id)).size).toBe(2);
    const usage = await db().selectFrom("usage_records").selectAll().where("run_id", "in", runs.map((r) => r.id)).execute();
    expect(usage.map((u) => u.schedule_id)).toEqual([id, id]);
    const api = await h.request("GET", `/v1/orgs/${a.orgId}/runs/${runs[0].id}`, { cookie: a.cookie });
    expect(api.body.scheduleId).toBe(id);
    const usageApi = await h.request("GET", `/v1/orgs/${a.orgId}/usage?limit=200`, { cookie: a.cookie });
    expect(usageApi.body.data.filter((u: any) => u.scheduleId === id)).toHaveLength(2);
    const shown = await h.request("GET", `${base()}/${id}`, { cookie: a.cookie });
    expect(shown.body.lastRunId).toBe(runs.find((r) => r.created_at === Math.max(...runs.map((x) => x.created_at)))?.id);
    expect(shown.body.lastRunAt).not.toBeNull();
    expect(Date.parse(shown.body.nextRunAt)).toBe(clock + 600_000);
  });

  it("continues the given conversation when conversationId is set", async () => {
    const first = await h.request("POST", `/v1/agent/${agentId}/chat`, { cookie: a.cookie, body: { message: "hello", stream: false } });
    const conversationId = first.body.conversationId;
    const created = await create({ cron: "0 * * * *", message: "Hourly note", conversationId });
    clock = Date.parse(created.nextRunAt);
    expect(await scheduler().sweep()).toBe(1);
    const runs = await settle(created.id);
    expect(runs.map((r) => r.conversation_id)).toEqual([conversationId]);
  });

  it("two gateways racing for the same ticks start one run per tick", async () => {
    const created = await create({ cron: "* * * * *", message: "Race" });
    const sweepers = [scheduler(), scheduler(), scheduler()];
    clock = Date.parse(created.nextRunAt);
    let started = 0;
    for (let tick = 0; tick < 3; tick++) {
      const counts = await Promise.all(sweepers.map((s) => s.sweep()));
      started += counts.reduce((x, y) => x + y, 0);
      clock += 60_000;
    }
    expect(started).toBe(3);
    expect(await runsOf(created.id)).toHaveLength(3);
    const ticks = await db().selectFrom("schedule_ticks").selectAll().where("schedule_id", "=", created.id).execute();
    expect(ticks).toHaveLength(3);
    await settle(created.id);
  });

  it("after downtime over several ticks runs one catch-up run, then keeps to the timetable", async () => {
    const created = await create({ cron: "0 * * * *", message: "Catch up" });
    clock = Date.parse(created.nextRunAt) + 5 * 3_600_000 + 120_000;
    expect(await scheduler().sweep()).toBe(1);
    expect(await scheduler().sweep()).toBe(0);
    const shown = await h.request("GET", `${base()}/${created.id}`, { cookie: a.cookie });
    expect(Date.parse(shown.body.nextRunAt)).toBe(Date.parse(created.nextRunAt) + 6 * 3_600_000);
    expect(await settle(created.id)).toHaveLength(1);
  });

  it("keeps local time across DST changes (Europe/Berlin), firing once in a repeated hour and after a skipped one", async () => {
    const created = await create({ cron: "30 2 * * *", timezone: "Europe/Berlin", message: "Nightly" });
    // Spring forward, 2026-03-29: 02:30 does not exist; the tick comes at 03:00 local (01:00Z).
    await db().updateTable("schedules").set({ next_run_at: at("2026-03-28T01:30:00Z") }).where("id", "=", created.id).execute();
    clock = at("2026-03-28T01:30:00Z");
    expect(await scheduler().sweep()).toBe(1);
    let row = await db().selectFrom("schedules").selectAll().where("id", "=", created.id).executeTakeFirstOrThrow();
    expect(Number(row.next_run_at)).toBe(at("2026-03-29T01:00:00Z"));
    clock = at("2026-03-29T01:00:00Z");
    expect(await scheduler().sweep()).toBe(1);
    row = await db().selectFrom("schedules").selectAll().where("id", "=", created.id).executeTakeFirstOrThrow();
    expect(Number(row.next_run_at)).toBe(at("2026-03-30T00:30:00Z"));
    // Fall back, 2026-10-25: 02:30 happens twice (CEST then CET); one tick.
    const october = [at("2026-10-24T00:30:00Z"), at("2026-10-25T00:30:00Z"), at("2026-10-26T01:30:00Z")];
    expect(nextTick("30 2 * * *", "Europe/Berlin", october[0])).toBe(october[1]);
    expect(nextTick("30 2 * * *", "Europe/Berlin", october[1])).toBe(october[2]);
    await settle(created.id);
  });

  it("records why a tick started no run (the creator left) and the schedule goes with its agent", async () => {
    const agent = await h.request("POST", `/v1/orgs/${a.orgId}/agents`, { cookie: a.cookie, body: { name: "Temp", systemPrompt: "x", model: SONNET } });
    const key = await h.createKey(a, { scopes: ["write", "chat"] });
    const path = `/v1/orgs/${a.orgId}/agents/${agent.body.id}/schedules`;
    const created = await h.request("POST", path, { key: key.key, body: { cron: "0 * * * *", message: "x" } });
    expect(created.status).toBe(201);
    await h.request("DELETE", `/v1/orgs/${a.orgId}/api-keys/${key.id}`, { cookie: a.cookie });
    clock = Date.parse(created.body.nextRunAt);
    expect(await scheduler().sweep()).toBe(0);
    const shown = await h.request("GET", `${path}/${created.body.id}`, { cookie: a.cookie });
    expect(shown.body.lastError).toMatch(/no longer has access/);
    expect(await runsOf(created.body.id)).toHaveLength(0);
    expect((await h.request("DELETE", `/v1/orgs/${a.orgId}/agents/${agent.body.id}`, { cookie: a.cookie })).status).toBe(204);
    expect(await db().selectFrom("schedules").select("id").where("id", "=", created.body.id).execute()).toHaveLength(0);
    expect(await db().selectFrom("schedule_ticks").select("tick_at").where("schedule_id", "=", created.body.id).execute()).toHaveLength(0);
  });
});
