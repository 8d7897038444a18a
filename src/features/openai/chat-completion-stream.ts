/**
 * A run's events as Chat Completions: `chat.completion.chunk`s while it streams, one
 * `chat.completion` at the end. The content is the agent's text across all its model calls (text
 * after a tool call starts on a new paragraph); its server-side tool calls stay on the server, so
 * no `tool_calls` reach a client that would try to run them. A pure fold of the events.
 */
import { ApiError } from "../../http/errors";
import type { DoneData, RunErrorType, SequencedEvent, StopReason } from "../../runtime/events";
import { openAiErrorEnvelope } from "./errors";
import { completionUsage } from "./usage";

export interface CompletionMeta {
  /** `chatcmpl-` + the run id's random part. */
  id: string;
  /** Unix seconds. */
  created: number;
  /** The agent id the request named. */
  model: string;
}

const finishReasons: Record<StopReason, "stop" | "length"> = {
  end_turn: "stop",
  max_iterations: "length",
  cancelled: "stop",
  error: "stop",
};

export class ChatCompletionProjection {
  content = "";
  private toolSinceText = false;
  error: { type: RunErrorType; message: string } | null = null;
  done: DoneData | null = null;

  constructor(
    private readonly meta: CompletionMeta,
    private readonly includeUsage = false,
  ) {}

  private chunk(choices: unknown[], usage?: unknown) {
    const base = {
      id: this.meta.id,
      object: "chat.completion.chunk",
      created: this.meta.created,
      model: this.meta.model,
      system_fingerprint: null,
      choices,
    };
    return this.includeUsage ? { ...base, usage: usage ?? null } : base;
  }

  /** The first chunk: the assistant's role. */
  first() {
    return this.chunk([{ index: 0, delta: { role: "assistant", content: "" }, logprobs: null, finish_reason: null }]);
  }

  /** Folds one event; returns the chunks (or the in-stream error) it becomes. */
  apply(event: SequencedEvent): unknown[] {
    switch (event.event) {
      case "text": {
        let delta = event.data.text;
        if (this.toolSinceText && this.content && !/\s$/.test(this.content)) delta = `\n\n${delta}`;
        this.toolSinceText = false;
        this.content += delta;
        return [this.chunk([{ index: 0, delta: { content: delta }, logprobs: null, finish_reason: null }])];
      }
      case "tool_start":
      case "tool_result":
        this.toolSinceText = true;
        return [];
      case "error":
        this.error = event.data.error;
        return [];
      case "done": {
        this.done = event.data;
        if (this.error) return [{ error: this.openAiError().body.error }];
        const out: unknown[] = [this.chunk([{ index: 0, delta: {}, logprobs: null, finish_reason: finishReasons[event.data.stopReason] }])];
        if (this.includeUsage) out.push(this.chunk([], completionUsage(event.data)));
        return out;
      }
      default:
        return [];
    }
  }

  /** The failure that ended the run, as the OpenAI error it is sent as (a run already ran: not to be retried blindly). */
  openAiError() {
    const error = this.error ?? { type: "api_error" as const, message: "The run ended without an answer." };
    const envelope = openAiErrorEnvelope(new ApiError(error.type, error.message));
    return { ...envelope, headers: { ...envelope.headers, "x-should-retry": "false" } };
  }

  /** The whole answer, once `done` was folded. */
  completion() {
    const done = this.done as DoneData;
    return {
      id: this.meta.id,
      object: "chat.completion",
      created: this.meta.created,
      model: this.meta.model,
      system_fingerprint: null,
      choices: [
        {
          index: 0,
          message: { role: "assistant", content: this.content, refusal: null, annotations: [] },
          logprobs: null,
          finish_reason: finishReasons[done.stopReason],
        },
      ],
      usage: completionUsage(done),
    };
  }
}
