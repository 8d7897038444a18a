import { z } from "@hono/zod-openapi";
import type { RunEvent } from "../../runtime/events";

/**
 * The events of a run (src/runtime/events.ts, DESIGN.md §1, §6) as schemas of the OpenAPI
 * document: one per event type, so a generated client can type what it parses from the chat
 * stream, the events stream and a `stream: false` answer's `events`. Their names and fields are
 * the contract: fields may be added, none removed.
 */

const ToolInput = z.record(z.string(), z.unknown()).openapi({ description: "The tool's input as the model wrote it (JSON)" });

const TextData = z.object({ text: z.string().openapi({ description: "A delta of the answer's text" }) }).openapi("TextEventData");

const ToolStartData = z
  .object({ tool: z.string().openapi({ example: "web_search" }), id: z.string().openapi({ description: "The tool call's id" }), input: ToolInput })
  .openapi("ToolStartEventData");

const ToolResultData = z
  .object({
    tool: z.string(),
    id: z.string().openapi({ description: "The id of the tool_start it answers" }),
    output: z.string(),
    isError: z.boolean().openapi({ description: "The tool failed; `output` says how (the model is told so)" }),
  })
  .openapi("ToolResultEventData");

const ErrorData = z
  .object({
    error: z.object({
      type: z.enum(["provider_error", "overloaded_error", "quota_exceeded_error", "api_error"]),
      message: z.string(),
    }),
  })
  .openapi("ErrorEventData", { description: "A failure after the stream began (the run then ends with `done`, stopReason `error`)" });

const ApprovalRequiredData = z
  .object({ id: z.string().openapi({ description: "The tool call's id: decide it at POST .../runs/{runId}/approvals" }), tool: z.string(), input: ToolInput })
  .openapi("ApprovalRequiredEventData", { description: "A tool call waiting for a person's decision; the run becomes `requires_action`" });

const ResumedData = z
  .object({ iteration: z.number().int().openapi({ description: "The model call the continuation starts with" }) })
  .openapi("ResumedEventData", { description: "First event after another gateway took the run over; text events of that step before it are superseded" });

const DoneData = z
  .object({
    iterations: z.number().int(),
    toolCalls: z.number().int(),
    tokens: z.number().int().openapi({ description: "Input (uncached, cache read, cache write) and output tokens of all model calls" }),
    cost: z.number().openapi({ description: "USD at the model catalogue's prices" }),
    conversationId: z.string(),
    runId: z.string(),
    inputTokens: z.number().int(),
    outputTokens: z.number().int(),
    cacheReadTokens: z.number().int(),
    cacheWriteTokens: z.number().int(),
    stopReason: z.enum(["end_turn", "max_iterations", "error", "cancelled"]),
  })
  .openapi("DoneEventData", { description: "The last event of every run" });

const DATA = {
  text: TextData,
  tool_start: ToolStartData,
  tool_result: ToolResultData,
  error: ErrorData,
  approval_required: ApprovalRequiredData,
  resumed: ResumedData,
  done: DoneData,
} as const satisfies Record<RunEvent["event"], z.ZodType>;

type EventName = keyof typeof DATA;
const names = Object.keys(DATA) as EventName[];
const title = (name: string) => name.replace(/(^|_)(\w)/g, (_, __, c: string) => c.toUpperCase());

/** An event as a `stream: false` answer lists it: `{ event, data }`. */
export const RunEventSchema = z
  .discriminatedUnion(
    "event",
    names.map((name) => z.object({ event: z.literal(name), data: DATA[name] }).openapi(`${title(name)}Event`)) as never,
  )
  .openapi("RunEvent", { description: "An event of a run: its name and its data" });

/**
 * An SSE message of a run's stream: `event:` is the name, `id:` the event's seq in the run's log
 * (1, 2, 3, … per run; send it back as `Last-Event-ID`), `data:` one line of the JSON object.
 */
export const RunStreamMessageSchema = z
  .discriminatedUnion(
    "event",
    names.map((name) =>
      z
        .object({
          event: z.literal(name),
          id: z.string().regex(/^\d+$/).openapi({ description: "The event's seq in the run's log" }),
          data: DATA[name],
        })
        .openapi(`${title(name)}StreamMessage`),
    ) as never,
  )
  .openapi("RunStreamMessage", {
    description:
      "One Server-Sent Events message of a run's stream, `data` shown parsed. `: ping` comment lines between messages keep an idle stream open.",
  });

/**
 * The `text/event-stream` media type of a run's stream. OpenAPI 3.1 has no schema for the items of
 * a stream (3.2's `itemSchema`), so the body is a string and `x-itemSchema` names the message
 * schema: when the document moves to 3.2 it becomes `itemSchema` unchanged.
 */
export const runEventStreamContent = {
  schema: z.string().openapi({ description: "Server-Sent Events; each message is a `RunStreamMessage` (see `x-itemSchema`)" }),
  "x-itemSchema": { $ref: "#/components/schemas/RunStreamMessage" },
};
