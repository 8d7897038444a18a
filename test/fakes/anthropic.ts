/**
 * A fake Anthropic Messages API (`POST /v1/messages`) speaking the real streaming wire format:
 * message_start, content_block_start, ping, content_block_delta (text_delta / input_json_delta),
 * content_block_stop, message_delta, message_stop; plus Anthropic's JSON error bodies and the
 * in-stream `error` event. `url` is the origin, which the Anthropic SDK takes as baseURL.
 */
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

function respond(turn: FakeTurn, body: any, headers: Record<string, string>): DialectResponse {
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
  const plan = planTurn(turn, anthropicTextChars(body), () => `toolu_fake_${++toolCounter}`);
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

const anthropicDialect: Dialect = {
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
  respond,
};

/** Starts a fake Anthropic API on 127.0.0.1 (random port). */
export function startFakeAnthropic(): Promise<FakeModelServer> {
  return startScriptedServer(anthropicDialect);
}
