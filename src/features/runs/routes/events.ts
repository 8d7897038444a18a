import { z } from "@hono/zod-openapi";
import type { OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../../../http/context";
import { ApiError, errors } from "../../../http/errors";
import { runEventStreamContent } from "../event-schemas";
import { followRunResponse } from "../follow-response";
import { isLive } from "../repository";
import { RunParams, tags } from "./schemas";
import { orgRoute } from "../../../http/routes";

const route = orgRoute({
  method: "get",
  path: "/v1/orgs/{orgId}/runs/{runId}/events",
  operationId: "runs.events",
  tags,
  summary: "Follow a run's events (Server-Sent Events), from the start or after a seq",
  description:
    "Every event carries `id:` = its seq (1, 2, 3, … per run). Reconnect with `Last-Event-ID: n` (or `?after=n`, which wins " +
    "when both are given) to get exactly the events after n. Live until the run ends; closes after `done`. Works on any gateway, " +
    "during and after the run, until the log expires (OPENPAW_RUN_EVENTS_RETENTION_HOURS after the run ended: then 410).",
  request: {
    params: RunParams,
    query: z.object({ after: z.string().max(20).optional().openapi({ description: "Events with a seq above this", example: "12" }) }),
  },
  responses: {
    200: { description: "The run's events (each a `RunStreamMessage`)", content: { "text/event-stream": runEventStreamContent } },
  },
  errors: { 410: "The run's event log has expired" },
  permission: null,
});

/** A seq cursor from the query or the header: a non-negative integer, or 400 naming where it came from. */
function cursorOf(value: string | undefined, param: string): number | null {
  if (value === undefined) return null;
  const trimmed = value.trim();
  if (!/^\d{1,15}$/.test(trimmed)) throw errors.invalid(`${param} must be the seq of an event: a non-negative integer, got "${value.slice(0, 40)}".`, param);
  return Number(trimmed);
}

export function followRunEvents(app: OpenAPIHono<AppEnv>) {
  app.openapi(route, async (c) => {
    const { runId } = c.req.valid("param");
    const after = cursorOf(c.req.valid("query").after, "after") ?? cursorOf(c.req.header("last-event-id"), "Last-Event-ID") ?? 0;
    const row = await c.var.services.runs.get(c.var.access, runId);
    if (row.events_expired_at !== null) {
      throw new ApiError("invalid_request_error", "This run's event log has expired; the run itself can still be read.", { status: 410, code: "event_log_expired" });
    }
    // A live run may be ahead of its log by a batch (its chat stream saw it first): such a cursor waits for the log.
    if (!isLive(row.status) && after > row.last_event_seq) {
      throw errors.invalid(`The run has ${row.last_event_seq} events; there is nothing after ${after}.`, c.req.valid("query").after !== undefined ? "after" : "Last-Event-ID");
    }
    return followRunResponse(c, row, after) as never;
  });
}
