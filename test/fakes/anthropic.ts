/**
 * A fake Anthropic Messages API (`POST /v1/messages`) speaking the real streaming wire format:
 * message_start, content_block_start, ping, content_block_delta (text_delta / input_json_delta),
 * content_block_stop, message_delta, message_stop; plus Anthropic's JSON error bodies and the
 * in-stream `error` event. `url` is the origin, which the Anthropic SDK takes as baseURL.
 */
import { createHash } from "node:crypto";
import {
  type Dialect,
  type DialectResponse,
  type FakeModelServer,
  type FakeStreamErrorKind,
  type FakeTurn,
  planTurn,
  startScriptedServer,
} from "./model-script";

const ERROR_TYPES: Record<number, string> = {
  400: "invalid_request_error",
  401: "authentication_error",
  402: "billing_error",
  403: "permission_error",
  404: "not_found_error",
  413: "request_too_large",
  429: "rate_limit_error",
  500: "api_error",
  504: "timeout_error",
  529: "overloaded_error",
};

const STREAM_ERRORS: Record<FakeStreamErrorKind, { type: string; message: string }> = {
  overloaded: { type: "overloaded_error", message: "Overloaded" },
  server: { type: "api_error", message: "Internal server error" },
  rate_limited: { type: "rate_limit_error", message: "Rate limited" },
};

/** Characters of message text the default input usage counts: text blocks, strings, tool results. */
export function anthropicTextChars(body: any): number {
  let chars = 0;
  const count = (content: unknown): void => {
    if (typeof content === "string") {
      chars += content.length;
    } else if (Array.isArray(content)) {
      for (const block of content) {
        if (block?.type === "text" && typeof block.text === "string") chars += block.text.length;
        else if (block?.type === "tool_result") count(block.content);
      }
    }
  };
  for (const message of Array.isArray(body?.messages) ? body.messages : []) count(message?.content);
  return chars;
}

const frame = (event: string, data: unknown) => `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;

let messageCounter = 0;
let toolCounter = 0;

/** API version 2026-10-21 (what SDK 1.x sends) rejects sampling parameters outright, like the real API. */
function rejectedSamplingParam(body: any, headers: Record<string, string>): string | undefined {
  if ((headers["anthropic-version"] ?? "") < "2026-10-21") return undefined;
  return ["temperature", "top_p", "top_k"].find((name) => body?.[name] !== undefined);
}

export interface FakePromptCacheOptions {
  /** Prefixes shorter than this are not cached (Anthropic's minimum cacheable length; 1,024 for Sonnet models). */
  minTokens?: number;
  /** Lifetime of an entry, refreshed by every hit (the default 5-minute cache). */
  ttlMs?: number;
  /** How many blocks before a breakpoint are checked for an earlier entry (Anthropic: 20). */
  lookback?: number;
}

/** Tokens of a block as the simulation counts them: 4 characters a token of its JSON, like our estimates. */
const tokensOf = (value: unknown) => Math.ceil(JSON.stringify(value).length / 4);

/**
 * Anthropic's prompt caching, as its documentation describes it: the prompt is the sequence
 * tools → system → messages, cut into blocks; a block with `cache_control` is a breakpoint. Each
 * breakpoint whose prefix reaches the minimum length writes a cache entry for the exact prefix up
 * to it; a request reads the longest prefix that an unexpired entry matches, looking at each
 * breakpoint and up to `lookback` blocks before it. Usage reports the read prefix as
 * cache_read_input_tokens, the rest up to the last written breakpoint as
 * cache_creation_input_tokens, and what follows as input_tokens.
 */
export class PromptCacheSimulation {
  private readonly entries = new Map<string, number>();
  readonly minTokens: number;
  private readonly ttlMs: number;
  private readonly lookback: number;

  constructor(options: FakePromptCacheOptions = {}) {
    this.minTokens = options.minTokens ?? 1024;
    this.ttlMs = options.ttlMs ?? 300_000;
    this.lookback = options.lookback ?? 20;
  }

  /** The blocks of a request body, each with its tokens and whether it is a breakpoint. */
  static blocks(body: any): Array<{ canon: string; tokens: number; breakpoint: boolean }> {
    const out: Array<{ canon: string; tokens: number; breakpoint: boolean }> = [];
    const add = (scope: string, block: any) => {
      const { cache_control, ...rest } = block ?? {};
      out.push({ canon: `${scope}:${JSON.stringify(rest)}`, tokens: tokensOf(rest), breakpoint: Boolean(cache_control) });
    };
    for (const tool of body?.tools ?? []) add("tool", tool);
    const system = typeof body?.system === "string" ? [{ type: "text", text: body.system }] : (body?.system ?? []);
    for (const block of system) add("system", block);
    for (const message of body?.messages ?? []) {
      const content = typeof message.content === "string" ? [{ type: "text", text: message.content }] : (message.content ?? []);
      for (const block of content) add(message.role, block);
    }
    return out;
  }

  usage(body: any, now = Date.now()): { inputTokens: number; cacheReadTokens: number; cacheWriteTokens: number } {
    const blocks = PromptCacheSimulation.blocks(body);
    const keys: string[] = [];
    const prefixTokens: number[] = [];
    let key = String(body?.model ?? "");
    let total = 0;
    for (const block of blocks) {
      key = createHash("sha256").update(key).update("\n").update(block.canon).digest("hex");
      keys.push(key);
      total += block.tokens;
      prefixTokens.push(total);
    }
    const breakpoints = blocks.flatMap((b, i) => (b.breakpoint ? [i] : []));
    const live = (i: number) => (this.entries.get(keys[i]) ?? 0) > now;
    let hit = -1;
    for (const bp of breakpoints) {
      for (let i = bp; i >= Math.max(0, bp - this.lookback); i--) {
        if (live(i)) {
          hit = Math.max(hit, i);
          break;
        }
      }
    }
    if (hit >= 0) this.entries.set(keys[hit], now + this.ttlMs);
    let written = -1;
    for (const bp of breakpoints) {
      if (prefixTokens[bp] < this.minTokens) continue;
      this.entries.set(keys[bp], now + this.ttlMs);
      written = Math.max(written, bp);
    }
    const read = hit >= 0 ? prefixTokens[hit] : 0;
    const write = written > hit ? prefixTokens[written] - read : 0;
    return { inputTokens: total - read - write, cacheReadTokens: read, cacheWriteTokens: write };
  }
}

function respond(turn: FakeTurn, body: any, headers: Record<string, string>, cache: PromptCacheSimulation | null): DialectResponse {
  const requestId = `req_fake_${++messageCounter}`;
  const sampling = rejectedSamplingParam(body, headers);
  if (sampling) {
    return {
      kind: "error",
      status: 400,
      headers: { "request-id": requestId },
      body: {
        type: "error",
        error: { type: "invalid_request_error", message: `${sampling}: Extra inputs are not permitted` },
        request_id: requestId,
      },
    };
  }
  if (turn.status !== undefined && turn.status >= 400) {
    const type = ERROR_TYPES[turn.status] ?? (turn.status >= 500 ? "api_error" : "invalid_request_error");
    const headers: Record<string, string> = { "request-id": requestId };
    if (turn.retryAfterSeconds !== undefined) headers["retry-after"] = String(turn.retryAfterSeconds);
    return {
      kind: "error",
      status: turn.status,
      headers,
      body: { type: "error", error: { type, message: `fake ${type}` }, request_id: requestId },
    };
  }
  const plan = planTurn(turn, anthropicTextChars(body), () => `toolu_fake_${++toolCounter}`, typeof body?.max_tokens === "number" ? body.max_tokens : undefined);
  const scripted = turn.usage ?? {};
  if (cache && scripted.inputTokens === undefined && scripted.cacheReadTokens === undefined && scripted.cacheWriteTokens === undefined) {
    plan.usage = { ...plan.usage, ...cache.usage(body) };
  }
  const model = typeof body?.model === "string" ? body.model : "claude-fake";
  const id = `msg_fake_${messageCounter}`;
  const { usage } = plan;

  if (body?.stream !== true) {
    const content: unknown[] = [];
    if (plan.textChunks.length > 0) content.push({ type: "text", text: plan.textChunks.join("") });
    for (const tool of plan.tools) content.push({ type: "tool_use", id: tool.id, name: tool.name, input: safeParse(tool.json) });
    return {
      kind: "json",
      usage,
      body: {
        id,
        type: "message",
        role: "assistant",
        model,
        content,
        stop_reason: plan.stopReason,
        stop_sequence: null,
        usage: {
          input_tokens: usage.inputTokens,
          output_tokens: usage.outputTokens,
          cache_read_input_tokens: usage.cacheReadTokens,
          cache_creation_input_tokens: usage.cacheWriteTokens,
        },
      },
    };
  }

  const frames: string[] = [
    frame("message_start", {
      type: "message_start",
      message: {
        id,
        type: "message",
        role: "assistant",
        model,
        content: [],
        stop_reason: null,
        stop_sequence: null,
        usage: {
          input_tokens: usage.inputTokens,
          cache_creation_input_tokens: usage.cacheWriteTokens,
          cache_read_input_tokens: usage.cacheReadTokens,
          output_tokens: Math.min(1, usage.outputTokens),
        },
      },
    }),
  ];
  let index = 0;
  if (turn.thinking !== undefined) {
    frames.push(frame("content_block_start", { type: "content_block_start", index, content_block: { type: "thinking", thinking: "", signature: "" } }));
    frames.push(frame("content_block_delta", { type: "content_block_delta", index, delta: { type: "thinking_delta", thinking: turn.thinking } }));
    frames.push(frame("content_block_delta", { type: "content_block_delta", index, delta: { type: "signature_delta", signature: `sig:${turn.thinking}` } }));
    frames.push(frame("content_block_stop", { type: "content_block_stop", index }));
    index++;
  }
  if (plan.textChunks.length > 0) {
    frames.push(frame("content_block_start", { type: "content_block_start", index, content_block: { type: "text", text: "" } }));
    frames.push(frame("ping", { type: "ping" }));
    for (const text of plan.textChunks) {
      frames.push(frame("content_block_delta", { type: "content_block_delta", index, delta: { type: "text_delta", text } }));
    }
    frames.push(frame("content_block_stop", { type: "content_block_stop", index }));
    index++;
  }
  for (const tool of plan.tools) {
    frames.push(
      frame("content_block_start", {
        type: "content_block_start",
        index,
        content_block: { type: "tool_use", id: tool.id, name: tool.name, input: {} },
      }),
    );
    if (index === 0) frames.push(frame("ping", { type: "ping" }));
    // The real API opens every tool input with an empty fragment.
    for (const partial_json of ["", ...tool.fragments]) {
      frames.push(frame("content_block_delta", { type: "content_block_delta", index, delta: { type: "input_json_delta", partial_json } }));
    }
    frames.push(frame("content_block_stop", { type: "content_block_stop", index }));
    index++;
  }
  frames.push(
    frame("message_delta", {
      type: "message_delta",
      delta: { stop_reason: plan.stopReason, stop_sequence: null },
      usage: { output_tokens: usage.outputTokens },
    }),
  );
  frames.push(frame("message_stop", { type: "message_stop" }));

  const streamError = STREAM_ERRORS[turn.errorKind ?? "overloaded"];
  return {
    kind: "stream",
    frames,
    usage,
    errorFrame: frame("error", { type: "error", error: streamError }),
  };
}

function safeParse(json: string): unknown {
  try {
    return JSON.parse(json);
  } catch {
    return {};
  }
}

export interface FakeAnthropicOptions {
  /** Simulate prompt caching (usage then reports cache reads and writes as the real API would). */
  promptCache?: FakePromptCacheOptions;
  /** What `GET /v1/models` lists and `GET /v1/models/{id}` finds. Default: none. */
  models?: Array<{ id: string; display_name?: string; max_input_tokens?: number; max_tokens?: number }>;
}

export interface FakeAnthropic extends FakeModelServer {
  /** The prompt-cache simulation, when enabled. */
  cache: PromptCacheSimulation | null;
}

const modelInfo = (m: NonNullable<FakeAnthropicOptions["models"]>[number]) => ({
  type: "model",
  id: m.id,
  display_name: m.display_name ?? m.id,
  created_at: "2026-11-01T00:00:00Z",
  max_input_tokens: m.max_input_tokens ?? null,
  max_tokens: m.max_tokens ?? null,
});

/** Starts a fake Anthropic API on 127.0.0.1 (random port). */
export async function startFakeAnthropic(options: FakeAnthropicOptions = {}): Promise<FakeAnthropic> {
  const cache = options.promptCache ? new PromptCacheSimulation(options.promptCache) : null;
  const dialect: Dialect = {
    defaultTurn: { text: "ok" },
    basePath: "",
    notFound(method, path) {
      if (method === "POST" && path === "/v1/messages") return undefined;
      return {
        kind: "error",
        status: 404,
        headers: {},
        body: { type: "error", error: { type: "not_found_error", message: `${method} ${path} not found` } },
      };
    },
    respond: (turn, body, headers) => respond(turn, body, headers, cache),
    side(method, path) {
      if (method !== "GET" || !path.startsWith("/v1/models")) return undefined;
      const models = (options.models ?? []).map(modelInfo);
      if (path === "/v1/models") return { status: 200, body: { data: models, has_more: false, first_id: models[0]?.id ?? null, last_id: models.at(-1)?.id ?? null } };
      const found = models.find((m) => path === `/v1/models/${m.id}`);
      if (found) return { status: 200, body: found };
      return { status: 404, body: { type: "error", error: { type: "not_found_error", message: `model: ${path.slice(11)}` } } };
    },
  };
  const server = await startScriptedServer(dialect);
  return Object.assign(server, { cache });
}
