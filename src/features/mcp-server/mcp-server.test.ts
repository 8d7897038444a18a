/**
 * The MCP server at /mcp driven by the official @modelcontextprotocol/sdk Client over Streamable
 * HTTP (list tools, call one, progress, cancel), its authentication and tenancy, and the round
 * trip that matters: an agent of one org calling another org's agent through its own `mcp_call`
 * tool (an MCP server registered with the other org's key).
 */
import { randomBytes } from "node:crypto";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport, StreamableHTTPError } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startFakeAnthropic } from "../../../test/fakes/anthropic";
import type { FakeModelServer } from "../../../test/fakes/model-script";
import { type Account, type Harness, createHarness } from "../../../test/helpers/harness";
import type { RunningServer } from "../../server";
import { slugOf, toolNamesOf } from "./tool-names";

const SONNET = "claude-sonnet-4-20250514";
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("MCP server at /mcp: the org's agents as tools", () => {
  let h: Harness;
  let fake: FakeModelServer;
  let server: RunningServer;
  let a: Account;
  let b: Account;
  let chatA: string;
  let chatB: string;
  let agentA: string;
  let twinA: string;
  const clients: Client[] = [];

  const connect = async (key: string) => {
    const client = new Client({ name: "openpaw-test", version: "1.0.0" });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(`${server.url}/mcp`), { requestInit: { headers: { Authorization: `Bearer ${key}` } } }),
    );
    clients.push(client);
    return client;
  };
  const createAgent = async (account: Account, body: Record<string, unknown>) => {
    const res = await h.request("POST", `/v1/orgs/${account.orgId}/agents`, {
      cookie: account.cookie,
      body: { systemPrompt: "You help.", model: SONNET, enabledTools: [], ...body },
    });
    expect(res.status).toBe(201);
    return res.body.id as string;
  };
  const runsOf = (orgId: string) =>
    h.services.db.kysely.selectFrom("runs").selectAll().where("org_id", "=", orgId).orderBy("created_at").execute();
  const post = (headers: Record<string, string>, body: unknown = { jsonrpc: "2.0", id: 1, method: "tools/list" }) =>
    fetch(`${server.url}/mcp`, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json, text/event-stream", ...headers },
      body: JSON.stringify(body),
    });

  beforeAll(async () => {
    fake = await startFakeAnthropic();
    h = await createHarness({
      ANTHROPIC_API_KEY: "sk-ant-test-key-000000000000",
      ANTHROPIC_BASE_URL: fake.url,
      OPENPAW_DEFAULT_PLAN: "agency",
      OPENPAW_SECRET_KEY: randomBytes(32).toString("base64"),
      // The gateway calls itself through mcp_call: its own loopback address is allowed (tests only).
      OPENPAW_FETCH_ALLOWLIST: "127.0.0.1",
    });
    server = await h.listen();
    a = await h.signup({ orgName: "A" });
    b = await h.signup({ orgName: "B" });
    chatA = (await h.createKey(a, { scopes: ["chat"] })).key;
    chatB = (await h.createKey(b, { scopes: ["chat"] })).key;
    agentA = await createAgent(a, { name: "Research Assistant", description: "Finds things out.", enabledTools: ["memory_write"] });
    twinA = await createAgent(a, { name: "research assistant!" });
    await createAgent(b, { name: "Beta Helper", systemPrompt: "You are Beta Helper." });
  });
  afterAll(async () => {
    for (const client of clients) await client.close().catch(() => {});
    await h.close();
    await fake.close();
  });
  beforeEach(() => {
    fake.requests.length = 0;
    fake.setFallback(() => ({ text: "ok" }));
  });

  it("names tools after agents, unique and stable: the older agent keeps the plain name", () => {
    expect(slugOf("Research Assistant")).toBe("research_assistant");
    expect(slugOf("Crème brûlée — v2!")).toBe("creme_brulee_v2");
    expect(slugOf("???")).toBe("agent");
    const row = (id: string, name: string, created: number) => ({ id, name, created_at: created }) as never;
    const names = [
      ...toolNamesOf([row("ag_ZZZZZZZZZZ", "Writer", 2), row("ag_AAAAAAAAAA", "writer", 1), row("ag_BBBBBBBBBB", "Writer ", 3)]).keys(),
    ];
    expect(names).toEqual(["writer", "writer_ZZZZZZZZ", "writer_BBBBBBBB"]);
    expect([...toolNamesOf([row("ag_ZZZZZZZZZZ", "Writer", 2), row("ag_AAAAAAAAAA", "writer", 1)]).keys()]).toEqual([
      "writer",
      "writer_ZZZZZZZZ",
    ]);
  });

  it("lists one tool per agent the key may chat with: input {message, conversationId?}, structured output; nothing of another org", async () => {
    const { tools } = await (await connect(chatA)).listTools();
    const twinName = `research_assistant_${twinA.slice(3, 11)}`;
    expect(tools.map((t) => t.name).sort()).toEqual(["research_assistant", twinName].sort());
    const tool = tools.find((t) => t.name === "research_assistant");
    expect(tool).toMatchObject({ title: "Research Assistant", inputSchema: { type: "object", required: ["message"] } });
    expect(tool?.description).toContain("Finds things out.");
    expect(Object.keys(tool?.inputSchema.properties ?? {}).sort()).toEqual(["conversationId", "message"]);
    expect(tool?.outputSchema?.required).toEqual(expect.arrayContaining(["text", "conversationId", "runId", "usage"]));
    expect(JSON.stringify(tools)).not.toContain("Beta");
    const restricted = (await h.createKey(a, { scopes: ["chat"], agentIds: [twinA] })).key;
    expect((await (await connect(restricted)).listTools()).tools.map((t) => t.name)).toEqual([twinName]);
    expect((await (await connect(chatB)).listTools()).tools.map((t) => t.name)).toEqual(["beta_helper"]);
  });

  it("calls an agent: its answer, conversationId and usage as structured content; the conversation continues; usage recorded", async () => {
    const client = await connect(chatA);
    fake.enqueue({ text: "The answer is 42." });
    const first = (await client.callTool({ name: "research_assistant", arguments: { message: "What is 6 x 7?" } })) as any;
    expect(first.isError).toBe(false);
    expect(first.content).toEqual([{ type: "text", text: "The answer is 42." }]);
    const structured = first.structuredContent;
    expect(structured).toMatchObject({ text: "The answer is 42.", stopReason: "end_turn", usage: { iterations: 1, toolCalls: 0 } });
    expect(structured.conversationId).toMatch(/^conv_/);
    const run = (await runsOf(a.orgId)).find((r) => r.id === structured.runId);
    expect(run).toMatchObject({ agent_id: agentA, status: "completed", background: 0 });
    const usage = await h.services.db.kysely.selectFrom("usage_records").selectAll().where("run_id", "=", structured.runId).execute();
    expect(usage).toHaveLength(1);
    expect(usage[0].tokens).toBe(structured.usage.tokens);
    fake.enqueue({ text: "Still 42." });
    const second = (await client.callTool({
      name: "research_assistant",
      arguments: { message: "And again?", conversationId: structured.conversationId },
    })) as any;
    expect(second.structuredContent.conversationId).toBe(structured.conversationId);
    expect(JSON.stringify(fake.requests[1].body.messages)).toContain("What is 6 x 7?");
    // Another org's conversation, bad arguments and unknown tools are tool errors the calling model can read.
    const foreign = (await (
      await connect(chatB)
    ).callTool({ name: "beta_helper", arguments: { message: "hi", conversationId: structured.conversationId } })) as any;
    expect(foreign).toMatchObject({ isError: true });
    expect(foreign.content[0].text).toContain("Conversation not found");
    const invalid = (await client.callTool({ name: "research_assistant", arguments: { message: "" } })) as any;
    expect(invalid.isError).toBe(true);
    const unknown = (await (await connect(chatB)).callTool({ name: "research_assistant", arguments: { message: "hi" } })) as any;
    expect(unknown.isError).toBe(true);
    expect(fake.requests).toHaveLength(2);
  });

  it("sends progress while the run works", async () => {
    const client = await connect(chatA);
    fake.enqueue(
      { text: "Noting.", toolCalls: [{ id: "toolu_p", name: "memory_write", input: { content: "progress" } }] },
      { text: "Noted." },
    );
    const progress: Array<{ progress: number; message?: string }> = [];
    const result = (await client.callTool({ name: "research_assistant", arguments: { message: "note it" } }, undefined, {
      onprogress: (p) => progress.push(p),
    })) as any;
    expect(result.structuredContent.text).toBe("Noting.Noted.");
    expect(progress.map((p) => p.message)).toEqual([
      "Writing the answer",
      "Using memory_write",
      "memory_write finished",
      "Writing the answer",
    ]);
    expect(progress.map((p) => p.progress)).toEqual([1, 2, 3, 4]);
  });

  it("a client's cancellation cancels the run (its usage so far still recorded)", async () => {
    const client = await connect(chatA);
    fake.enqueue({ text: "a long answer that keeps going and going", textChunks: 40, delayMs: 100 });
    const controller = new AbortController();
    let started = false;
    const call = client.callTool({ name: "research_assistant", arguments: { message: "take your time" } }, undefined, {
      signal: controller.signal,
      onprogress: () => {
        started = true;
      },
    });
    for (let i = 0; i < 100 && !started; i++) await sleep(20);
    expect(started).toBe(true);
    controller.abort("changed my mind");
    await expect(call).rejects.toThrow();
    let run: any;
    for (let i = 0; i < 200; i++) {
      run = (await runsOf(a.orgId)).filter((r) => r.input === "take your time").at(-1);
      if (run?.ended_at) break;
      await sleep(25);
    }
    expect(run).toMatchObject({ status: "cancelled", stop_reason: "cancelled" });
    expect(await h.services.db.kysely.selectFrom("usage_records").select("id").where("run_id", "=", run.id).execute()).toHaveLength(1);
  });

  it("a client that disconnects mid-call cancels the run", async () => {
    fake.enqueue({ text: "another long answer that keeps going", textChunks: 40, delayMs: 100 });
    const res = await post(
      { authorization: `Bearer ${chatA}`, "mcp-protocol-version": "2025-06-18" },
      { jsonrpc: "2.0", id: 7, method: "tools/call", params: { name: "research_assistant", arguments: { message: "disconnect me" } } },
    );
    expect(res.status).toBe(200);
    let run: any;
    for (let i = 0; i < 100 && !run?.last_event_seq; i++) {
      run = (await runsOf(a.orgId)).find((r) => r.input === "disconnect me");
      await sleep(20);
    }
    expect(run?.status).toBe("running");
    await res.body?.cancel();
    for (let i = 0; i < 200; i++) {
      run = (await runsOf(a.orgId)).find((r) => r.input === "disconnect me");
      if (run?.ended_at) break;
      await sleep(25);
    }
    expect(run).toMatchObject({ status: "cancelled" });
  });

  it("takes the API key alone: 401 without one (WWW-Authenticate) or with a cookie, 403 without chat scope or from another origin; GET is 405", async () => {
    for (const headers of [{}, { cookie: a.cookie }, { authorization: "Bearer sk_live_notakey" }] as Record<string, string>[]) {
      const res = await post(headers);
      expect(res.status).toBe(401);
      expect(res.headers.get("www-authenticate")).toMatch(/^Bearer /);
      expect(((await res.json()) as { error: { type: string } }).error.type).toBe("authentication_error");
    }
    const readOnly = (await h.createKey(a, { scopes: ["read"] })).key;
    expect((await post({ authorization: `Bearer ${readOnly}` })).status).toBe(403);
    const error = await connect(readOnly).catch((e) => e);
    expect(error).toBeInstanceOf(StreamableHTTPError);
    expect(error.code).toBe(403);
    expect((await post({ authorization: `Bearer ${chatA}`, origin: "https://evil.example" })).status).toBe(403);
    const get = await fetch(`${server.url}/mcp`, { headers: { authorization: `Bearer ${chatA}`, accept: "text/event-stream" } });
    expect(get.status).toBe(405);
    expect(get.headers.get("allow")).toBe("POST");
    const notJson = await fetch(`${server.url}/mcp`, {
      method: "POST",
      headers: { authorization: `Bearer ${chatA}`, "content-type": "application/json", accept: "application/json, text/event-stream" },
      body: "{",
    });
    expect(notJson.status).toBe(400);
    expect(((await notJson.json()) as { error: { type: string } }).error.type).toBe("invalid_request_error");
    const notRpc = await post({ authorization: `Bearer ${chatA}` }, { jsonrpc: "1.0", id: 1, method: "tools/list" });
    expect(notRpc.status).toBe(400);
    expect(((await notRpc.json()) as { error: { param: string } }).error.param).toBe("jsonrpc");
    const noAccept = await post({ authorization: `Bearer ${chatA}`, accept: "application/json" });
    expect(noAccept.status).toBe(406);
  });

  it("round trip: org B's agent calls org A's agent through mcp_call with A's key, and each org's run is its own", async () => {
    const created = await h.request("POST", `/v1/orgs/${b.orgId}/mcp-servers`, {
      cookie: b.cookie,
      body: { name: "paw", url: `${server.url}/mcp`, headers: { Authorization: `Bearer ${chatA}` } },
    });
    expect(created.status).toBe(201);
    const caller = await createAgent(b, { name: "Caller", systemPrompt: "You delegate.", enabledTools: ["mcp_call"] });
    fake.enqueue(
      { toolCalls: [{ id: "toolu_remote", name: "mcp__paw__research_assistant", input: { message: "What is the capital of France?" } }] },
      { text: "Paris, says Research Assistant." },
      { text: "The other agent says: Paris." },
    );
    const chat = await h.request("POST", `/v1/agent/${caller}/chat`, {
      cookie: b.cookie,
      body: { message: "Ask the research assistant about France", stream: false },
    });
    expect(chat.status).toBe(200);
    expect(chat.body.text).toBe("The other agent says: Paris.");
    const result = chat.body.events.find((e: { event: string }) => e.event === "tool_result");
    expect(result.data).toMatchObject({ tool: "mcp__paw__research_assistant", isError: false });
    expect(result.data.output).toContain("Paris, says Research Assistant.");
    // The tool offered to B's model was A's agent, described as such.
    const offered = fake.requests[0].body.tools.map((t: { name: string }) => t.name);
    expect(offered).toContain("mcp__paw__research_assistant");
    expect(offered).not.toContain("mcp__paw__beta_helper");
    // A's agent ran in A's org, started by A's key, with its own usage record.
    expect(JSON.stringify(fake.requests[1].body.system)).toContain("You help.");
    const remote = (await runsOf(a.orgId)).find((r) => r.input === "What is the capital of France?");
    const keyA = await h.services.db.kysely
      .selectFrom("api_keys")
      .select("id")
      .where("org_id", "=", a.orgId)
      .where("scopes", "=", '["chat"]')
      .execute();
    expect(remote).toMatchObject({ agent_id: agentA, status: "completed" });
    expect(keyA.map((k) => k.id)).toContain(remote?.api_key_id);
    const usageA = await h.services.db.kysely
      .selectFrom("usage_records")
      .select(["org_id", "agent_id"])
      .where("run_id", "=", remote?.id as string)
      .execute();
    expect(usageA).toEqual([{ org_id: a.orgId, agent_id: agentA }]);
    const callerRun = await h.request("GET", `/v1/orgs/${b.orgId}/runs/${chat.body.runId}`, { cookie: b.cookie });
    expect(callerRun.body).toMatchObject({ agentId: caller, toolCalls: 1, status: "completed" });
    expect((await runsOf(b.orgId)).some((r) => r.agent_id === agentA)).toBe(false);
  });
});
