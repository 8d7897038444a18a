import { runRow } from "../../../test/helpers/fixtures";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Account, type Harness, createHarness } from "../../../test/helpers/harness";
import { findAgent } from "./repository";

const seed = {
  name: "Research Assistant",
  systemPrompt: "You are a research assistant...",
  model: "claude-sonnet-4-20250514",
  temperature: 0.7,
  maxIterations: 25,
  enabledTools: ["web_search", "read_url", "memory_read", "memory_write"],
};

describe("agents", () => {
  let h: Harness;
  let a: Account;
  let b: Account;
  const setPlan = (orgId: string, plan: string) => h.services.db.kysely.updateTable("orgs").set({ plan }).where("id", "=", orgId).execute();
  const create = async (account: Account, body: Record<string, unknown> = seed) => {
    const res = await h.request("POST", `/v1/orgs/${account.orgId}/agents`, { cookie: account.cookie, body });
    if (res.status !== 201) throw new Error(`create agent: ${res.status} ${res.text}`);
    return res.body;
  };

  beforeAll(async () => {
    // A search provider is configured, so the seed's web_search is available.
    h = await createHarness({ BRAVE_API_KEY: "brave-test-key" });
    a = await h.signup({ orgName: "Org A" });
    b = await h.signup({ orgName: "Org B" });
    // Most tests need more agents than the free plan allows; the plan tests use their own orgs.
    await setPlan(a.orgId, "agency");
    await setPlan(b.orgId, "agency");
  });
  afterAll(() => h.close());

  it("creates the seed agent unchanged and reads it back", async () => {
    const res = await h.request("POST", `/v1/orgs/${a.orgId}/agents`, { cookie: a.cookie, body: seed });
    expect(res.status).toBe(201);
    expect(res.body).toEqual({
      id: expect.stringMatching(/^ag_[A-Za-z0-9]{20}$/),
      ...seed,
      description: null,
      unavailableTools: [],
      metadata: {},
      // DESIGN.md §6: agents gain approvalRequired, default [].
      approvalRequired: [],
      skills: [],
      createdAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      updatedAt: res.body.createdAt,
    });
    const got = await h.request("GET", `/v1/orgs/${a.orgId}/agents/${res.body.id}`, { cookie: a.cookie });
    expect(got.status).toBe(200);
    expect(got.body).toEqual(res.body);
    const row = await findAgent(h.services.db.kysely, a.orgId, res.body.id);
    expect(row).toMatchObject({ org_id: a.orgId, system_prompt: seed.systemPrompt, max_iterations: 25 });
    expect(await findAgent(h.services.db.kysely, b.orgId, res.body.id)).toBeUndefined();
  });

  it("fills defaults, keeps description and metadata, and removes duplicate tools", async () => {
    const agent = await create(a, {
      name: "  Minimal  ",
      model: "claude-haiku-4-5-20251001",
      description: "A small one",
      metadata: { team: "growth", tags: ["a", "b"], nested: { n: 1 } },
      enabledTools: ["web_search", "web_search", "read_url", "web_search"],
    });
    expect(agent).toMatchObject({
      name: "Minimal",
      systemPrompt: "",
      temperature: 0.7,
      maxIterations: 25,
      description: "A small one",
      enabledTools: ["web_search", "read_url"],
      metadata: { team: "growth", tags: ["a", "b"], nested: { n: 1 } },
    });
  });

  it("refuses each invalid field with a 400 naming it", async () => {
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ model: seed.model }, "name"],
      [{ ...seed, name: "" }, "name"],
      [{ ...seed, name: "   " }, "name"],
      [{ ...seed, name: "x".repeat(101) }, "name"],
      [{ ...seed, name: null }, "name"],
      [{ name: "x" }, "model"],
      [{ ...seed, model: "gpt-9-ultra" }, "model"],
      [{ ...seed, systemPrompt: "x".repeat(100_001) }, "systemPrompt"],
      [{ ...seed, temperature: 1.5 }, "temperature"],
      [{ ...seed, temperature: -0.1 }, "temperature"],
      [{ ...seed, temperature: "0.5" }, "temperature"],
      [{ ...seed, maxIterations: 0 }, "maxIterations"],
      [{ ...seed, maxIterations: 101 }, "maxIterations"],
      [{ ...seed, maxIterations: 2.5 }, "maxIterations"],
      [{ ...seed, enabledTools: ["web_search", "rm_rf"] }, "enabledTools.1"],
      [{ ...seed, enabledTools: "web_search" }, "enabledTools"],
      [{ ...seed, metadata: Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`k${i}`, i])) }, "metadata"],
      [{ ...seed, metadata: { big: "x".repeat(17 * 1024) } }, "metadata"],
      [{ ...seed, metadata: ["not", "an", "object"] }, "metadata"],
      [{ ...seed, description: "x".repeat(1001) }, "description"],
      [{ ...seed, orgId: b.orgId }, "orgId"],
    ];
    for (const [body, param] of cases) {
      const res = await h.request("POST", `/v1/orgs/${a.orgId}/agents`, { cookie: a.cookie, body });
      expect(res.status, `${param}: ${res.text}`).toBe(400);
      expect(res.body.error.type).toBe("invalid_request_error");
      expect(res.body.error.param).toBe(param);
    }
    const unknownModel = await h.request("POST", `/v1/orgs/${a.orgId}/agents`, {
      cookie: a.cookie,
      body: { ...seed, model: "gpt-9-ultra" },
    });
    expect(unknownModel.body.error.message).toContain("claude-sonnet-4-20250514");
    const unknownTool = await h.request("POST", `/v1/orgs/${a.orgId}/agents`, {
      cookie: a.cookie,
      body: { ...seed, enabledTools: ["rm_rf"] },
    });
    expect(unknownTool.body.error.message).toContain('"rm_rf"');
  });

  it("lists agents newest first with pagination", async () => {
    const org = await h.signup({ orgName: "Pages" });
    await setPlan(org.orgId, "agency");
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await create(org, { ...seed, name: `Agent ${i}` })).id);
    const first = await h.request("GET", `/v1/orgs/${org.orgId}/agents?limit=2`, { cookie: org.cookie });
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ page: 1, limit: 2, total: 3, hasMore: true });
    const second = await h.request("GET", `/v1/orgs/${org.orgId}/agents?limit=2&page=2`, { cookie: org.cookie });
    expect(second.body).toMatchObject({ page: 2, limit: 2, total: 3, hasMore: false });
    const listed = [...first.body.data, ...second.body.data].map((x: { id: string }) => x.id);
    expect(listed.sort()).toEqual([...ids].sort());
    expect(first.body.data[0]).toHaveProperty("skills");
    for (const query of ["limit=0", "limit=201", "page=0", "limit=abc"]) {
      const res = await h.request("GET", `/v1/orgs/${org.orgId}/agents?${query}`, { cookie: org.cookie });
      expect(res.status, query).toBe(400);
      expect(res.body.error.param).toBe(query.split("=")[0]);
    }
  });

  it("the list (answered from the read cache) follows every write of the org's agents, skills, links and plan at once", async () => {
    const org = await h.signup({ orgName: "Cached list" });
    await setPlan(org.orgId, "pro");
    const list = async () => {
      const res = await h.request("GET", `/v1/orgs/${org.orgId}/agents`, { cookie: org.cookie });
      expect(res.status).toBe(200);
      return res.body as { total: number; data: Array<{ id: string; name: string; skills: Array<{ name: string }>; unavailableTools: Array<{ name: string }> }> };
    };
    const otherList = async () => (await h.request("GET", `/v1/orgs/${b.orgId}/agents`, { cookie: b.cookie })).body as { data: Array<{ id: string }> };
    const others = (await otherList()).data.map((x) => x.id);
    expect((await list()).total).toBe(0);
    expect((await list()).total).toBe(0);
    // SQLite answers the second read from the cache (PostgreSQL reads every time: replicas write too).
    if (h.services.db.dialect === "sqlite") expect(h.services.db.reads.size).toBeGreaterThan(0);

    const agent = await create(org, { ...seed, enabledTools: ["web_search", "exec"] });
    expect((await list()).data.map((x) => x.id)).toEqual([agent.id]);
    await h.request("PATCH", `/v1/orgs/${org.orgId}/agents/${agent.id}`, { cookie: org.cookie, body: { name: "Renamed" } });
    expect((await list()).data[0]?.name).toBe("Renamed");

    const skill = await h.request("POST", `/v1/orgs/${org.orgId}/skills`, { cookie: org.cookie, body: { name: "first-name", description: "d", content: "c" } });
    expect(skill.status).toBe(201);
    await h.request("PUT", `/v1/orgs/${org.orgId}/agents/${agent.id}/skills/${skill.body.id}`, { cookie: org.cookie });
    expect((await list()).data[0]?.skills.map((s) => s.name)).toEqual(["first-name"]);
    await h.request("PATCH", `/v1/orgs/${org.orgId}/skills/${skill.body.id}`, { cookie: org.cookie, body: { name: "second-name" } });
    expect((await list()).data[0]?.skills.map((s) => s.name)).toEqual(["second-name"]);
    await h.request("DELETE", `/v1/orgs/${org.orgId}/agents/${agent.id}/skills/${skill.body.id}`, { cookie: org.cookie });
    expect((await list()).data[0]?.skills).toEqual([]);
    await h.request("PUT", `/v1/orgs/${org.orgId}/agents/${agent.id}/skills/${skill.body.id}`, { cookie: org.cookie });
    expect((await list()).data[0]?.skills).toHaveLength(1);
    await h.request("DELETE", `/v1/orgs/${org.orgId}/skills/${skill.body.id}`, { cookie: org.cookie });
    expect((await list()).data[0]?.skills).toEqual([]);

    // The plan, written straight on the database as the operator's command does.
    expect((await list()).data[0]?.unavailableTools.map((t) => t.name)).not.toContain("exec");
    await setPlan(org.orgId, "free");
    expect((await list()).data[0]?.unavailableTools.map((t) => t.name)).toContain("exec");

    // Another org's list is its own throughout, and never shows this org's agent.
    expect((await otherList()).data.map((x) => x.id)).toEqual(others);
    await h.request("DELETE", `/v1/orgs/${org.orgId}/agents/${agent.id}`, { cookie: org.cookie });
    expect((await list()).total).toBe(0);
  });

  it("PATCH changes only the fields sent and moves updatedAt", async () => {
    const agent = await create(a, { ...seed, description: "before", metadata: { x: 1 } });
    const res = await h.request("PATCH", `/v1/orgs/${a.orgId}/agents/${agent.id}`, { cookie: a.cookie, body: { temperature: 0.2 } });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ ...agent, temperature: 0.2, updatedAt: expect.any(String) });
    expect(Date.parse(res.body.updatedAt)).toBeGreaterThan(Date.parse(agent.updatedAt));

    const more = await h.request("PATCH", `/v1/orgs/${a.orgId}/agents/${agent.id}`, {
      cookie: a.cookie,
      body: { description: null, model: "claude-opus-5-5", enabledTools: ["memory_read", "memory_read"], metadata: {} },
    });
    expect(more.body).toMatchObject({ description: null, model: "claude-opus-5-5", enabledTools: ["memory_read"], metadata: {} });
    expect(more.body.name).toBe(seed.name);

    for (const [body, param] of [
      [{ name: null }, "name"],
      [{ systemPrompt: null }, "systemPrompt"],
      [{ model: null }, "model"],
      [{ model: "nope" }, "model"],
      [{ temperature: null }, "temperature"],
      [{ maxIterations: 1000 }, "maxIterations"],
      [{ enabledTools: ["web_search", "exec", "teleport"] }, "enabledTools.2"],
      [{ metadata: null }, "metadata"],
      [{ id: "ag_other" }, "id"],
    ] as const) {
      const bad = await h.request("PATCH", `/v1/orgs/${a.orgId}/agents/${agent.id}`, { cookie: a.cookie, body });
      expect(bad.status, param).toBe(400);
      expect(bad.body.error.param).toBe(param);
    }
    const unchanged = await h.request("PATCH", `/v1/orgs/${a.orgId}/agents/${agent.id}`, { cookie: a.cookie, body: {} });
    expect(unchanged.body).toEqual(more.body);
    expect((await h.request("PATCH", `/v1/orgs/${a.orgId}/agents/ag_missing`, { cookie: a.cookie, body: {} })).status).toBe(404);
  });

  it("DELETE removes the agent with its memory, conversations, skill links and runs; usage records stay", async () => {
    const agent = await create(a);
    const other = await create(a, { ...seed, name: "Survivor" });
    const db = h.services.db.kysely;
    const now = Date.now();
    expect((await h.request("PUT", `/v1/orgs/${a.orgId}/agents/${agent.id}/skills/skl_builtin_writing`, { cookie: a.cookie })).status).toBe(
      200,
    );
    for (const [agentId, suffix] of [
      [agent.id, "1"],
      [other.id, "2"],
    ]) {
      await db
        .insertInto("conversations")
        .values({ id: `conv_t${suffix}`, org_id: a.orgId, agent_id: agentId, title: null, created_at: now, updated_at: now })
        .execute();
      await db
        .insertInto("messages")
        .values({
          id: `msg_t${suffix}`,
          org_id: a.orgId,
          conversation_id: `conv_t${suffix}`,
          run_id: `run_t${suffix}`,
          seq: 0,
          role: "user",
          content: "{}",
          created_at: now,
        })
        .execute();
      await db
        .insertInto("memory_notes")
        .values({ id: `mem_n${suffix}`, org_id: a.orgId, agent_id: agentId, content: "note", created_at: now })
        .execute();
      await db
        .insertInto("memory_history")
        .values({
          id: `mem_h${suffix}`,
          org_id: a.orgId,
          agent_id: agentId,
          conversation_id: `conv_t${suffix}`,
          content: "history",
          created_at: now,
        })
        .execute();
    }
    await db
      .insertInto("runs")
      .values(
        runRow({
          id: "run_t1",
          org_id: a.orgId,
          agent_id: agent.id,
          conversation_id: "conv_t1",
          user_id: a.userId,
          model: seed.model,
          status: "completed",
          input_tokens: 10,
          output_tokens: 5,
          cost: 0.0001,
          iterations: 1,
          started_at: now,
          updated_at: now,
          ended_at: now,
        }),
      )
      .execute();
    await db
      .insertInto("usage_records")
      .values({
        id: "usg_t1",
        org_id: a.orgId,
        agent_id: agent.id,
        agent_name: agent.name,
        conversation_id: "conv_t1",
        run_id: "run_t1",
        parent_run_id: null,
        api_key_id: null,
        user_id: a.userId,
        model: seed.model,
        input_tokens: 10,
        output_tokens: 5,
        cache_read_tokens: 0,
        cache_write_tokens: 0,
        tokens: 15,
        cost: 0.0001,
        iterations: 1,
        tool_calls: 0,
        status: "completed",
        duration_ms: 100,
        created_at: now,
      })
      .execute();

    const res = await h.request("DELETE", `/v1/orgs/${a.orgId}/agents/${agent.id}`, { cookie: a.cookie });
    expect(res.status).toBe(204);
    expect(res.text).toBe("");
    const count = async (
      table: "conversations" | "memory_notes" | "memory_history" | "agent_skills" | "usage_records" | "runs",
      agentId: string,
    ) => (await db.selectFrom(table).select("agent_id").where("agent_id", "=", agentId).execute()).length;
    for (const table of ["conversations", "memory_notes", "memory_history", "agent_skills"] as const) {
      expect(await count(table, agent.id), table).toBe(0);
    }
    expect(await db.selectFrom("messages").select("id").where("conversation_id", "=", "conv_t1").execute()).toEqual([]);
    expect(await count("usage_records", agent.id)).toBe(1);
    expect(await count("runs", agent.id)).toBe(0);
    // The other agent's data is untouched.
    for (const table of ["conversations", "memory_notes", "memory_history"] as const) expect(await count(table, other.id), table).toBe(1);
    expect(await db.selectFrom("messages").select("id").where("conversation_id", "=", "conv_t2").execute()).toHaveLength(1);

    expect((await h.request("GET", `/v1/orgs/${a.orgId}/agents/${agent.id}`, { cookie: a.cookie })).status).toBe(404);
    const again = await h.request("DELETE", `/v1/orgs/${a.orgId}/agents/${agent.id}`, { cookie: a.cookie });
    expect(again.status).toBe(404);
    expect(again.body.error.param).toBe("agentId");
  });

  it("keeps tools above the org's plan but reports them unavailable", async () => {
    const free = await h.signup({ orgName: "Free org" });
    const agent = await create(free, { ...seed, enabledTools: ["web_search", "exec", "subagent", "memory_write"] });
    expect(agent.enabledTools).toEqual(["web_search", "exec", "subagent", "memory_write"]);
    expect(agent.unavailableTools.map((t: { name: string }) => t.name)).toEqual(["exec", "subagent"]);
    expect(agent.unavailableTools[0].reason).toMatch(/Pro plan.*Free/);
    await setPlan(free.orgId, "pro");
    const onPro = await h.request("GET", `/v1/orgs/${free.orgId}/agents/${agent.id}`, { cookie: free.cookie });
    const reasons = Object.fromEntries(onPro.body.unavailableTools.map((t: { name: string; reason: string }) => [t.name, t.reason]));
    expect(reasons.subagent).toMatch(/Agency/);
    // exec is within the Pro tier now; it may only be missing from this deployment (no sandbox).
    expect(reasons.exec ?? "").not.toMatch(/plan/);
  });

  it("enforces the plan's agent cap with a 403 naming the plan", async () => {
    const free = await h.signup({ orgName: "Capped" });
    for (let i = 0; i < 3; i++) await create(free, { ...seed, name: `n${i}` });
    const res = await h.request("POST", `/v1/orgs/${free.orgId}/agents`, { cookie: free.cookie, body: seed });
    expect(res.status).toBe(403);
    expect(res.body.error.type).toBe("permission_error");
    expect(res.body.error.message).toContain("Free plan allows at most 3 agents");
    expect((await h.request("GET", `/v1/orgs/${free.orgId}/agents`, { cookie: free.cookie })).body.total).toBe(3);
  });

  it("members and read keys read; chat keys do nothing; admins and write keys change", async () => {
    const agent = await create(a);
    const m = await h.signup();
    await h.request("POST", `/v1/orgs/${a.orgId}/members`, { cookie: a.cookie, body: { email: m.email } });
    const readKey = await h.createKey(a, { scopes: ["read"] });
    const chatKey = await h.createKey(a, { scopes: ["chat"] });
    const writeKey = await h.createKey(a, { scopes: ["write"] });
    const path = `/v1/orgs/${a.orgId}/agents`;
    for (const cred of [{ cookie: m.cookie }, { key: readKey.key }]) {
      expect((await h.request("GET", path, cred)).status).toBe(200);
      expect((await h.request("GET", `${path}/${agent.id}`, cred)).status).toBe(200);
      for (const [method, p, body] of [
        ["POST", path, seed],
        ["PATCH", `${path}/${agent.id}`, { name: "x" }],
        ["DELETE", `${path}/${agent.id}`],
      ] as const) {
        const res = await h.request(method, p, { ...cred, body });
        expect(res.status, `${method} ${p}`).toBe(403);
        expect(res.body.error.type).toBe("permission_error");
      }
    }
    for (const [method, p, body] of [
      ["GET", path],
      ["GET", `${path}/${agent.id}`],
      ["POST", path, seed],
      ["PATCH", `${path}/${agent.id}`, { name: "x" }],
      ["DELETE", `${path}/${agent.id}`],
    ] as const) {
      expect((await h.request(method, p, { key: chatKey.key, body })).status, `${method} ${p}`).toBe(403);
    }
    expect((await h.request("POST", path, { key: writeKey.key, body: seed })).status).toBe(201);
    expect((await h.request("PATCH", `${path}/${agent.id}`, { key: writeKey.key, body: { name: "Renamed" } })).body.name).toBe("Renamed");
    await h.request("PATCH", `/v1/orgs/${a.orgId}/members/${m.userId}`, { cookie: a.cookie, body: { role: "admin" } });
    expect((await h.request("POST", path, { cookie: m.cookie, body: seed })).status).toBe(201);
    expect((await h.request("GET", path)).status).toBe(401);
  });

  it("a key restricted to some agents sees and changes only those, and cannot create agents", async () => {
    const org = await h.signup({ orgName: "Restricted" });
    await setPlan(org.orgId, "agency");
    const mine = await create(org, { ...seed, name: "Mine" });
    const hidden = await create(org, { ...seed, name: "Hidden" });
    const { key } = await h.createKey(org, { scopes: ["write"], agentIds: [mine.id] });
    const list = await h.request("GET", `/v1/orgs/${org.orgId}/agents`, { key });
    expect(list.body.data.map((x: { id: string }) => x.id)).toEqual([mine.id]);
    expect(list.body.total).toBe(1);
    expect((await h.request("GET", `/v1/orgs/${org.orgId}/agents/${mine.id}`, { key })).status).toBe(200);
    for (const [method, body] of [["GET"], ["PATCH", { name: "x" }], ["DELETE"]] as const) {
      const res = await h.request(method, `/v1/orgs/${org.orgId}/agents/${hidden.id}`, { key, body });
      expect(res.status, method).toBe(404);
      expect(res.body.error.param).toBe("agentId");
    }
    expect((await h.request("PATCH", `/v1/orgs/${org.orgId}/agents/${mine.id}`, { key, body: { name: "Still mine" } })).status).toBe(200);
    const createRes = await h.request("POST", `/v1/orgs/${org.orgId}/agents`, { key, body: seed });
    expect(createRes.status).toBe(403);
    expect(createRes.body.error.message).toMatch(/restricted/);
    expect((await h.request("GET", `/v1/orgs/${org.orgId}/agents/${hidden.id}`, { cookie: org.cookie })).body.name).toBe("Hidden");
  });

  it("another org's owner session and admin key get 404 on every agent route", async () => {
    const agent = await create(a);
    const keyB = await h.createKey(b, { scopes: ["admin"] });
    const routes = [
      ["GET", `/v1/orgs/${a.orgId}/agents`],
      ["POST", `/v1/orgs/${a.orgId}/agents`, seed],
      ["GET", `/v1/orgs/${a.orgId}/agents/${agent.id}`],
      ["PATCH", `/v1/orgs/${a.orgId}/agents/${agent.id}`, { name: "pwned" }],
      ["DELETE", `/v1/orgs/${a.orgId}/agents/${agent.id}`],
      // A's agent id under B's own org path.
      ["GET", `/v1/orgs/${b.orgId}/agents/${agent.id}`],
      ["PATCH", `/v1/orgs/${b.orgId}/agents/${agent.id}`, { name: "pwned" }],
      ["DELETE", `/v1/orgs/${b.orgId}/agents/${agent.id}`],
    ] as const;
    for (const [method, path, body] of routes) {
      for (const cred of [{ cookie: b.cookie }, { key: keyB.key }]) {
        const res = await h.request(method, path, { ...cred, body });
        expect(res.status, `${method} ${path}`).toBe(404);
        expect(res.body.error.type).toBe("not_found_error");
      }
    }
    const still = await h.request("GET", `/v1/orgs/${a.orgId}/agents/${agent.id}`, { cookie: a.cookie });
    expect(still.body.name).toBe(seed.name);
  });

  it("documents the agent endpoints in /openapi.json", async () => {
    const doc = (await h.request("GET", "/openapi.json")).body;
    expect(Object.keys(doc.paths["/v1/orgs/{orgId}/agents"]).sort()).toEqual(["get", "post"]);
    expect(Object.keys(doc.paths["/v1/orgs/{orgId}/agents/{agentId}"]).sort()).toEqual(["delete", "get", "patch"]);
    expect(doc.components.schemas.Agent.properties).toHaveProperty("unavailableTools");
  });
});

describe("agents with a models file", () => {
  let h: Harness;
  const dir = mkdtempSync(join(tmpdir(), "openpaw-agents-models-"));
  beforeAll(async () => {
    const modelsFile = join(dir, "models.json");
    writeFileSync(
      modelsFile,
      JSON.stringify([
        {
          id: "llama3.1:8b",
          provider: "openai",
          contextWindow: 131072,
          maxOutputTokens: 4096,
          prices: { input: 0, output: 0 },
          defaultTemperature: 0.2,
        },
      ]),
    );
    h = await createHarness({ OPENPAW_MODELS_FILE: modelsFile, OPENAI_BASE_URL: "http://127.0.0.1:11434/v1" });
  });
  afterAll(async () => {
    await h.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("uses the model's default temperature unless one is given", async () => {
    const acct = await h.signup();
    const res = await h.request("POST", `/v1/orgs/${acct.orgId}/agents`, {
      cookie: acct.cookie,
      body: { name: "Local", model: "llama3.1:8b" },
    });
    expect(res.status).toBe(201);
    expect(res.body.temperature).toBe(0.2);
    const explicit = await h.request("POST", `/v1/orgs/${acct.orgId}/agents`, {
      cookie: acct.cookie,
      body: { name: "Local", model: "llama3.1:8b", temperature: 0.9 },
    });
    expect(explicit.body.temperature).toBe(0.9);
    const models = await h.request("GET", "/v1/models", { cookie: acct.cookie });
    expect(models.body.data.find((m: { id: string }) => m.id === "llama3.1:8b")).toMatchObject({ available: true, prices: { input: 0 } });
  });
});
