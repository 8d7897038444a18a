/**
 * The Anthropic Messages API provider: streams raw SSE events through `@anthropic-ai/sdk` and
 * translates them into our StreamParts. SDK retries are off; `streamWithRetry` is the one loop.
 */
import Anthropic from "@anthropic-ai/sdk";
import { createLeanFetch } from "./lean-fetch";
import { CallGuard, errorKindForStatus, retryAfterMsFromHeaders } from "./retry";
import {
  type ChatMessage,
  type FinishReason,
  type ModelProvider,
  type ModelRequest,
  ProviderError,
  type ProviderErrorKind,
  type ServedModel,
  type StreamPart,
  type TokenUsage,
  emptyUsage,
} from "./types";

export interface AnthropicProviderOptions {
  apiKey: string;
  /** Default: the official API. */
  baseURL?: string;
  /** Wait for the response headers and for each following stream event. Default 10 minutes. */
  timeoutMs?: number;
  /**
   * Whether the SDK makes its own OpenTelemetry spans and trace headers. Off when the gateway
   * exports no traces: the SDK would otherwise build a span's attributes for every call only to
   * find the global tracer a no-op (1.5% of a fast run's CPU).
   */
  sdkTracing?: boolean;
}

const DEFAULT_TIMEOUT_MS = 600_000;
const CACHE: Anthropic.CacheControlEphemeral = { type: "ephemeral" };

/** Creates the Anthropic provider (id "anthropic"). */
export function createAnthropicProvider(options: AnthropicProviderOptions): ModelProvider {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const client = new Anthropic({
    apiKey: options.apiKey,
    // Explicit, so the SDK does not fall back to ANTHROPIC_BASE_URL behind config's back.
    baseURL: options.baseURL ?? "https://api.anthropic.com",
    maxRetries: 0,
    timeout: timeoutMs,
    ...(options.sdkTracing === false ? { openTelemetry: false as const } : {}),
    // Over undici's request rather than the platform's fetch: half the CPU per streamed call (lean-fetch.ts).
    fetch: createLeanFetch(),
  });
  return {
    id: "anthropic",
    stream: (request) => streamAnthropic(client, request, timeoutMs),
    async listModels(signal) {
      const out: ServedModel[] = [];
      try {
        for await (const model of client.models.list({ limit: 1000 }, { signal })) out.push(servedModel(model));
      } catch (error) {
        throw toProviderError(error);
      }
      return out;
    },
    async retrieveModel(id, signal) {
      try {
        return servedModel(await client.models.retrieve(id, {}, { signal }));
      } catch (error) {
        if (error instanceof Anthropic.NotFoundError) return null;
        throw toProviderError(error);
      }
    },
  };
}

function servedModel(model: Anthropic.ModelInfo): ServedModel {
  return {
    id: model.id,
    name: model.display_name || undefined,
    contextWindow: model.max_input_tokens ?? undefined,
    maxOutputTokens: model.max_tokens ?? undefined,
  };
}

/** Anthropic accepts at most four cache breakpoints per request (a 400 beyond). */
export const MAX_CACHE_BREAKPOINTS = 4;

/**
 * Builds the Messages API body: the system prompt as blocks with cache breakpoints where
 * `request.system` marks them, breakpoints on the messages `request.cacheBreakpoints` names
 * (together at most four: the conversation's are kept first, they save the most), merged user
 * turns, no sampling parameters. Tools need no breakpoint of their own: they come first in the
 * cached prefix, so the system prompt's first breakpoint covers them.
 */
export function toAnthropicParams(request: ModelRequest): Anthropic.MessageCreateParamsStreaming {
  const messageBreakpoints = (request.cacheBreakpoints ?? []).slice(-MAX_CACHE_BREAKPOINTS);
  const systemBudget = MAX_CACHE_BREAKPOINTS - messageBreakpoints.length;
  const params: Anthropic.MessageCreateParamsStreaming = {
    model: request.model,
    max_tokens: request.maxTokens,
    messages: toAnthropicMessages(request.messages, new Set(messageBreakpoints), request.model),
    stream: true,
  };
  const system = toSystemBlocks(request, systemBudget);
  if (system.length) params.system = system;
  if (request.tools.length > 0) {
    params.tools = request.tools.map((tool) => ({
      name: tool.name,
      description: tool.description,
      input_schema: tool.inputSchema as Anthropic.Tool.InputSchema,
    }));
  }
  // `request.temperature` is deliberately not sent: the API version this SDK speaks (2026-10-21)
  // answers 400 to any sampling parameter (temperature, top_p, top_k), on every Claude model.
  return params;
}

/** The system blocks; of those marked for caching, the first `budget` get a breakpoint (the most stable ones). */
function toSystemBlocks(request: ModelRequest, budget: number): Anthropic.TextBlockParam[] {
  let left = budget;
  return request.system
    .filter((block) => block.text)
    .map((block) => {
      if (!block.cache || left <= 0) return { type: "text" as const, text: block.text };
      left--;
      return { type: "text" as const, text: block.text, cache_control: CACHE };
    });
}

type Turn = { role: "user" | "assistant"; content: Anthropic.ContentBlockParam[] };

/**
 * Maps our history to Anthropic's alternating turns: tool results become user turns of
 * tool_result blocks, consecutive same-role turns merge, and tool_result blocks lead their turn.
 * The last block of each message in `breakpoints` carries a cache breakpoint.
 */
function toAnthropicMessages(messages: ChatMessage[], breakpoints: ReadonlySet<number>, model: string): Anthropic.MessageParam[] {
  const turns: Turn[] = [];
  const push = (role: Turn["role"], blocks: Anthropic.ContentBlockParam[]) => {
    if (blocks.length === 0) return;
    const last = turns[turns.length - 1];
    if (last && last.role === role) last.content.push(...blocks);
    else turns.push({ role, content: blocks });
  };
  messages.forEach((message, index) => {
    const blocks = blocksOf(message, model);
    if (breakpoints.has(index) && blocks.length > 0) {
      blocks[blocks.length - 1] = { ...blocks[blocks.length - 1], cache_control: CACHE } as Anthropic.ContentBlockParam;
    }
    push(message.role === "assistant" ? "assistant" : "user", blocks);
  });
  for (const turn of turns) {
    if (turn.role !== "user") continue;
    turn.content = [...turn.content.filter((b) => b.type === "tool_result"), ...turn.content.filter((b) => b.type !== "tool_result")];
  }
  return turns;
}

/** The content blocks of one of our messages; reasoning only when `model` wrote it (it is tied to its model). */
function blocksOf(message: ChatMessage, model: string): Anthropic.ContentBlockParam[] {
  if (message.role === "user") {
    const blocks: Anthropic.ContentBlockParam[] = [];
    if (message.context) blocks.push({ type: "text", text: message.context });
    if (message.content) blocks.push({ type: "text", text: message.content });
    return blocks;
  }
  if (message.role === "assistant") {
    const blocks: Anthropic.ContentBlockParam[] = [];
    for (const block of message.content) {
      if (block.type === "reasoning") {
        if (block.model !== model) continue;
        blocks.push(
          block.redacted !== undefined
            ? { type: "redacted_thinking", data: block.redacted }
            : { type: "thinking", thinking: block.text, signature: block.signature },
        );
      } else if (block.type === "text") {
        if (block.text) blocks.push({ type: "text", text: block.text });
      } else {
        blocks.push({ type: "tool_use", id: block.id, name: block.name, input: asObject(block.input) });
      }
    }
    return blocks;
  }
  return message.results.map((result) => ({
    type: "tool_result" as const,
    tool_use_id: result.toolCallId,
    content: result.content,
    is_error: result.isError,
  }));
}

/** The API only accepts an object as tool_use input; a call whose input never parsed is sent as {}. */
function asObject(input: unknown): Record<string, unknown> {
  return input !== null && typeof input === "object" && !Array.isArray(input) ? (input as Record<string, unknown>) : {};
}

const STOP_REASONS: Record<string, FinishReason> = {
  end_turn: "end_turn",
  tool_use: "tool_use",
  max_tokens: "max_tokens",
  model_context_window_exceeded: "max_tokens",
  stop_sequence: "stop_sequence",
  refusal: "refusal",
};

async function* streamAnthropic(client: Anthropic, request: ModelRequest, timeoutMs: number): AsyncIterable<StreamPart> {
  const guard = new CallGuard(request.signal, timeoutMs);
  let usage: TokenUsage = emptyUsage();
  try {
    if (guard.callerAborted) {
      yield { type: "error", error: new ProviderError("other", "aborted"), usage };
      return;
    }
    const tools = new Map<number, { id: string; name: string; json: string; initial: unknown }>();
    const thinking = new Map<number, { text: string; signature: string; redacted?: string }>();
    let stopReason: string | null = null;
    let stopped = false;
    try {
      const stream = await client.messages.create(toAnthropicParams(request), { signal: guard.controller.signal });
      guard.touch();
      for await (const event of stream) {
        guard.touch();
        switch (event.type) {
          case "message_start": {
            const u = event.message.usage;
            usage = {
              inputTokens: u.input_tokens ?? 0,
              outputTokens: u.output_tokens ?? 0,
              cacheReadTokens: u.cache_read_input_tokens ?? 0,
              cacheWriteTokens: u.cache_creation_input_tokens ?? 0,
            };
            break;
          }
          case "content_block_start": {
            const block = event.content_block;
            if (block.type === "tool_use") {
              tools.set(event.index, { id: block.id, name: block.name, json: "", initial: block.input });
              yield { type: "tool-call-start", id: block.id, name: block.name };
            } else if (block.type === "thinking") {
              thinking.set(event.index, { text: block.thinking ?? "", signature: block.signature ?? "" });
            } else if (block.type === "redacted_thinking") {
              thinking.set(event.index, { text: "", signature: "", redacted: block.data });
            }
            break;
          }
          case "content_block_delta": {
            const delta = event.delta;
            if (delta.type === "text_delta") {
              if (delta.text) yield { type: "text-delta", text: delta.text };
            } else if (delta.type === "thinking_delta") {
              const block = thinking.get(event.index);
              if (block) block.text += delta.thinking;
            } else if (delta.type === "signature_delta") {
              const block = thinking.get(event.index);
              if (block) block.signature += delta.signature;
            } else if (delta.type === "input_json_delta") {
              const tool = tools.get(event.index);
              if (tool && delta.partial_json) {
                tool.json += delta.partial_json;
                yield { type: "tool-input-delta", id: tool.id, delta: delta.partial_json };
              }
            }
            break;
          }
          case "content_block_stop": {
            const reasoning = thinking.get(event.index);
            if (reasoning) {
              thinking.delete(event.index);
              yield { type: "reasoning", block: { type: "reasoning", model: request.model, ...reasoning } };
            }
            const tool = tools.get(event.index);
            if (tool) {
              tools.delete(event.index);
              yield { type: "tool-call", id: tool.id, name: tool.name, input: parseToolInput(tool.json, tool.initial) };
            }
            break;
          }
          case "message_delta": {
            stopReason = event.delta.stop_reason ?? stopReason;
            // All counts in message_delta are cumulative for the whole message.
            const u = event.usage;
            usage = {
              inputTokens: u.input_tokens ?? usage.inputTokens,
              outputTokens: u.output_tokens ?? usage.outputTokens,
              cacheReadTokens: u.cache_read_input_tokens ?? usage.cacheReadTokens,
              cacheWriteTokens: u.cache_creation_input_tokens ?? usage.cacheWriteTokens,
            };
            break;
          }
          case "message_stop":
            stopped = true;
            break;
        }
      }
    } catch (error) {
      yield { type: "error", error: guard.failure(error, toProviderError), usage };
      return;
    }
    // The SDK ends the iteration quietly when the request was aborted.
    if (guard.callerAborted || (!stopped && stopReason === null)) {
      const error = guard.failure(undefined, () => new ProviderError("network", "the stream ended before message_stop"));
      yield { type: "error", error, usage };
      return;
    }
    yield { type: "finish", reason: STOP_REASONS[stopReason ?? ""] ?? "other", usage };
  } finally {
    guard.close();
  }
}

/** Parses accumulated input JSON; unparseable input stays a string so the loop can answer with an error. */
function parseToolInput(json: string, initial: unknown): unknown {
  if (json.trim() === "") return initial !== null && typeof initial === "object" ? initial : {};
  try {
    return JSON.parse(json);
  } catch {
    return json;
  }
}

const STREAM_ERROR_KINDS: Record<string, ProviderErrorKind> = {
  overloaded_error: "overloaded",
  rate_limit_error: "rate_limited",
  api_error: "server",
  timeout_error: "server",
  invalid_request_error: "bad_request",
  request_too_large: "bad_request",
  not_found_error: "bad_request",
  authentication_error: "auth",
  permission_error: "auth",
};

/** Classifies SDK failures: HTTP status first, then the error type of an in-stream `error` event. */
function toProviderError(error: unknown): ProviderError {
  if (error instanceof ProviderError) return error;
  if (error instanceof Anthropic.APIConnectionError) {
    return new ProviderError("network", error.message, { cause: error });
  }
  if (error instanceof Anthropic.APIError) {
    const message = error.apiMessage ?? error.message;
    if (error.status !== undefined) {
      return new ProviderError(errorKindForStatus(error.status), message, {
        status: error.status,
        retryAfterMs: retryAfterMsFromHeaders(error.headers),
        cause: error,
      });
    }
    return new ProviderError(STREAM_ERROR_KINDS[error.type ?? ""] ?? "other", message, { cause: error });
  }
  if (error instanceof SyntaxError) return new ProviderError("other", `unreadable stream: ${error.message}`, { cause: error });
  // Anything else thrown while reading is the transport failing (socket reset, body terminated).
  return new ProviderError("network", error instanceof Error ? error.message : String(error), { cause: error });
}
