import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startFakeAnthropic } from "../../../test/fakes/anthropic";
import type { FakeModelServer } from "../../../test/fakes/model-script";
import { startFakeOpenAI } from "../../../test/fakes/openai";
import { createAnthropicProvider } from "./anthropic";
import { createOpenAIProvider } from "./openai";
import { errorKindForStatus, retryAfterMsFromHeaders, retryDelayMs, streamWithRetry } from "./retry";
import type { ModelProvider, ModelRequest, StreamPart } from "./types";

async function collect(parts: AsyncIterable<StreamPart>): Promise<StreamPart[]> {
  const out: StreamPart[] = [];
  for await (const part of parts) out.push(part);
  return out;
}

const request = (overrides: Partial<ModelRequest> = {}): ModelRequest => ({
  model: "claude-sonnet-4-20250514",
  system: [{ text: "sys" }],
  messages: [{ role: "user", content: "12345678" }],
  tools: [],
  maxTokens: 100,
  ...overrides,
});

const last = (parts: StreamPart[]) => parts[parts.length - 1];

/** Records the waits instead of taking them. */
function recordingSleep() {
  const delays: number[] = [];
  return { delays, sleep: async (ms: number) => void delays.push(ms) };
}

let fake: FakeModelServer;
let provider: ModelProvider;

beforeAll(async () => {
  fake = await startFakeAnthropic();
  provider = createAnthropicProvider({ apiKey: "k", baseURL: fake.url });
});
afterAll(() => fake.close());
beforeEach(() => {
  fake.requests.length = 0;
});

describe("streamWithRetry", () => {
  it("retries a 429 and honours its retry-after", async () => {
    const { delays, sleep } = recordingSleep();
    fake.enqueue({ status: 429, retryAfterSeconds: 2 }, { text: "fine", textChunks: 2 });
    const parts = await collect(streamWithRetry(provider, request(), { sleep }));
    expect(delays).toEqual([2000]);
    expect(fake.requests).toHaveLength(2);
    expect(parts.map((p) => p.type)).toEqual(["text-delta", "text-delta", "finish"]);
    // Only the successful call billed anything: 10 + floor(8/4) in, 2 out.
    expect(last(parts)).toMatchObject({ usage: { inputTokens: 12, outputTokens: 2 } });
  });

  it("caps a long retry-after at maxDelayMs", async () => {
    const { delays, sleep } = recordingSleep();
    fake.enqueue({ status: 429, retryAfterSeconds: 120 }, { text: "ok" });
    await collect(streamWithRetry(provider, request(), { sleep, maxDelayMs: 5000 }));
    expect(delays).toEqual([5000]);
  });

  it("retries 529 overloaded with jittered exponential backoff", async () => {
    const { delays, sleep } = recordingSleep();
    fake.enqueue({ status: 529 }, { status: 529 }, { status: 529 }, { text: "at last" });
    const parts = await collect(streamWithRetry(provider, request(), { sleep, baseDelayMs: 100 }));
    expect(last(parts)).toMatchObject({ type: "finish", reason: "end_turn" });
    expect(fake.requests).toHaveLength(4);
    expect(delays).toHaveLength(3);
    delays.forEach((delay, i) => {
      expect(delay).toBeGreaterThanOrEqual(0);
      expect(delay).toBeLessThan(100 * 2 ** i);
    });
  });

  it("gives up after maxAttempts and passes the last error through", async () => {
    const { delays, sleep } = recordingSleep();
    fake.enqueue({ status: 529 }, { status: 529 });
    const parts = await collect(streamWithRetry(provider, request(), { sleep, maxAttempts: 2 }));
    expect(parts).toHaveLength(1);
    expect(parts[0]).toMatchObject({ type: "error", error: { kind: "overloaded", status: 529, attempts: 2, afterOutput: false } });
    expect(delays).toHaveLength(1);
    expect(fake.requests).toHaveLength(2);
  });

  it("does not retry errors that are not retryable", async () => {
    const { delays, sleep } = recordingSleep();
    fake.enqueue({ status: 400 });
    const parts = await collect(streamWithRetry(provider, request(), { sleep }));
    expect(parts).toMatchObject([{ type: "error", error: { kind: "bad_request" } }]);
    expect(delays).toEqual([]);
    expect(fake.requests).toHaveLength(1);
  });

  it("does not retry once output reached the caller", async () => {
    const { delays, sleep } = recordingSleep();
    fake.enqueue({ text: "half an answer", textChunks: 3, errorAfterEvents: 5 });
    const parts = await collect(streamWithRetry(provider, request(), { sleep }));
    expect(parts.map((p) => p.type)).toEqual(["text-delta", "text-delta", "error"]);
    expect(last(parts)).toMatchObject({ error: { kind: "overloaded", attempts: 1, afterOutput: true } });
    expect(delays).toEqual([]);
    expect(fake.requests).toHaveLength(1);
  });

  it("adds the usage billed by failed attempts to the final part", async () => {
    const { sleep } = recordingSleep();
    // The first call fails right after message_start: its input tokens are billed, nothing was yielded.
    fake.enqueue(
      { text: "x", usage: { inputTokens: 50, cacheReadTokens: 5, cacheWriteTokens: 2 }, errorAfterEvents: 1 },
      { text: "done", usage: { inputTokens: 50, outputTokens: 3, cacheReadTokens: 5 } },
    );
    const parts = await collect(streamWithRetry(provider, request(), { sleep }));
    expect(fake.requests).toHaveLength(2);
    expect(last(parts)).toEqual({
      type: "finish",
      reason: "end_turn",
      usage: { inputTokens: 100, outputTokens: 4, cacheReadTokens: 10, cacheWriteTokens: 2 },
    });
  });

  it("stops waiting when the signal aborts during the backoff", async () => {
    fake.enqueue({ status: 529 });
    const controller = new AbortController();
    const started = Date.now();
    setTimeout(() => controller.abort(), 50);
    const parts = await collect(
      streamWithRetry(provider, request({ signal: controller.signal }), { baseDelayMs: 60_000, maxDelayMs: 60_000 }),
    );
    expect(Date.now() - started).toBeLessThan(5000);
    expect(parts).toMatchObject([{ type: "error", error: { kind: "other", message: "aborted" } }]);
    expect(fake.requests).toHaveLength(1);
  });

  it("retries an OpenAI-compatible 503 the same way", async () => {
    const openaiFake = await startFakeOpenAI();
    try {
      const openai = createOpenAIProvider({ baseURL: openaiFake.url });
      const { delays, sleep } = recordingSleep();
      openaiFake.enqueue({ status: 503, retryAfterSeconds: 1 }, { text: "hi" });
      const parts = await collect(streamWithRetry(openai, request(), { sleep }));
      expect(delays).toEqual([1000]);
      expect(last(parts)).toMatchObject({ type: "finish", reason: "end_turn" });
    } finally {
      await openaiFake.close();
    }
  });
});

describe("retry helpers", () => {
  it("classifies HTTP statuses", () => {
    expect([429, 529, 503, 500, 502, 504, 400, 401, 403, 404, 418].map(errorKindForStatus)).toEqual([
      "rate_limited",
      "overloaded",
      "overloaded",
      "server",
      "server",
      "server",
      "bad_request",
      "auth",
      "auth",
      "bad_request",
      "other",
    ]);
  });

  it("reads retry-after-ms, retry-after seconds and retry-after dates", () => {
    const now = Date.parse("2026-01-01T00:00:00Z");
    expect(retryAfterMsFromHeaders(new Headers({ "retry-after-ms": "250", "retry-after": "9" }), now)).toBe(250);
    expect(retryAfterMsFromHeaders(new Headers({ "retry-after": "1.5" }), now)).toBe(1500);
    expect(retryAfterMsFromHeaders(new Headers({ "retry-after": "Thu, 01 Jan 2026 00:00:07 GMT" }), now)).toBe(7000);
    expect(retryAfterMsFromHeaders(new Headers({ "retry-after": "soon" }), now)).toBeUndefined();
    expect(retryAfterMsFromHeaders(new Headers(), now)).toBeUndefined();
  });

  it("keeps jittered delays inside the exponential envelope and the cap", () => {
    for (let i = 0; i < 200; i++) {
      expect(retryDelayMs(3, undefined, 500, 20_000)).toBeLessThan(2000);
      expect(retryDelayMs(10, undefined, 500, 20_000)).toBeLessThan(20_000);
    }
    expect(retryDelayMs(1, 90_000, 500, 20_000)).toBe(20_000);
  });
});
