import { z } from "@hono/zod-openapi";
import { createRouter, jsonBody, jsonResponse } from "../../http/openapi";
import { orgRoute } from "../../http/routes";
import { RunParams } from "../runs/routes/schemas";
import { RunSchema } from "../runs/serialize";

/** What the model is told of a denial: a sentence or a paragraph, not a document. */
export const REASON_MAX_CHARS = 2000;

const DecisionBody = z
  .strictObject({
    toolCallId: z.string().min(1).max(200).openapi({ example: "toolu_01A" }),
    approve: z.boolean(),
    reason: z.string().max(REASON_MAX_CHARS).optional().openapi({ description: "Given to the model with a denial" }),
  })
  .openapi("ApprovalDecision");

const route = orgRoute({
  method: "post",
  path: "/v1/orgs/{orgId}/runs/{runId}/approvals",
  operationId: "runs.approvals.decide",
  tags: ["Runs"],
  summary: "Approve or deny a tool call a waiting run asks for",
  description:
    "Decides one of the run's `pendingApprovals`, once. An approved call runs; a denied one is given to the model as an error " +
    "result with the reason. When every call of the turn is decided the run continues (on any gateway). By an owner or admin " +
    "session, or a key with write or admin scope that may see the agent; never a chat key, not even the one that started the run. " +
    "404 naming `runId` for a run the caller may not see, naming `toolCallId` for a call the run never asked about.",
  request: { params: RunParams, body: jsonBody(DecisionBody) },
  responses: { 200: jsonResponse(RunSchema, "The run") },
  errors: { 409: "The call is no longer pending: already decided (perhaps by a concurrent request or the timeout), or the run no longer waits" },
  permission: "write",
});

/** `POST /v1/orgs/:orgId/runs/:runId/approvals`. */
export function approvalRoutes() {
  const app = createRouter();
  app.openapi(route, async (c) => {
    const { runId } = c.req.valid("param");
    const row = await c.var.services.approvals.decide(c.var.access, runId, c.req.valid("json"));
    return c.json(await c.var.services.runs.view(row), 200);
  });
  return app;
}
