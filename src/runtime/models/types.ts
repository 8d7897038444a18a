/**
 * The model-provider contract of the agent engine. Providers (Anthropic, OpenAI-compatible)
 * translate this neutral shape to and from their wire format; the loop only sees these types.
 */

/** Token counts of one model call. `inputTokens` excludes cache reads and writes. */
export interface TokenUsage {
  inputTokens: number;
  outputTokens: number;
  cacheReadTokens: number;
  cacheWriteTokens: number;
}

export const emptyUsage = (): TokenUsage => ({
  inputTokens: 0,
  outputTokens: 0,
  cacheReadTokens: 0,
  cacheWriteTokens: 0,
});

/** A tool as offered to the model: name, description and a JSON Schema (type "object") for its input. */
export interface ToolSpec {
  name: string;
  description: string;
  inputSchema: Record<string, unknown>;
}

export interface ToolCall {
  id: string;
  name: string;
  input: unknown;
}

export interface ToolResultBlock {
  toolCallId: string;
  name: string;
  content: string;
  isError: boolean;
}

/**
 * The model's reasoning, kept so it can be sent back with the rest of its turn (Claude 5.5 models
 * think between tool calls and want those blocks back unchanged). Tied to the model that wrote
 * it: `model` is its provider model id, and a provider drops reasoning of another model.
 * `redacted` holds an encrypted block instead of text.
 */
export type ReasoningBlock = { type: "reasoning"; model: string; text: string; signature: string; redacted?: string };

export type AssistantBlock = { type: "text"; text: string } | ({ type: "tool_call" } & ToolCall) | ReasoningBlock;

export type ChatMessage =
  /**
   * `context` is what the gateway adds for the model alone (memory entries matched to this
   * message): sent before `content`, stored with it so later requests repeat the exact same prefix.
   */
  | { role: "user"; content: string; context?: string }
  | { role: "assistant"; content: AssistantBlock[] }
  /** Results of the tool calls of the preceding assistant message, in the same order. */
  | { role: "tool"; results: ToolResultBlock[] };

/**
 * One part of the system prompt. A request's parts go from the most stable (the agent's prompt
 * and skills) to the least, so that a change late in the prompt leaves the earlier parts cached.
 */
export interface PromptBlock {
  text: string;
  /** This block ends a prefix worth caching (providers with explicit caching place a breakpoint here). */
  cache?: boolean;
}

export interface ModelRequest {
  /** The provider's own model id (the catalogue maps our id to it). */
  model: string;
  system: PromptBlock[];
  messages: ChatMessage[];
  tools: ToolSpec[];
  /**
   * Indexes into `messages` whose end is a cache breakpoint (see runtime/context's
   * `conversationBreakpoints`). Providers without explicit caching ignore them.
   */
  cacheBreakpoints?: number[];
  temperature?: number;
  maxTokens: number;
  signal?: AbortSignal;
}

/**
 * Why a call finished. `tool_use` means the model asked for tools; `end_turn` a final text answer.
 */
export type FinishReason = "end_turn" | "tool_use" | "max_tokens" | "stop_sequence" | "refusal" | "other";

/** Error kinds map onto DESIGN.md's error types: overloaded → 503 overloaded_error, the rest → provider_error. */
export type ProviderErrorKind = "overloaded" | "rate_limited" | "server" | "network" | "bad_request" | "auth" | "other";

export class ProviderError extends Error {
  /** Calls made before giving up (set by the retry loop; 1 when it was not retried). */
  attempts = 1;
  /** The failure came after part of the answer had reached the caller, so retrying would have repeated it. */
  afterOutput = false;

  constructor(
    readonly kind: ProviderErrorKind,
    message: string,
    readonly options: { status?: number; retryAfterMs?: number; cause?: unknown } = {},
  ) {
    super(message, { cause: options.cause });
    this.name = "ProviderError";
  }

  get status(): number | undefined {
    return this.options.status;
  }

  get retryAfterMs(): number | undefined {
    return this.options.retryAfterMs;
  }

  /** 429, 500, 502, 503, 529 and network failures are worth another try. */
  get retryable(): boolean {
    return this.kind === "overloaded" || this.kind === "rate_limited" || this.kind === "server" || this.kind === "network";
  }
}

export type StreamPart =
  | { type: "text-delta"; text: string }
  /** A complete reasoning block, to be stored with the assistant's turn (never shown as its answer). */
  | { type: "reasoning"; block: ReasoningBlock }
  | { type: "tool-call-start"; id: string; name: string }
  | { type: "tool-input-delta"; id: string; delta: string }
  | ({ type: "tool-call" } & ToolCall)
  | { type: "finish"; reason: FinishReason; usage: TokenUsage }
  /** A failure of the call; `usage` counts what had arrived before it (tokens are billed regardless). */
  | { type: "error"; error: ProviderError; usage: TokenUsage };

/**
 * A model provider streams one call. It never throws from the iterator: failures arrive as an
 * `error` part, which is always the last part. An aborted `signal` ends the stream with an error
 * part of kind "other" and message "aborted".
 */
export interface ModelProvider {
  readonly id: string;
  stream(request: ModelRequest): AsyncIterable<StreamPart>;
  /** The models the provider serves right now (its `/v1/models`); throws ProviderError when it cannot say. */
  listModels?(signal?: AbortSignal): Promise<ServedModel[]>;
  /** One model the provider serves, or null when it does not serve that id. */
  retrieveModel?(id: string, signal?: AbortSignal): Promise<ServedModel | null>;
}

/** A model as a provider lists it: its id and, when the server says, its limits. */
export interface ServedModel {
  id: string;
  name?: string;
  contextWindow?: number;
  maxOutputTokens?: number;
}
