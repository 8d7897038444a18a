import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startFakeAnthropic } from "../../../test/fakes/anthropic";
import type { FakeModelServer } from "../../../test/fakes/model-script";
import { startFakeOpenAI } from "../../../test/fakes/openai";
import { type Account, type Harness, createHarness } from "../../../test/helpers/harness";
import { chatOverHttp, eventsOf, parseSse } from "../../../test/helpers/sse";
import { openDatabase } from "../../db";
import type { RunningServer } from "../../server";
import { runRow } from "../../../test/helpers/fixtures";

const SONNET = "claude-sonnet-4-20250514";

async function createAgent(h: Harness, account: Account, body: Record<string, unknown> = {}): Promise<string> {
  const res = await h.request("POST", `/v1/orgs/${account.orgId}/agents`, {
    cookie: account.cookie,
    body: {
      name: "Research Assistant",
      systemPrompt: "You are a research assistant.",
      model: SONNET,
      temperature: 0.7,
      maxIterations: 25,
      enabledTools: ["memory_read", "memory_write"],
      ...body,
    },
  });
  if (res.status !== 201) throw new Error(`create agent: ${res.status} ${res.text}`);
  return res.body.id;
}

const usageRows = (h: Harness, runId: string) => h.services.db.kysely.selectFrom("usage_records").selectAll().where("run_id", "=", runId).execute();

describe("chat: POST /v1/agent/:agentId/chat", () => {
  let h: Harness;
  let fake: FakeModelServer;
  let server: RunningServer;
  let a: Account;
  let b: Account;
  let keyA: string;
  let agentA: string;
  let page: { url: string; close(): void };

  beforeAll(async () => {
    fake = await startFakeAnthropic();
    const pageServer = createServer((_req, res) => {
      res.writeHead(200, { "content-type": "text/html" });
      res.end("<html><head><title>Local page</title></head><body><article><h1>Hello page</h1><p>The answer is forty-two, said the page.</p></article></body></html>");
    });
    await new Promise<void>((r) => pageServer.listen(0, "127.0.0.1", r));
    const pagePort = (pageServer.address() as AddressInfo).port;
    page = { url: `http://127.0.0.1:${pagePort}/doc`, close: () => pageServer.close() };
    h = await createHarness({
      ANTHROPIC_API_KEY: "sk-ant-test-key-000000000000",
      ANTHROPIC_BASE_URL: fake.url,
      OPENPAW_FETCH_ALLOWLIST: `127.0.0.1:${pagePort}`,
      OPENPAW_SSE_PING_MS: "100",
      OPENPAW_SHUTDOWN_GRACE_MS: "300",
    });
    server = await h.listen();
    a = await h.signup({ orgName: "A" });
    b = await h.signup({ orgName: "B" });
    keyA = (await h.createKey(a, { scopes: ["chat"] })).key;
    agentA = await createAgent(h, a, { enabledTools: ["memory_read", "memory_write", "read_url", "web_search", "exec"] });
  });
  afterAll(async () => {
    await h.close();
    await fake.close();
    page.close();
  });
  beforeEach(() => {
    fake.requests.length = 0;
    fake.setFallback(() => ({ text: "ok" }));
  });

  it("streams text deltas then done with exact figures, names the conversation and run, and records usage once", async () => {
    fake.enqueue({ text: "Hello there, researcher!", textChunks: 4, usage: { inputTokens: 1000, outputTokens: 200, cacheReadTokens: 100, cacheWriteTokens: 50 } });
    const res = await chatOverHttp(server.url, agentA, { message: "Hi" }, { key: keyA });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/event-stream/);
    const conversationId = res.headers.get("x-conversation-id");
    const runId = res.headers.get("x-run-id");
    expect(conversationId).toMatch(/^conv_/);
    expect(runId).toMatch(/^run_/);
    const texts = res.events.filter((e) => e.event === "text");
    expect(texts).toHaveLength(4);
    expect(texts.map((e) => e.data.text).join("")).toBe("Hello there, researcher!");
    const done = res.events[res.events.length - 1];
    expect(done.event).toBe("done");
    // $3/M input, $15/M output, $0.30/M cache read, $3.75/M cache write.
    const cost = (1000 * 3 + 200 * 15 + 100 * 0.3 + 50 * 3.75) / 1e6;
    expect(done.data).toMatchObject({
      iterations: 1,
      toolCalls: 0,
      tokens: 1350,
      inputTokens: 1000,
      outputTokens: 200,
      conversationId,
      runId,
      stopReason: "end_turn",
    });
    expect(done.data.cost).toBeCloseTo(cost, 9);
    const rows = await usageRows(h, runId as string);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ org_id: a.orgId, agent_id: agentA, tokens: 1350, status: "completed", iterations: 1, model: SONNET });
    expect(rows[0].api_key_id).toMatch(/^key_/);
  });

  it("runs a multi-iteration tool loop: tool_start/tool_result pair by id, results go back to the model, memory persists", async () => {
    fake.enqueue(
      { toolCalls: [{ id: "toolu_1", name: "memory_write", input: { content: "The user's favourite colour is teal." } }], usage: { inputTokens: 500, outputTokens: 40 } },
      { text: "Noted.", textChunks: 1, usage: { inputTokens: 600, outputTokens: 5 } },
    );
    const first = await chatOverHttp(server.url, agentA, { message: "Remember my favourite colour is teal" }, { key: keyA });
    const names = first.events.map((e) => e.event);
    expect(names).toEqual(["tool_start", "tool_result", "text", "done"]);
    expect(first.events[0].data).toEqual({ tool: "memory_write", id: "toolu_1", input: { content: "The user's favourite colour is teal." } });
    expect(first.events[1].data).toMatchObject({ tool: "memory_write", id: "toolu_1", isError: false });
    expect(first.events[3].data).toMatchObject({ iterations: 2, toolCalls: 1, tokens: 1145, stopReason: "end_turn" });
    // The second call carried the tool result back.
    const second = fake.requests[1].body;
    const toolResult = second.messages.at(-1).content[0];
    expect(toolResult).toMatchObject({ type: "tool_result", tool_use_id: "toolu_1" });

    // A new conversation sees the note in its system prompt, and memory_read finds it.
    fake.enqueue({ toolCalls: [{ id: "toolu_2", name: "memory_read", input: { query: "colour" } }] }, { text: "Teal." });
    const later = await chatOverHttp(server.url, agentA, { message: "What colour do I like?" }, { key: keyA });
    expect(later.headers.get("x-conversation-id")).not.toBe(first.headers.get("x-conversation-id"));
    const system = JSON.stringify(fake.requests[2].body.system);
    expect(system).toContain("The user's favourite colour is teal.");
    expect(later.events.find((e) => e.event === "tool_result")?.data.output).toContain("teal");
  });

  it("sends the agent's prompt, skills section, tools = enabled ∩ plan ∩ configured", async () => {
    await chatOverHttp(server.url, agentA, { message: "check the request" }, { key: keyA });
    const body = fake.requests[0].body;
    expect(JSON.stringify(body.system)).toContain("You are a research assistant.");
    expect(body.model).toBe(SONNET);
    const offered = body.tools.map((t: { name: string }) => t.name).sort();
    // web_search: no provider configured; exec: above the free plan.
    expect(offered).toEqual(["memory_read", "memory_write", "read_url"]);
    // The stable system block's breakpoint covers the tools before it; the conversation has its own.
    expect(body.system[0].cache_control).toEqual({ type: "ephemeral" });
    expect(body.tools.some((t: { cache_control?: unknown }) => t.cache_control)).toBe(false);
    expect(body.messages.at(-1).content.at(-1).cache_control).toEqual({ type: "ephemeral" });
    expect(fake.requests[0].headers.authorization).toBe("Bearer sk-ant-test-key-000000000000");
    const agent = await h.request("GET", `/v1/orgs/${a.orgId}/agents/${agentA}`, { cookie: a.cookie });
    expect(agent.body.unavailableTools).toEqual([
      { name: "web_search", reason: expect.stringContaining("BRAVE_API_KEY") },
      { name: "exec", reason: expect.stringContaining("Pro plan") },
    ]);
  });

  it("continues a conversation: the model sees the earlier turns", async () => {
    fake.enqueue({ text: "Nice to meet you, Ada." });
    const first = await chatOverHttp(server.url, agentA, { message: "My name is Ada" }, { key: keyA });
    const conversationId = first.headers.get("x-conversation-id");
    fake.enqueue({ text: "You are Ada." });
    const second = await chatOverHttp(server.url, agentA, { message: "Who am I?", conversationId }, { key: keyA });
    expect(second.headers.get("x-conversation-id")).toBe(conversationId);
    const messages = fake.requests[1].body.messages;
    expect(JSON.stringify(messages[0])).toContain("My name is Ada");
    expect(JSON.stringify(messages[1])).toContain("Nice to meet you, Ada.");
    expect(JSON.stringify(messages.at(-1))).toContain("Who am I?");
    const convo = await h.request("GET", `/v1/orgs/${a.orgId}/agents/${agentA}/conversations/${conversationId}`, { cookie: a.cookie });
    expect(convo.status).toBe(200);
    expect(convo.body.messages.map((m: { role: string }) => m.role)).toEqual(["user", "assistant", "user", "assistant"]);
  });

  it("stops at maxIterations with a final done", async () => {
    const agent = await createAgent(h, a, { maxIterations: 2 });
    fake.setFallback(() => ({ toolCalls: [{ name: "memory_read", input: { query: "" } }] }));
    const res = await chatOverHttp(server.url, agent, { message: "loop forever" }, { key: keyA });
    const done = res.events.at(-1);
    expect(done).toMatchObject({ event: "done", data: { iterations: 2, toolCalls: 2, stopReason: "max_iterations" } });
    expect(fake.requests).toHaveLength(2);
    expect((await usageRows(h, done?.data.runId))[0].status).toBe("max_iterations");
  });

  it("retries a 529 and a 429 before output, then succeeds", async () => {
    fake.enqueue({ status: 529 }, { status: 429, retryAfterSeconds: 0 }, { text: "finally" });
    const res = await chatOverHttp(server.url, agentA, { message: "retry me" }, { key: keyA });
    expect(res.events.filter((e) => e.event === "text").map((e) => e.data.text).join("")).toBe("finally");
    expect(fake.requests).toHaveLength(3);
  }, 20_000);

  it("a provider that stays overloaded: the error says how many attempts failed", async () => {
    fake.enqueue({ status: 529 }, { status: 529, retryAfterSeconds: 0 }, { status: 529, retryAfterSeconds: 0 }, { status: 529, retryAfterSeconds: 0 });
    const res = await chatOverHttp(server.url, agentA, { message: "still overloaded" }, { key: keyA });
    const error = res.events.find((e) => e.event === "error");
    expect(error?.data.error.message).toBe("The model provider is overloaded (HTTP 529). 4 attempts failed. Try again shortly.");
  }, 30_000);

  it("a mid-stream provider error ends the stream with event: error, then done, and usage is recorded", async () => {
    fake.enqueue({ text: "partial answer that will break", textChunks: 6, errorAfterEvents: 5, usage: { inputTokens: 300 } });
    const res = await chatOverHttp(server.url, agentA, { message: "break" }, { key: keyA });
    const error = res.events.find((e) => e.event === "error");
    expect(error?.data.error.type).toBe("overloaded_error");
    // It says what happened: no retry, because part of the answer was out.
    expect(error?.data.error.message).toBe(
      "The model provider is overloaded. It was not retried because part of the answer had already been sent. Try again shortly.",
    );
    expect(error?.data.error.message).not.toMatch(/retried and gave up/);
    const done = res.events.at(-1);
    expect(done).toMatchObject({ event: "done", data: { stopReason: "error" } });
    const rows = await usageRows(h, done?.data.runId);
    expect(rows).toHaveLength(1);
    expect(rows[0].status).toBe("error");
    expect(rows[0].input_tokens).toBe(300);
  });

  it("reads a local page through read_url when its host is allowlisted", async () => {
    fake.enqueue({ toolCalls: [{ name: "read_url", input: { url: page.url } }] }, { text: "It says 42." });
    const res = await chatOverHttp(server.url, agentA, { message: "read it" }, { key: keyA });
    const result = res.events.find((e) => e.event === "tool_result");
    expect(result?.data.isError).toBe(false);
    expect(result?.data.output).toContain("forty-two");
    const fed = JSON.stringify(fake.requests[1].body.messages.at(-1));
    expect(fed).toContain("<tool_output tool=\\\"read_url\\\">");
  });

  it("a bad tool input or unknown tool becomes an error result, not a crash", async () => {
    fake.enqueue({ toolCalls: [{ name: "memory_write", input: { wrong: 1 } }, { name: "no_such_tool", input: {} }] }, { text: "sorry" });
    const res = await chatOverHttp(server.url, agentA, { message: "bad tools" }, { key: keyA });
    const results = res.events.filter((e) => e.event === "tool_result");
    expect(results).toHaveLength(2);
    expect(results.every((r) => r.data.isError)).toBe(true);
    expect(res.events.at(-1)?.data.stopReason).toBe("end_turn");
  });

  it("returns one JSON object with stream:false or Accept: application/json", async () => {
    fake.enqueue({ text: "json answer" });
    const res = await h.request("POST", `/v1/agent/${agentA}/chat`, { key: keyA, body: { message: "hi", stream: false } });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ text: "json answer", iterations: 1, toolCalls: 0, stopReason: "end_turn" });
    expect(res.body.conversationId).toMatch(/^conv_/);
    expect(res.body.events.at(-1).event).toBe("done");
    fake.enqueue({ text: "accept answer" });
    const accept = await h.request("POST", `/v1/agent/${agentA}/chat`, { key: keyA, body: { message: "hi" }, headers: { accept: "application/json" } });
    expect(accept.body.text).toBe("accept answer");
  });

  it("sends : ping comments on an idle stream", async () => {
    fake.enqueue({ text: "slow", textChunks: 2, delayMs: 250 });
    const res = await chatOverHttp(server.url, agentA, { message: "slowly" }, { key: keyA });
    expect(res.items.some((i) => "comment" in i && i.comment === "ping")).toBe(true);
    expect(res.events.at(-1)?.event).toBe("done");
  });

  it("a client that disconnects cancels the run, aborts the upstream call, and its usage is recorded once", async () => {
    fake.enqueue({ text: "a b c d e f g h i j", textChunks: 10, delayMs: 150, usage: { inputTokens: 77 } });
    const before = fake.abortedRequests;
    const controller = new AbortController();
    const res = await fetch(`${server.url}/v1/agent/${agentA}/chat`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${keyA}` },
      body: JSON.stringify({ message: "disconnect me" }),
      signal: controller.signal,
    });
    const runId = res.headers.get("x-run-id") as string;
    const reader = res.body?.getReader() as ReadableStreamDefaultReader<Uint8Array>;
    let seen = "";
    while (!seen.includes("event: text")) seen += new TextDecoder().decode((await reader.read()).value);
    controller.abort();
    for (let i = 0; i < 50 && (await usageRows(h, runId)).length === 0; i++) await new Promise((r) => setTimeout(r, 50));
    const rows = await usageRows(h, runId);
    expect(rows).toHaveLength(1);
    expect(rows[0].status).toBe("cancelled");
    expect(rows[0].input_tokens).toBe(77);
    for (let i = 0; i < 20 && fake.abortedRequests === before; i++) await new Promise((r) => setTimeout(r, 50));
    expect(fake.abortedRequests).toBeGreaterThan(before);
  });

  it("refuses before streaming: 401 without a key, 404 for another org's agent or conversation, 403 without chat permission, 400 on bad bodies", async () => {
    expect((await h.request("POST", `/v1/agent/${agentA}/chat`, { body: { message: "x" } })).status).toBe(401);
    const keyB = (await h.createKey(b, { scopes: ["admin"] })).key;
    const other = await h.request("POST", `/v1/agent/${agentA}/chat`, { key: keyB, body: { message: "x" } });
    expect(other.status).toBe(404);
    expect(other.body.error.type).toBe("not_found_error");
    expect((await h.request("POST", `/v1/agent/${agentA}/chat`, { cookie: b.cookie, body: { message: "x" } })).status).toBe(404);
    expect((await h.request("POST", "/v1/agent/ag_nope/chat", { key: keyA, body: { message: "x" } })).status).toBe(404);
    const agentB = await createAgent(h, b);
    fake.enqueue({ text: "b's answer" });
    const convB = (await chatOverHttp(server.url, agentB, { message: "hi" }, { key: keyB })).headers.get("x-conversation-id");
    const stolen = await h.request("POST", `/v1/agent/${agentA}/chat`, { key: keyA, body: { message: "x", conversationId: convB } });
    expect(stolen.status).toBe(404);
    expect(stolen.body.error.param).toBe("conversationId");
    const readKey = (await h.createKey(a, { scopes: ["read"] })).key;
    expect((await h.request("POST", `/v1/agent/${agentA}/chat`, { key: readKey, body: { message: "x" } })).status).toBe(403);
    // A key's agentIds must be agents of its org: restricted to another agent of A.
    const restricted = (await h.createKey(a, { scopes: ["chat"], agentIds: [await createAgent(h, a)] })).key;
    expect((await h.request("POST", `/v1/agent/${agentA}/chat`, { key: restricted, body: { message: "x" } })).status).toBe(404);
    for (const [body, param] of [
      [{}, "message"],
      [{ message: "" }, "message"],
      [{ message: 5 }, "message"],
      [{ message: "x", stream: "yes" }, "stream"],
      [{ message: "x", extra: 1 }, "extra"],
    ] as const) {
      const res = await h.request("POST", `/v1/agent/${agentA}/chat`, { key: keyA, body });
      expect(res.status).toBe(400);
      expect(res.body.error.param).toBe(param);
    }
    // The session of a member of the org can chat too.
    fake.enqueue({ text: "hi owner" });
    const viaSession = await chatOverHttp(server.url, agentA, { message: "hi" }, { cookie: a.cookie });
    expect(viaSession.status).toBe(200);
    const rows = await usageRows(h, viaSession.headers.get("x-run-id") as string);
    expect(rows[0].user_id).toBe(a.userId);
  });

  it("ends a foreground run whose gateway stopped (lease lapsed) as interrupted, with its usage counted once", async () => {
    const now = Date.now();
    await h.services.db.kysely
      .insertInto("runs")
      .values(
        runRow({
          id: "run_crashed1", org_id: a.orgId, agent_id: agentA, user_id: a.userId, status: "running", input_tokens: 10, output_tokens: 5,
          cost: 0.001, iterations: 1, started_at: now - 200_000, updated_at: now - 100_000, lease_owner: "elsewhere/1/x", lease_expires_at: now - 1_000,
        }),
      )
      .execute();
    expect(await h.services.runs.sweepOrphans()).toBe(1);
    expect(await h.services.runs.sweepOrphans()).toBe(0);
    const rows = await usageRows(h, "run_crashed1");
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ status: "interrupted", tokens: 15, agent_name: "Research Assistant" });
    const run = await h.request("GET", `/v1/orgs/${a.orgId}/runs/run_crashed1`, { cookie: a.cookie });
    expect(run.body).toMatchObject({ status: "interrupted", stopReason: "error", error: { type: "api_error" }, lastEventId: 2 });
  });
});

describe("chat over an OpenAI-compatible server (Ollama style) and limits", () => {
  let h: Harness;
  let fake: FakeModelServer;
  let server: RunningServer;
  let a: Account;
  let key: string;
  let agent: string;
  let modelsFile: string;

  beforeAll(async () => {
    fake = await startFakeOpenAI({ omitIndex: true });
    const { writeFileSync, mkdtempSync } = await import("node:fs");
    const { join } = await import("node:path");
    const { tmpdir } = await import("node:os");
    modelsFile = join(mkdtempSync(join(tmpdir(), "models-")), "models.json");
    writeFileSync(
      modelsFile,
      JSON.stringify([{ id: "llama3.1", provider: "openai", providerModel: "llama3.1:8b", name: "Llama 3.1", contextWindow: 8192, maxOutputTokens: 2048, prices: { input: 0, output: 0, cacheRead: 0, cacheWrite: 0 } }]),
    );
    h = await createHarness({
      OPENAI_BASE_URL: fake.url,
      OPENPAW_MODELS_FILE: modelsFile,
      OPENPAW_CONCURRENT_RUNS_PER_KEY: "1",
      OPENPAW_SHUTDOWN_GRACE_MS: "200",
    });
    server = await h.listen();
    a = await h.signup();
    key = (await h.createKey(a, { scopes: ["chat"] })).key;
    agent = await createAgent(h, a, { model: "llama3.1", temperature: 0.2 });
  });
  afterAll(async () => {
    await h.close();
    await fake.close();
  });

  it("streams a tool loop through the OpenAI dialect without tool-call indexes", async () => {
    fake.enqueue({ toolCalls: [{ name: "memory_write", input: { content: "local models work" } }] }, { text: "Saved locally.", textChunks: 1 });
    const res = await chatOverHttp(server.url, agent, { message: "save it" }, { key });
    expect(res.events.map((e) => e.event)).toEqual(["tool_start", "tool_result", "text", "done"]);
    expect(res.events.at(-1)?.data).toMatchObject({ iterations: 2, toolCalls: 1, cost: 0 });
    expect(fake.requests[0].body).toMatchObject({ model: "llama3.1:8b", temperature: 0.2, stream: true });
  });

  it("limits concurrent runs per key with 429 and Retry-After", async () => {
    fake.enqueue({ text: "slow slow slow", textChunks: 3, delayMs: 300 });
    const slow = chatOverHttp(server.url, agent, { message: "slow" }, { key });
    await new Promise((r) => setTimeout(r, 150));
    const second = await h.request("POST", `/v1/agent/${agent}/chat`, { key, body: { message: "again" } });
    expect(second.status).toBe(429);
    expect(second.body.error.type).toBe("rate_limit_error");
    expect(second.headers.get("retry-after")).toBe("1");
    expect((await slow).status).toBe(200);
  });

  it("on shutdown, running streams finish within the grace period or are cancelled with usage recorded", async () => {
    fake.enqueue({ text: "this answer takes far too long to arrive", textChunks: 8, delayMs: 400 });
    const pending = fetch(`${server.url}/v1/agent/${agent}/chat`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${key}` },
      body: JSON.stringify({ message: "long one" }),
    });
    const res = await pending;
    const runId = res.headers.get("x-run-id") as string;
    const body = res.text();
    await new Promise((r) => setTimeout(r, 100));
    await server.stop();
    const events = eventsOf(parseSse(await body));
    expect(events.at(-1)).toMatchObject({ event: "done", data: { stopReason: "cancelled" } });
    // The server closed its database on the way out; look with a fresh connection.
    const db = openDatabase(h.config.databaseUrl);
    const rows = await db.kysely.selectFrom("usage_records").selectAll().where("run_id", "=", runId).execute();
    await db.close();
    expect(rows).toHaveLength(1);
    expect(rows[0].status).toBe("cancelled");
  });
});
