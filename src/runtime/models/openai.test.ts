import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { FakeModelServer } from "../../../test/fakes/model-script";
import { startFakeOpenAI } from "../../../test/fakes/openai";
import { ToolCallAccumulator, createOpenAIProvider } from "./openai";
import type { ModelProvider, ModelRequest, StreamPart } from "./types";

async function collect(parts: AsyncIterable<StreamPart>): Promise<StreamPart[]> {
  const out: StreamPart[] = [];
  for await (const part of parts) out.push(part);
  return out;
}

const request = (overrides: Partial<ModelRequest> = {}): ModelRequest => ({
  model: "gpt-test",
  system: [{ text: "You are terse.", cache: true }],
  messages: [{ role: "user", content: "Say hello to the world!!" }],
  tools: [],
  maxTokens: 1024,
  ...overrides,
});

const last = (parts: StreamPart[]) => parts[parts.length - 1];
const text = (parts: StreamPart[]) => parts.flatMap((p) => (p.type === "text-delta" ? [p.text] : [])).join("");
const calls = (parts: StreamPart[]) => parts.filter((p) => p.type === "tool-call");
const inputDeltas = (parts: StreamPart[], id: string) =>
  parts.flatMap((p) => (p.type === "tool-input-delta" && p.id === id ? [p.delta] : [])).join("");

const twoCalls = [
  { name: "web_search", input: { query: 'two "quoted" words ✓', limit: 5 } },
  { name: "web_search", input: { query: "second search", filters: { lang: ["en", "de"] } } },
];

describe("openai provider (index and id present)", () => {
  let fake: FakeModelServer;
  let provider: ModelProvider;
  beforeAll(async () => {
    fake = await startFakeOpenAI();
    provider = createOpenAIProvider({ baseURL: fake.url });
  });
  afterAll(() => fake.close());
  beforeEach(() => {
    fake.requests.length = 0;
  });

  it("streams text and reads usage from the final chunk, cached tokens split out", async () => {
    fake.enqueue({ text: "Hello there, world!", textChunks: 4, usage: { inputTokens: 30, cacheReadTokens: 12, outputTokens: 4 } });
    const parts = await collect(provider.stream(request()));
    expect(parts.map((p) => p.type)).toEqual(["text-delta", "text-delta", "text-delta", "text-delta", "finish"]);
    expect(text(parts)).toBe("Hello there, world!");
    expect(last(parts)).toEqual({
      type: "finish",
      reason: "end_turn",
      usage: { inputTokens: 30, outputTokens: 4, cacheReadTokens: 12, cacheWriteTokens: 0 },
    });
  });

  it("assembles chunked tool_calls of two parallel calls", async () => {
    fake.enqueue({
      text: "Let me look.",
      toolCalls: [
        { id: "call_A", ...twoCalls[0] },
        { id: "call_B", ...twoCalls[1] },
      ],
    });
    const parts = await collect(provider.stream(request()));
    expect(calls(parts)).toEqual([
      { type: "tool-call", id: "call_A", ...twoCalls[0] },
      { type: "tool-call", id: "call_B", ...twoCalls[1] },
    ]);
    expect(inputDeltas(parts, "call_A")).toBe(JSON.stringify(twoCalls[0].input));
    expect(parts.filter((p) => p.type === "tool-input-delta").length).toBeGreaterThan(10);
    const types = parts.map((p) => p.type);
    expect(types.indexOf("tool-call-start")).toBeLessThan(types.indexOf("tool-input-delta"));
    expect(last(parts)).toMatchObject({ type: "finish", reason: "tool_use" });
  });

  it.each([
    ["end_turn", "end_turn"],
    ["max_tokens", "max_tokens"],
    ["refusal", "refusal"],
  ] as const)("maps the finish_reason for %s", async (stopReason, expected) => {
    fake.enqueue({ text: "x", stopReason });
    expect(last(await collect(provider.stream(request())))).toMatchObject({ type: "finish", reason: expected });
  });

  it("sends system first, function tools, temperature, usage option and tool messages", async () => {
    fake.enqueue({ text: "ok" });
    await collect(
      provider.stream(
        request({
          temperature: 0.2,
          maxTokens: 77,
          tools: [
            { name: "read_url", description: "Read a page", inputSchema: { type: "object", properties: { url: { type: "string" } } } },
          ],
          messages: [
            { role: "user", content: "Read it" },
            {
              role: "assistant",
              content: [
                { type: "text", text: "Reading." },
                { type: "tool_call", id: "call_1", name: "read_url", input: { url: "https://a.example" } },
                { type: "tool_call", id: "call_2", name: "read_url", input: "{broken" },
              ],
            },
            {
              role: "tool",
              results: [
                { toolCallId: "call_1", name: "read_url", content: "page text", isError: false },
                { toolCallId: "call_2", name: "read_url", content: "bad input", isError: true },
              ],
            },
          ],
        }),
      ),
    );
    const { body, headers, path } = fake.requests[0];
    expect(path).toBe("/v1/chat/completions");
    // No key configured (Ollama): a placeholder, never an OPENAI_API_KEY from the environment.
    expect(headers.authorization).toBe("Bearer no-key");
    expect(body).toMatchObject({
      model: "gpt-test",
      stream: true,
      stream_options: { include_usage: true },
      temperature: 0.2,
      max_tokens: 77,
      tools: [
        {
          type: "function",
          function: {
            name: "read_url",
            description: "Read a page",
            parameters: { type: "object", properties: { url: { type: "string" } } },
          },
        },
      ],
    });
    expect(body.messages).toEqual([
      { role: "system", content: "You are terse." },
      { role: "user", content: "Read it" },
      {
        role: "assistant",
        content: "Reading.",
        tool_calls: [
          { id: "call_1", type: "function", function: { name: "read_url", arguments: '{"url":"https://a.example"}' } },
          { id: "call_2", type: "function", function: { name: "read_url", arguments: "{broken" } },
        ],
      },
      { role: "tool", tool_call_id: "call_1", content: "page text" },
      { role: "tool", tool_call_id: "call_2", content: "Error: bad input" },
    ]);
  });

  it("uses max_completion_tokens when told to (the official API's reasoning models)", async () => {
    const official = createOpenAIProvider({ apiKey: "sk-test", baseURL: fake.url, maxTokensField: "max_completion_tokens" });
    fake.enqueue({ text: "ok" });
    await collect(official.stream(request({ maxTokens: 55 })));
    expect(fake.requests[0].body.max_completion_tokens).toBe(55);
    expect(fake.requests[0].body.max_tokens).toBeUndefined();
    expect(fake.requests[0].headers.authorization).toBe("Bearer sk-test");
  });

  it.each([
    [429, "rate_limited", 4000],
    [503, "overloaded", undefined],
    [500, "server", undefined],
    [401, "auth", undefined],
    [400, "bad_request", undefined],
  ] as const)("maps HTTP %i to %s", async (status, kind, retryAfterMs) => {
    fake.enqueue({ status, retryAfterSeconds: retryAfterMs === undefined ? undefined : retryAfterMs / 1000 });
    const parts = await collect(provider.stream(request()));
    expect(parts).toHaveLength(1);
    expect(parts[0]).toMatchObject({ type: "error", error: { kind, status } });
    if (parts[0].type === "error") expect(parts[0].error.retryAfterMs).toBe(retryAfterMs);
  });

  it("adds the request fields the catalogue gives a model (GPT-6 needs reasoning_effort none for tools), and sends the matched memory before the message", async () => {
    const gpt6 = createOpenAIProvider({ baseURL: fake.url, paramsFor: (model) => (model === "gpt-6-sol" ? { reasoning_effort: "none" } : undefined) });
    fake.enqueue({ text: "ok" }, { text: "ok" });
    await collect(gpt6.stream(request({ model: "gpt-6-sol", messages: [{ role: "user", content: "hi", context: "<memory_history>\nx\n</memory_history>" }] })));
    expect(fake.requests[0].body.reasoning_effort).toBe("none");
    expect(fake.requests[0].body.messages.at(-1)).toEqual({ role: "user", content: "<memory_history>\nx\n</memory_history>\n\nhi" });
    await collect(gpt6.stream(request({ model: "llama3.2" })));
    expect(fake.requests[1].body.reasoning_effort).toBeUndefined();
  });

  it("maps an error chunk inside the stream", async () => {
    fake.enqueue({ text: "abcdef", textChunks: 3, errorAfterEvents: 2, errorKind: "overloaded" });
    const parts = await collect(provider.stream(request()));
    expect(parts.map((p) => p.type)).toEqual(["text-delta", "error"]);
    expect(last(parts)).toMatchObject({ error: { kind: "overloaded" } });
    fake.enqueue({ text: "abcdef", errorAfterEvents: 1, errorKind: "rate_limited" });
    expect(last(await collect(provider.stream(request())))).toMatchObject({ error: { kind: "rate_limited" } });
  });

  it("reports a stream that ends without a finish_reason as a network error", async () => {
    fake.enqueue({ text: "abcdef", dropAfterEvents: 3 });
    const parts = await collect(provider.stream(request()));
    expect(last(parts)).toMatchObject({ type: "error", error: { kind: "network" } });
  });

  it("aborts the upstream request when the signal aborts", async () => {
    const before = fake.abortedRequests;
    fake.enqueue({ text: "slowly slowly slowly slowly", textChunks: 20, delayMs: 20 });
    const controller = new AbortController();
    const parts: StreamPart[] = [];
    for await (const part of provider.stream(request({ signal: controller.signal }))) {
      parts.push(part);
      if (parts.length === 2) controller.abort();
    }
    expect(last(parts)).toMatchObject({ type: "error", error: { kind: "other", message: "aborted" } });
    await expect.poll(() => fake.abortedRequests, { timeout: 2000 }).toBe(before + 1);
  });
});

describe("openai provider against Ollama-style servers", () => {
  const servers: FakeModelServer[] = [];
  const start = async (options: Parameters<typeof startFakeOpenAI>[0]) => {
    const fake = await startFakeOpenAI(options);
    servers.push(fake);
    return { fake, provider: createOpenAIProvider({ baseURL: fake.url }) };
  };
  afterAll(() => Promise.all(servers.map((s) => s.close())));

  it("tolerates deltas without index (matched by id)", async () => {
    const { fake, provider } = await start({ omitIndex: true });
    fake.enqueue({
      toolCalls: [
        { id: "call_X", ...twoCalls[0] },
        { id: "call_Y", ...twoCalls[1] },
      ],
    });
    const parts = await collect(provider.stream(request()));
    expect(fake.requests[0].body.messages[0].role).toBe("system");
    expect(calls(parts)).toEqual([
      { type: "tool-call", id: "call_X", ...twoCalls[0] },
      { type: "tool-call", id: "call_Y", ...twoCalls[1] },
    ]);
    expect(last(parts)).toMatchObject({ reason: "tool_use" });
  });

  it("tolerates deltas without index or id, generating distinct call ids", async () => {
    const { fake, provider } = await start({ omitIndex: true, omitId: true });
    fake.enqueue({ toolCalls: twoCalls });
    const parts = await collect(provider.stream(request()));
    const got = calls(parts);
    expect(got).toMatchObject(twoCalls);
    const ids = got.map((c) => (c.type === "tool-call" ? c.id : ""));
    expect(ids[0]).toMatch(/^call_/);
    expect(ids[1]).toMatch(/^call_/);
    expect(ids[0]).not.toBe(ids[1]);
    expect(inputDeltas(parts, ids[1])).toBe(JSON.stringify(twoCalls[1].input));
  });

  it("takes whole arguments sent at once", async () => {
    const { fake, provider } = await start({ omitIndex: true, omitId: true, wholeArguments: true });
    fake.enqueue({ text: "On it.", toolCalls: twoCalls });
    const parts = await collect(provider.stream(request()));
    expect(text(parts)).toBe("On it.");
    expect(calls(parts)).toMatchObject(twoCalls);
    expect(parts.filter((p) => p.type === "tool-input-delta")).toHaveLength(2);
  });

  it("takes whole arguments with ids but no index", async () => {
    const { fake, provider } = await start({ omitIndex: true, wholeArguments: true });
    fake.enqueue({
      toolCalls: [
        { id: "a1", name: "memory_read", input: {} },
        { id: "a2", name: "memory_read", input: { key: "k" } },
      ],
    });
    const got = calls(await collect(provider.stream(request())));
    expect(got).toEqual([
      { type: "tool-call", id: "a1", name: "memory_read", input: {} },
      { type: "tool-call", id: "a2", name: "memory_read", input: { key: "k" } },
    ]);
  });
});

describe("ToolCallAccumulator", () => {
  const drain = (acc: ToolCallAccumulator, deltas: Parameters<ToolCallAccumulator["add"]>[0][]) => [
    ...deltas.flatMap((d) => acc.add(d)),
    ...acc.finish(),
  ];

  it("treats a repeated name on a continuation as the same call", () => {
    const parts = drain(new ToolCallAccumulator(), [
      { function: { name: "search", arguments: '{"q":' } },
      { function: { name: "search", arguments: '"x"}' } },
    ]);
    expect(calls(parts)).toMatchObject([{ name: "search", input: { q: "x" } }]);
  });

  it("ignores whole arguments repeated after they were streamed", () => {
    const parts = drain(new ToolCallAccumulator(), [
      { index: 0, id: "c1", function: { name: "search", arguments: '{"q":"x"' } },
      { index: 0, function: { arguments: "}" } },
      { index: 0, function: { arguments: '{"q":"x"}' } },
    ]);
    expect(calls(parts)).toEqual([{ type: "tool-call", id: "c1", name: "search", input: { q: "x" } }]);
  });

  it("splits calls that reuse index 0 with different ids", () => {
    const parts = drain(new ToolCallAccumulator(), [
      { index: 0, id: "c1", function: { name: "a", arguments: "{}" } },
      { index: 0, id: "c2", function: { name: "b", arguments: '{"n":1}' } },
    ]);
    expect(calls(parts)).toEqual([
      { type: "tool-call", id: "c1", name: "a", input: {} },
      { type: "tool-call", id: "c2", name: "b", input: { n: 1 } },
    ]);
  });

  it("accepts object arguments, defers the start until the name arrives, and keeps broken JSON raw", () => {
    const acc = new ToolCallAccumulator();
    expect(acc.add({ index: 0, id: "c1", function: { arguments: '{"a":' } })).toEqual([]);
    expect(acc.add({ index: 0, function: { name: "late" } })).toEqual([
      { type: "tool-call-start", id: "c1", name: "late" },
      { type: "tool-input-delta", id: "c1", delta: '{"a":' },
    ]);
    acc.add({ index: 1, id: "c2", function: { name: "obj", arguments: { k: [1] } } });
    expect(calls(acc.finish())).toEqual([
      { type: "tool-call", id: "c1", name: "late", input: '{"a":' },
      { type: "tool-call", id: "c2", name: "obj", input: { k: [1] } },
    ]);
  });
});
