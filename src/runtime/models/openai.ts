/**
 * The provider for any OpenAI-compatible Chat Completions server (OpenAI, Ollama, vLLM), over the
 * `openai` SDK with its retries off. Its tool-call accumulator tolerates servers that omit
 * `index` or `id`, repeat the name, or send whole arguments at once.
 */
import { randomUUID } from "node:crypto";
import OpenAI from "openai";
import { createLeanFetch } from "./lean-fetch";
import { CallGuard, errorKindForStatus, retryAfterMsFromHeaders } from "./retry";
import {
  type ChatMessage,
  type FinishReason,
  type ModelProvider,
  type ModelRequest,
  ProviderError,
  type ServedModel,
  type StreamPart,
  type TokenUsage,
  emptyUsage,
} from "./types";

export interface OpenAIProviderOptions {
  /** Absent for servers without auth (Ollama); a placeholder is sent then. */
  apiKey?: string;
  /** Default: the official API. */
  baseURL?: string;
  /** Wait for the response headers and for each following stream chunk. Default 10 minutes. */
  timeoutMs?: number;
  /**
   * The field carrying `maxTokens`. OpenAI's reasoning models reject `max_tokens`, while Ollama
   * and LM Studio only read `max_tokens`. Default: `max_completion_tokens` for the official API
   * (no baseURL), `max_tokens` for any other server.
   */
  maxTokensField?: "max_tokens" | "max_completion_tokens";
  /**
   * Extra body fields a model needs (the catalogue's `requestParams`, e.g. GPT-6's
   * `reasoning_effort: "none"`, without which Chat Completions refuses function calling).
   */
  paramsFor?: (providerModel: string) => Record<string, unknown> | undefined;
}

const DEFAULT_TIMEOUT_MS = 600_000;

/** Creates the OpenAI-compatible provider (id "openai"). */
export function createOpenAIProvider(options: OpenAIProviderOptions = {}): ModelProvider {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const maxTokensField = options.maxTokensField ?? (options.baseURL ? "max_tokens" : "max_completion_tokens");
  // Every setting is explicit (null included) so the SDK reads none of its OPENAI_* variables.
  const client = new OpenAI({
    apiKey: options.apiKey || "no-key",
    baseURL: options.baseURL ?? "https://api.openai.com/v1",
    organization: null,
    project: null,
    adminAPIKey: null,
    webhookSecret: null,
    maxRetries: 0,
    timeout: timeoutMs,
    // Over undici's request rather than the platform's fetch: about half the CPU per streamed call (lean-fetch.ts).
    fetch: createLeanFetch(),
  });
  return {
    id: "openai",
    stream: (request) => streamOpenAI(client, request, timeoutMs, maxTokensField, options.paramsFor?.(request.model)),
    async listModels(signal) {
      const out: ServedModel[] = [];
      try {
        for await (const model of client.models.list({ signal })) out.push(servedModel(model));
      } catch (error) {
        throw toProviderError(error);
      }
      return out;
    },
    async retrieveModel(id, signal) {
      try {
        return servedModel(await client.models.retrieve(id, { signal }));
      } catch (error) {
        if (error instanceof OpenAI.NotFoundError) return null;
        throw toProviderError(error);
      }
    },
  };
}

const positive = (value: unknown): number | undefined =>
  typeof value === "number" && Number.isSafeInteger(value) && value > 0 ? value : undefined;

/**
 * A listed model with whatever limits the server reports beyond OpenAI's bare `{id, owned_by}`:
 * vLLM's `max_model_len`, llama.cpp's `meta.n_ctx_train`, `context_length` of LM Studio and
 * OpenRouter-style servers.
 */
function servedModel(model: OpenAI.Model): ServedModel {
  const extra = model as unknown as Record<string, any>;
  const contextWindow =
    positive(extra.max_model_len) ??
    positive(extra.context_length) ??
    positive(extra.context_window) ??
    positive(extra.meta?.n_ctx) ??
    positive(extra.meta?.n_ctx_train);
  const maxOutputTokens = positive(extra.max_output_tokens) ?? positive(extra.top_provider?.max_completion_tokens);
  return { id: model.id, contextWindow, maxOutputTokens };
}

/** Builds the Chat Completions body: system message first, tools as functions, usage requested. */
export function toOpenAIParams(
  request: ModelRequest,
  maxTokensField: "max_tokens" | "max_completion_tokens" = "max_tokens",
): OpenAI.ChatCompletionCreateParamsStreaming {
  const params: OpenAI.ChatCompletionCreateParamsStreaming = {
    model: request.model,
    messages: toOpenAIMessages(request.system.map((b) => b.text).filter(Boolean).join("\n\n"), request.messages),
    stream: true,
    stream_options: { include_usage: true },
    [maxTokensField]: request.maxTokens,
  };
  if (request.tools.length > 0) {
    params.tools = request.tools.map((tool) => ({
      type: "function" as const,
      function: { name: tool.name, description: tool.description, parameters: tool.inputSchema },
    }));
  }
  if (request.temperature !== undefined) params.temperature = request.temperature;
  return params;
}

function toOpenAIMessages(system: string, messages: ChatMessage[]): OpenAI.ChatCompletionMessageParam[] {
  const out: OpenAI.ChatCompletionMessageParam[] = [];
  if (system) out.push({ role: "system", content: system });
  for (const message of messages) {
    if (message.role === "user") {
      // Automatic prefix caching sees one string: the context comes first, as it does for Anthropic.
      out.push({ role: "user", content: message.context ? `${message.context}\n\n${message.content}` : message.content });
    } else if (message.role === "assistant") {
      const text = message.content.flatMap((b) => (b.type === "text" ? [b.text] : [])).join("");
      const calls = message.content.flatMap((b) => (b.type === "tool_call" ? [b] : []));
      out.push({
        role: "assistant",
        content: text || null,
        ...(calls.length > 0
          ? {
              tool_calls: calls.map((call) => ({
                id: call.id,
                type: "function" as const,
                // Input that never parsed is kept as the model's raw text.
                function: { name: call.name, arguments: typeof call.input === "string" ? call.input : JSON.stringify(call.input ?? {}) },
              })),
            }
          : {}),
      });
    } else {
      // Chat Completions has no is_error flag; the prefix tells the model the tool failed.
      for (const result of message.results) {
        out.push({ role: "tool", tool_call_id: result.toolCallId, content: result.isError ? `Error: ${result.content}` : result.content });
      }
    }
  }
  return out;
}

/** One `tool_calls` delta element as servers really send it: any field may be missing. */
export interface LooseToolCallDelta {
  index?: number;
  id?: string | null;
  type?: string;
  function?: { name?: string | null; arguments?: unknown } | null;
}

interface OpenCall {
  index?: number;
  id: string;
  /** Whether the server supplied the id (generated ones never match a later delta). */
  ownId: boolean;
  name: string;
  args: string;
  started: boolean;
  pending: string[];
}

/**
 * Assembles tool calls from streamed deltas. A delta joins the call with its `index`; without
 * one, the call with its `id`; without either, the last open call, unless it names a different
 * tool or the last call's arguments are already complete JSON (then it starts a new call).
 */
export class ToolCallAccumulator {
  private calls: OpenCall[] = [];

  /** Feeds one delta element and returns the parts it makes ready. */
  add(delta: LooseToolCallDelta): StreamPart[] {
    const name = delta.function?.name || undefined;
    const id = delta.id || undefined;
    const call = this.match(delta, id, name) ?? this.open(delta, id);
    if (name && !call.name) call.name = name;

    const parts: StreamPart[] = [];
    let args = delta.function?.arguments;
    if (args !== undefined && args !== null && typeof args !== "string") args = JSON.stringify(args);
    // Some servers repeat the complete arguments in a final delta; appending would corrupt them.
    if (typeof args === "string" && args && !(args === call.args && isCompleteJson(call.args))) {
      call.args += args;
      call.pending.push(args);
    }
    if (!call.started && call.name) {
      call.started = true;
      parts.push({ type: "tool-call-start", id: call.id, name: call.name });
    }
    if (call.started) {
      for (const fragment of call.pending) parts.push({ type: "tool-input-delta", id: call.id, delta: fragment });
      call.pending = [];
    }
    return parts;
  }

  /** Closes every open call, in order of appearance, and returns their tool-call parts. */
  finish(): StreamPart[] {
    const parts: StreamPart[] = [];
    for (const call of this.calls) {
      if (!call.started) {
        parts.push({ type: "tool-call-start", id: call.id, name: call.name });
        for (const fragment of call.pending) parts.push({ type: "tool-input-delta", id: call.id, delta: fragment });
      }
      parts.push({ type: "tool-call", id: call.id, name: call.name, input: parseArguments(call.args) });
    }
    this.calls = [];
    return parts;
  }

  private match(delta: LooseToolCallDelta, id: string | undefined, name: string | undefined): OpenCall | undefined {
    if (typeof delta.index === "number") {
      const byIndex = this.calls.findLast((c) => c.index === delta.index);
      // A different server-given id under a reused index is a new call (servers that send index 0 for all).
      if (byIndex && !(id && byIndex.ownId && byIndex.id !== id)) return byIndex;
      if (byIndex) return undefined;
    }
    if (id) return this.calls.find((c) => c.ownId && c.id === id);
    if (typeof delta.index === "number") return undefined;
    const last = this.calls[this.calls.length - 1];
    if (!last) return undefined;
    if (name && last.name && (name !== last.name || isCompleteJson(last.args))) return undefined;
    return last;
  }

  private open(delta: LooseToolCallDelta, id: string | undefined): OpenCall {
    const call: OpenCall = {
      index: typeof delta.index === "number" ? delta.index : undefined,
      id: id ?? `call_${randomUUID().replace(/-/g, "").slice(0, 24)}`,
      ownId: id !== undefined,
      name: "",
      args: "",
      started: false,
      pending: [],
    };
    this.calls.push(call);
    return call;
  }
}

function isCompleteJson(text: string): boolean {
  if (!text.trim()) return false;
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

/** Empty arguments mean no input; unparseable ones stay a string so the loop can answer with an error. */
function parseArguments(args: string): unknown {
  if (!args.trim()) return {};
  try {
    return JSON.parse(args);
  } catch {
    return args;
  }
}

const FINISH_REASONS: Record<string, FinishReason> = {
  stop: "end_turn",
  tool_calls: "tool_use",
  function_call: "tool_use",
  length: "max_tokens",
  content_filter: "refusal",
};

/**
 * `prompt_tokens` includes cached reads and, on models that bill them (GPT-5.6 and later),
 * cache writes (`cache_write_tokens`); ours are separate counts.
 */
function toUsage(usage: OpenAI.CompletionUsage): TokenUsage {
  const details = (usage.prompt_tokens_details ?? {}) as { cached_tokens?: number; cache_write_tokens?: number };
  const cached = details.cached_tokens ?? 0;
  const written = details.cache_write_tokens ?? 0;
  return {
    inputTokens: Math.max(0, (usage.prompt_tokens ?? 0) - cached - written),
    outputTokens: usage.completion_tokens ?? 0,
    cacheReadTokens: cached,
    cacheWriteTokens: written,
  };
}

async function* streamOpenAI(
  client: OpenAI,
  request: ModelRequest,
  timeoutMs: number,
  maxTokensField: "max_tokens" | "max_completion_tokens",
  extraParams: Record<string, unknown> | undefined,
): AsyncIterable<StreamPart> {
  const guard = new CallGuard(request.signal, timeoutMs);
  let usage: TokenUsage = emptyUsage();
  try {
    if (guard.callerAborted) {
      yield { type: "error", error: new ProviderError("other", "aborted"), usage };
      return;
    }
    const tools = new ToolCallAccumulator();
    let finishReason: string | undefined;
    let sawToolCalls = false;
    try {
      const params = { ...toOpenAIParams(request, maxTokensField), ...extraParams } as OpenAI.ChatCompletionCreateParamsStreaming;
      const stream = await client.chat.completions.create(params, { signal: guard.controller.signal });
      guard.touch();
      for await (const chunk of stream) {
        guard.touch();
        if (chunk.usage) usage = toUsage(chunk.usage);
        for (const choice of chunk.choices ?? []) {
          if (choice.index !== undefined && choice.index !== 0) continue;
          const delta = choice.delta;
          if (delta?.content) yield { type: "text-delta", text: delta.content };
          for (const toolDelta of (delta?.tool_calls ?? []) as LooseToolCallDelta[]) {
            sawToolCalls = true;
            yield* tools.add(toolDelta);
          }
          if (choice.finish_reason) {
            finishReason = choice.finish_reason;
            yield* tools.finish();
          }
        }
      }
    } catch (error) {
      yield { type: "error", error: guard.failure(error, toProviderError), usage };
      return;
    }
    // The SDK ends the iteration quietly when the request was aborted.
    if (guard.callerAborted || finishReason === undefined) {
      const error = guard.failure(undefined, () => new ProviderError("network", "the stream ended before a finish_reason"));
      yield { type: "error", error, usage };
      return;
    }
    // Some servers report "stop" although the model called tools; the calls decide.
    const reason = sawToolCalls && finishReason === "stop" ? "tool_use" : (FINISH_REASONS[finishReason] ?? "other");
    yield { type: "finish", reason, usage };
  } finally {
    guard.close();
  }
}

/** Classifies SDK failures: HTTP status first, then the type/code of an error sent inside the stream. */
function toProviderError(error: unknown): ProviderError {
  if (error instanceof ProviderError) return error;
  if (error instanceof OpenAI.APIConnectionError) return new ProviderError("network", error.message, { cause: error });
  if (error instanceof OpenAI.APIError) {
    if (error.status !== undefined) {
      return new ProviderError(errorKindForStatus(error.status), error.message, {
        status: error.status,
        retryAfterMs: retryAfterMsFromHeaders(error.headers),
        cause: error,
      });
    }
    const label = `${error.type ?? ""} ${error.code ?? ""}`;
    const kind = /overload/.test(label)
      ? "overloaded"
      : /rate_limit|^requests |^tokens /.test(label)
        ? "rate_limited"
        : /invalid_request/.test(label)
          ? "bad_request"
          : "server";
    return new ProviderError(kind, error.message, { cause: error });
  }
  if (error instanceof SyntaxError) return new ProviderError("other", `unreadable stream: ${error.message}`, { cause: error });
  // Anything else thrown while reading is the transport failing (socket reset, body terminated).
  return new ProviderError("network", error instanceof Error ? error.message : String(error), { cause: error });
}
