import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startFakeAnthropic } from "../../../test/fakes/anthropic";
import { HUGE_LENGTH, type FakeMcpServer, startFakeMcpServer } from "../../../test/fakes/mcp-server";
import type { FakeModelServer } from "../../../test/fakes/model-script";
import { type Account, type Harness, createHarness } from "../../../test/helpers/harness";

const SECRET = "Bearer mcp-secret-token-9z8y";
const SONNET = "claude-sonnet-4-20250514";

describe("MCP servers: /v1/orgs/:orgId/mcp-servers and mcp__ tools in runs", () => {
  let h: Harness;
  let fake: FakeModelServer;
  let mcp: FakeMcpServer;
  let a: Account;
  let b: Account;
  let serverId: string;
  let agentId: string;

  const base = (account: Account) => `/v1/orgs/${account.orgId}/mcp-servers`;
  const chat = (message: string) => h.request("POST", `/v1/agent/${agentId}/chat`, { cookie: a.cookie, body: { message, stream: false } });

  beforeAll(async () => {
    fake = await startFakeAnthropic();
    mcp = await startFakeMcpServer({ authorization: SECRET });
    h = await createHarness({
      ANTHROPIC_API_KEY: "sk-ant-test-key-000000000000",
      ANTHROPIC_BASE_URL: fake.url,
      OPENPAW_DEFAULT_PLAN: "agency",
      OPENPAW_SECRET_KEY: randomBytes(32).toString("base64"),
      OPENPAW_FETCH_ALLOWLIST: `127.0.0.1:${mcp.port}`,
      OPENPAW_MCP_TIMEOUT_MS: "1500",
    });
    a = await h.signup({ orgName: "A" });
    b = await h.signup({ orgName: "B" });
    const created = await h.request("POST", base(a), { cookie: a.cookie, body: { name: "docs", url: `${mcp.url}/mcp`, headers: { Authorization: SECRET } } });
    expect(created.status).toBe(201);
    serverId = created.body.id;
    const agent = await h.request("POST", `/v1/orgs/${a.orgId}/agents`, {
      cookie: a.cookie,
      body: { name: "Ops", systemPrompt: "You operate.", model: SONNET, temperature: 0.2, maxIterations: 5, enabledTools: ["mcp_call"] },
    });
    expect(agent.status).toBe(201);
    agentId = agent.body.id;
  });
  afterAll(async () => {
    await h.close();
    await fake.close();
    await mcp.close();
  });
  beforeEach(() => {
    fake.requests.length = 0;
    fake.setFallback(() => ({ text: "ok" }));
  });

  it("creates, lists and gets a server with its header masked, never the secret", async () => {
    const list = await h.request("GET", base(a), { cookie: a.cookie });
    expect(list.status).toBe(200);
    expect(list.body.data).toHaveLength(1);
    expect(list.body.data[0]).toMatchObject({ id: serverId, name: "docs", url: `${mcp.url}/mcp`, enabled: true, headers: { Authorization: "••••9z8y" } });
    expect(serverId).toMatch(/^mcp_/);
    const one = await h.request("GET", `${base(a)}/${serverId}`, { cookie: a.cookie });
    expect(one.status).toBe(200);
    expect(one.body.createdAt).toMatch(/Z$/);
    for (const text of [list.text, one.text]) expect(text).not.toContain("mcp-secret-token");
    const row = await h.services.db.kysely.selectFrom("mcp_servers").selectAll().where("id", "=", serverId).executeTakeFirstOrThrow();
    expect(row.headers_enc).not.toContain("mcp-secret-token");
  });

  it("refuses bad names, private URLs, reserved headers and duplicate names, naming the field", async () => {
    const cases: Array<[Record<string, unknown>, number, string]> = [
      [{ name: "Not A Slug", url: `${mcp.url}/mcp` }, 400, "name"],
      [{ name: "internal", url: "http://10.1.2.3/mcp" }, 400, "url"],
      [{ name: "meta", url: "http://169.254.169.254/latest" }, 400, "url"],
      [{ name: "local", url: "http://localhost:9/mcp" }, 400, "url"],
      [{ name: "ftp", url: "ftp://example.com/mcp" }, 400, "url"],
      [{ name: "hdr", url: `${mcp.url}/mcp`, headers: { Host: "evil" } }, 400, "headers.Host"],
      [{ name: "docs", url: `${mcp.url}/mcp` }, 409, "name"],
    ];
    for (const [body, status, param] of cases) {
      const res = await h.request("POST", base(a), { cookie: a.cookie, body });
      expect(res.status, JSON.stringify(body)).toBe(status);
      expect(res.body.error.param).toBe(param);
    }
  });

  it("hides servers across orgs (404) and needs write permission to change them", async () => {
    for (const [method, path] of [
      ["GET", `${base(a)}/${serverId}`],
      ["PATCH", `${base(a)}/${serverId}`],
      ["DELETE", `${base(a)}/${serverId}`],
      ["POST", `${base(a)}/${serverId}/test`],
    ] as const) {
      // B's session on A's org, and B's own org with A's server id.
      const other = await h.request(method, path, { cookie: b.cookie, body: method === "PATCH" ? { enabled: false } : undefined });
      expect(other.status, `${method} ${path}`).toBe(404);
      const own = await h.request(method, path.replace(a.orgId, b.orgId), { cookie: b.cookie, body: method === "PATCH" ? { enabled: false } : undefined });
      expect(own.status).toBe(404);
      expect(own.body.error.param).toBe("serverId");
    }
    expect((await h.request("GET", base(b), { cookie: b.cookie })).body.data).toEqual([]);
    const reader = await h.createKey(a, { scopes: ["read"] });
    expect((await h.request("GET", base(a), { key: reader.key })).status).toBe(200);
    expect((await h.request("POST", base(a), { key: reader.key, body: { name: "x", url: `${mcp.url}/mcp` } })).status).toBe(403);
  });

  it("test endpoint lists the server's tools with their schemas, or says clearly why it cannot", async () => {
    const ok = await h.request("POST", `${base(a)}/${serverId}/test`, { cookie: a.cookie });
    expect(ok.status).toBe(200);
    expect(ok.body.ok).toBe(true);
    expect(ok.body.tools.map((t: { name: string }) => t.name).sort()).toEqual(["fail", "hang", "huge", "search"]);
    const search = ok.body.tools.find((t: { name: string }) => t.name === "search");
    expect(search.inputSchema).toMatchObject({ type: "object", properties: { query: { type: "string" } }, required: ["query"] });
    expect(mcp.headers.at(-1)?.authorization).toBe(SECRET);

    const wrong = await h.request("POST", base(a), { cookie: a.cookie, body: { name: "wrong-key", url: `${mcp.url}/mcp`, headers: { Authorization: "Bearer nope-nope" } } });
    const failed = await h.request("POST", `${base(a)}/${wrong.body.id}/test`, { cookie: a.cookie });
    expect(failed.status).toBe(200);
    expect(failed.body).toMatchObject({ ok: false, tools: [] });
    expect(failed.body.error.message).toContain('MCP server "wrong-key" failed');
    expect(failed.body.error.message).toMatch(/401/);
    expect((await h.request("DELETE", `${base(a)}/${wrong.body.id}`, { cookie: a.cookie })).status).toBe(204);
  });

  it("falls back to the HTTP+SSE transport for servers that only speak it", async () => {
    const sse = await h.request("POST", base(a), { cookie: a.cookie, body: { name: "legacy", url: `${mcp.url}/sse`, headers: { Authorization: SECRET }, enabled: false } });
    expect(sse.status).toBe(201);
    const res = await h.request("POST", `${base(a)}/${sse.body.id}/test`, { cookie: a.cookie });
    expect(res.body.ok).toBe(true);
    expect(res.body.tools).toHaveLength(4);
    expect((await h.request("DELETE", `${base(a)}/${sse.body.id}`, { cookie: a.cookie })).status).toBe(204);
  });

  it("offers the server's tools as mcp__<server>__<tool> and routes the model's call to it", async () => {
    const callsBefore = mcp.calls.length;
    fake.enqueue({ toolCalls: [{ id: "toolu_s", name: "mcp__docs__search", input: { query: "cats", limit: 2 } }] }, { text: "Found them." });
    const res = await chat("find cats");
    expect(res.status).toBe(200);
    const offered = fake.requests[0].body.tools as Array<{ name: string; input_schema: any }>;
    expect(offered.map((t) => t.name).sort()).toEqual(["mcp__docs__fail", "mcp__docs__hang", "mcp__docs__huge", "mcp__docs__search"]);
    const search = offered.find((t) => t.name === "mcp__docs__search");
    expect(search?.input_schema).toMatchObject({ type: "object", properties: { query: { type: "string" }, limit: { type: "integer" } }, required: ["query"] });
    expect(mcp.calls.slice(callsBefore)).toEqual([{ tool: "search", args: { query: "cats", limit: 2 } }]);
    const start = res.body.events.find((e: any) => e.event === "tool_start");
    const result = res.body.events.find((e: any) => e.event === "tool_result");
    expect(start.data).toMatchObject({ tool: "mcp__docs__search", id: "toolu_s", input: { query: "cats", limit: 2 } });
    expect(result.data).toMatchObject({ tool: "mcp__docs__search", isError: false, output: 'found 3 results for "cats" (limit 2)' });
    expect(res.body.stopReason).toBe("end_turn");
  });

  it("turns tool errors, timeouts and huge output into results the run goes on with", async () => {
    fake.enqueue(
      {
        toolCalls: [
          { id: "t_fail", name: "mcp__docs__fail", input: {} },
          { id: "t_hang", name: "mcp__docs__hang", input: {} },
          { id: "t_huge", name: "mcp__docs__huge", input: {} },
        ],
      },
      { text: "Handled." },
    );
    const res = await chat("try everything");
    expect(res.status).toBe(200);
    const results = Object.fromEntries(res.body.events.filter((e: any) => e.event === "tool_result").map((e: any) => [e.data.id, e.data]));
    expect(results.t_fail).toMatchObject({ isError: true });
    expect(results.t_fail.output).toContain("upstream database is down");
    expect(results.t_hang.isError).toBe(true);
    expect(results.t_hang.output).toMatch(/timed out/);
    expect(results.t_huge.isError).toBe(false);
    expect(results.t_huge.output.length).toBeLessThan(HUGE_LENGTH);
    expect(results.t_huge.output).toContain("[MCP result cut");
    expect(res.body).toMatchObject({ stopReason: "end_turn", text: "Handled.", toolCalls: 3 });
  });

  it("offers nothing from disabled servers, or below the agency plan", async () => {
    expect((await h.request("PATCH", `${base(a)}/${serverId}`, { cookie: a.cookie, body: { enabled: false } })).body.enabled).toBe(false);
    await chat("anything?");
    expect(fake.requests[0].body.tools ?? []).toEqual([]);
    await h.request("PATCH", `${base(a)}/${serverId}`, { cookie: a.cookie, body: { enabled: true } });

    await h.services.db.kysely.updateTable("orgs").set({ plan: "free" }).where("id", "=", a.orgId).execute();
    try {
      fake.requests.length = 0;
      await chat("and now?");
      expect(fake.requests[0].body.tools ?? []).toEqual([]);
    } finally {
      await h.services.db.kysely.updateTable("orgs").set({ plan: "agency" }).where("id", "=", a.orgId).execute();
    }
  });

  it("never writes the header secret to the logs", () => {
    expect(h.logs.length).toBeGreaterThan(0);
    expect(h.logs.join("\n")).not.toContain("mcp-secret-token");
  });
});

describe("MCP servers without OPENPAW_SECRET_KEY", () => {
  it("refuses headers with a message saying how to make a key, and accepts a server without any", async () => {
    const h = await createHarness({ OPENPAW_DEFAULT_PLAN: "agency" });
    try {
      const a = await h.signup();
      const refused = await h.request("POST", `/v1/orgs/${a.orgId}/mcp-servers`, {
        cookie: a.cookie,
        body: { name: "x", url: "https://example.com/mcp", headers: { Authorization: "Bearer t0ps3cret" } },
      });
      expect(refused.status).toBe(400);
      expect(refused.body.error.param).toBe("headers");
      expect(refused.body.error.message).toContain("openssl rand -base64 32");
      const plain = await h.request("POST", `/v1/orgs/${a.orgId}/mcp-servers`, { cookie: a.cookie, body: { name: "x", url: "https://93.184.215.14/mcp" } });
      expect(plain.status).toBe(201);
      expect(plain.body.headers).toEqual({});
    } finally {
      await h.close();
    }
  });
});
