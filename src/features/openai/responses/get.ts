import { z } from "@hono/zod-openapi";
import type { OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../../../http/context";
import { ApiError, errors } from "../../../http/errors";
import { openAiRoute, tags } from "../schemas";
import { ResponseEventStream, ResponseIdParam, ResponseObjectSchema } from "./schemas";
import { loadResponse, responseObject } from "./stored";
import { followResponse } from "./stream";

const route = openAiRoute({
  method: "get",
  path: "/openai/v1/responses/{response_id}",
  operationId: "openai.responses.get",
  tags,
  summary: "Retrieve a response, or stream it (again) with `stream=true`",
  description:
    "With `stream=true` the response's events come from its run's event log, during and after the run, on any gateway; " +
    "`starting_after=n` resumes after the event with `sequence_number` n (the numbers are those of the first stream). " +
    "Visible to readers of its agent and to the key that created it.",
  request: {
    params: ResponseIdParam,
    query: z.object({
      stream: z.enum(["true", "false"]).optional(),
      starting_after: z.string().max(20).optional().openapi({ description: "A sequence_number: resume after it", example: "12" }),
    }),
  },
  responses: {
    200: {
      description: "The response (or its events)",
      content: { "application/json": { schema: ResponseObjectSchema }, "text/event-stream": { schema: ResponseEventStream } },
    },
  },
  errors: { 410: "The run's event log has expired (`event_log_expired`; the response itself can still be retrieved without `stream=true`)" },
});

export function getResponse(app: OpenAPIHono<AppEnv>) {
  app.openapi(route, async (c) => {
    const { services } = c.var;
    const { stream, starting_after } = c.req.valid("query");
    const response = await loadResponse(services, c.var.access, c.req.valid("param").response_id, "response_id");
    if (stream !== "true") return c.json(await responseObject(services, response), 200) as never;
    let after = -1;
    if (starting_after !== undefined) {
      if (!/^\d{1,15}$/.test(starting_after.trim()))
        throw errors.invalid("Must be a sequence_number: a non-negative integer.", "starting_after");
      after = Number(starting_after.trim());
    }
    if (response.row.events_expired_at !== null) {
      throw new ApiError("invalid_request_error", "This response's event log has expired; retrieve it without stream=true.", {
        status: 410,
        param: "stream",
      });
    }
    return followResponse(c, response, after) as never;
  });
}
