import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Account, type Harness, createHarness } from "../../../test/helpers/harness";
import type { UsageRecordsTable } from "../../db/schema";
import { newId } from "../../lib/ids";
import { insertUsageRecord, insertUsageRecords } from "./repository";

const DAY = 86_400_000;
const at = (s: string) => Date.parse(s);

function record(orgId: string, overrides: Partial<UsageRecordsTable> = {}): UsageRecordsTable {
  const input = overrides.input_tokens ?? 100;
  const output = overrides.output_tokens ?? 50;
  return {
    id: newId("usg"),
    org_id: orgId,
    agent_id: "ag_one",
    agent_name: "One",
    conversation_id: newId("conv"),
    run_id: newId("run"),
    parent_run_id: null,
    schedule_id: null,
    api_key_id: null,
    user_id: null,
    model: "claude-sonnet-4-20250514",
    input_tokens: input,
    output_tokens: output,
    cache_read_tokens: 0,
    cache_write_tokens: 0,
    tokens: input + output,
    cost: 0.01,
    iterations: 1,
    tool_calls: 0,
    status: "completed",
    duration_ms: 1200,
    created_at: at("2024-03-10T12:00:00Z"),
    ...overrides,
  };
}

const RECORD_KEYS = [
  "id",
  "agentId",
  "conversationId",
  "runId",
  "parentRunId",
  "apiKeyId",
  "userId",
  "scheduleId",
  "model",
  "inputTokens",
  "outputTokens",
  "cacheReadTokens",
  "cacheWriteTokens",
  "tokens",
  "cost",
  "iterations",
  "toolCalls",
  "status",
  "durationMs",
  "createdAt",
].sort();

describe("usage records", () => {
  let h: Harness;
  let a: Account;
  let b: Account;
  /** Every record of org A, newest first (the reference the API must agree with). */
  let all: UsageRecordsTable[];

  beforeAll(async () => {
    h = await createHarness();
    a = await h.signup({ orgName: "Org A" });
    b = await h.signup({ orgName: "Org B" });
    const db = h.services.db.kysely;
    const rows: UsageRecordsTable[] = [];
    // 5 days, several records per day at varied times, 3 agents; plus same-millisecond ties.
    for (let d = 0; d < 5; d++) {
      for (let i = 0; i < 13; i++) {
        const agent = ["ag_one", "ag_two", "ag_three"][i % 3];
        rows.push(
          record(a.orgId, {
            agent_id: agent,
            agent_name: agent,
            created_at: at("2024-03-10T00:00:00Z") + d * DAY + i * 6_500_000 + (i === 5 ? -1_000_000 : 0),
          }),
        );
      }
    }
    rows.push(
      record(a.orgId, { created_at: at("2024-03-12T08:00:00Z") }),
      record(a.orgId, { created_at: at("2024-03-12T08:00:00Z") }),
      record(a.orgId, { created_at: at("2024-03-12T23:59:59.999Z") }),
    );
    expect(await insertUsageRecords(db, rows.slice(0, 40), 7)).toBe(40);
    for (const r of rows.slice(40)) expect(await insertUsageRecord(db, r)).toBe(true);
    await insertUsageRecord(db, record(b.orgId, { agent_id: "ag_b" }));
    all = rows.sort((x, y) => y.created_at - x.created_at || (x.id < y.id ? 1 : -1));
  });
  afterAll(() => h.close());

  const list = (query: string, cred: { cookie?: string; key?: string } = { cookie: a.cookie }) =>
    h.request("GET", `/v1/orgs/${a.orgId}/usage${query}`, cred);

  it("lists the org's records newest first, shaped as the contract says", async () => {
    const res = await list("");
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ page: 1, limit: 50, total: all.length, hasMore: true });
    expect(res.body.data).toHaveLength(50);
    expect(res.body.data.map((r: { id: string }) => r.id)).toEqual(all.slice(0, 50).map((r) => r.id));
    expect(Object.keys(res.body.data[0]).sort()).toEqual(RECORD_KEYS);
    const first = all[0];
    expect(res.body.data[0]).toEqual({
      id: first.id,
      agentId: first.agent_id,
      conversationId: first.conversation_id,
      runId: first.run_id,
      parentRunId: null,
      apiKeyId: null,
      userId: null,
      scheduleId: null,
      model: first.model,
      inputTokens: 100,
      outputTokens: 50,
      cacheReadTokens: 0,
      cacheWriteTokens: 0,
      tokens: 150,
      cost: 0.01,
      iterations: 1,
      toolCalls: 0,
      status: "completed",
      durationMs: 1200,
      createdAt: new Date(first.created_at).toISOString(),
    });
    const last = await list("?page=2&limit=50");
    expect(last.body).toMatchObject({ page: 2, total: all.length, hasMore: false });
    expect(last.body.data.map((r: { id: string }) => r.id)).toEqual(all.slice(50).map((r) => r.id));
    expect((await list("?page=99")).body).toMatchObject({ data: [], total: all.length, hasMore: false });
  });

  it("a duplicate run_id is refused without a second record or double counting", async () => {
    const db = h.services.db.kysely;
    const dup = { ...all[3], id: newId("usg") };
    expect(await insertUsageRecord(db, dup)).toBe(false);
    expect(await insertUsageRecords(db, [dup])).toBe(0);
    expect((await list("")).body.total).toBe(all.length);
  });

  it("every page of every filter matches the reference, across partial-day edges", async () => {
    const cases: { query: string; expect: UsageRecordsTable[] }[] = [
      { query: "", expect: all },
      { query: "agentId=ag_two", expect: all.filter((r) => r.agent_id === "ag_two") },
      {
        query: "from=2024-03-11T05:30:00Z&to=2024-03-13T07:00:00Z",
        expect: all.filter((r) => r.created_at >= at("2024-03-11T05:30:00Z") && r.created_at <= at("2024-03-13T07:00:00Z")),
      },
      {
        query: "from=2024-03-12T03:00:00Z&to=2024-03-12T20:00:00Z&agentId=ag_one",
        expect: all.filter(
          (r) => r.agent_id === "ag_one" && r.created_at >= at("2024-03-12T03:00:00Z") && r.created_at <= at("2024-03-12T20:00:00Z"),
        ),
      },
      { query: "from=2024-03-12", expect: all.filter((r) => r.created_at >= at("2024-03-12T00:00:00Z")) },
      { query: "to=2024-03-11", expect: all.filter((r) => r.created_at < at("2024-03-12T00:00:00Z")) },
    ];
    for (const c of cases) {
      for (const limit of [1, 7, 50]) {
        const ids: string[] = [];
        for (let page = 1; ; page++) {
          const res = await list(`?${c.query}&limit=${limit}&page=${page}`);
          expect(res.status).toBe(200);
          expect(res.body.total, c.query).toBe(c.expect.length);
          ids.push(...res.body.data.map((r: { id: string }) => r.id));
          if (!res.body.hasMore) break;
        }
        expect(ids, `${c.query} limit=${limit}`).toEqual(c.expect.map((r) => r.id));
      }
    }
  });

  it("a date `to` includes its whole day; date-times are instants", async () => {
    const day = await list("?from=2024-03-12&to=2024-03-12&limit=200");
    const expected = all.filter((r) => r.created_at >= at("2024-03-12T00:00:00Z") && r.created_at < at("2024-03-13T00:00:00Z"));
    expect(expected.some((r) => r.created_at > at("2024-03-12T23:00:00Z"))).toBe(true);
    expect(day.body.total).toBe(expected.length);
    const instant = await list("?from=2024-03-12T08:00:00Z&to=2024-03-12T08:00:00Z");
    expect(instant.body.total).toBe(2);
    const noOffset = await list("?from=2024-03-12T08:00:00&to=2024-03-12T08:00:00.000Z");
    expect(noOffset.body.total).toBe(2);
  });

  it("bad filters answer 400 naming the parameter", async () => {
    for (const [query, param] of [
      ["?from=yesterday", "from"],
      ["?to=2024-02-30", "to"],
      ["?from=2024-13-01", "from"],
      ["?to=2024-03-01T25:00:00Z", "to"],
      ["?from=2024-03-12&to=2024-03-11", "from"],
      ["?from=2024-03-12T10:00:00Z&to=2024-03-12T09:59:59Z", "from"],
      ["?limit=0", "limit"],
      ["?limit=201", "limit"],
      ["?limit=10000", "limit"],
      ["?limit=abc", "limit"],
      ["?page=0", "page"],
      ["?page=-1", "page"],
      ["?agentId=", "agentId"],
    ] as const) {
      const res = await list(query);
      expect(res.status, query).toBe(400);
      expect(res.body.error.type).toBe("invalid_request_error");
      expect(res.body.error.param, query).toBe(param);
    }
    expect((await list("?limit=200")).status).toBe(200);
  });

  it("a key restricted to agents sees only their records; a chat key is refused", async () => {
    // A key may only name agents of its org: ag_two (whose records were inserted directly) becomes one.
    const now = Date.now();
    await h.services.db.kysely
      .insertInto("agents")
      .values({ id: "ag_two", org_id: a.orgId, name: "two", description: null, system_prompt: "", model: "claude-sonnet-4-20250514", temperature: 0.7, max_iterations: 25, enabled_tools: "[]", metadata: "{}", created_at: now, updated_at: now })
      .execute();
    const restricted = await h.createKey(a, { scopes: ["read"], agentIds: ["ag_two"] });
    const res = await list("?limit=200", { key: restricted.key });
    expect(res.status).toBe(200);
    expect(res.body.total).toBe(all.filter((r) => r.agent_id === "ag_two").length);
    expect(res.body.data.every((r: { agentId: string }) => r.agentId === "ag_two")).toBe(true);
    expect((await list("?agentId=ag_one", { key: restricted.key })).body).toMatchObject({ data: [], total: 0 });
    const summary = await h.request("GET", `/v1/orgs/${a.orgId}/usage/summary?from=2024-03-01&to=2024-03-31`, { key: restricted.key });
    expect(summary.body.totals.runs).toBe(all.filter((r) => r.agent_id === "ag_two").length);
    expect(summary.body.topAgents.map((t: { agentId: string }) => t.agentId)).toEqual(["ag_two"]);

    const chat = await h.createKey(a, { scopes: ["chat"] });
    const denied = await list("", { key: chat.key });
    expect(denied.status).toBe(403);
    expect(denied.body.error.type).toBe("permission_error");
    expect((await list("", {})).status).toBe(401);
  });

  it("another org's owner session and admin key get 404 on every usage route", async () => {
    const keyB = await h.createKey(b, { scopes: ["admin"] });
    for (const path of [`/v1/orgs/${a.orgId}/usage`, `/v1/orgs/${a.orgId}/usage/summary`]) {
      for (const cred of [{ cookie: b.cookie }, { key: keyB.key }]) {
        const res = await h.request("GET", path, cred);
        expect(res.status, path).toBe(404);
        expect(res.body.error.type).toBe("not_found_error");
      }
    }
    // B sees only its own record.
    const own = await h.request("GET", `/v1/orgs/${b.orgId}/usage`, { key: keyB.key });
    expect(own.body.total).toBe(1);
    expect(own.body.data[0].agentId).toBe("ag_b");
  });
});

describe("usage summary", () => {
  let h: Harness;
  let a: Account;

  beforeAll(async () => {
    h = await createHarness();
    a = await h.signup({ orgName: "Summary org" });
    const db = h.services.db.kysely;
    const now = Date.now();
    await db
      .insertInto("agents")
      .values({
        id: "ag_live",
        org_id: a.orgId,
        name: "Renamed Live",
        description: null,
        system_prompt: "x",
        model: "m",
        temperature: 0.5,
        max_iterations: 5,
        enabled_tools: "[]",
        metadata: "{}",
        created_at: now,
        updated_at: now,
      })
      .execute();
    const r = (agent: string, name: string, when: string, tokens: [number, number], cost: number, toolCalls = 0) =>
      record(a.orgId, {
        agent_id: agent,
        agent_name: name,
        created_at: at(when),
        input_tokens: tokens[0],
        output_tokens: tokens[1],
        tokens: tokens[0] + tokens[1],
        cost,
        tool_calls: toolCalls,
      });
    const rows = [
      // Outside March: must not count.
      r("ag_live", "Live", "2024-02-29T23:59:59.999Z", [1000, 1000], 5),
      r("ag_live", "Live", "2024-04-01T00:00:00.000Z", [1000, 1000], 5),
      // March.
      r("ag_live", "Live", "2024-03-01T00:00:00.000Z", [100, 20], 0.5, 2),
      r("ag_live", "Live", "2024-03-01T10:00:00.000Z", [200, 30], 0.25, 1),
      r("ag_gone", "Deleted Old Name", "2024-03-02T09:00:00.000Z", [50, 50], 0.1),
      r("ag_gone", "Deleted Last Name", "2024-03-15T09:00:00.000Z", [50, 50], 0.1),
      r("ag_c", "C", "2024-03-15T10:00:00.000Z", [10, 10], 0.05),
      r("ag_d", "D", "2024-03-20T10:00:00.000Z", [10, 10], 0.04),
      r("ag_e", "E", "2024-03-20T11:00:00.000Z", [10, 10], 0.03),
      r("ag_f", "F", "2024-03-31T23:59:59.999Z", [10, 10], 0.02, 3),
    ];
    for (const row of rows) await insertUsageRecord(db, row);
  });
  afterAll(() => h.close());

  it("March totals, active and top agents, recent activity and daily series match the hand-computed figures", async () => {
    const res = await h.request("GET", `/v1/orgs/${a.orgId}/usage/summary?from=2024-03-01&to=2024-03-31`, { cookie: a.cookie });
    expect(res.status).toBe(200);
    const s = res.body;
    expect(s.period).toEqual({ from: "2024-03-01T00:00:00.000Z", to: "2024-03-31T23:59:59.999Z" });
    expect(s.totals).toEqual({
      runs: 8,
      tokens: 120 + 230 + 100 + 100 + 20 + 20 + 20 + 20,
      inputTokens: 440,
      outputTokens: 190,
      cost: 1.09,
      toolCalls: 6,
    });
    expect(s.activeAgents).toBe(6);
    expect(s.topAgents).toEqual([
      { agentId: "ag_live", name: "Renamed Live", runs: 2, tokens: 350, cost: 0.75 },
      { agentId: "ag_gone", name: "Deleted Last Name", runs: 2, tokens: 200, cost: 0.2 },
      { agentId: "ag_c", name: "C", runs: 1, tokens: 20, cost: 0.05 },
      { agentId: "ag_d", name: "D", runs: 1, tokens: 20, cost: 0.04 },
      { agentId: "ag_e", name: "E", runs: 1, tokens: 20, cost: 0.03 },
    ]);
    expect(s.recentActivity).toHaveLength(8);
    expect(s.recentActivity[0]).toMatchObject({ agentId: "ag_f", createdAt: "2024-03-31T23:59:59.999Z", toolCalls: 3 });
    expect(s.daily).toHaveLength(31);
    expect(s.daily[0]).toEqual({ date: "2024-03-01", runs: 2, tokens: 350, cost: 0.75 });
    expect(s.daily[1]).toEqual({ date: "2024-03-02", runs: 1, tokens: 100, cost: 0.1 });
    expect(s.daily[2]).toEqual({ date: "2024-03-03", runs: 0, tokens: 0, cost: 0 });
    expect(s.daily[19]).toEqual({ date: "2024-03-20", runs: 2, tokens: 40, cost: 0.07 });
    expect(s.daily[30]).toEqual({ date: "2024-03-31", runs: 1, tokens: 20, cost: 0.02 });
  });

  it("partial days at both edges are counted exactly (raw edges plus rollup days)", async () => {
    const res = await h.request("GET", `/v1/orgs/${a.orgId}/usage/summary?from=2024-03-01T05:00:00Z&to=2024-03-20T10:30:00Z`, {
      cookie: a.cookie,
    });
    expect(res.status).toBe(200);
    // 03-01T10 (0.25), 03-02 (0.1), 03-15 x2 (0.15), 03-20T10 (0.04).
    expect(res.body.totals).toMatchObject({ runs: 5, tokens: 230 + 100 + 100 + 20 + 20, cost: 0.54 });
    expect(res.body.daily).toHaveLength(20);
    expect(res.body.daily[0]).toEqual({ date: "2024-03-01", runs: 1, tokens: 230, cost: 0.25 });
    expect(res.body.daily[19]).toEqual({ date: "2024-03-20", runs: 1, tokens: 20, cost: 0.04 });
    const sameDay = await h.request("GET", `/v1/orgs/${a.orgId}/usage/summary?from=2024-03-20T10:30:00Z&to=2024-03-20T12:00:00Z`, {
      cookie: a.cookie,
    });
    expect(sameDay.body.totals).toMatchObject({ runs: 1, cost: 0.03 });
    expect(sameDay.body.topAgents).toEqual([{ agentId: "ag_e", name: "E", runs: 1, tokens: 20, cost: 0.03 }]);
  });

  it("defaults to the calendar month to date", async () => {
    const now = Date.now();
    const db = h.services.db.kysely;
    await insertUsageRecord(db, record(a.orgId, { agent_id: "ag_now", agent_name: "Now", created_at: now - 1000, cost: 1.5 }));
    const d = new Date(now);
    const monthStart = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
    await insertUsageRecord(db, record(a.orgId, { agent_id: "ag_now", agent_name: "Now", created_at: monthStart - 1, cost: 7 }));
    const res = await h.request("GET", `/v1/orgs/${a.orgId}/usage/summary`, { cookie: a.cookie });
    expect(res.status).toBe(200);
    expect(res.body.period.from).toBe(new Date(monthStart).toISOString());
    expect(Date.parse(res.body.period.to)).toBeGreaterThanOrEqual(now);
    expect(res.body.totals).toMatchObject({ runs: 1, cost: 1.5 });
    expect(res.body.activeAgents).toBe(1);
    expect(res.body.daily.at(-1).date).toBe(new Date(now).toISOString().slice(0, 10));
  });

  it("summary validates from/to", async () => {
    for (const [query, param] of [
      ["?from=nope", "from"],
      ["?to=2024-03-32", "to"],
      ["?from=2024-03-10&to=2024-03-01", "from"],
      ["?from=2020-01-01&to=2024-01-01", "from"],
    ] as const) {
      const res = await h.request("GET", `/v1/orgs/${a.orgId}/usage/summary${query}`, { cookie: a.cookie });
      expect(res.status, query).toBe(400);
      expect(res.body.error.param, query).toBe(param);
    }
  });
});
