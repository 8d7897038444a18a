import type { OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../../../http/context";
import { errors } from "../../../http/errors";
import { isLive } from "../../runs/repository";
import { openAiRoute, tags } from "../schemas";
import { ResponseIdParam, ResponseObjectSchema } from "./schemas";
import { loadResponse, responseObject } from "./stored";

const route = openAiRoute({
  method: "post",
  path: "/openai/v1/responses/{response_id}/cancel",
  operationId: "openai.responses.cancel",
  tags,
  summary: "Cancel a queued or running response",
  description:
    "Cancels its run on whichever gateway executes it (its usage so far is recorded) and answers the response once it has " +
    "ended, or after 5 s as it then is. Cancelling a cancelled response returns it again; one that ended otherwise is 409. " +
    "By the key that created it or a key with write scope.",
  request: { params: ResponseIdParam },
  responses: {
    200: { description: "The response", content: { "application/json": { schema: ResponseObjectSchema } } },
  },
  errors: { 409: "The response has already ended otherwise than cancelled (`run_ended`)" },
});

export function cancelResponse(app: OpenAPIHono<AppEnv>) {
  app.openapi(route, async (c) => {
    const { services } = c.var;
    const response = await loadResponse(services, c.var.access, c.req.valid("param").response_id, "response_id");
    if (!isLive(response.row.status)) {
      if (response.row.status !== "cancelled")
        throw errors.conflict(
          `The response has already ended (${response.row.status}); only a queued or running one can be cancelled.`,
          "response_id",
          "run_ended",
        );
    } else {
      response.row = await services.runs.cancel(c.var.access, response.row.id);
    }
    return c.json(await responseObject(services, response), 200);
  });
}
