import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startFakeAnthropic } from "../../../test/fakes/anthropic";
import type { FakeModelServer } from "../../../test/fakes/model-script";
import { createAnthropicProvider } from "./anthropic";
import type { ModelProvider, ModelRequest, StreamPart } from "./types";

async function collect(parts: AsyncIterable<StreamPart>): Promise<StreamPart[]> {
  const out: StreamPart[] = [];
  for await (const part of parts) out.push(part);
  return out;
}

const request = (overrides: Partial<ModelRequest> = {}): ModelRequest => ({
  model: "claude-sonnet-4-20250514",
  system: [{ text: "You are terse.", cache: true }],
  messages: [{ role: "user", content: "Say hello to the world!!" }],
  tools: [],
  maxTokens: 1024,
  ...overrides,
});

const text = (parts: StreamPart[]) => parts.flatMap((p) => (p.type === "text-delta" ? [p.text] : [])).join("");
const last = (parts: StreamPart[]) => parts[parts.length - 1];

let fake: FakeModelServer;
let provider: ModelProvider;

beforeAll(async () => {
  fake = await startFakeAnthropic();
  provider = createAnthropicProvider({ apiKey: "sk-ant-test", baseURL: fake.url });
});
afterAll(() => fake.close());
beforeEach(() => {
  fake.requests.length = 0;
});

describe("anthropic provider: streaming", () => {
  it("streams text deltas and finishes with end_turn and the default usage", async () => {
    fake.enqueue({ text: "Hello there, world!", textChunks: 5 });
    const parts = await collect(provider.stream(request()));
    expect(parts.filter((p) => p.type === "text-delta")).toHaveLength(5);
    expect(text(parts)).toBe("Hello there, world!");
    // 10 + floor(24 chars / 4) input, one token per delta.
    expect(last(parts)).toEqual({
      type: "finish",
      reason: "end_turn",
      usage: { inputTokens: 16, outputTokens: 5, cacheReadTokens: 0, cacheWriteTokens: 0 },
    });
  });

  it("assembles a tool_use input split across many input_json_delta fragments", async () => {
    const input = { query: 'quotes " and \\ backslash ✓ 🐾', nested: { list: [1, 2.5, null, true], empty: {} } };
    fake.enqueue({ text: "Searching.", toolCalls: [{ id: "toolu_01", name: "web_search", input }] });
    const parts = await collect(provider.stream(request()));
    const deltas = parts.filter((p) => p.type === "tool-input-delta");
    expect(deltas.length).toBeGreaterThan(10);
    expect(deltas.map((d) => (d.type === "tool-input-delta" ? d.delta : "")).join("")).toBe(JSON.stringify(input));
    expect(parts.map((p) => p.type)).toEqual([
      ...Array(parts.filter((p) => p.type === "text-delta").length).fill("text-delta"),
      "tool-call-start",
      ...Array(deltas.length).fill("tool-input-delta"),
      "tool-call",
      "finish",
    ]);
    expect(parts.find((p) => p.type === "tool-call")).toEqual({ type: "tool-call", id: "toolu_01", name: "web_search", input });
    expect(last(parts)).toMatchObject({ type: "finish", reason: "tool_use" });
  });

  it("emits two parallel tool calls in order, each with its own input", async () => {
    fake.enqueue({
      toolCalls: [
        { name: "memory_read", input: { key: "alpha" } },
        { name: "read_url", input: { url: "https://example.com/a?b=c" } },
      ],
    });
    const parts = await collect(provider.stream(request()));
    const calls = parts.filter((p) => p.type === "tool-call");
    expect(calls).toMatchObject([
      { name: "memory_read", input: { key: "alpha" } },
      { name: "read_url", input: { url: "https://example.com/a?b=c" } },
    ]);
    const starts = parts.filter((p) => p.type === "tool-call-start");
    expect(starts.map((s) => (s.type === "tool-call-start" ? s.id : ""))).toEqual(calls.map((c) => (c.type === "tool-call" ? c.id : "")));
    // The first call closes before the second opens.
    const types = parts.map((p) => p.type);
    expect(types.indexOf("tool-call")).toBeLessThan(types.lastIndexOf("tool-call-start"));
  });

  it("ignores ping events the wire really carries", async () => {
    fake.enqueue({ text: "pong" });
    const raw = await fetch(`${fake.url}/v1/messages`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "m", max_tokens: 5, stream: true, messages: [{ role: "user", content: "hi" }] }),
    }).then((r) => r.text());
    expect(raw).toContain("event: ping");

    fake.enqueue({ text: "pong", toolCalls: [{ name: "t", input: {} }] });
    const parts = await collect(provider.stream(request()));
    expect(new Set(parts.map((p) => p.type))).toEqual(
      new Set(["text-delta", "tool-call-start", "tool-input-delta", "tool-call", "finish"]),
    );
    expect(text(parts)).toBe("pong");
  });

  it("reports input, output and cache tokens", async () => {
    fake.enqueue({ text: "cached", usage: { inputTokens: 120, outputTokens: 9, cacheReadTokens: 3000, cacheWriteTokens: 450 } });
    const parts = await collect(provider.stream(request()));
    expect(last(parts)).toEqual({
      type: "finish",
      reason: "end_turn",
      usage: { inputTokens: 120, outputTokens: 9, cacheReadTokens: 3000, cacheWriteTokens: 450 },
    });
  });

  it("turns empty tool input into {} and keeps unparseable input as the raw string", async () => {
    fake.enqueue({
      toolCalls: [
        { name: "noargs", input: {}, rawInput: "" },
        { name: "broken", input: null, rawInput: '{"a": tru' },
      ],
    });
    const calls = (await collect(provider.stream(request()))).filter((p) => p.type === "tool-call");
    expect(calls).toMatchObject([
      { name: "noargs", input: {} },
      { name: "broken", input: '{"a": tru' },
    ]);
  });

  it("maps stop reasons", async () => {
    fake.enqueue(
      { text: "cut", stopReason: "max_tokens" },
      { text: "no", stopReason: "refusal" },
      { text: "x", stopReason: "stop_sequence" },
    );
    expect(last(await collect(provider.stream(request())))).toMatchObject({ reason: "max_tokens" });
    expect(last(await collect(provider.stream(request())))).toMatchObject({ reason: "refusal" });
    expect(last(await collect(provider.stream(request())))).toMatchObject({ reason: "stop_sequence" });
  });
});

describe("anthropic provider: request mapping", () => {
  it("sends the system blocks with their breakpoints, the conversation's breakpoints, merged tool results with is_error, and no sampling parameters", async () => {
    fake.enqueue({ text: "done" });
    const parts = await collect(
      provider.stream(
        request({
          temperature: 0.7,
          maxTokens: 321,
          tools: [
            { name: "web_search", description: "Search the web", inputSchema: { type: "object", properties: { q: { type: "string" } } } },
            { name: "read_url", description: "Read a page", inputSchema: { type: "object", properties: { url: { type: "string" } } } },
          ],
          messages: [
            { role: "user", content: "Find two things" },
            {
              role: "assistant",
              content: [
                { type: "text", text: "Looking." },
                { type: "tool_call", id: "toolu_a", name: "web_search", input: { q: "one" } },
                { type: "tool_call", id: "toolu_b", name: "read_url", input: "{not json" },
              ],
            },
            {
              role: "tool",
              results: [
                { toolCallId: "toolu_a", name: "web_search", content: "result one", isError: false },
                { toolCallId: "toolu_b", name: "read_url", content: "invalid input", isError: true },
              ],
            },
            { role: "user", content: "And hurry.", context: "<memory_history>\nearlier\n</memory_history>" },
          ],
          cacheBreakpoints: [1, 3],
        }),
      ),
    );
    expect(last(parts)).toMatchObject({ type: "finish" });
    const { body, headers, path } = fake.requests[0];
    expect(path).toBe("/v1/messages");
    expect(headers["x-api-key"] ?? headers.authorization).toMatch(/sk-ant-test/);
    expect(body.stream).toBe(true);
    expect(body.max_tokens).toBe(321);
    expect(body.temperature).toBeUndefined();
    expect(body.system).toEqual([{ type: "text", text: "You are terse.", cache_control: { type: "ephemeral" } }]);
    // The system prompt's breakpoint covers the tools, which come first in the cached prefix.
    expect(body.tools).toEqual([
      { name: "web_search", description: "Search the web", input_schema: { type: "object", properties: { q: { type: "string" } } } },
      { name: "read_url", description: "Read a page", input_schema: { type: "object", properties: { url: { type: "string" } } } },
    ]);
    expect(body.messages).toEqual([
      { role: "user", content: [{ type: "text", text: "Find two things" }] },
      {
        role: "assistant",
        content: [
          { type: "text", text: "Looking." },
          { type: "tool_use", id: "toolu_a", name: "web_search", input: { q: "one" } },
          { type: "tool_use", id: "toolu_b", name: "read_url", input: {}, cache_control: { type: "ephemeral" } },
        ],
      },
      {
        role: "user",
        content: [
          { type: "tool_result", tool_use_id: "toolu_a", content: "result one", is_error: false },
          { type: "tool_result", tool_use_id: "toolu_b", content: "invalid input", is_error: true },
          { type: "text", text: "<memory_history>\nearlier\n</memory_history>" },
          { type: "text", text: "And hurry.", cache_control: { type: "ephemeral" } },
        ],
      },
    ]);
  });

  it("keeps the model's thinking and sends it back with its turn, but never to another model", async () => {
    fake.enqueue({ thinking: "Need the weather first.", toolCalls: [{ id: "toolu_t", name: "web_search", input: { q: "weather" } }] });
    const parts = await collect(provider.stream(request({ model: "claude-sonnet-5-5" })));
    const reasoning = parts.find((p) => p.type === "reasoning");
    expect(reasoning).toEqual({
      type: "reasoning",
      block: { type: "reasoning", model: "claude-sonnet-5-5", text: "Need the weather first.", signature: "sig:Need the weather first." },
    });
    const block = (reasoning as Extract<StreamPart, { type: "reasoning" }>).block;
    const turn = (model: string): ModelRequest =>
      request({
        model,
        messages: [
          { role: "user", content: "weather?" },
          { role: "assistant", content: [block, { type: "tool_call", id: "toolu_t", name: "web_search", input: { q: "weather" } }] },
          { role: "tool", results: [{ toolCallId: "toolu_t", name: "web_search", content: "sunny", isError: false }] },
        ],
      });
    fake.enqueue({ text: "Sunny." }, { text: "Sunny." });
    await collect(provider.stream(turn("claude-sonnet-5-5")));
    expect(fake.requests[1].body.messages[1].content[0]).toEqual({ type: "thinking", thinking: "Need the weather first.", signature: "sig:Need the weather first." });
    await collect(provider.stream(turn("claude-opus-5-5")));
    expect(fake.requests[2].body.messages[1].content.map((b: { type: string }) => b.type)).toEqual(["tool_use"]);
  });

  it("never sends more than four breakpoints: the conversation's first, then the most stable system blocks", async () => {
    fake.enqueue({ text: "ok" });
    await collect(
      provider.stream(
        request({
          system: [
            { text: "one", cache: true },
            { text: "two", cache: true },
            { text: "three", cache: true },
            { text: "volatile" },
          ],
          messages: [
            { role: "user", content: "q1" },
            { role: "assistant", content: [{ type: "text", text: "a1" }] },
            { role: "user", content: "q2" },
          ],
          cacheBreakpoints: [0, 2],
        }),
      ),
    );
    const body = fake.requests[0].body;
    const marked = JSON.stringify(body).match(/cache_control/g) ?? [];
    expect(marked).toHaveLength(4);
    expect(body.system.map((b: { cache_control?: unknown }) => Boolean(b.cache_control))).toEqual([true, true, false, false]);
    expect(body.messages[0].content[0].cache_control).toEqual({ type: "ephemeral" });
    expect(body.messages[2].content[0].cache_control).toEqual({ type: "ephemeral" });
  });

  it("omits an empty system prompt and the tool list when there are no tools", async () => {
    fake.enqueue({ text: "ok" });
    await collect(provider.stream(request({ system: [] })));
    expect(fake.requests[0].body.system).toBeUndefined();
    expect(fake.requests[0].body.tools).toBeUndefined();
  });
});

describe("anthropic provider: failures", () => {
  it("reports an in-stream overloaded error with the usage that arrived so far", async () => {
    // message_start, content_block_start, ping, first text delta, then `event: error`.
    fake.enqueue({ text: "partial answer", textChunks: 4, usage: { inputTokens: 40, cacheReadTokens: 7 }, errorAfterEvents: 4 });
    const parts = await collect(provider.stream(request()));
    expect(parts.map((p) => p.type)).toEqual(["text-delta", "error"]);
    const error = last(parts);
    if (error.type !== "error") throw new Error("expected an error part");
    expect(error.error.kind).toBe("overloaded");
    expect(error.error.retryable).toBe(true);
    expect(error.usage).toEqual({ inputTokens: 40, outputTokens: 1, cacheReadTokens: 7, cacheWriteTokens: 0 });
  });

  it.each([
    [429, "rate_limited", true],
    [529, "overloaded", true],
    [503, "overloaded", true],
    [500, "server", true],
    [502, "server", true],
    [504, "server", true],
    [400, "bad_request", false],
    [401, "auth", false],
    [403, "auth", false],
  ] as const)("maps HTTP %i to %s", async (status, kind, retryable) => {
    fake.enqueue({ status, retryAfterSeconds: status === 429 ? 3 : undefined });
    const parts = await collect(provider.stream(request()));
    expect(parts).toHaveLength(1);
    const error = parts[0];
    if (error.type !== "error") throw new Error("expected an error part");
    expect(error.error.kind).toBe(kind);
    expect(error.error.status).toBe(status);
    expect(error.error.retryable).toBe(retryable);
    if (status === 429) expect(error.error.retryAfterMs).toBe(3000);
  });

  it("reports a refused connection as a network error", async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    const down = createAnthropicProvider({ apiKey: "k", baseURL: `http://127.0.0.1:${port}` });
    const parts = await collect(down.stream(request()));
    expect(parts).toHaveLength(1);
    expect(parts[0]).toMatchObject({ type: "error", error: { kind: "network" } });
  });

  it("reports a socket dropped mid-stream as a network error", async () => {
    fake.enqueue({ text: "abcdefghij", dropAfterEvents: 5 });
    const parts = await collect(provider.stream(request()));
    expect(parts.filter((p) => p.type === "text-delta").length).toBeGreaterThan(0);
    expect(last(parts)).toMatchObject({ type: "error", error: { kind: "network" } });
  });

  it("ends a stream that goes silent after timeoutMs and closes the upstream request", async () => {
    const impatient = createAnthropicProvider({ apiKey: "k", baseURL: fake.url, timeoutMs: 300 });
    const before = fake.abortedRequests;
    fake.enqueue({ text: "abcdefghij", hangAfterEvents: 4 });
    const started = Date.now();
    const parts = await collect(impatient.stream(request()));
    expect(Date.now() - started).toBeLessThan(3000);
    expect(last(parts)).toMatchObject({ type: "error", error: { kind: "network" } });
    await expect.poll(() => fake.abortedRequests, { timeout: 2000 }).toBe(before + 1);
  });

  it("aborts the upstream request when the signal aborts mid-stream", async () => {
    const before = fake.abortedRequests;
    fake.enqueue({ text: "a long answer that trickles in slowly", textChunks: 30, delayMs: 20 });
    const controller = new AbortController();
    const parts: StreamPart[] = [];
    for await (const part of provider.stream(request({ signal: controller.signal }))) {
      parts.push(part);
      if (part.type === "text-delta" && parts.length === 2) controller.abort();
    }
    expect(parts.filter((p) => p.type === "text-delta").length).toBeLessThan(30);
    expect(last(parts)).toMatchObject({ type: "error", error: { kind: "other", message: "aborted" } });
    await expect.poll(() => fake.abortedRequests, { timeout: 2000 }).toBe(before + 1);
  });

  it("does not call the API when the signal is already aborted", async () => {
    const controller = new AbortController();
    controller.abort();
    const parts = await collect(provider.stream(request({ signal: controller.signal })));
    expect(parts).toMatchObject([{ type: "error", error: { kind: "other", message: "aborted" } }]);
    expect(fake.requests).toHaveLength(0);
  });

  it("records the usage it reported on the fake's request log", async () => {
    fake.enqueue({ text: "four", textChunks: 4 });
    const parts = await collect(provider.stream(request()));
    const finish = last(parts);
    if (finish.type !== "finish") throw new Error("expected finish");
    expect(fake.requests[0].usage).toEqual(finish.usage);
  });
});
