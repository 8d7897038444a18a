import { PathId } from "../../../http/openapi";
import { z } from "@hono/zod-openapi";

export const ResponseIdParam = z.object({
  response_id: PathId("response_id", "resp_4f9Kq2"),
});

export const ResponseObjectSchema = z
  .looseObject({
    id: z.string(),
    object: z.literal("response"),
    status: z.enum(["queued", "in_progress", "completed", "incomplete", "failed", "cancelled"]),
    output: z.array(z.looseObject({ type: z.string(), id: z.string() })),
  })
  .openapi("OpenAiResponse");

/** A response's stream: the Open Responses events (OpenAI's names), each with its `sequence_number`. */
export const ResponseEventStream = z.string().openapi({
  description:
    "Server-Sent Events of the Open Responses specification: `response.queued` (background), `response.created`, `response.in_progress`, " +
    "`response.output_item.added`, `response.content_part.added`, `response.output_text.delta`, `response.output_text.done`, " +
    "`response.content_part.done`, `response.output_item.done`, and a last `response.completed`, `response.incomplete` (also a cancelled " +
    "response, with its status `cancelled`) or `response.failed`; each `data:` is the event's JSON with its `sequence_number`; the stream " +
    "ends with `data: [DONE]`.",
});
