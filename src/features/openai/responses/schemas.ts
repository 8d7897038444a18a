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
