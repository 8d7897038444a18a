import type { RunErrorType, RunEvent, StopReason } from "./events";
import { conversationBreakpoints, promptText } from "./context";
import { type RetryOptions, addUsage, streamWithRetry } from "./models/retry";
import {
  type AssistantBlock,
  type ChatMessage,
  type ModelProvider,
  type PromptBlock,
  type ProviderError,
  type TokenUsage,
  type ToolCall,
  type ToolResultBlock,
  type ToolSpec,
  emptyUsage,
} from "./models/types";
import type { ToolContext, ToolDefinition, ToolOutput } from "./tools/types";
import { toJsonSchema } from "./tools/schema";
import type { RunObserver } from "./observer";
import { checkJsonBounds } from "../lib/json-bounds";

/**
 * A model's tool input is outside JSON like any request body (a prompt-injected page can shape
 * it). It is bounded before it is stored, streamed or sent back to the provider, all of which
 * serialise it recursively; MCP servers get nothing deeper either.
 */
export const TOOL_INPUT_LIMITS = { maxDepth: 64, maxBytes: 1024 * 1024 };

/** A tool call as the loop handles it: `refused` says why its input was dropped. */
type PendingCall = ToolCall & { refused?: string };

/** Running figures of a run; reported after every model call so usage survives a crash. */
export interface RunTotals {
  usage: TokenUsage;
  cost: number;
  iterations: number;
  toolCalls: number;
}

export interface RunResult extends RunTotals {
  /** All text the model produced in this run, in order. */
  text: string;
  stopReason: StopReason;
  error?: { type: RunErrorType; message: string };
  /**
   * Set when the run did not stop but waits: these calls of its last assistant message need a
   * person's decision (the turn's other calls have run and their results are emitted). The
   * caller records the wait and continues the run from its recorded state once all are decided;
   * `stopReason` means nothing then. The turn's tool calls are counted when the turn completes.
   */
  awaiting?: ToolCall[];
}

/**
 * Which tool calls must wait for a person's decision before they run (features/approvals). The
 * loop never decides one itself: a call that needs an approval either waits (the run returns
 * `awaiting`) or, with `refusal` set (a run that cannot wait, e.g. a subagent's), is refused.
 */
export interface ApprovalHooks {
  required(call: ToolCall): boolean;
  refusal?: string;
}

/** Reserves quota before each model call (see features/billing/quota); `onModelCall` settles it. */
export interface QuotaHooks {
  /** Reserves the call's input and as much output as the plan leaves (at most `maxOutputTokens`), or says why it cannot. */
  reserveCall(inputTokens: number, maxOutputTokens: number): Promise<CallGrant>;
}

/**
 * What one model call leaves, reported at once so the caller can record it as one step: the
 * tokens to settle against its reservation, the run's totals after it, and the assistant message
 * it added to the conversation (null when a failed call produced no text).
 */
export interface ModelCallRecord {
  reserved: number;
  usedTokens: number;
  totals: RunTotals;
  message: ChatMessage | null;
  /**
   * The run's result when this call ends it (an answer without tool calls, or a failed call):
   * the loop returns it right after, so the caller can record the call and the ending together.
   */
  ending: RunResult | null;
}

/** A reservation for one model call: its `max_tokens` is capped by what the plan leaves. */
export type CallGrant = { ok: true; reserved: number; maxTokens: number } | { ok: false; message: string };

/**
 * The recorded state of a run being continued (after a crash, or once its pending approvals are
 * decided): its own messages so far, its counters, and what is known of the tool calls of its
 * last assistant message.
 */
export interface ResumeState {
  /** This run's messages as recorded, the user message first. */
  messages: ChatMessage[];
  totals: RunTotals;
  /**
   * Results of tool calls of the last assistant message that must not run (again): recorded
   * before the cut, or cut while running (the model is told so). `emitted` when its
   * `tool_result` event is already in the run's log.
   */
  settled: Map<string, { output: string; isError: boolean; emitted: boolean }>;
  /** Calls of the last assistant message a person approved: they run now, without asking again. */
  approved?: Set<string>;
}

/**
 * A run begins with a new user message, or continues from its recorded state. A new run may bring
 * `prelude`: turns its caller supplied before the message (an OpenAI-compatible request's earlier
 * messages), recorded as the run's own so that a continuation, and a later turn, see them;
 * `userContext` is sent (and stored) with the user's message for the model alone: the memory matched to it.
 */
export type RunStart =
  | {
      kind: "new";
      userMessage: string;
      userContext?: string;
      prelude?: ChatMessage[];
      /** The caller already wrote the start's messages (with the run's row); the loop does not again. */
      recorded?: boolean;
    }
  | { kind: "resume"; state: ResumeState };

/** The messages a new run begins with, as recorded: its prelude, then the user's message (with its context). */
export function startMessages(start: Extract<RunStart, { kind: "new" }>): ChatMessage[] {
  const user: ChatMessage = { role: "user", content: start.userMessage, ...(start.userContext ? { context: start.userContext } : {}) };
  return [...(start.prelude ?? []), user];
}

export interface RunOptions {
  runId: string;
  orgId: string;
  agentId: string;
  conversationId: string;
  provider: ModelProvider;
  /** The provider's model id and the limits of the model. */
  model: { providerModel: string; maxOutputTokens: number };
  costOf(usage: TokenUsage): number;
  /** Most stable block first (runtime/context's composeContext). */
  system: PromptBlock[];
  /** Earlier turns of the conversation (before this run), already trimmed to fit. */
  history: ChatMessage[];
  start: RunStart;
  temperature: number;
  maxIterations: number;
  tools: ToolDefinition<any>[];
  /** Tool output handed to the model is cut at this many characters. */
  toolOutputChars: number;
  signal: AbortSignal;
  quota?: QuotaHooks;
  approvals?: ApprovalHooks;
  emit(event: RunEvent): void;
  /** Persists a message that became part of the conversation (the user's, tool results). */
  onMessage?(message: ChatMessage): Promise<void>;
  /** Records a model call: its settlement, the totals and its assistant message, together. */
  onModelCall?(call: ModelCallRecord): Promise<void>;
  retry?: RetryOptions;
  /** Metrics and traces of the model and tool calls (see runtime/observer). */
  observer?: RunObserver;
}

/** Total tokens of a usage: every input kind plus output. */
export function totalTokens(usage: TokenUsage): number {
  return usage.inputTokens + usage.outputTokens + usage.cacheReadTokens + usage.cacheWriteTokens;
}

/** A rough token estimate (4 characters a token) for reservations and context trimming. */
export function estimateTokens(text: string): number {
  return Math.ceil(text.length / 4);
}

function estimateRequestTokens(system: string, messages: ChatMessage[], tools: ToolSpec[]): number {
  return estimateTokens(system) + estimateTokens(JSON.stringify(messages)) + estimateTokens(JSON.stringify(tools));
}

/**
 * Tool output is data, never instructions: it reaches the model inside a delimiter it cannot
 * close itself, cut to `maxChars` with a note saying so.
 */
export function wrapToolOutput(tool: string, output: string, maxChars: number): string {
  let body = output;
  if (body.length > maxChars) {
    body = `${body.slice(0, maxChars)}\n[output cut: ${output.length - maxChars} of ${output.length} characters omitted]`;
  }
  body = body.replace(/<\/tool_output/gi, "<\\/tool_output");
  return `<tool_output tool="${tool}">\n${body}\n</tool_output>`;
}

function errorTypeOf(error: ProviderError): RunErrorType {
  return error.kind === "overloaded" || error.kind === "rate_limited" ? "overloaded_error" : "provider_error";
}

/** What happened, in words: how many attempts were made, and why there were no more. */
function describeProviderError(error: ProviderError): string {
  const status = error.status ? ` (HTTP ${error.status})` : "";
  const tried =
    error.attempts > 1
      ? ` ${error.attempts} attempts failed.`
      : error.afterOutput && error.retryable
        ? " It was not retried because part of the answer had already been sent."
        : "";
  switch (error.kind) {
    case "overloaded":
    case "rate_limited":
      return `The model provider is ${error.kind === "overloaded" ? "overloaded" : "rate limiting this deployment"}${status}.${tried} Try again shortly.`;
    case "auth":
      return `The model provider refused this deployment's credentials${status}.`;
    case "bad_request":
      return `The model provider rejected the request${status}: ${error.message}`;
    default:
      return `The model provider failed${status}: ${error.message.replace(/\.$/, "")}.${tried}`;
  }
}

/**
 * The ReAct loop: call the model with the conversation and tools, run the tool calls it asks for
 * (in parallel, each under its own time limit), feed the results back, and repeat until it answers
 * in text, `maxIterations` is reached, the signal aborts, or something fails. Never throws for a
 * model or tool failure: the result says how the run ended.
 */
export async function runAgent(options: RunOptions): Promise<RunResult> {
  const { signal, emit } = options;
  const toolsByName = new Map(options.tools.map((t) => [t.name, t]));
  const toolSpecs: ToolSpec[] = options.tools.map((t) => ({ name: t.name, description: t.description, inputSchema: toJsonSchema(t.input) }));
  const messages: ChatMessage[] = [...options.history];
  let totals: RunTotals = { usage: emptyUsage(), cost: 0, iterations: 0, toolCalls: 0 };
  let text = "";
  const finish = (stopReason: StopReason, error?: RunResult["error"]): RunResult => ({ ...totals, text, stopReason, error });

  if (options.start.kind === "new") {
    for (const message of startMessages(options.start)) {
      messages.push(message);
      if (!options.start.recorded) await options.onMessage?.(message);
    }
  } else {
    const { state } = options.start;
    messages.push(...state.messages);
    totals = { ...state.totals, usage: { ...state.totals.usage } };
    text = textOf(state.messages);
    const last = state.messages.at(-1);
    if (last?.role === "assistant") {
      const calls = last.content.filter((b): b is Extract<AssistantBlock, { type: "tool_call" }> => b.type === "tool_call");
      // The run had already answered; only its ending was not recorded.
      if (calls.length === 0) return finish("end_turn");
      const turn = await runToolCalls(calls, toolsByName, options, totals, state.settled, state.approved ?? new Set());
      if (signal.aborted) return finish("cancelled");
      if ("awaiting" in turn) return { ...finish("end_turn"), awaiting: turn.awaiting };
      messages.push(turn.message);
      await options.onMessage?.(turn.message);
    }
  }

  while (totals.iterations < options.maxIterations) {
    if (signal.aborted) return finish("cancelled");
    const input = estimateRequestTokens(promptText(options.system), messages, toolSpecs);
    const grant: CallGrant = options.quota
      ? await options.quota.reserveCall(input, options.model.maxOutputTokens)
      : { ok: true, reserved: 0, maxTokens: options.model.maxOutputTokens };
    if (!grant.ok) {
      const after = totals.iterations ? `The run stopped after ${totals.iterations} model call${totals.iterations === 1 ? "" : "s"}: ` : "";
      return finish("error", { type: "quota_exceeded_error", message: `${after}${grant.message}` });
    }
    const { maxTokens, reserved } = grant;
    totals.iterations++;

    const blocks: AssistantBlock[] = [];
    const calls: PendingCall[] = [];
    let callUsage = emptyUsage();
    let failure: ProviderError | null = null;
    const appendText = (delta: string) => {
      const last = blocks[blocks.length - 1];
      if (last?.type === "text") last.text += delta;
      else blocks.push({ type: "text", text: delta });
    };

    const endCall = options.observer?.modelCall({ provider: options.provider.id, model: options.model.providerModel });
    const stream = streamWithRetry(
      options.provider,
      {
        model: options.model.providerModel,
        system: options.system,
        messages,
        cacheBreakpoints: conversationBreakpoints(messages),
        tools: toolSpecs,
        temperature: options.temperature,
        maxTokens,
        signal,
      },
      options.retry,
    );
    for await (const part of stream) {
      if (part.type === "text-delta") {
        if (!part.text) continue;
        appendText(part.text);
        text += part.text;
        emit({ event: "text", data: { text: part.text } });
      } else if (part.type === "reasoning") {
        blocks.push(part.block);
      } else if (part.type === "tool-call") {
        const bounds = checkJsonBounds(part.input, TOOL_INPUT_LIMITS);
        const input = bounds.ok ? part.input : {};
        calls.push({ id: part.id, name: part.name, input, refused: bounds.ok ? undefined : bounds.message });
        blocks.push({ type: "tool_call", id: part.id, name: part.name, input });
      } else if (part.type === "finish") {
        callUsage = part.usage;
      } else if (part.type === "error") {
        callUsage = part.usage;
        failure = part.error;
      }
    }

    endCall?.({ usage: callUsage, error: failure?.kind ?? null });
    totals.usage = addUsage(totals.usage, callUsage);
    totals.cost += options.costOf(callUsage);
    // A failed call keeps what the user saw, without tool calls that will never get results.
    const kept = failure ? blocks.filter((b) => b.type === "text") : blocks;
    const message: ChatMessage | null = failure && kept.length === 0 ? null : { role: "assistant", content: kept };
    if (message) messages.push(message);
    const ending = failure
      ? signal.aborted
        ? finish("cancelled")
        : finish("error", { type: errorTypeOf(failure), message: describeProviderError(failure) })
      : calls.length === 0
        ? finish("end_turn")
        : null;
    await options.onModelCall?.({ reserved, usedTokens: totalTokens(callUsage), totals: { ...totals, usage: { ...totals.usage } }, message, ending });
    if (ending) return ending;

    const turn = await runToolCalls(calls, toolsByName, options, totals, new Map(), new Set());
    if (signal.aborted) return finish("cancelled");
    if ("awaiting" in turn) return { ...finish("end_turn"), awaiting: turn.awaiting };
    messages.push(turn.message);
    await options.onMessage?.(turn.message);
  }
  return finish("max_iterations");
}

/**
 * The text a run has produced so far: the text blocks of the assistant messages after its user
 * message (assistant turns of a prelude came from the caller, not from this run).
 */
function textOf(messages: ChatMessage[]): string {
  const from = messages.findLastIndex((m) => m.role === "user") + 1;
  let text = "";
  for (const m of messages.slice(from)) if (m.role === "assistant") for (const b of m.content) if (b.type === "text") text += b.text;
  return text;
}

/**
 * Runs the tool calls of one assistant turn in parallel (each under its own limit) and returns
 * the tool message with their results in call order. Calls in `settled` are not run: their known
 * result is used (and its `tool_result` emitted unless it already was). A call that needs an
 * approval (and was not `approved`) does not run: `approval_required` is emitted for it, the
 * others run, and the turn returns the calls that wait instead of a message.
 */
async function runToolCalls(
  calls: PendingCall[],
  toolsByName: Map<string, ToolDefinition<any>>,
  options: RunOptions,
  totals: RunTotals,
  settled: ResumeState["settled"],
  approved: ReadonlySet<string>,
): Promise<{ message: ChatMessage } | { awaiting: ToolCall[] }> {
  const { emit } = options;
  const awaiting: ToolCall[] = [];
  const results = await Promise.all(
    calls.map(async (call): Promise<ToolResultBlock | null> => {
      const known = settled.get(call.id);
      let result: { output: string; isError: boolean };
      if (known) {
        result = known;
        if (!known.emitted) emit({ event: "tool_result", data: { tool: call.name, id: call.id, output: known.output, isError: known.isError } });
      } else if (needsApproval(call, toolsByName, options) && !approved.has(call.id)) {
        const refusal = options.approvals?.refusal;
        if (!refusal) {
          awaiting.push({ id: call.id, name: call.name, input: call.input });
          emit({ event: "approval_required", data: { id: call.id, tool: call.name, input: call.input } });
          return null;
        }
        result = { output: refusal, isError: true };
        emit({ event: "tool_result", data: { tool: call.name, id: call.id, output: result.output, isError: true } });
      } else {
        emit({ event: "tool_start", data: { tool: call.name, id: call.id, input: call.input } });
        const endTool = options.observer?.toolCall({ tool: call.name, id: call.id });
        result = await executeTool(call, toolsByName.get(call.name), options);
        endTool?.({ isError: result.isError });
        emit({ event: "tool_result", data: { tool: call.name, id: call.id, output: result.output, isError: result.isError } });
      }
      return {
        toolCallId: call.id,
        name: call.name,
        content: wrapToolOutput(call.name, result.output, options.toolOutputChars),
        isError: result.isError,
      };
    }),
  );
  if (awaiting.length > 0) return { awaiting };
  totals.toolCalls += calls.length;
  return { message: { role: "tool", results: results.filter((r): r is ToolResultBlock => r !== null) } };
}

/**
 * Whether a call must wait for a decision. A call that would run nothing (an unknown tool, or an
 * input refused for its size) gets its error result at once instead: there is nothing to approve.
 */
function needsApproval(call: PendingCall, toolsByName: Map<string, ToolDefinition<any>>, options: RunOptions): boolean {
  if (!options.approvals || call.refused || !toolsByName.has(call.name)) return false;
  return options.approvals.required(call);
}

/** Runs one tool call: validates its input, enforces its time limit, and turns failures into error results. */
async function executeTool(
  call: PendingCall,
  tool: ToolDefinition<any> | undefined,
  options: RunOptions,
): Promise<{ output: string; isError: boolean }> {
  if (!tool) return { output: `Unknown tool "${call.name}". Use only the tools you were given.`, isError: true };
  if (call.refused) return { output: `The tool input was refused: ${call.refused} Send a smaller, flatter input.`, isError: true };
  if (typeof call.input === "string") {
    return { output: `The tool input was not valid JSON: ${call.input.slice(0, 200)}`, isError: true };
  }
  const parsed = tool.input.safeParse(call.input ?? {});
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join(".") || "input"}: ${i.message}`).join("; ");
    return { output: `Invalid input for ${tool.name}: ${issues}`, isError: true };
  }
  const timeout = AbortSignal.timeout(tool.timeoutMs);
  const signal = AbortSignal.any([options.signal, timeout]);
  const context: ToolContext = {
    orgId: options.orgId,
    agentId: options.agentId,
    runId: options.runId,
    conversationId: options.conversationId,
    signal,
  };
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(timeout.aborted ? new Error(`timed out after ${tool.timeoutMs / 1000} s`) : new Error("cancelled"));
    signal.addEventListener("abort", onAbort, { once: true });
  });
  try {
    const output: ToolOutput | string = await Promise.race([tool.execute(parsed.data, context), aborted]);
    return typeof output === "string" ? { output, isError: false } : { output: output.content, isError: output.isError ?? false };
  } catch (error) {
    return { output: `${tool.name} failed: ${(error as Error)?.message ?? String(error)}`, isError: true };
  } finally {
    if (onAbort) signal.removeEventListener("abort", onAbort);
    aborted.catch(() => {});
  }
}
