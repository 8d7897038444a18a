/**
 * The keyless path: a gateway pointed at an OpenAI-compatible server (Ollama, vLLM, llama.cpp)
 * lists that server's models by themselves, free and marked local, and an agent on one of them
 * streams. Models a provider serves but the catalogue does not know are usable, price unknown.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFakeAnthropic } from "../../../test/fakes/anthropic";
import type { FakeModelServer } from "../../../test/fakes/model-script";
import { startFakeOpenAI } from "../../../test/fakes/openai";
import { type Account, type Harness, createHarness } from "../../../test/helpers/harness";
import { chatOverHttp } from "../../../test/helpers/sse";
import { createLogger } from "../../lib/logger";
import { createModelCatalogue } from "../../runtime/models/catalogue";
import { ModelDiscovery, localServerOf } from "../../runtime/models/discovery";
import { createOpenAIProvider } from "../../runtime/models/openai";
import type { RunningServer } from "../../server";

const served = [
  { id: "llama3.2:latest", owned_by: "library" },
  // vLLM reports its context length.
  { id: "Qwen/Qwen3-8B", owned_by: "vllm", max_model_len: 40_960 },
];

describe("models of a local OpenAI-compatible server", () => {
  let fake: FakeModelServer;
  let h: Harness;
  let server: RunningServer;
  let a: Account;
  let key: string;
  const models = [...served];

  beforeAll(async () => {
    fake = await startFakeOpenAI({ models });
    // No key of any kind: the server needs none (Ollama).
    h = await createHarness({ OPENAI_BASE_URL: fake.url, OPENPAW_DEFAULT_PLAN: "unlimited" });
    server = await h.listen();
    a = await h.signup();
    key = (await h.createKey(a, { scopes: ["chat", "write"] })).key;
  });
  afterAll(async () => {
    await h?.close();
    await fake?.close();
  });

  it("appear in GET /v1/models by themselves: available, local, price 0, with the limits the server reports", async () => {
    const res = await h.request("GET", "/v1/models", { key });
    expect(res.status).toBe(200);
    const llama = res.body.data.find((m: { id: string }) => m.id === "llama3.2:latest");
    expect(llama).toMatchObject({
      provider: "openai",
      providerModel: "llama3.2:latest",
      available: true,
      local: true,
      pricesKnown: true,
      prices: { input: 0, output: 0, cacheRead: 0, cacheWrite: 0 },
    });
    expect(llama.note).toContain(fake.url);
    expect(res.body.data.find((m: { id: string }) => m.id === "Qwen/Qwen3-8B")).toMatchObject({ local: true, contextWindow: 40_960 });
    // Anthropic is not configured here, and OpenAI's own models are not on this server.
    expect(res.body.data.find((m: { id: string }) => m.id === "claude-sonnet-5-5").available).toBe(false);
    expect(res.body.data.find((m: { id: string }) => m.id === "gpt-6-sol").available).toBe(false);
    expect(res.body.default).toBe("llama3.2:latest");
    expect(fake.sideRequests).toContain("/v1/models");
  });

  it("an agent on one streams an answer that costs nothing", async () => {
    const created = await h.request("POST", `/v1/orgs/${a.orgId}/agents`, {
      key,
      body: { name: "Local", model: "llama3.2:latest", enabledTools: ["memory_write"] },
    });
    expect(created.status).toBe(201);
    fake.enqueue({ toolCalls: [{ name: "memory_write", input: { content: "runs on a laptop" } }] }, { text: "Hello from a local model.", textChunks: 3 });
    const res = await chatOverHttp(server.url, created.body.id, { message: "hello" }, { key });
    expect(res.status).toBe(200);
    expect(res.events.map((e) => e.event)).toEqual(["tool_start", "tool_result", "text", "text", "text", "done"]);
    expect(res.events.at(-1)?.data).toMatchObject({ stopReason: "end_turn", cost: 0 });
    expect(fake.requests.at(-1)?.body.model).toBe("llama3.2:latest");
  });

  it("a model pulled after the last listing is found on first use", async () => {
    models.push({ id: "mistral-small3.2:24b", owned_by: "library" });
    const created = await h.request("POST", `/v1/orgs/${a.orgId}/agents`, { key, body: { name: "Mistral", model: "mistral-small3.2:24b" } });
    expect(created.status).toBe(201);
    const list = await h.request("GET", "/v1/models", { key });
    expect(list.body.data.find((m: { id: string }) => m.id === "mistral-small3.2:24b")).toMatchObject({ local: true, available: true });
    expect(fake.sideRequests.some((p) => /^\/v1\/models\/mistral-small3\.2(%3A|:)24b$/.test(p))).toBe(true);
  });

  it("an id the server does not serve is still a 400 naming what can run", async () => {
    const res = await h.request("POST", `/v1/orgs/${a.orgId}/agents`, { key, body: { name: "Typo", model: "lama3.2" } });
    expect(res.status).toBe(400);
    expect(res.body.error.param).toBe("model");
    expect(res.body.error.message).toContain("llama3.2:latest");
    expect(res.body.error.message).not.toContain("claude-sonnet-5-5");
  });
});

describe("model discovery", () => {
  it("refreshes the list periodically and keeps the last one when the server is down", async () => {
    const list = [{ id: "a:1" }];
    const fake = await startFakeOpenAI({ models: list });
    try {
      const localServer = localServerOf(fake.url);
      const catalogue = createModelCatalogue({ modelsFile: null, anthropicConfigured: false, openaiConfigured: true, localServer });
      const lines: string[] = [];
      const logger = createLogger("info", { write: (line) => lines.push(line) });
      const discovery = new ModelDiscovery({ catalogue, providers: { openai: createOpenAIProvider({ baseURL: fake.url }) }, logger, refreshMs: 50 });
      await discovery.start();
      expect(catalogue.get("a:1")?.available).toBe(true);
      list.push({ id: "b:2" });
      await expect.poll(() => catalogue.get("b:2")?.available, { timeout: 2_000 }).toBe(true);
      list.splice(0, 1);
      await expect.poll(() => catalogue.get("a:1")?.available, { timeout: 2_000 }).toBe(false);
      discovery.stop();
      await fake.close();
      await discovery.refresh();
      expect(catalogue.get("b:2")?.available).toBe(true);
      expect(lines.join("\n")).toContain("cannot list the models of OPENAI_BASE_URL");
    } finally {
      await fake.close().catch(() => {});
    }
  });

  it("treats OpenAI's own API as not local", () => {
    expect(localServerOf(null)).toBeNull();
    expect(localServerOf("https://api.openai.com/v1")).toBeNull();
    expect(localServerOf("http://localhost:11434/v1/")).toBe("http://localhost:11434/v1");
  });
});

describe("a model the provider serves that the catalogue does not know", () => {
  let fake: FakeModelServer;
  let h: Harness;
  let a: Account;

  beforeAll(async () => {
    fake = await startFakeAnthropic({ models: [{ id: "claude-sonnet-6", display_name: "Claude Sonnet 6", max_input_tokens: 1_000_000, max_tokens: 128_000 }] });
    h = await createHarness({ ANTHROPIC_API_KEY: "sk-ant-test-key-0000000000", ANTHROPIC_BASE_URL: fake.url });
    a = await h.signup();
  });
  afterAll(async () => {
    await h?.close();
    await fake?.close();
  });

  it("is usable, with a note that its price is unknown and its runs recorded at $0", async () => {
    const created = await h.request("POST", `/v1/orgs/${a.orgId}/agents`, { cookie: a.cookie, body: { name: "Next", model: "claude-sonnet-6" } });
    expect(created.status).toBe(201);
    const model = (await h.request("GET", "/v1/models", { cookie: a.cookie })).body.data.find((m: { id: string }) => m.id === "claude-sonnet-6");
    expect(model).toMatchObject({ name: "Claude Sonnet 6", contextWindow: 1_000_000, maxOutputTokens: 128_000, available: true, local: false, pricesKnown: false });
    expect(model.note).toMatch(/price unknown/);
    fake.enqueue({ text: "hi" });
    const run = await h.request("POST", `/v1/agent/${created.body.id}/chat`, { cookie: a.cookie, body: { message: "hi", stream: false } });
    expect(run.status).toBe(200);
    expect(run.body).toMatchObject({ text: "hi", cost: 0 });
    expect(fake.requests.at(-1)?.body.model).toBe("claude-sonnet-6");
  });

  it("a chat whose provider is not configured answers 503 naming the variable to set", async () => {
    const agent = await h.request("POST", `/v1/orgs/${a.orgId}/agents`, { cookie: a.cookie, body: { name: "GPT", model: "gpt-6-sol" } });
    expect(agent.status).toBe(201);
    const res = await h.request("POST", `/v1/agent/${agent.body.id}/chat`, { cookie: a.cookie, body: { message: "hi" } });
    expect(res.status).toBe(503);
    expect(res.body.error.type).toBe("provider_error");
    expect(res.body.error.message).toContain("OPENAI_BASE_URL");
    expect(res.body.error.message).toContain("OPENAI_API_KEY");
  });
});

describe("a gateway without any provider", () => {
  it("says at start what to set", async () => {
    const h = await createHarness({});
    try {
      expect(h.logs.join("\n")).toMatch(/No model provider is configured.*ANTHROPIC_API_KEY.*OPENAI_BASE_URL=http:\/\/localhost:11434\/v1/);
    } finally {
      await h.close();
    }
  });
});
