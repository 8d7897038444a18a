/**
 * A run's event log as an Open Responses stream and a Response object: a pure fold. The same log
 * always yields the same events with the same `sequence_number`s (0, 1, 2, …), whether folded live
 * from the executing run or replayed from the log on any gateway, so `?starting_after=n` resumes a
 * stream exactly (the concatenation of before and after is the uninterrupted stream).
 *
 *   response.created (+ response.queued for a background run)
 *   response.in_progress                          at the first event of the run (at once in the foreground)
 *   text        → output_item.added (message), content_part.added, output_text.delta…
 *   tool_start  → the message closes (output_text.done, content_part.done, output_item.done);
 *                 output_item.added (openpaw:tool_call, in_progress)
 *   tool_result → output_item.done (openpaw:tool_call with its output)
 *   error       → an open message closes as incomplete; error
 *   resumed     → the cut message closes as incomplete; openpaw:resumed
 *   done        → what is open closes; response.completed | response.incomplete | response.failed
 *   other       → openpaw:<event> (events this mapping does not know yet pass through)
 *
 * The agent's tools run on the server, so their calls are `openpaw:tool_call` items (an
 * implementor-prefixed hosted-tool item, as Open Responses asks), never `function_call`s a client
 * would try to execute.
 */
import type { SequencedEvent, StopReason } from "../../../runtime/events";
import { ApiError } from "../../../http/errors";
import { openAiErrorEnvelope } from "../errors";
import { messageItemId, toolItemId } from "../ids";
import { type DoneFigures, responseUsage } from "../usage";

export type ResponseStatus = "queued" | "in_progress" | "completed" | "incomplete" | "failed" | "cancelled";

export interface ResponseMeta {
  runId: string;
  /** `resp_` + the run id's random part. */
  id: string;
  /** Unix seconds. */
  createdAt: number;
  /** The agent id. */
  model: string;
  conversationId: string;
  instructions: string | null;
  previousResponseId: string | null;
  store: boolean;
  background: boolean;
  metadata: Record<string, string>;
}

export interface MessageItem {
  type: "message";
  id: string;
  status: "in_progress" | "completed" | "incomplete";
  role: "assistant";
  content: Array<{ type: "output_text"; text: string; annotations: []; logprobs: [] }>;
}

export interface ToolCallItem {
  type: "openpaw:tool_call";
  id: string;
  status: "in_progress" | "completed" | "incomplete";
  call_id: string;
  name: string;
  /** JSON text of the call's input. */
  arguments: string;
  output: string | null;
  is_error: boolean;
}

export type OutputItem = MessageItem | ToolCallItem;

export type StreamEvent = { type: string; sequence_number: number; [field: string]: unknown };

const terminal: Record<StopReason, { status: ResponseStatus; event: string }> = {
  end_turn: { status: "completed", event: "response.completed" },
  max_iterations: { status: "incomplete", event: "response.incomplete" },
  error: { status: "failed", event: "response.failed" },
  // Open Responses has no cancelled event: a cancelled response ends like an incomplete one, with its own status.
  cancelled: { status: "cancelled", event: "response.incomplete" },
};

const clone = <T>(value: T): T => structuredClone(value);

export class ResponseProjection {
  readonly output: OutputItem[] = [];
  status: ResponseStatus;
  error: { code: string; message: string } | null = null;
  incompleteDetails: { reason: string } | null = null;
  usage: DoneFigures | null = null;
  /** True once `done` was folded. */
  ended = false;
  private next = 0;
  private started = false;
  private message: { item: MessageItem; index: number } | null = null;
  private tools = new Map<string, number>();

  constructor(readonly meta: ResponseMeta) {
    this.status = meta.background ? "queued" : "in_progress";
  }

  private emit(type: string, fields: Record<string, unknown> = {}): StreamEvent {
    return { type, sequence_number: this.next++, ...fields };
  }

  /** The events before the run's first: response.created, and queued or in_progress. */
  opening(): StreamEvent[] {
    const out = [this.emit("response.created", { response: this.snapshot() })];
    if (this.meta.background) out.push(this.emit("response.queued", { response: this.snapshot() }));
    else {
      this.started = true;
      out.push(this.emit("response.in_progress", { response: this.snapshot() }));
    }
    return out;
  }

  /** Folds one event of the run's log; returns the stream events it becomes. */
  apply(event: SequencedEvent): StreamEvent[] {
    const out: StreamEvent[] = [];
    if (!this.started && event.event !== "done") {
      this.started = true;
      this.status = "in_progress";
      out.push(this.emit("response.in_progress", { response: this.snapshot() }));
    }
    switch (event.event) {
      case "text": {
        const message = this.message ?? this.openMessage(event.seq, out);
        const part = message.item.content[0];
        part.text += event.data.text;
        out.push(
          this.emit("response.output_text.delta", {
            item_id: message.item.id,
            output_index: message.index,
            content_index: 0,
            delta: event.data.text,
            logprobs: [],
          }),
        );
        break;
      }
      case "tool_start":
        this.closeMessage("completed", out);
        this.openTool(event.seq, event.data.id, event.data.tool, JSON.stringify(event.data.input ?? {}), out);
        break;
      case "tool_result": {
        this.closeMessage("completed", out);
        // A result recorded before a crash may come without its start (it was settled, not run).
        const index = this.tools.get(event.data.id) ?? this.openTool(event.seq, event.data.id, event.data.tool, "{}", out);
        const item = this.output[index] as ToolCallItem;
        Object.assign(item, { status: "completed", output: event.data.output, is_error: event.data.isError });
        this.tools.delete(event.data.id);
        out.push(this.emit("response.output_item.done", { output_index: index, item: clone(item) }));
        break;
      }
      case "error": {
        // The failed step's text is all there will be: its message closes before the error.
        this.closeMessage("incomplete", out);
        const { type, message } = event.data.error;
        this.error = { code: type, message };
        const shaped = openAiErrorEnvelope(new ApiError(type, message)).body.error;
        out.push(this.emit("error", { error: { type: shaped.type, code: type, message, param: null } }));
        break;
      }
      case "resumed":
        // The cut step's text is superseded by the continuation, which follows in new items.
        this.closeMessage("incomplete", out);
        out.push(this.emit("openpaw:resumed", { iteration: event.data.iteration }));
        break;
      case "done": {
        const stop = event.data.stopReason;
        this.closeMessage(stop === "end_turn" || stop === "max_iterations" ? "completed" : "incomplete", out);
        for (const index of this.tools.values()) {
          const item = this.output[index] as ToolCallItem;
          item.status = "incomplete";
          out.push(this.emit("response.output_item.done", { output_index: index, item: clone(item) }));
        }
        this.tools.clear();
        this.usage = event.data;
        this.ended = true;
        this.status = terminal[stop].status;
        if (stop === "max_iterations") this.incompleteDetails = { reason: "max_iterations" };
        if (stop === "cancelled") this.incompleteDetails = { reason: "cancelled" };
        if (stop === "error") this.error ??= { code: "api_error", message: "The run failed." };
        out.push(this.emit(terminal[stop].event, { response: this.snapshot() }));
        break;
      }
      default: {
        const { event: name, seq: _seq, ...rest } = event as { event: string; seq: number; data?: unknown };
        out.push(this.emit(`openpaw:${name}`, { data: (rest as { data?: unknown }).data ?? null }));
      }
    }
    return out;
  }

  private openMessage(seq: number, out: StreamEvent[]) {
    const item: MessageItem = {
      type: "message",
      id: messageItemId(this.meta.runId, seq),
      status: "in_progress",
      role: "assistant",
      content: [{ type: "output_text", text: "", annotations: [], logprobs: [] }],
    };
    const index = this.output.push(item) - 1;
    this.message = { item, index };
    out.push(this.emit("response.output_item.added", { output_index: index, item: { ...clone(item), content: [] } }));
    out.push(
      this.emit("response.content_part.added", { item_id: item.id, output_index: index, content_index: 0, part: clone(item.content[0]) }),
    );
    return this.message;
  }

  private closeMessage(status: "completed" | "incomplete", out: StreamEvent[]): void {
    const open = this.message;
    if (!open) return;
    this.message = null;
    const { item, index } = open;
    const part = item.content[0];
    item.status = status;
    out.push(
      this.emit("response.output_text.done", { item_id: item.id, output_index: index, content_index: 0, text: part.text, logprobs: [] }),
    );
    out.push(this.emit("response.content_part.done", { item_id: item.id, output_index: index, content_index: 0, part: clone(part) }));
    out.push(this.emit("response.output_item.done", { output_index: index, item: clone(item) }));
  }

  private openTool(seq: number, callId: string, name: string, args: string, out: StreamEvent[]): number {
    const item: ToolCallItem = {
      type: "openpaw:tool_call",
      id: toolItemId(this.meta.runId, seq),
      status: "in_progress",
      call_id: callId,
      name,
      arguments: args,
      output: null,
      is_error: false,
    };
    const index = this.output.push(item) - 1;
    this.tools.set(callId, index);
    out.push(this.emit("response.output_item.added", { output_index: index, item: clone(item) }));
    return index;
  }

  /**
   * The Response object as folded so far. Parameters the agent fixes (temperature, top_p, …) are
   * not the request's to set: they read null or their neutral value. `completed_at` is only known
   * to the stored run (GET fills it in); the stream's snapshots leave it null so replays are exact.
   */
  snapshot(
    overrides: Partial<{ status: ResponseStatus; completedAt: number | null; usage: DoneFigures | null; output: OutputItem[] }> = {},
  ) {
    const { meta } = this;
    const usage = overrides.usage !== undefined ? overrides.usage : this.usage;
    return {
      id: meta.id,
      object: "response" as const,
      created_at: meta.createdAt,
      completed_at: overrides.completedAt ?? null,
      status: overrides.status ?? this.status,
      incomplete_details: this.incompleteDetails,
      model: meta.model,
      previous_response_id: meta.previousResponseId,
      instructions: meta.instructions,
      output: clone(overrides.output ?? this.output),
      error: this.error,
      tools: [],
      tool_choice: "auto",
      truncation: "disabled",
      parallel_tool_calls: true,
      text: { format: { type: "text" } },
      top_p: null,
      temperature: null,
      presence_penalty: 0,
      frequency_penalty: 0,
      top_logprobs: 0,
      reasoning: null,
      user: null,
      usage: usage ? responseUsage(usage) : null,
      max_output_tokens: null,
      max_tool_calls: null,
      store: meta.store,
      background: meta.background,
      service_tier: "default",
      metadata: meta.metadata,
      safety_identifier: null,
      prompt_cache_key: null,
      openpaw: { run_id: meta.runId, conversation_id: meta.conversationId },
    };
  }
}

export type ResponseObject = ReturnType<ResponseProjection["snapshot"]>;
