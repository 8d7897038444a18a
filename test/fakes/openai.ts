/**
 * A fake OpenAI-compatible Chat Completions API (`POST /v1/chat/completions`) speaking the SSE
 * chunk format (`data: {chunk}` … `data: [DONE]`) with chunked `tool_calls` deltas and a final
 * usage chunk (`stream_options.include_usage`). Options reproduce Ollama-style servers that omit
 * `index` / `id` or send whole arguments at once. `url` ends in /v1, as the OpenAI SDK expects.
 */
import {
  type Dialect,
  type DialectResponse,
  type FakeModelServer,
  type FakeStopReason,
  type FakeStreamErrorKind,
  type FakeTurn,
  planTurn,
  startScriptedServer,
} from "./model-script";

export interface FakeOpenAIOptions {
  /** Tool-call deltas carry no `index` (Ollama). */
  omitIndex?: boolean;
  /** Tool-call deltas carry no `id`. */
  omitId?: boolean;
  /** Each tool call arrives in one delta with its complete arguments (Ollama). */
  wholeArguments?: boolean;
  /**
   * What `GET /v1/models` lists (and `GET /v1/models/{id}` finds), as an Ollama, vLLM or
   * llama.cpp server would: `{id}` plus whatever extra fields such a server adds. Changeable
   * while the fake runs (a model "pulled" later). Default: none.
   */
  models?: Array<{ id: string; [field: string]: unknown }>;
}

const FINISH_REASONS: Record<FakeStopReason, string> = {
  end_turn: "stop",
  tool_use: "tool_calls",
  max_tokens: "length",
  stop_sequence: "stop",
  refusal: "content_filter",
};

const ERRORS: Record<number, { type: string; code: string | null }> = {
  400: { type: "invalid_request_error", code: null },
  401: { type: "invalid_request_error", code: "invalid_api_key" },
  403: { type: "invalid_request_error", code: "unsupported_country_region_territory" },
  404: { type: "invalid_request_error", code: "model_not_found" },
  429: { type: "requests", code: "rate_limit_exceeded" },
  500: { type: "server_error", code: null },
  503: { type: "server_error", code: "overloaded" },
};

const STREAM_ERRORS: Record<FakeStreamErrorKind, { message: string; type: string; code: string | null }> = {
  overloaded: { message: "The server is overloaded", type: "server_error", code: "overloaded" },
  server: { message: "The server had an error while processing your request", type: "server_error", code: null },
  rate_limited: { message: "Rate limit reached", type: "requests", code: "rate_limit_exceeded" },
};

/** Characters of message text the default input usage counts: string contents and text parts, system excluded. */
export function openAITextChars(body: any): number {
  let chars = 0;
  for (const message of Array.isArray(body?.messages) ? body.messages : []) {
    if (message?.role === "system" || message?.role === "developer") continue;
    const content = message?.content;
    if (typeof content === "string") chars += content.length;
    else if (Array.isArray(content)) {
      for (const part of content) if (part?.type === "text" && typeof part.text === "string") chars += part.text.length;
    }
  }
  return chars;
}

const data = (chunk: unknown) => `data: ${JSON.stringify(chunk)}\n\n`;

let completionCounter = 0;
let toolCounter = 0;

function makeRespond(options: FakeOpenAIOptions) {
  return (turn: FakeTurn, body: any): DialectResponse => {
    if (turn.status !== undefined && turn.status >= 400) {
      const known = ERRORS[turn.status] ?? { type: turn.status >= 500 ? "server_error" : "invalid_request_error", code: null };
      const headers: Record<string, string> = { "x-request-id": `req_fake_${++completionCounter}` };
      if (turn.retryAfterSeconds !== undefined) headers["retry-after"] = String(turn.retryAfterSeconds);
      return {
        kind: "error",
        status: turn.status,
        headers,
        body: { error: { message: `fake ${known.code ?? known.type}`, type: known.type, param: null, code: known.code } },
      };
    }
    const cap = body?.max_completion_tokens ?? body?.max_tokens;
    const plan = planTurn(turn, openAITextChars(body), () => `call_fake_${++toolCounter}`, typeof cap === "number" ? cap : undefined);
    const id = `chatcmpl-fake${++completionCounter}`;
    const model = typeof body?.model === "string" ? body.model : "gpt-fake";
    const created = Math.floor(Date.now() / 1000);
    const { usage } = plan;
    const promptTokens = usage.inputTokens + usage.cacheReadTokens;
    const usageBody = {
      prompt_tokens: promptTokens,
      completion_tokens: usage.outputTokens,
      total_tokens: promptTokens + usage.outputTokens,
      prompt_tokens_details: { cached_tokens: usage.cacheReadTokens },
    };
    const finishReason = FINISH_REASONS[plan.stopReason];

    if (body?.stream !== true) {
      const text = plan.textChunks.join("");
      return {
        kind: "json",
        usage,
        body: {
          id,
          object: "chat.completion",
          created,
          model,
          choices: [
            {
              index: 0,
              message: {
                role: "assistant",
                content: text || null,
                ...(plan.tools.length > 0
                  ? { tool_calls: plan.tools.map((t) => ({ id: t.id, type: "function", function: { name: t.name, arguments: t.json } })) }
                  : {}),
              },
              finish_reason: finishReason,
            },
          ],
          usage: usageBody,
        },
      };
    }

    const chunk = (delta: Record<string, unknown>, finish: string | null = null) =>
      data({ id, object: "chat.completion.chunk", created, model, choices: [{ index: 0, delta, finish_reason: finish }] });
    const toolDelta = (index: number, fields: Record<string, unknown>) =>
      chunk({ tool_calls: [{ ...(options.omitIndex ? {} : { index }), ...fields }] });

    const frames: string[] = [chunk({ role: "assistant", content: "" })];
    for (const content of plan.textChunks) frames.push(chunk({ content }));
    plan.tools.forEach((tool, index) => {
      const head = { ...(options.omitId ? {} : { id: tool.id }), type: "function" };
      if (options.wholeArguments) {
        frames.push(toolDelta(index, { ...head, function: { name: tool.name, arguments: tool.json } }));
        return;
      }
      frames.push(toolDelta(index, { ...head, function: { name: tool.name, arguments: "" } }));
      for (const fragment of tool.fragments) frames.push(toolDelta(index, { function: { arguments: fragment } }));
    });
    frames.push(chunk({}, finishReason));
    frames.push(data({ id, object: "chat.completion.chunk", created, model, choices: [], usage: usageBody }));
    frames.push("data: [DONE]\n\n");

    return {
      kind: "stream",
      frames,
      usage,
      errorFrame: data({ error: { ...STREAM_ERRORS[turn.errorKind ?? "overloaded"], param: null } }),
    };
  };
}

/** Starts a fake OpenAI-compatible server on 127.0.0.1 (random port); `url` is `<origin>/v1`. */
export function startFakeOpenAI(options: FakeOpenAIOptions = {}): Promise<FakeModelServer> {
  const dialect: Dialect = {
    defaultTurn: { text: "ok" },
    basePath: "/v1",
    notFound(method, path) {
      if (method === "POST" && path === "/v1/chat/completions") return undefined;
      return {
        kind: "error",
        status: 404,
        headers: {},
        body: { error: { message: `${method} ${path} not found`, type: "invalid_request_error", param: null, code: null } },
      };
    },
    respond: makeRespond(options),
    side(method, path) {
      if (method !== "GET" || !path.startsWith("/v1/models")) return undefined;
      const listed = (options.models ?? []).map((m) => ({ object: "model", created: 1_764_000_000, owned_by: "library", ...m }));
      if (path === "/v1/models") return { status: 200, body: { object: "list", data: listed } };
      const found = listed.find((m) => `/v1/models/${encodeURIComponent(m.id)}` === path || `/v1/models/${m.id}` === decodeURIComponent(path));
      if (found) return { status: 200, body: found };
      return { status: 404, body: { error: { message: `model "${decodeURIComponent(path.slice(11))}" not found`, type: "invalid_request_error", param: null, code: "model_not_found" } } };
    },
  };
  return startScriptedServer(dialect);
}
