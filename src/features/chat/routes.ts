import { z } from "@hono/zod-openapi";
import { ApiError, errors } from "../../http/errors";
import { PathId, createRouter, jsonBody, jsonResponse } from "../../http/openapi";
import { ERROR_STATUS_DESCRIPTIONS, apiRoute } from "../../http/routes";
import { sseResponse } from "../../http/sse";
import type { SequencedEvent } from "../../runtime/events";
import { RunEventSchema, runEventStreamContent } from "../runs/event-schemas";
import { followRunResponse } from "../runs/follow-response";
import { RunSchema, serializeRun } from "../runs/serialize";
import { resolveChatAgent } from "./resolve-agent";

const ChatBody = z
  .strictObject({
    message: z.string().min(1, { message: "Must not be empty." }).max(100_000),
    conversationId: z.string().min(1).max(64).optional(),
    stream: z.boolean().optional(),
    background: z.boolean().optional().openapi({
      description:
        "Run without depending on this connection: answers 202 with the run object (and `Location`), or with `stream: true` " +
        "streams the run's events, and disconnecting does not cancel it. A background run survives a gateway crash.",
    }),
  })
  .openapi("ChatRequest");

const ChatResult = z
  .object({
    text: z.string(),
    conversationId: z.string(),
    runId: z.string(),
    iterations: z.number(),
    toolCalls: z.number(),
    tokens: z.number(),
    cost: z.number(),
    stopReason: z.enum(["end_turn", "max_iterations", "error", "cancelled"]),
    events: z.array(RunEventSchema).openapi({ description: "Every event of the run, as the stream would have sent them" }),
  })
  .openapi("ChatResult");

const chat = apiRoute({
  method: "post",
  path: "/v1/agent/{agentId}/chat",
  operationId: "chat.create",
  tags: ["Chat"],
  summary: "Chat with an agent (Server-Sent Events, one JSON object with stream:false, or a background run)",
  description:
    "Needs `chat` permission in the agent's organization. " +
    "Streams `text`, `tool_start`, `tool_result`, `approval_required`, `error` and `done` events (schemas: `RunStreamMessage`), each with an `id:` line (its seq in the run's log). " +
    "`: ping` comments keep idle streams open. Headers X-Conversation-Id and X-Run-Id name the conversation and run. " +
    "A client that disconnects cancels a foreground run; its usage is still recorded. With `background: true` the answer is 202 " +
    "with the run object; follow it at `/v1/orgs/{orgId}/runs/{runId}/events`. `stream: false` (or `Accept: application/json`) answers one JSON object.",
  audience: "principal",
  request: {
    params: z.object({ agentId: PathId("agentId") }),
    body: jsonBody(ChatBody),
  },
  responses: {
    200: {
      description: "The run: an SSE stream, or the JSON result when stream is false",
      content: { "text/event-stream": runEventStreamContent, "application/json": { schema: ChatResult } },
    },
    202: jsonResponse(RunSchema, "A background run was created (queued or already running); its URL is in `Location`"),
  },
  errors: {
    402: ERROR_STATUS_DESCRIPTIONS[402],
    403: "The role or key scope has no `chat` permission, or the key is restricted to other agents (`key_restricted`)",
    404: "No such agent for this caller, or no such conversation of the agent (`conversationId`); another org's is never revealed",
    429: "Too many concurrent runs for the key or org, or too many queued background runs (`concurrency_limit_reached`); `Retry-After` says when",
    502: "The model provider failed before the stream began (`provider_error`); after, it is an `error` event",
    503: "The agent's model is not served by a configured provider (`model_unavailable`), or the database is unavailable",
  },
});

/** `POST /v1/agent/:agentId/chat`. */
export function chatRoutes() {
  const app = createRouter();

  app.openapi(chat, async (c) => {
    const { runs, config } = c.var.services;
    const { agentId } = c.req.valid("param");
    const body = c.req.valid("json");
    const { agent, access } = await resolveChatAgent(c, agentId);
    const request = { access, agent, message: body.message, conversationId: body.conversationId };

    if (body.background) {
      const row = await runs.startBackground({ ...request, background: true });
      c.header("X-Conversation-Id", row.conversation_id);
      c.header("X-Run-Id", row.id);
      c.header("Location", `${config.publicUrl}/v1/orgs/${row.org_id}/runs/${row.id}`);
      if (body.stream === true) return followRunResponse(c, row, 0) as never;
      return c.json(serializeRun(row), 202);
    }

    const wantsJson = body.stream === false || (body.stream === undefined && /^application\/json\b/i.test(c.req.header("accept") ?? ""));
    const pending = await runs.startForeground(request);
    c.header("X-Conversation-Id", pending.row.conversation_id);
    c.header("X-Run-Id", pending.row.id);

    if (wantsJson) {
      const events: SequencedEvent[] = [];
      // The client going away cancels the run, as on a stream.
      const result = await pending.execute((e) => events.push(e), c.req.raw.signal);
      // The run's failure as the error envelope (the headers naming the run stay on the response).
      if (result.stopReason === "error" && result.error) throw new ApiError(result.error.type, result.error.message);
      const done = events.find((e) => e.event === "done");
      if (done?.event !== "done") throw errors.unavailable("The run ended without its result; look it up in the runs API.");
      return c.json(
        {
          text: result.text,
          conversationId: pending.row.conversation_id,
          runId: pending.row.id,
          iterations: result.iterations,
          toolCalls: result.toolCalls,
          tokens: done.data.tokens,
          cost: done.data.cost,
          stopReason: result.stopReason,
          events: events.map(({ event, data }) => ({ event, data })),
        },
        200,
      );
    }

    return sseResponse(c, { pingMs: config.limits.ssePingMs }, async (sse) => {
      await pending.execute((e) => sse.send({ id: e.seq, event: e.event, data: e.data }), sse.signal);
    }) as never;
  });

  return app;
}
