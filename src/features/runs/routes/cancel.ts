import { createRoute } from "@hono/zod-openapi";
import type { OpenAPIHono } from "@hono/zod-openapi";
import { orgAccess, requireAuth } from "../../../http/auth";
import type { AppEnv } from "../../../http/context";
import { ErrorSchema, commonErrors, jsonResponse } from "../../../http/openapi";
import { RunSchema } from "../serialize";
import { RunParams, tags } from "./schemas";

const route = createRoute({
  method: "post",
  path: "/v1/orgs/{orgId}/runs/{runId}/cancel",
  tags,
  summary: "Cancel a queued, running or waiting run",
  description:
    "Works from any gateway: the one executing the run stops it and aborts its model call. Answers once the run has ended " +
    "(`cancelled`, with its usage recorded), or after 5 s with the run as it then is. By a principal with write permission, " +
    "or the one that started the run.",
  middleware: [requireAuth, orgAccess] as const,
  request: { params: RunParams },
  responses: {
    200: jsonResponse(RunSchema, "The run"),
    409: jsonResponse(ErrorSchema, "The run has already ended"),
    ...commonErrors,
  },
});

export function cancelRun(app: OpenAPIHono<AppEnv>) {
  app.openapi(route, async (c) => {
    const { runId } = c.req.valid("param");
    const row = await c.var.services.runs.cancel(c.var.access, runId);
    return c.json(await c.var.services.runs.view(row), 200);
  });
}
